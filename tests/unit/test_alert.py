"""Unit tests for shipyard.stages.alert: a real HTTP server on 127.0.0.1 receives the webhook."""

from __future__ import annotations

import http.server
import io
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from shipyard.errors import ConfigError
from shipyard.stages.alert import (
    WEBHOOK_ENV,
    Alert,
    AlertSettings,
    redact_webhook_url,
    resolve_webhook_url,
    send_alert,
)

SECRET = "T0SECRET/B0SECRET/xoxSecretToken123"
FAST = {"timeout_s": 2.0, "backoff_s": 0.01, "max_backoff_s": 0.05}

DRIFT = Alert(
    kind="drift",
    model="churn",
    version=3,
    run_id="run-20250101-000000-abc123",
    summary="3 of 10 columns drifted (share 0.3 >= 0.25)",
    details={"drift_share": 0.3, "drifted_columns": ["age", "monthly_spend", "<script>alert(1)</script>"]},
    report="s3://shipyard/models/churn/3/monitoring/run-1/drift.html",
)


class Receiver:
    """A webhook receiver on 127.0.0.1 answering with the scripted statuses, then 200."""

    def __init__(self, statuses: list[int]):
        self.statuses = list(statuses)
        self.requests: list[dict] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(
                    {"path": self.path, "content_type": self.headers["Content-Type"], "body": json.loads(body)}
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                # an error body that echoes the request path, as some receivers do: it must not leak
                answer = b"ok" if status == 200 else f"invalid_payload at {self.path}".encode()
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "120")
                if status == 302:
                    self.send_header("Location", "/moved")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def do_GET(self) -> None:  # a followed redirect would arrive here, without the alert
                receiver.requests.append({"path": self.path, "content_type": None, "body": None})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/services/{SECRET}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory() -> Iterator:
    started: list[Receiver] = []

    def start(statuses: list[int] | None = None) -> Receiver:
        started.append(Receiver(statuses or []))
        return started[-1]

    yield start
    for receiver in started:
        receiver.close()


def assert_secret_hidden(*texts: str) -> None:
    for text in texts:
        for part in ("xoxSecretToken123", "B0SECRET", "T0SECRET", "/services/"):
            assert part not in text


def test_webhook_receives_slack_compatible_json_naming_model_columns_and_report(receiver_factory, caplog):
    receiver = receiver_factory()
    caplog.set_level(logging.DEBUG, logger="shipyard")

    result = send_alert(DRIFT, AlertSettings(webhook_url=receiver.url, **FAST))

    assert result.delivered and result.channel == "webhook"
    assert result.attempts == 1 and result.status_code == 200 and result.error is None
    [request] = receiver.requests
    assert request["path"] == f"/services/{SECRET}"
    assert request["content_type"].startswith("application/json")
    text = request["body"]["text"]
    assert "churn" in text and "version 3" in text and "Drift detected" in text
    assert "age" in text and "monthly_spend" in text
    assert DRIFT.report in text and DRIFT.run_id in text
    # Slack escaping: a column named like a tag stays text, never markup or a Slack link
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>" not in text
    blocks = request["body"]["blocks"]
    assert [block["type"] for block in blocks] == ["header", "section", "context"]
    assert "churn" in blocks[0]["text"]["text"] and "monthly_spend" in blocks[1]["text"]["text"]
    assert any(DRIFT.report in element["text"] for element in blocks[2]["elements"])
    assert "delivered" in caplog.text
    assert_secret_hidden(caplog.text, repr(result), json.dumps(result.to_dict()))


def test_retries_a_500_then_succeeds(receiver_factory, caplog):
    receiver = receiver_factory([500, 503])
    sleeps: list[float] = []

    result = send_alert(DRIFT, AlertSettings(webhook_url=receiver.url, retries=3, **FAST), sleep=sleeps.append)

    assert result.delivered and result.attempts == 3 and result.status_code == 200
    assert len(receiver.requests) == 3
    assert sleeps == [0.01, 0.02]  # exponential back-off between attempts
    assert "HTTP 500" in caplog.text and "retrying" in caplog.text
    assert_secret_hidden(caplog.text)


