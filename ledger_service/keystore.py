"""Encrypted key files (Ethereum keystore v3, scrypt) for parties and for the relayer.

A party's key is created and used by the CLI on the party's own machine; the service only ever opens
the relayer's keystore, whose account pays for (free-gas) transactions and has no role in the ledger.
"""

import json
import os
import secrets
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address


class KeystoreError(Exception):
    pass


def create_keystore(path: Path, password: str) -> str:
    """Creates a new key encrypted with `password` at `path`; returns its address. Never overwrites."""
    if path.exists():
        raise KeystoreError(f"{path} already exists; refusing to overwrite a key")
    account = Account.create()
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_private(path, json.dumps(Account.encrypt(account.key, password)))
    return account.address


def load_account(path: Path, password: str) -> LocalAccount:
    try:
        keyfile = json.loads(path.read_text())
    except FileNotFoundError:
        raise KeystoreError(f"{path}: no such key file") from None
    except json.JSONDecodeError:
        raise KeystoreError(f"{path}: not a keystore file (invalid JSON)") from None
    try:
        return Account.from_key(Account.decrypt(keyfile, password))
    except ValueError:
        raise KeystoreError(f"{path}: wrong password or corrupted key file") from None


def keystore_address(path: Path) -> str:
    """The address a keystore file holds, without decrypting it."""
    return to_checksum_address(json.loads(path.read_text())["address"])


def read_password_file(path: Path) -> str:
    return path.read_text().rstrip("\n")


def ensure_keystore(path: Path, password_file: Path) -> str:
    """Makes a keystore with a random password beside it unless both exist; returns the address.

    For the local profile only: the relayer's and the founding regulator's first keys.
    """
    if not path.exists():
        if not password_file.exists():
            _write_private(password_file, secrets.token_urlsafe(24) + "\n")
        return create_keystore(path, read_password_file(password_file))
    return keystore_address(path)


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
