"""The document store: one encrypted blob per document under `documents_dir`, named by the SHA-256 of
its plaintext (the hash parties sign), written atomically."""

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ledger_service.documents.crypto import (
    HEADER_BYTES,
    DocumentMissing,
    DocumentUnreadable,
    MasterKey,
    SealingWriter,
    blob_key_id,
    rewrap,
    unseal,
)
from ledger_service.settings import Settings

INCOMING = ".incoming"


@dataclass
class Rotation:
    rewrapped: int = 0
    already: int = 0
    failed: list[str] = field(default_factory=list)


class TooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


def hash_hex(sha256: bytes) -> str:
    return "0x" + sha256.hex()


class DocumentStore:
    def __init__(self, root: Path, master: MasterKey) -> None:
        self.root, self.master = root, master
        (root / INCOMING).mkdir(parents=True, exist_ok=True)

    @classmethod
    def open(cls, settings: Settings) -> "DocumentStore":
        return cls(
            settings.resolved_documents_dir, MasterKey.load_or_create(settings.resolved_master_key_file)
        )

    def path(self, sha256: str) -> Path:
        """Where the document of `sha256` (0x + 64 hex digits) is kept; fanned out by its first byte."""
        digits = sha256.removeprefix("0x").lower()
        return self.root / digits[:2] / digits

    def receive(self, max_bytes: int) -> "Incoming":
        return Incoming(self, max_bytes)

    def read(self, sha256: str) -> bytes:
        """The document's plaintext, decrypted and checked against `sha256`; DocumentUnreadable if not."""
        try:
            blob = self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise DocumentMissing("the blob is missing from the document store") from None
        return unseal(self.master, blob, bytes.fromhex(sha256[2:]))

    def remove(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)

    def rotate(self, new: MasterKey) -> "Rotation":
        """Rewraps every blob's data key under `new` (the content is not re-encrypted). Blobs already
        under `new` are skipped, so a rotation that was interrupted is finished by running it again."""
        rotation = Rotation()
        for path in sorted(self.root.glob("[0-9a-f][0-9a-f]/*")):
            with path.open("rb") as handle:
                header = handle.read(HEADER_BYTES)
                if blob_key_id(header) == new.key_id:
                    rotation.already += 1
                    continue
                try:
                    fresh = rewrap(header, bytes.fromhex(path.name), self.master, new)
                except DocumentUnreadable as exc:
                    rotation.failed.append(f"{path.name}: {exc}")
                    continue
                temporary = self._temporary()
                with temporary.open("wb") as out:
                    out.write(fresh)
                    while chunk := handle.read(1 << 20):
                        out.write(chunk)
                    _sync(out)
            os.replace(temporary, path)
            rotation.rewrapped += 1
        return rotation

    def _temporary(self) -> Path:
        return self.root / INCOMING / secrets.token_hex(16)


class Incoming:
    """A document being received: encrypted as it arrives into a temporary file, then committed under
    its hash. Nothing of it stays behind when it is discarded."""

    def __init__(self, store: DocumentStore, max_bytes: int) -> None:
        self._store, self._max_bytes = store, max_bytes
        self._path = store._temporary()
        self._file: BinaryIO = self._path.open("xb")
        self._writer = SealingWriter(store.master, self._file)
        self.sha256: str | None = None

    @property
    def size(self) -> int:
        return self._writer.size

    def write(self, chunk: bytes) -> None:
        if self._writer.size + len(chunk) > self._max_bytes:
            raise TooLarge(self._max_bytes)
        self._writer.write(chunk)

    def finish(self) -> str:
        """Seals the blob; returns the document's hash (0x + 64 hex digits)."""
        self.sha256 = hash_hex(self._writer.finish())
        _sync(self._file)
        self._file.close()
        return self.sha256

    def commit(self) -> bool:
        """Moves the blob under its hash; True if no blob was there before (undo with `remove`).

        Same content, same name: a blob already there is replaced by this fresh, verified encryption of
        the same plaintext, which also repairs one that had been damaged.
        """
        assert self.sha256 is not None, "finish() first"
        target = self._store.path(self.sha256)
        target.parent.mkdir(exist_ok=True)
        created = not target.exists()
        os.replace(self._path, target)
        _sync_dir(target.parent)
        return created

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._path.unlink(missing_ok=True)


def _sync(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
