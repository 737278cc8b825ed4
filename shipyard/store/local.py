"""A store in a local directory (a developer's disk, a PVC, a shared file system).

Guarantees, all without a lock that outlives its process:

* writes go to a temporary file under ``<root>/.staging``, are fsync'ed and then renamed
  over the target (``os.replace``), so readers see the old or the new object, never half;
* ``create`` links the finished temporary file to the target (``os.link`` fails if the
  target exists), so exactly one of several racing creators wins;
* ``replace_if``/``write``/``delete`` hold an ``fcntl.flock`` on ``<root>/.locks/<hash>``
  around read-compare-replace; the kernel drops the lock when a process dies.

``.staging`` and ``.locks`` are internal: ``list()`` never shows them, and a temporary
file a killed writer leaves behind is never visible under a key. ``flock`` needs a local
file system (or NFSv4 with working locks).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from shipyard.errors import StoreError
from shipyard.store.base import NotFound, check_key, check_prefix
from shipyard.store.uri import StoreURI

_STAGING = ".staging"
_LOCKS = ".locks"
_INTERNAL = (_STAGING, _LOCKS)
_HINTS = {
    errno.EACCES: "check the directory's permissions",
    errno.EPERM: "check the directory's permissions",
    errno.ENOSPC: "free disk space",
    errno.EROFS: "mount the store read-write",
}


class LocalStore:
    """An :class:`~shipyard.store.base.ObjectStore` rooted at a directory (created on first write)."""

    def __init__(self, root: str | Path):
        self.root = StoreURI.local(root).local_path
        self.uri = str(self.root)

    @classmethod
    def from_location(cls, location: StoreURI) -> LocalStore:
        return cls(location.local_path)

    def __repr__(self) -> str:
        return f"LocalStore({self.uri!r})"

    # -- paths -----------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        check_key(key)
        if key.split("/", 1)[0] in _INTERNAL:
            raise ValueError(f"invalid store key {key!r}: '{key.split('/', 1)[0]}' is reserved for the store itself")
        return self.root.joinpath(*key.split("/"))

    def uri_for(self, key: str) -> str:
        check_key(key, allow_dir=True)
        path = str(self.root.joinpath(*key.rstrip("/").split("/")))
        return path + "/" if key.endswith("/") else path

    @contextlib.contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        try:
            yield
        except (StoreError, ValueError):
            raise
        except FileNotFoundError:
            raise NotFound(f"no object '{key}' in local store {self.uri}") from None
        except OSError as exc:
            reason = exc.strerror or str(exc)
            hint = _HINTS.get(exc.errno or 0, "check that the directory exists and is writable")
            raise StoreError(f"cannot {action} '{key}' in local store {self.uri}: {reason}; {hint}") from None

    @contextlib.contextmanager
    def _key_lock(self, key: str) -> Iterator[None]:
        """An exclusive flock for one key; released by the kernel if this process dies."""
        locks = self.root / _LOCKS
        locks.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(key.encode()).hexdigest()[:40] + ".lock"
        fd = os.open(locks / name, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def _staged(self, data: bytes | None = None, source: Path | None = None) -> Path:
        """A fsync'ed temporary file in ``.staging`` (same file system as the targets)."""
        staging = self.root / _STAGING
        staging.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=staging, prefix="tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                if source is not None:
                    with open(source, "rb") as src:
                        shutil.copyfileobj(src, out, 1024 * 1024)
                else:
                    out.write(data or b"")
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return Path(tmp)

    @staticmethod
    def _fsync_dir(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _replace(self, tmp: Path, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._fsync_dir(path.parent)

    # -- operations ------------------------------------------------------------------------

    def read(self, key: str) -> bytes:
        path = self._path(key)
        with self._errors("read", key):
            return path.read_bytes()

    def read_file(self, key: str, dest: str | Path) -> None:
        path = self._path(key)
        with self._errors("read", key):
            shutil.copyfile(path, dest)

    def write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        with self._errors("write", key):
            tmp = self._staged(data=bytes(data))
            with self._key_lock(key):
                self._replace(tmp, path)

    def write_file(self, key: str, source: str | Path) -> None:
        path = self._path(key)
        Path(source).stat()  # a missing source file is the caller's FileNotFoundError, not NotFound
        with self._errors("write", key):
            tmp = self._staged(source=Path(source))
            with self._key_lock(key):
                self._replace(tmp, path)

    def create(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        with self._errors("create", key):
            tmp = self._staged(data=bytes(data))
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                os.link(tmp, path)  # atomic, and fails if the target exists: the race-free part
            except FileExistsError:
                return False
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            self._fsync_dir(path.parent)
            return True

    def read_with_token(self, key: str) -> tuple[bytes, str]:
        data = self.read(key)
        return data, hashlib.sha256(data).hexdigest()

    def replace_if(self, key: str, data: bytes, token: str) -> bool:
        path = self._path(key)
        with self._errors("replace", key):
            tmp = self._staged(data=bytes(data))
            with self._key_lock(key):
                try:
                    current = path.read_bytes()
                except FileNotFoundError:
                    current = None
                if current is None or hashlib.sha256(current).hexdigest() != token:
                    os.unlink(tmp)
                    return False
                self._replace(tmp, path)
                return True

    def list(self, prefix: str = "") -> list[str]:
        check_prefix(prefix)
        # Walk only the deepest directory the prefix names, then filter by the string prefix.
        base_key = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        base = self.root.joinpath(*base_key.split("/")) if base_key else self.root
        keys: list[str] = []
        with self._errors("list", prefix or "/"):
            if not base.is_dir():
                return []
            for dirpath, dirnames, filenames in os.walk(base):
                rel_dir = Path(dirpath).relative_to(self.root).as_posix()
                if rel_dir == ".":
                    dirnames[:] = [d for d in dirnames if d not in _INTERNAL]
                    rel_dir = ""
                for filename in filenames:
                    key = f"{rel_dir}/{filename}" if rel_dir else filename
                    if key.startswith(prefix):
                        keys.append(key)
        return sorted(keys)

    def missing_root(self) -> str | None:
        if self.root.is_dir():
            return None
        return "it is a file, not a directory" if self.root.exists() else "the directory does not exist"

    def exists(self, key: str) -> bool:
        path = self._path(key)
        with self._errors("check", key):
            return path.is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        with self._errors("delete", key):
            with self._key_lock(key):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
