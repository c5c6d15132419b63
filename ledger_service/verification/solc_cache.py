"""solc's standard-JSON output kept on disk, shared by every process of the user: compiling the deployed
contracts takes 30-60 s of CPU with solc-js, and each test process, CLI call and service instance needs it.

An entry is found by the sha256 of the exact standard input and of the compiler's identity (its `--version`
line, which names the release and commit, and the bytes of the executable py-solc-x runs). The input holds
the top-level files only; solc reads their imports from the tree. So an entry also records the sha256 of
every file the compile read (the output's source units, paths under the tree's root) and is used only while
each of them is unchanged: an edited import misses the entry as surely as an edited top-level file.

Entries live in $XDG_CACHE_HOME/symledger/solc/ (~/.cache/symledger/solc/ by default). They are written to
a temporary file and renamed into place, so a reader never sees half an entry; an entry that cannot be
read or parsed counts as absent and is compiled again. Processes that need the same compile at once queue
on a lock file and the later ones read what the first wrote, rather than all spending the CPU on it.
Only the ten most recently used entries are kept. Without a usable cache directory, compiles simply are not
cached.
"""

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import solcx

KEPT = 10  # entries


def cache_dir() -> Path | None:
    """None without an absolute place for it (the XDG spec ignores a relative XDG_CACHE_HOME; a service
    account may have no home): a relative one would put the cache in whatever directory the process runs in."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    try:
        base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    except RuntimeError:  # no home directory to be found
        return None
    return base / "symledger" / "solc" if base.is_absolute() else None


def compile_standard(standard_input: dict[str, Any], root: Path, solc_binary: Path) -> dict[str, Any]:
    """solcx.compile_standard(standard_input, base_path=root, solc_binary=solc_binary), from the cache when
    it holds this compile of these files. Raises what solcx raises (compile errors are not cached), and
    OSError or subprocess.SubprocessError when `solc_binary --version` does not run."""

    def compile() -> dict[str, Any]:
        return solcx.compile_standard(standard_input, base_path=root, solc_binary=solc_binary)

    directory = cache_dir()
    if directory is None:
        return compile()
    entry = directory / f"{_key(standard_input, solc_binary)}.json"
    with contextlib.ExitStack() as stack:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            stack.enter_context(_locked(entry.with_suffix(".lock")))
        except OSError:  # not a usable cache directory
            return compile()
        output = _read(entry, root)
        if output is None:
            output = compile()
            _write(entry, root, output)
        return output


def _key(standard_input: dict[str, Any], solc_binary: Path) -> str:
    binary_sha256 = hashlib.sha256(solc_binary.read_bytes()).hexdigest()
    identity = {
        "input": standard_input,
        "solc_version": _solc_version(solc_binary, binary_sha256),
        "solc_binary_sha256": binary_sha256,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


@functools.cache  # half a second of solc-js start-up, once per process and executable
def _solc_version(solc_binary: Path, binary_sha256: str) -> str:
    done = subprocess.run(
        [str(solc_binary), "--version"], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
        yield


def _file_hashes(root: Path, units: Any) -> dict[str, str] | None:
    """sha256 of each source unit's file under `root`; None when one is not there (nothing to check against)."""
    hashes = {}
    for unit in units:
        try:
            hashes[unit] = hashlib.sha256((root / unit).read_bytes()).hexdigest()
        except OSError:
            return None
    return hashes


def _read(entry: Path, root: Path) -> dict[str, Any] | None:
    try:
        cached = json.loads(entry.read_text("utf-8"))
        files, output = cached["files"], cached["output"]
        if _file_hashes(root, files) == files and set(files) == set(output["sources"]):
            os.utime(entry)  # recently used: kept when older entries are pruned
            return output
    except (OSError, ValueError, KeyError, TypeError):
        pass  # absent, unreadable or not an entry: compile again
    return None


def _write(entry: Path, root: Path, output: dict[str, Any]) -> None:
    files = _file_hashes(root, output.get("sources", {}))
    if files is None:
        return  # the compile read files from outside the tree: it could not be checked later
    try:
        handle, temporary = tempfile.mkstemp(dir=entry.parent, prefix=entry.stem, suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"files": files, "output": output}, out)
            os.replace(temporary, entry)
        except BaseException:
            os.unlink(temporary)
            raise
        _prune(entry.parent)
    except OSError:
        pass  # a full or read-only disk costs the next process a compile, nothing more


def _prune(directory: Path) -> None:
    """Keeps the KEPT most recently used entries (about 5 MB each): every edit of a top-level file makes one.
    Their lock files go too; one removed while held costs at most a second compile of that entry."""
    entries = sorted(directory.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in entries[KEPT:]:
        stale.unlink(missing_ok=True)
        stale.with_suffix(".lock").unlink(missing_ok=True)