def test_429_is_retried_and_its_retry_after_is_capped(receiver_factory):
    receiver = receiver_factory([429])
    sleeps: list[float] = []

    result = send_alert(DRIFT, AlertSettings(webhook_url=receiver.url, **FAST), sleep=sleeps.append)

    assert result.delivered and result.attempts == 2
    assert sleeps == [0.05]  # the server asked for 120 s; max_backoff_s bounds the wait


def test_a_400_is_not_retried(receiver_factory, caplog):
    receiver = receiver_factory([400])

    result = send_alert(DRIFT, AlertSettings(webhook_url=receiver.url, retries=3, **FAST), sleep=lambda _: None)

    assert not result.delivered and result.channel == "webhook"
    assert result.attempts == 1 and len(receiver.requests) == 1
    assert result.status_code == 400
    assert "HTTP 400" in result.error and "invalid_payload" in result.error
    assert "NOT delivered" in caplog.text
    assert_secret_hidden(caplog.text, result.error)


def test_a_redirect_is_reported_not_followed(receiver_factory):
    receiver = receiver_factory([302])

    result = send_alert(DRIFT, AlertSettings(webhook_url=receiver.url, **FAST), sleep=lambda _: None)

    assert not result.delivered and result.status_code == 302 and result.attempts == 1
    assert "redirects are not followed" in result.error
    assert len(receiver.requests) == 1  # urllib would replay the POST as a GET without its body


def test_retries_stop_after_the_bound(receiver_factory):
    receiver = receiver_factory([500, 500, 500, 500, 500])

    result = send_alert(DRIFT, AlertSettings(webhook_url=receiver.url, retries=2, **FAST), sleep=lambda _: None)

    assert not result.delivered and result.attempts == 3 and len(receiver.requests) == 3
    assert result.status_code == 500


def test_a_server_that_never_answers_times_out_within_the_bound(caplog):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)  # the kernel accepts the connection; nobody ever reads or answers
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/services/{SECRET}"
    try:
        started = time.monotonic()
        result = send_alert(
            DRIFT, AlertSettings(webhook_url=url, timeout_s=0.2, retries=1, backoff_s=0.01, max_backoff_s=0.01)
        )
        elapsed = time.monotonic() - started
    finally:
        silent.close()

    assert not result.delivered and result.attempts == 2
    assert "timed out" in result.error
    assert elapsed < 1.5
    assert_secret_hidden(caplog.text, result.error)


def test_unreachable_port_is_not_delivered_and_does_not_raise(caplog):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    url = f"http://user:hunter2-password@127.0.0.1:{port}/services/{SECRET}?token=querysecret42"

    result = send_alert(DRIFT, AlertSettings(webhook_url=url, retries=1, **FAST), sleep=lambda _: None)

    assert not result.delivered and result.attempts == 2 and result.status_code is None
    assert "cannot connect" in result.error
    assert result.destination == f"http://127.0.0.1:{port}/***"
    assert_secret_hidden(caplog.text, result.error, repr(result))
    for secret in ("hunter2", "querysecret42", "user:"):
        assert secret not in caplog.text and secret not in repr(result)


def test_a_failure_while_sending_never_raises(receiver_factory, monkeypatch):
    receiver = receiver_factory()

    def broken(*args, **kwargs):
        raise RuntimeError(f"boom at {receiver.url}")

    monkeypatch.setattr("shipyard.stages.alert._post_once", broken)
    result = send_alert(DRIFT, AlertSettings(webhook_url=receiver.url, **FAST))

    assert not result.delivered and "RuntimeError" in result.error
    assert_secret_hidden(result.error)


def test_no_url_writes_one_line_and_says_channel_log(capsys):
    result = send_alert(DRIFT, AlertSettings(webhook_url=None))

    assert result.delivered is False and result.channel == "log" and result.attempts == 0
    captured = capsys.readouterr()
    assert captured.out == ""  # stdout stays free for the CLI's --json output
    [line] = captured.err.splitlines()
    assert "ALERT [drift]" in line and "churn" in line and "monthly_spend" in line and DRIFT.report in line


