"""What a run folder needs from the file system: privacy, atomic writes, a lock, fingerprints.

Run folders hold personal data (emails, names), so every folder batchgs creates there is 0700 and every
file 0600 — set explicitly with chmod/fchmod, so the result does not depend on the caller's umask.
Files that must never be seen half-written (summary.json, rebuilt reports) are written to a temporary
sibling, fsynced, then renamed over the target: a reader sees the old file or the new one, never a mix.
Options are stored in the run folder, so credential-like names are refused before anything is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from batchgs.config import Secret
from batchgs.errors import UsageError

try:  # POSIX only; elsewhere runs are not protected against a second process
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

DIR_MODE = 0o700
FILE_MODE = 0o600
LOCK_FILE = "journal.lock"

# Option names whose words say "credential". Matched per word (snake, kebab, dotted and camelCase
# names are split), so `rate` passes and `api_key`, `apiKey`, `shared-secret`, `accessToken` do not.
_SECRET_WORDS = {
    "key",
    "apikey",
    "secret",
    "token",
    "password",
    "passwd",
    "credential",
    "credentials",
    "auth",
}
# Names that contain such a word but hold no secret: the PX product key (AP-...) is public (it ships
# in every page's tracking snippet) and the others name a column or field, not a value.
_NOT_SECRET_NAMES = {"productkey", "propertykey", "propertykeys", "keycolumn", "keyfield", "sortkey"}


class RunFolderBusyError(UsageError):
    """Another live batchgs process holds this run folder."""


@dataclass(frozen=True, slots=True)
class InputFingerprint:
    size: int
    sha256: str


def make_private_dir(path: Path) -> None:
    """Create `path` (and missing parents) and make `path` itself 0700 whatever the umask."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)


def create_private_file(path: Path, *, exclusive: bool = False) -> None:
    """Create (or truncate unless `exclusive`) an empty 0600 file."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def open_private_text(path: Path, mode: str = "w") -> IO[str]:
    """Open a 0600 text file for writing ('w' truncates, 'a' appends), UTF-8, newline='' for csv."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        return open(fd, mode, encoding="utf-8", newline="")
    except BaseException:
        os.close(fd)
        raise


def temp_sibling(path: Path) -> Path:
    """A fresh hidden name next to `path` (same folder, so the rename is atomic)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def fsync_dir(path: Path) -> None:
    """Make a rename in `path` durable (best effort where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit_replace(tmp: Path, target: Path) -> None:
    """fsync `tmp`, make it 0600, rename it over `target` and fsync the folder."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    os.replace(tmp, target)
    fsync_dir(target.parent)


@contextlib.contextmanager
def atomic_text_writer(target: Path) -> Iterator[IO[str]]:
    """Write a text file atomically: temp sibling, then rename on success; nothing left on failure."""
    tmp = temp_sibling(target)
    handle = open_private_text(tmp)
    try:
        with handle:
            yield handle
        commit_replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def fingerprint_file(path: Path) -> InputFingerprint:
    """SHA-256 of the content, streamed (flat memory for any size), and the size in bytes."""
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")
        size = handle.tell()
    return InputFingerprint(size=size, sha256=digest.hexdigest())


def check_options(options: Mapping[str, Any], _where: str = "") -> None:
    """Refuse credential-like option names (recursively) and values that are `Secret`s."""
    for name, value in options.items():
        path = f"{_where}{name}"
        words = _option_words(str(name))
        if "".join(words) not in _NOT_SECRET_NAMES and (
            _SECRET_WORDS & set(words) or any(w.endswith(("apikey", "secret", "token")) for w in words)
        ):
            raise ValueError(
                f"option {path!r} looks like a credential; secrets are never written to a run folder"
            )
        if isinstance(value, Secret):
            raise ValueError(f"option {path!r} holds a Secret; secrets are never written to a run folder")
        if isinstance(value, Mapping):
            check_options(value, f"{path}.")
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                if isinstance(item, Secret):
                    raise ValueError(f"option {path}[{index}] holds a Secret; secrets are never written")
                if isinstance(item, Mapping):
                    check_options(item, f"{path}[{index}].")


def _option_words(name: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [w for w in re.split(r"[\s_.\-]+", spaced.lower()) if w]


def acquire_run_lock(run_dir: Path) -> int | None:
    if fcntl is None:  # pragma: no cover
        return None
    path = run_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RunFolderBusyError(
            f"{run_dir}: another batchgs process is running this run",
            hint="wait for it to finish, or stop it (Ctrl-C) and resume",
        ) from None
    except BaseException:
        os.close(fd)
        raise
    return fd


def release_run_lock(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing the descriptor releases the flock
