"""Reading a data file from a URI: a local path, ``file://`` or ``s3://bucket/key``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from shipyard.errors import DataValidationError


def is_s3_uri(uri: str) -> bool:
    return uri.startswith("s3://")


def local_path(uri: str) -> Path:
    """The file-system path of a local URI (a plain path or ``file://``)."""
    if uri.startswith("file://"):
        return Path(urlparse(uri).path)
    return Path(uri).expanduser()


def data_exists(uri: str) -> bool:
    """Whether a data file is at ``uri``, without reading it (a HEAD request on S3).

    Raises:
        StoreError: the S3 endpoint cannot be reached or refuses access.
        DataValidationError: the S3 key is not a plain ``a/b/c`` path (``..``, empty parts...).
    """
    if is_s3_uri(uri):
        from shipyard.store.s3 import s3_data_exists

        key = uri[len("s3://") :].partition("/")[2]
        return bool(key) and not key.endswith("/") and s3_data_exists(uri)
    return local_path(uri).is_file()


def read_bytes(uri: str) -> bytes:
    """Reads the whole object at ``uri``.

    Raises:
        DataValidationError: the file does not exist or cannot be read (names the URI).
    """
    if is_s3_uri(uri):
        from shipyard.store.s3 import read_s3_uri  # the S3 adapter is imported only when needed

        return read_s3_uri(uri)
    path = local_path(uri)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataValidationError([f"table: cannot read data at '{uri}': no such file"]) from None
    except IsADirectoryError:
        raise DataValidationError([f"table: cannot read data at '{uri}': it is a directory, not a file"]) from None
    except OSError as exc:
        raise DataValidationError([f"table: cannot read data at '{uri}': {exc.strerror or exc}"]) from None