def test_alert_to_a_given_stream_folds_the_summary_to_one_line():
    stream = io.StringIO()
    alert = Alert(kind="run_failed", model="churn", version=None, run_id="r1", summary="step train\nfailed")

    send_alert(alert, AlertSettings(), stream=stream)

    assert stream.getvalue().count("\n") == 1
    assert "Run failed" in stream.getvalue() and "step train failed" in stream.getvalue()


def test_settings_and_errors_never_show_the_secret(capsys):
    settings = AlertSettings(webhook_url=f"https://hooks.slack.com/services/{SECRET}")

    assert repr(settings) == (
        "AlertSettings(webhook_url='https://hooks.slack.com/***', timeout_s=5.0, retries=3, "
        "backoff_s=1.0, max_backoff_s=10.0)"
    )
    print(settings, [settings])
    assert_secret_hidden(capsys.readouterr().out, str(settings))


@pytest.mark.parametrize(
    "url",
    [f"ftp://hooks.example.com/services/{SECRET}", f"hooks.slack.com/services/{SECRET}", "file:///etc/passwd"],
)
def test_a_non_http_url_is_a_config_error_that_hides_the_secret(url):
    with pytest.raises(ConfigError, match="must start with http:// or https://") as excinfo:
        resolve_webhook_url(url, {})
    assert_secret_hidden(str(excinfo.value))
    with pytest.raises(ConfigError):
        AlertSettings(webhook_url=url)


def test_a_url_without_host_is_a_config_error():
    with pytest.raises(ConfigError, match="not a valid URL"):
        resolve_webhook_url(f"https:///services/{SECRET}", {})


def test_url_comes_from_config_then_environment():
    config_url = "https://hooks.example.com/a/b/c"
    env_url = "https://chat.example.org/hooks/xyz"

    assert resolve_webhook_url(config_url, {WEBHOOK_ENV: env_url}) == config_url
    assert resolve_webhook_url(None, {WEBHOOK_ENV: env_url}) == env_url
    assert resolve_webhook_url("  ", {WEBHOOK_ENV: f" {env_url} "}) == env_url
    assert resolve_webhook_url(None, {}) is None
    assert resolve_webhook_url("", {WEBHOOK_ENV: ""}) is None


def test_an_env_url_with_a_bad_scheme_says_where_it_came_from():
    with pytest.raises(ConfigError, match=WEBHOOK_ENV):
        resolve_webhook_url(None, {WEBHOOK_ENV: "smtp://mail.example.com/x"})


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.slack.com/services/T/B/X", "https://hooks.slack.com/***"),
        ("http://u:p@127.0.0.1:8080/hook?token=1", "http://127.0.0.1:8080/***"),
        ("https://example.com", "https://example.com"),
        ("https://example.com/", "https://example.com"),
        ("not a url at all", "***"),
    ],
)
def test_redact_webhook_url(url, shown):
    assert redact_webhook_url(url) == shown


@pytest.mark.parametrize(
    "settings",
    [{"timeout_s": 0}, {"retries": -1}, {"retries": 11}, {"backoff_s": float("nan")}, {"retries": 1.5}],
)
def test_bad_settings_are_config_errors(settings):
    with pytest.raises(ConfigError):
        AlertSettings(**settings)


def test_unknown_alert_kind_is_refused():
    with pytest.raises(ValueError, match="alert kind"):
        Alert(kind="weather", model="m", version=1, run_id="r", summary="s")  # type: ignore[arg-type]


def test_long_values_are_bounded_for_slack_limits():
    alert = Alert(
        kind="drift",
        model="wide",
        version=1,
        run_id="r",
        summary="many columns drifted",
        details={"drifted_columns": [f"column_{i:04d}" for i in range(2000)]},
    )

    payload = alert.to_payload()

    assert len(payload["text"]) <= 4000
    assert len(payload["blocks"][0]["text"]["text"]) <= 150
    assert len(payload["blocks"][1]["text"]["text"]) <= 3000
    assert "column_0000" in payload["text"]
