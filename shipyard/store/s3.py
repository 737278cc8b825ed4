"""The S3 backend, through the ``minio`` client: the only module that imports ``minio``.

Works with any S3 endpoint (AWS S3, MinIO, SeaweedFS as shipped with Kubeflow Pipelines
2.15+); settings come from the environment (:func:`s3_settings_from_env`: ``SHIPYARD_S3_*`` first,
then the ``AWS_*`` names), never from
pipeline parameters, and credentials never appear in a repr, an error or a log line.

Race-free ``create`` and compare-and-swap use S3 conditional writes: ``PutObject`` with
``If-None-Match: *`` (write only if absent) and ``If-Match: <etag>`` (replace only that
exact version); a violated condition answers ``412 PreconditionFailed``. minio 7.2's public
``put_object`` cannot send these headers: ``genheaders``/``normalize_headers`` rename every
header that is not ``x-amz-*`` or a content header to ``X-Amz-Meta-<name>``, so
``If-None-Match`` would silently become user metadata and enforce nothing. We therefore
call ``Minio._put_object``, the single-request PutObject primitive ``put_object`` itself uses
for one-part uploads: it sends the headers unchanged, signs them with SigV4 and raises
``S3Error`` on a non-2xx answer. It is private API, hence the ``minio<8`` pin; and because an
endpoint (or a future client) that drops the headers would make every write "win", each
store probes once, before its first conditional write, that the endpoint really answers
412 (:meth:`S3Store._check_conditional_writes`) and refuses to continue otherwise. Conditional
writes are only used for small JSON documents, so the 5 GiB single-PUT limit never matters.
Endpoints that enforce them: AWS S3 (since Aug/Nov 2024), MinIO, SeaweedFS since 3.97 (its
enforcement under *simultaneous* requests had a bug reported against 4.16, seaweedfs#8800;
the probe checks sequential enforcement only, so use a SeaweedFS release with that fix).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import certifi
import urllib3
from minio import Minio
from minio.error import InvalidResponseError, S3Error, ServerError
from minio.helpers import check_bucket_name
from minio.sse import Sse, SseKMS, SseS3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
    ResponseError,
    SSLError,
)

from shipyard.errors import ConfigError, StoreError
from shipyard.store.base import NotFound, check_key, check_prefix, redact_url
from shipyard.store.uri import S3, StoreURI

log = logging.getLogger(__name__)

#: Header names of S3 conditional writes (module constants so a test can simulate an
#: endpoint that ignores them and check that the probe refuses it).
IF_NONE_MATCH = "If-None-Match"
IF_MATCH = "If-Match"

_DEFAULT_AWS_ENDPOINT = "https://s3.amazonaws.com"
_CREDENTIAL_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "AllAccessDisabled",
}


@dataclass(frozen=True)
class S3Settings:
    """How to reach the S3 endpoint. Secrets are excluded from the repr."""

    endpoint_url: str = _DEFAULT_AWS_ENDPOINT  # scheme decides TLS: http:// means no TLS
    region: str | None = None
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    sse: str | None = None  # None, "AES256" or "aws:kms"
    sse_kms_key_id: str | None = None  # with "aws:kms"; None means the bucket's default key
    connect_timeout: float = 3.0  # seconds; a dead endpoint must fail fast
    read_timeout: float = 15.0  # seconds without a byte from a live connection
    # Which variables these settings came from, so error messages name the ones to check.
    endpoint_variable: str = "AWS_ENDPOINT_URL"
    credential_variables: str = "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN)"

    @property
    def secure(self) -> bool:
        return urlparse(self.endpoint_url).scheme == "https"

    @property
    def host(self) -> str:
        return urlparse(self.endpoint_url).netloc.rsplit("@", 1)[-1]

    @property
    def shown_endpoint(self) -> str:
        """The endpoint as messages show it: never with user info (see :func:`redact_url`)."""
        return redact_url(self.endpoint_url)


def s3_settings_from_env(environ: Mapping[str, str] | None = None) -> S3Settings:
    """Reads S3 settings from the environment, shipyard's own names first.

    On a cluster, shipyard's pods get ``SHIPYARD_S3_ENDPOINT_URL``, ``SHIPYARD_S3_ACCESS_KEY_ID``,
    ``SHIPYARD_S3_SECRET_ACCESS_KEY`` (optionally ``SHIPYARD_S3_SESSION_TOKEN``) and
    ``SHIPYARD_S3_REGION``: KFP's launcher in the same container reads ``AWS_*`` for its own
    artifact I/O, so shipyard must not set those there. Each setting falls back to the AWS names
    a laptop already has: ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` (default AWS;
    ``http://`` disables TLS), ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``
    and ``AWS_REGION``/``AWS_DEFAULT_REGION``. The key pair is taken as a whole from one family:
    if either ``SHIPYARD_S3_`` key is set, no ``AWS_`` key or token is used. Server-side
    encryption: ``SHIPYARD_S3_SSE`` (``AES256`` or ``aws:kms``) and ``SHIPYARD_S3_SSE_KMS_KEY_ID``.

    Raises:
        ConfigError: the endpoint URL, the key pair or the SSE setting is malformed (names the variable).
    """
    env = os.environ if environ is None else environ
    name = next(
        (n for n in ("SHIPYARD_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3") if (env.get(n) or "").strip()),
        "AWS_ENDPOINT_URL",
    )
    endpoint_url = (env.get(name) or "").strip() or _DEFAULT_AWS_ENDPOINT
    shown = redact_url(endpoint_url)  # every message below: user info (credentials) never echoed
    try:
        parsed = urlparse(endpoint_url)
        parsed.port  # noqa: B018 - raises ValueError for a non-numeric or out-of-range port
    except ValueError:  # its message may quote parts of the URL (a password in the port position): not shown
        raise ConfigError(
            f"{name}={shown!r} is not a valid URL (bad host or port); use http://host:port or https://host"
        ) from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(f"{name}={shown!r} must look like http://host:port or https://host")
    if parsed.path not in ("", "/") or parsed.query or parsed.fragment or "@" in parsed.netloc:
        raise ConfigError(
            f"{name}={shown!r} must be only scheme://host[:port] (no path, query or user info; "
            "credentials go in SHIPYARD_S3_ACCESS_KEY_ID/SHIPYARD_S3_SECRET_ACCESS_KEY or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
        )
    endpoint_url = f"{parsed.scheme}://{parsed.netloc}"
    region = (
        env.get("SHIPYARD_S3_REGION") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""
    ).strip() or None
    if region is None and endpoint_url != _DEFAULT_AWS_ENDPOINT:
        region = "us-east-1"  # non-AWS endpoints ignore it; saves a GetBucketLocation round trip
    family = (
        "SHIPYARD_S3" if env.get("SHIPYARD_S3_ACCESS_KEY_ID") or env.get("SHIPYARD_S3_SECRET_ACCESS_KEY") else "AWS"
    )
    access_key = env.get(f"{family}_ACCESS_KEY_ID") or None
    secret_key = env.get(f"{family}_SECRET_ACCESS_KEY") or None
    if bool(access_key) != bool(secret_key):
        raise ConfigError(f"set both {family}_ACCESS_KEY_ID and {family}_SECRET_ACCESS_KEY, or neither")
    sse = (env.get("SHIPYARD_S3_SSE") or "").strip() or None
    if sse is not None and sse not in ("AES256", "aws:kms"):
        raise ConfigError(f"SHIPYARD_S3_SSE must be 'AES256' or 'aws:kms', got {sse!r}")
    kms_key = (env.get("SHIPYARD_S3_SSE_KMS_KEY_ID") or "").strip() or None
    if kms_key and sse != "aws:kms":
        raise ConfigError("SHIPYARD_S3_SSE_KMS_KEY_ID is set but SHIPYARD_S3_SSE is not 'aws:kms'")
    return S3Settings(
        endpoint_url=endpoint_url,
        region=region,
        access_key=access_key,
        secret_key=secret_key,
        session_token=env.get(f"{family}_SESSION_TOKEN") or None,
        sse=sse,
        sse_kms_key_id=kms_key,
        endpoint_variable=name,
        credential_variables=f"{family}_ACCESS_KEY_ID/{family}_SECRET_ACCESS_KEY (and {family}_SESSION_TOKEN)",
    )


class _SseKmsBucketKey(Sse):
    """SSE-KMS with the bucket's default key (minio's SseKMS insists on a key id)."""

    def headers(self) -> dict[str, str]:
        return {"X-Amz-Server-Side-Encryption": "aws:kms"}


def _sse_for(settings: S3Settings) -> Sse | None:
    if settings.sse == "AES256":
        return SseS3()
    if settings.sse == "aws:kms":
        return SseKMS(settings.sse_kms_key_id, {}) if settings.sse_kms_key_id else _SseKmsBucketKey()
    return None


def _http_client(settings: S3Settings) -> urllib3.PoolManager:
    """Short timeouts and few retries: a dead endpoint fails in seconds (minio's default waits minutes)."""
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=settings.connect_timeout, read=settings.read_timeout),
        maxsize=10,
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        retries=urllib3.Retry(
            total=3, connect=1, read=1, status=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
        ),
    )


def _connection_reason(exc: BaseException) -> str:
    """A short cause for a transport failure, without object reprs (and never headers)."""
    reason = exc.reason if isinstance(exc, MaxRetryError) and exc.reason is not None else exc
    if isinstance(reason, ResponseError):
        return "the endpoint kept answering with server errors (HTTP 5xx)"
    if isinstance(reason, ConnectTimeoutError) and not isinstance(reason, NewConnectionError):
        return "connection timed out"  # (urllib3 makes NewConnectionError a ConnectTimeoutError subclass)
    if isinstance(reason, ReadTimeoutError):
        return "no response before the read timeout"
    if isinstance(reason, SSLError):
        return "TLS handshake failed (is the endpoint plain http://? then give its URL as http://...)"
    text = str(reason)
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if match:
        return match.group(1).strip().lower()
    if isinstance(reason, NewConnectionError):
        return "cannot open a connection"
    return type(reason).__name__


class S3Store:
    """An :class:`~shipyard.store.base.ObjectStore` in ``s3://bucket/prefix``.

    The bucket is created on first write if it is missing (a concurrent creator is fine).
    """

    def __init__(self, bucket: str, prefix: str = "", settings: S3Settings | None = None):
        self.settings = settings or s3_settings_from_env()
        try:
            check_bucket_name(bucket, strict=False, s3_check=False)
        except ValueError as exc:
            raise StoreError(f"invalid S3 bucket name {bucket!r}: {exc}") from None
        self.bucket = bucket
        location = StoreURI.in_bucket(S3, bucket, prefix.strip("/"))
        self._prefix = location.key + "/" if location.key else ""
        self.uri = str(location)
        self._sse = _sse_for(self.settings)
        try:
            self._client = Minio(
                self.settings.host,
                access_key=self.settings.access_key,
                secret_key=self.settings.secret_key,
                session_token=self.settings.session_token,
                secure=self.settings.secure,
                region=self.settings.region,
                http_client=_http_client(self.settings),
            )
        except ValueError:  # not its message: it may quote the URL's parts
            raise ConfigError(
                f"invalid S3 endpoint {self.settings.shown_endpoint!r} (bad host or port); set "
                f"{self.settings.endpoint_variable} to http://host:port or https://host"
            ) from None
        self._bucket_ready = False
        self._conditional_checked = False

    @classmethod
    def from_location(cls, location: StoreURI) -> S3Store:
        """The store at ``s3://bucket/prefix``, reached with the settings in the environment."""
        return cls(location.bucket, location.key, s3_settings_from_env())

    def __repr__(self) -> str:
        return f"S3Store({self.uri!r}, endpoint={self.settings.shown_endpoint!r})"

    # -- helpers ---------------------------------------------------------------------------

    def _object(self, key: str, *, allow_dir: bool = False) -> str:
        return self._prefix + check_key(key, allow_dir=allow_dir)

    def uri_for(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._object(key, allow_dir=True)}"

    def _where(self) -> str:
        return f"bucket '{self.bucket}' at S3 endpoint {self.settings.shown_endpoint}"

    @contextlib.contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        """Turns every client/transport failure into a StoreError that names endpoint and bucket."""
        try:
            yield
        except StoreError:
            raise
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchBucket"):
                raise NotFound(
                    f"no object '{key}' in {self.uri} ({exc.code}) at {self.settings.shown_endpoint}"
                ) from None
            if exc.code in _CREDENTIAL_CODES:
                raise StoreError(
                    f"cannot {action} '{key}': {self._where()} refused the request ({exc.code}); check "
                    f"{self.settings.credential_variables} and the bucket policy"
                ) from None
            raise StoreError(f"cannot {action} '{key}' in {self._where()}: {exc.code}: {exc.message}") from None
        except ServerError as exc:
            raise StoreError(
                f"cannot {action} '{key}': {self._where()} failed with HTTP {exc.status_code}; "
                "check the storage service's health"
            ) from None
        except InvalidResponseError:
            raise StoreError(
                f"cannot {action} '{key}': {self._where()} did not answer like S3; check that "
                f"{self.settings.endpoint_variable} points at the S3 API port"
            ) from None
        except (HTTPError, OSError) as exc:
            raise StoreError(
                f"cannot {action} '{key}': cannot reach {self._where()}: {_connection_reason(exc)}; check "
                f"{self.settings.endpoint_variable} and that the storage service is running and reachable"
            ) from None

    def bucket_exists(self) -> bool:
        """Whether the bucket is there (a read-only check: nothing is created)."""
        with self._errors("check bucket", self.bucket):
            return bool(self._client.bucket_exists(self.bucket))

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        with self._errors("create bucket", self.bucket):
            if not self._client.bucket_exists(self.bucket):
                try:
                    self._client.make_bucket(self.bucket)
                    log.info("created bucket %s at %s", self.bucket, self.settings.shown_endpoint)
                except S3Error as exc:  # someone else created it in the meantime
                    if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
        self._bucket_ready = True

    def _sse_headers(self) -> dict[str, str]:
        return self._sse.headers() if self._sse else {}

    def _put_if(self, object_name: str, data: bytes, condition: dict[str, str]) -> bool:
        """One conditional PutObject; False when the condition does not hold (412, or 404 for If-Match)."""
        for attempt in range(4):
            headers: dict[str, str | list[str] | tuple[str]] = {
                "Content-Type": "application/octet-stream",
                **self._sse_headers(),
                **condition,
            }
            try:
                self._client._put_object(self.bucket, object_name, bytes(data), headers)  # see module docstring
                return True
            except S3Error as exc:
                if exc.code == "PreconditionFailed" or (IF_MATCH in condition and exc.code == "NoSuchKey"):
                    return False
                if exc.code != "ConditionalRequestConflict" or attempt == 3:
                    raise
                time.sleep(0.05 * (attempt + 1))  # 409: a concurrent write is in flight; S3 says retry
        raise AssertionError("unreachable")

    def _check_conditional_writes(self) -> None:
        """Refuses endpoints that accept but ignore If-None-Match/If-Match (every writer would "win")."""
        if self._conditional_checked:
            return
        probe = f"{self._prefix}.shipyard/conditional-write-probe-{uuid.uuid4().hex}"
        with self._errors("probe conditional writes with", probe):
            first = self._put_if(probe, b"1", {IF_NONE_MATCH: "*"})
            second = self._put_if(probe, b"2", {IF_NONE_MATCH: "*"})
            stale = self._put_if(probe, b"3", {IF_MATCH: '"00000000000000000000000000000000"'})
            with contextlib.suppress(S3Error):
                self._client.remove_object(self.bucket, probe)
        if not (first and not second and not stale):
            raise StoreError(
                f"{self._where()} does not enforce S3 conditional writes (PutObject with If-None-Match: * / "
                "If-Match); the model registry needs them to assign versions and move aliases safely. "
                "Use AWS S3, MinIO or a recent SeaweedFS"
            )
        self._conditional_checked = True

    # -- operations ------------------------------------------------------------------------

    def _read_object(self, object_name: str, key: str) -> tuple[bytes, str]:
        with self._errors("read", key):
            response = self._client.get_object(self.bucket, object_name)
            try:
                return response.data, response.headers.get("ETag", "")
            finally:
                response.close()
                response.release_conn()

    def read(self, key: str) -> bytes:
        return self._read_object(self._object(key), key)[0]

    def read_with_token(self, key: str) -> tuple[bytes, str]:
        return self._read_object(self._object(key), key)

    def read_file(self, key: str, dest: str | Path) -> None:
        object_name = self._object(key)
        with open(dest, "wb") as out:  # a local file problem is an OSError, not "cannot reach S3"
            with self._errors("read", key):
                response = self._client.get_object(self.bucket, object_name)
                try:
                    for chunk in response.stream(1024 * 1024):
                        out.write(chunk)
                finally:
                    response.close()
                    response.release_conn()

    def write(self, key: str, data: bytes) -> None:
        object_name = self._object(key)
        self._ensure_bucket()
        with self._errors("write", key):
            data = bytes(data)
            self._client.put_object(self.bucket, object_name, io.BytesIO(data), len(data), sse=self._sse)

    def write_file(self, key: str, source: str | Path) -> None:
        object_name = self._object(key)
        Path(source).stat()  # a missing source file is the caller's FileNotFoundError, not a store problem
        self._ensure_bucket()
        with self._errors("write", key):
            # fput_object switches to multipart for large files; PUT/Complete replace the object atomically.
            self._client.fput_object(self.bucket, object_name, str(source), sse=self._sse)

    def create(self, key: str, data: bytes) -> bool:
        object_name = self._object(key)
        self._ensure_bucket()
        self._check_conditional_writes()
        with self._errors("create", key):
            return self._put_if(object_name, data, {IF_NONE_MATCH: "*"})

    def replace_if(self, key: str, data: bytes, token: str) -> bool:
        object_name = self._object(key)
        if not token:
            return False
        self._ensure_bucket()
        self._check_conditional_writes()
        with self._errors("replace", key):
            return self._put_if(object_name, data, {IF_MATCH: token})

    def list(self, prefix: str = "") -> list[str]:
        check_prefix(prefix)
        keys: list[str] = []
        with self._errors("list", prefix or "/"):
            try:
                for obj in self._client.list_objects(self.bucket, prefix=self._prefix + prefix, recursive=True):
                    keys.append(obj.object_name[len(self._prefix) :])
            except S3Error as exc:
                if exc.code != "NoSuchBucket":
                    raise
                return []
        return sorted(k for k in keys if not k.startswith(".shipyard/"))

    def missing_root(self) -> str | None:
        if self.bucket_exists():
            return None
        return f"bucket '{self.bucket}' does not exist at {self.settings.shown_endpoint}"

    def exists(self, key: str) -> bool:
        object_name = self._object(key)
        try:
            with self._errors("check", key):
                self._client.stat_object(self.bucket, object_name)
        except NotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        object_name = self._object(key)
        with self._errors("delete", key):
            try:
                self._client.remove_object(self.bucket, object_name)
            except S3Error as exc:
                if exc.code != "NoSuchBucket":
                    raise
