"""Tells people that a model drifted, decayed or a run failed: a webhook post that never fails the run.

The message is Slack-compatible JSON (``{"text": ..., "blocks": [...]}``): Slack shows the blocks,
and Mattermost, Rocket.Chat and Teams workflows read ``text``, so ``text`` alone carries the whole
alert. The webhook URL comes from the config or ``$SHIPYARD_ALERT_WEBHOOK_URL`` (on a cluster, from a
Kubernetes Secret), never from a pipeline parameter: a Slack webhook URL *is* a credential, so only
its scheme and host ever reach a log line, an error or a repr (:func:`redact_webhook_url`).

Delivery is at least once: a post that timed out may have arrived and is sent again. Worst-case time
spent is ``attempts * timeout_s`` plus the back-off sleeps (``timeout_s`` bounds each socket wait,
not a slow trickle of bytes). Standard library only (``urllib.request``).
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import os
import re
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO, get_args

from shipyard.errors import ConfigError

log = logging.getLogger(__name__)

AlertKind = Literal["drift", "decay", "run_failed"]
#: The kinds of alert, as the pipelines and the CLI spell them.
ALERT_KINDS: tuple[str, ...] = get_args(AlertKind)
#: Where the webhook URL comes from when the config has none (a Kubernetes Secret on a cluster).
WEBHOOK_ENV = "SHIPYARD_ALERT_WEBHOOK_URL"

_TITLES = {"drift": "Drift detected", "decay": "Model decay detected", "run_failed": "Run failed"}
#: Slack's limits: header text 150 characters, section text 3,000; Mattermost cuts posts at 16,383.
_HEADER_LIMIT = 150
_SECTION_LIMIT = 3000
_TEXT_LIMIT = 4000
_VALUE_LIMIT = 500
_ERROR_BODY_LIMIT = 300


def redact_webhook_url(url: str) -> str:
    """``url`` fit for a message: scheme and host only, user info dropped, path hidden as ``/***``.

    Slack-style webhook URLs carry their token in the path (``/services/T000/B000/XXXX``) and
    others in the query or user info, so all of those are secret. Works on malformed text too:
    without a ``scheme://`` nothing of it is shown.
    """
    if not isinstance(url, str):
        return "***"
    scheme, _, host, tail = _split_url(url.strip())
    if not scheme:
        return "***"
    return f"{scheme}://{host}" + ("/***" if tail.strip("/") else "")


def _split_url(url: str) -> tuple[str, str, str, str]:
    """(scheme, user info, host[:port], the rest from the first ``/``, ``?`` or ``#``); scheme "" if none."""
    scheme, sep, rest = url.partition("://")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        return "", "", "", url
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    userinfo, _, host = rest[:end].rpartition("@")
    return scheme, userinfo, host, rest[end:]


def _check_webhook_url(url: str, source: str) -> str:
    shown = redact_webhook_url(url)
    scheme, _, host, _ = _split_url(url)
    if scheme.lower() not in ("http", "https"):
        raise ConfigError(
            f"alert webhook URL from {source} must start with http:// or https://, got {shown!r} "
            "(a Slack-compatible incoming-webhook URL)"
        )
    if not host or any(ch.isspace() for ch in url):
        raise ConfigError(f"alert webhook URL from {source} is not a valid URL: {shown!r}")
    return url


def resolve_webhook_url(config_value: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The webhook URL to post alerts to: the config's value, else ``$SHIPYARD_ALERT_WEBHOOK_URL``, else None.

    An empty or blank value counts as unset. None means "no webhook": alerts go to stderr.

    Raises:
        ConfigError: the URL is not http(s); the message shows it redacted and says where it came from.
    """
    env = os.environ if environ is None else environ
    for value, source in ((config_value, "the config"), (env.get(WEBHOOK_ENV), f"${WEBHOOK_ENV}")):
        if value is None:
            continue
        if not isinstance(value, str):
            raise ConfigError(f"alert webhook URL from {source} must be a string, got {type(value).__name__}")
        if value.strip():
            return _check_webhook_url(value.strip(), source)
    return None


@dataclass(frozen=True, repr=False)
class AlertSettings:
    """Where and how alerts are posted. The URL is a secret: the repr shows it redacted.

    ``retries`` extra attempts follow a connection error, a timeout, HTTP 5xx or 429, after
    ``backoff_s``, doubling each time up to ``max_backoff_s`` (a 429/503 ``Retry-After`` in
    seconds is honoured within that cap). Other 4xx and 3xx are not retried.
    """

    webhook_url: str | None = None
    timeout_s: float = 5.0
    retries: int = 3
    backoff_s: float = 1.0
    max_backoff_s: float = 10.0

    def __post_init__(self) -> None:
        if self.webhook_url is not None:
            _check_webhook_url(self.webhook_url, "the alert settings")
        for name in ("timeout_s", "backoff_s", "max_backoff_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"alert setting '{name}' must be a number >= 0, got {value!r}")
        if self.timeout_s <= 0:
            raise ConfigError(f"alert setting 'timeout_s' must be above 0, got {self.timeout_s!r}")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or not 0 <= self.retries <= 10:
            raise ConfigError(f"alert setting 'retries' must be a whole number from 0 to 10, got {self.retries!r}")

    @property
    def destination(self) -> str:
        """Where alerts go, as messages may show it."""
        return "stderr" if self.webhook_url is None else redact_webhook_url(self.webhook_url)

    def __repr__(self) -> str:
        return (
            f"AlertSettings(webhook_url={self.destination!r}, timeout_s={self.timeout_s!r}, "
            f"retries={self.retries!r}, backoff_s={self.backoff_s!r}, max_backoff_s={self.max_backoff_s!r})"
        )


@dataclass(frozen=True)
class Alert:
    """One thing people must hear about: drift, decay, or a failed run of a pipeline.

    ``summary`` is one line written for a person (line breaks are folded); ``details`` holds the
    numbers behind it (e.g. ``drift_share``, ``drifted_columns``), shown as ``key: value`` lines;
    ``report`` is where the full report is (a path, ``s3://`` URI or URL), if any.
    """

    kind: AlertKind
    model: str
    version: int | None
    run_id: str
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)
    report: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ALERT_KINDS:
            raise ValueError(f"alert kind must be one of {list(ALERT_KINDS)}, got {self.kind!r}")
        object.__setattr__(self, "summary", " ".join(str(self.summary).split()))
        object.__setattr__(self, "details", dict(self.details))

    @property
    def title(self) -> str:
        version = "" if self.version is None else f" version {self.version}"
        return f"shipyard: {_TITLES[self.kind]} — model {self.model}{version}"

    def detail_lines(self) -> list[str]:
        """``key: value`` per detail, each value shown in one bounded line."""
        return [f"{key}: {_show_value(value)}" for key, value in self.details.items()]

    def one_line(self) -> str:
        """The alert as one plain line, for a log or a terminal."""
        parts = [f"ALERT [{self.kind}] {self.title}", f"run {self.run_id}", self.summary]
        parts += self.detail_lines()
        if self.report:
            parts.append(f"report: {self.report}")
        return " | ".join(" ".join(part.split()) for part in parts if part)

    def to_payload(self) -> dict[str, Any]:
        """Slack-compatible JSON: ``text`` carries everything; ``blocks`` lay it out for Slack.

        Values are escaped the way Slack asks (``&``, ``<``, ``>``), so a column named like an
        HTML tag or a Slack link shows as text; Markdown-based receivers decode the entities.
        """
        run = f"Run: {_escape(self.run_id)}"
        report = None if not self.report else f"Report: {_escape(self.report)}"
        details = [f"• {_escape(line)}" for line in self.detail_lines()]
        text_lines = [f"*{_escape(self.title)}*", _escape(self.summary), *details, run]
        if report:
            text_lines.append(report)
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": _truncate(self.title, _HEADER_LIMIT)}},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": _truncate("\n".join([_escape(self.summary or self.title), *details]), _SECTION_LIMIT),
                },
            },
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": _truncate(line, _SECTION_LIMIT)} for line in (run, report) if line
                ],
            },
        ]
        return {"text": _truncate("\n".join(text_lines), _TEXT_LIMIT), "blocks": blocks}

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "model": self.model,
            "version": self.version,
            "run_id": self.run_id,
            "summary": self.summary,
            "details": json.loads(json.dumps(self.details, default=str)),
            "report": self.report,
        }


@dataclass(frozen=True)
class AlertResult:
    """What became of an alert. ``channel`` is ``webhook``, or ``log`` when no URL is configured."""

    delivered: bool
    channel: Literal["webhook", "log"]
    attempts: int
    status_code: int | None
    error: str | None  # redacted: never holds the webhook URL or its token
    destination: str  # the redacted URL, or "stderr"

    def to_dict(self) -> dict[str, Any]:
        return {
            "delivered": self.delivered,
            "channel": self.channel,
            "attempts": self.attempts,
            "status_code": self.status_code,
            "error": self.error,
            "destination": self.destination,
        }


def _show_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        text = ", ".join(_show_value(item) for item in items) or "none"
    elif isinstance(value, Mapping):
        text = json.dumps(value, default=str, sort_keys=True)
    else:
        text = str(value)
    return _truncate(" ".join(text.split()), _VALUE_LIMIT)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _scrub(text: str, url: str) -> str:
    """``text`` with the URL and each of its secret parts (path, query, user info) replaced by ``***``."""
    _, userinfo, _, tail = _split_url(url)
    secrets = [url, tail, userinfo, *re.split(r"[/?#&=]", tail), *userinfo.split(":")]
    for secret in sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected webhook POST would be replayed as a GET and lose its body: report it instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _retry_after(error: urllib.error.HTTPError) -> float | None:
    value = error.headers.get("Retry-After") if error.headers is not None else None
    try:
        seconds = float(value) if value is not None else None
    except ValueError:  # an HTTP date: fall back to our own back-off
        return None
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None


def _post_once(url: str, body: bytes, timeout_s: float) -> tuple[int | None, str | None, bool, float | None]:
    """One POST: (status code, error text or None, retryable, server's Retry-After)."""
    from shipyard import __version__

    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": f"shipyard/{__version__}"},
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout_s) as response:
            status = int(response.status)
            response.read(64 * 1024)  # drain so the connection closes cleanly
        if 200 <= status < 300:
            return status, None, False, None
        return status, f"HTTP {status}", False, None
    except urllib.error.HTTPError as exc:
        try:
            answer = exc.read(_ERROR_BODY_LIMIT).decode("utf-8", "replace").strip()
        except Exception:  # the body is a courtesy, the status is what counts
            answer = ""
        retryable = exc.code >= 500 or exc.code == 429
        hint = " (redirects are not followed: configure the final URL)" if 300 <= exc.code < 400 else ""
        text = f"HTTP {exc.code} {exc.reason}{hint}" + (f": {' '.join(answer.split())}" if answer else "")
        return exc.code, text, retryable, _retry_after(exc) if retryable else None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return None, f"timed out after {timeout_s:g} s", True, None
        if isinstance(reason, ssl.SSLCertVerificationError):  # will not heal by itself
            return None, f"TLS certificate rejected: {reason}", False, None
        return None, f"cannot connect: {reason}", True, None
    except TimeoutError:
        return None, f"timed out after {timeout_s:g} s (waiting for the answer)", True, None
    except http.client.InvalidURL as exc:
        return None, f"invalid URL: {exc}", False, None
    except (OSError, http.client.HTTPException) as exc:  # reset, refused, bad status line
        return None, f"connection failed: {type(exc).__name__}: {exc}", True, None


def send_alert(
    alert: Alert,
    settings: AlertSettings,
    *,
    stream: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> AlertResult:
    """Posts ``alert`` to the webhook in ``settings``, retrying transient failures; never raises.

    Without a webhook URL the alert is written as one line to ``stream`` (stderr by default) and
    the result says ``delivered=False, channel="log"``. Any failure is returned and logged, so
    reporting a run can never make it fail.
    """
    url = settings.webhook_url if isinstance(settings, AlertSettings) else None
    if url is None:
        try:
            line = alert.one_line()
        except Exception as exc:  # an alert must never fail the run it reports
            line = f"ALERT (unprintable: {type(exc).__name__})"
        try:
            print(line, file=stream if stream is not None else sys.stderr, flush=True)
        except Exception:
            log.warning("%s", line)
        return AlertResult(False, "log", 0, None, "no webhook URL configured", "stderr")

    destination = redact_webhook_url(url)
    attempts, status, error = 0, None, None
    try:
        body = json.dumps(alert.to_payload(), default=str).encode("utf-8")
        for attempt in range(1, settings.retries + 2):
            attempts = attempt
            status, error, retryable, retry_after = _post_once(url, body, settings.timeout_s)
            if error is None:
                log.info(
                    "alert %s for model %s delivered to %s (HTTP %s, attempt %d)",
                    alert.kind,
                    alert.model,
                    destination,
                    status,
                    attempt,
                )
                return AlertResult(True, "webhook", attempt, status, None, destination)
            error = _scrub(error, url)
            if not retryable or attempt > settings.retries:
                break
            delay = settings.backoff_s * 2 ** (attempt - 1) if retry_after is None else retry_after
            delay = min(delay, settings.max_backoff_s)
            log.warning(
                "alert %s to %s failed (attempt %d of %d): %s; retrying in %.2g s",
                alert.kind,
                destination,
                attempt,
                settings.retries + 1,
                error,
                delay,
            )
            sleep(delay)
    except Exception as exc:  # an alert must never fail the run it reports
        error = _scrub(f"{type(exc).__name__}: {exc}", url)
    log.error(
        "alert %s for model %s NOT delivered to %s after %d attempt(s): %s",
        getattr(alert, "kind", "?"),
        getattr(alert, "model", "?"),
        destination,
        attempts,
        error,
    )
    return AlertResult(False, "webhook", attempts, status, error, destination)
