"""Envelope encryption of one document: AES-256-GCM under a random data key, the data key wrapped
(AES-256-GCM) under the service's master key.

Blob layout, one file per document:

    MAGIC (8) | master key id (8) | wrap nonce (12) | wrapped data key (32 + 16 tag)
    | content nonce (12) | content ciphertext | content tag (16)

The content is encrypted as it streams in, before its hash is known, so its associated data is only
MAGIC. The binding to the hash is the wrap: the wrapped key's associated data is the header and the
document's SHA-256, so a blob stored under another hash (swapped or renamed files) cannot even yield
its data key, and without the key no other ciphertext authenticates. Readers still re-hash the
plaintext: the last check does not depend on this reasoning being right.
"""

import hashlib
import hmac
import logging
import os
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

MAGIC = b"SLDOC\x00\x00\x01"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # 96-bit GCM nonces
TAG_BYTES = 16
KEY_ID_BYTES = 8
WRAPPED_KEY_BYTES = KEY_BYTES + TAG_BYTES
HEADER_BYTES = len(MAGIC) + KEY_ID_BYTES + NONCE_BYTES + WRAPPED_KEY_BYTES
CONTENT_OFFSET = HEADER_BYTES + NONCE_BYTES


class DocumentUnreadable(Exception):
    """A stored document that cannot be served; `reason` says why, in an operator's terms."""


class IntegrityFailure(DocumentUnreadable):
    """The blob was altered, truncated, or is not the document of the hash it is stored under."""


class DocumentMissing(DocumentUnreadable):
    """The store no longer holds the blob of a document it had received."""


class MasterKey:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"a master key is {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)
        # Names the key in each blob without revealing it: a blob wrapped under another (an old or a
        # lost) master key is reported as such, not as tampering.
        self.key_id = hashlib.sha256(b"symledger document master key id\x00" + key).digest()[:KEY_ID_BYTES]

    @classmethod
    def load_or_create(cls, path: Path) -> "MasterKey":
        """Reads the key file; on first run makes one (random, owner-only) like the relayer's keystore."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it first: use that one
                pass
            else:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(os.urandom(KEY_BYTES))
                    handle.flush()
                    os.fsync(handle.fileno())
                log.info("created the document master key %s", path)
        key = path.read_bytes()
        if len(key) != KEY_BYTES:
            raise ValueError(f"master key file {path} holds {len(key)} bytes; it must hold {KEY_BYTES}")
        if path.stat().st_mode & 0o077:
            log.warning("master key file %s is readable by other users than its owner", path)
        return cls(key)

    def wrap(self, data_key: bytes, sha256: bytes) -> bytes:
        """The header naming this key, with `data_key` wrapped for the document of hash `sha256`."""
        nonce = os.urandom(NONCE_BYTES)
        prefix = MAGIC + self.key_id
        return prefix + nonce + self._aead.encrypt(nonce, data_key, prefix + sha256)

    def unwrap(self, header: bytes, sha256: bytes) -> bytes:
        if len(header) < HEADER_BYTES or not header.startswith(MAGIC):
            raise IntegrityFailure("the stored file is not a document blob (bad header)")
        key_id = blob_key_id(header)
        if not hmac.compare_digest(key_id, self.key_id):
            raise DocumentUnreadable(
                f"the blob's data key is wrapped under master key {key_id.hex()}, not the configured "
                f"{self.key_id.hex()}"
            )
        start = len(MAGIC) + KEY_ID_BYTES
        nonce, wrapped = header[start : start + NONCE_BYTES], header[start + NONCE_BYTES : HEADER_BYTES]
        try:
            return self._aead.decrypt(nonce, wrapped, MAGIC + key_id + sha256)
        except InvalidTag:
            raise IntegrityFailure(
                "the data key does not unwrap for this hash: the blob was altered or is another document's"
            ) from None


def blob_key_id(header: bytes) -> bytes:
    """The id of the master key a blob's data key is wrapped under."""
    return header[len(MAGIC) : len(MAGIC) + KEY_ID_BYTES]


class SealingWriter:
    """Encrypts a document into `out` as it arrives, hashing the plaintext on the way."""

    def __init__(self, master: MasterKey, out: BinaryIO) -> None:
        self._master, self._out = master, out
        self._data_key = os.urandom(KEY_BYTES)
        nonce = os.urandom(NONCE_BYTES)
        self._encryptor = Cipher(algorithms.AES(self._data_key), modes.GCM(nonce)).encryptor()
        self._encryptor.authenticate_additional_data(MAGIC)
        self._hash = hashlib.sha256()
        self.size = 0
        out.write(bytes(HEADER_BYTES))  # the wrapped key, once the hash is known
        out.write(nonce)

    def write(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self.size += len(chunk)
        self._out.write(self._encryptor.update(chunk))

    def finish(self) -> bytes:
        """Completes the blob; returns the plaintext's SHA-256."""
        self._out.write(self._encryptor.finalize())
        self._out.write(self._encryptor.tag)
        sha256 = self._hash.digest()
        self._out.seek(0)
        self._out.write(self._master.wrap(self._data_key, sha256))
        return sha256


def unseal(master: MasterKey, blob: bytes, sha256: bytes) -> bytes:
    """The plaintext of `blob`, only if it authenticates as the document of hash `sha256`."""
    if len(blob) < CONTENT_OFFSET + TAG_BYTES:
        raise IntegrityFailure(f"the stored file is truncated ({len(blob)} bytes)")
    data_key = master.unwrap(blob[:HEADER_BYTES], sha256)
    nonce = blob[HEADER_BYTES:CONTENT_OFFSET]
    try:
        plaintext = AESGCM(data_key).decrypt(nonce, blob[CONTENT_OFFSET:], MAGIC)
    except InvalidTag:
        raise IntegrityFailure("the content fails AES-GCM authentication: the blob was altered") from None
    actual = hashlib.sha256(plaintext).digest()
    if not hmac.compare_digest(actual, sha256):
        raise IntegrityFailure(f"the decrypted content's SHA-256 is 0x{actual.hex()}, not 0x{sha256.hex()}")
    return plaintext


def rewrap(blob_header: bytes, sha256: bytes, old: MasterKey, new: MasterKey) -> bytes:
    """The header of a blob with its data key wrapped under `new` instead of `old` (key rotation)."""
    return new.wrap(old.unwrap(blob_header, sha256), sha256)
