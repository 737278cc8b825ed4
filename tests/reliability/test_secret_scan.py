"""No credential used by a run shows up anywhere the run leaves text (issue 11, part 8).

One store on moto (stand-in for MinIO/SeaweedFS; conftest.py) is reached with distinctive
credentials given the way a user or a pod gives them, ``SHIPYARD_S3_ACCESS_KEY_ID`` /
``SHIPYARD_S3_SECRET_ACCESS_KEY``, and alerts go to a local Slack-style webhook whose URL carries
a token. Then, with those variables still set:

* ``shipyard run training`` twice (human output, then ``--json``) and ``shipyard run monitoring``
  twice (drifted data, so it alerts; human, then ``--json``);
* ``shipyard models list|show|verify``, human and ``--json``;
* ``shipyard compile`` (IR YAML and KFP's Kubernetes manifests);
* every kustomization rendered with ``kubectl kustomize``, with the test keys in the gitignored
  s3-credentials.env (they may appear only base64-encoded as the data of the Secret
  shipyard-s3-credentials, which is what that Secret is for);

and every byte they produced is scanned: stdout and stderr, task logs, task records and the
kfp.local pipeline root (artifacts, the HTML and JSON reports) under the local-runs folder, and
every object in the bucket (run records, monitoring reports, registry documents, the models).
Each secret is looked for raw, base64-encoded and URL-encoded. The last tests leak a key on
purpose, through the CLI and into a copy of the collected output, and check the scan finds it.
"""

from __future__ import annotations

import base64
import http.server
import shutil
import subprocess
import threading
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from tests.manifests.test_manifests import KSERVE_LINE, KSERVE_VARIANTS, KUSTOMIZATIONS, MANIFESTS, _kubectl
from tests.reliability.conftest import ACCESS_KEY, SECRET_KEY, WEBHOOK_TOKEN, S3Setup, run_cli, store_objects

pytestmark = [pytest.mark.slow, pytest.mark.s3]

SECRETS = {"access key": ACCESS_KEY, "secret key": SECRET_KEY, "webhook token": WEBHOOK_TOKEN}


def forms(secret: str) -> dict[str, bytes]:
    """The spellings a leak could take: raw, base64 (at each of the three alignments), URL-encoded."""
    raw = secret.encode()
    out = {"raw": raw}
    if quote(secret, safe="") != secret:
        out["url-encoded"] = quote(secret, safe="").encode()
    for shift in range(3):  # a secret inside a longer base64 blob starts at any byte offset mod 3
        encoded = base64.b64encode(b"\0" * shift + raw)[4 if shift else 0 :]
        out[f"base64+{shift}"] = encoded[: len(encoded) - 4]  # drop the padded tail
    return out


def find_leaks(outputs: dict[str, bytes], secrets: dict[str, str] = SECRETS) -> list[str]:
    """``where: which secret (form)`` for every output that contains a secret in any spelling."""
    hits = []
    for where, blob in sorted(outputs.items()):
        for name, secret in secrets.items():
            for form, needle in forms(secret).items():
                if needle in blob:
                    hits.append(f"{where}: {name} ({form})")
    return hits


class _Webhook(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).received.append((self.path, body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def webhook():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/services/{WEBHOOK_TOKEN}", _Webhook.received
    finally:
        server.shutdown()


def _files(root: Path, label: str) -> dict[str, bytes]:
    return {f"{label}/{p.relative_to(root)}": p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _render_with_test_keys(tmp: Path) -> dict[str, str]:
    copy = tmp / "manifests"
    shutil.copytree(MANIFESTS, copy, ignore=shutil.ignore_patterns("*.env"))
    (copy / "components/object-store/s3-credentials.env").write_text(
        f"AWS_ACCESS_KEY_ID={ACCESS_KEY}\nAWS_SECRET_ACCESS_KEY={SECRET_KEY}\n", encoding="utf-8"
    )
    shutil.copyfile(copy / "components/minio/minio-root.env.example", copy / "components/minio/minio-root.env")
    for variant in KSERVE_VARIANTS:
        shutil.copytree(copy / variant.removesuffix("+kserve"), copy / variant)
        kustomization = copy / variant / "kustomization.yaml"
        text = kustomization.read_text(encoding="utf-8")
        kustomization.write_text(text.replace(KSERVE_LINE, "  - ../../components/kserve"), encoding="utf-8")
    rendered = {}
    for name in KUSTOMIZATIONS:
        result = subprocess.run(
            [_kubectl(), "kustomize", str(copy / name)], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        rendered[name] = result.stdout
    return rendered


def _without_secret_data(text: str) -> tuple[str, list[dict]]:
    """The rendering with the data of Secret shipyard-s3-credentials blanked, and that data (each copy)."""
    docs = [d for d in yaml.safe_load_all(text) if d]
    secrets = []
    for doc in docs:
        if doc["kind"] == "Secret" and doc["metadata"]["name"] == "shipyard-s3-credentials":
            secrets.append(dict(doc["data"]))
            doc["data"] = {key: "<checked separately>" for key in doc["data"]}
    return yaml.safe_dump_all(docs), secrets


@pytest.fixture(scope="module")
def collected(s3_trained: S3Setup, webhook, tmp_path_factory) -> dict[str, bytes]:
    """Everything the runs and commands above wrote, by where it was found."""
    setup, (webhook_url, received) = s3_trained, webhook
    env = setup.env(SHIPYARD_ALERT_WEBHOOK_URL=webhook_url)
    out: dict[str, bytes] = {}

    def keep(run, label: str) -> None:
        out[f"{label} stdout"], out[f"{label} stderr"] = run.stdout.encode(), run.stderr.encode()

    keep(setup.training, "run training")
    store = ("--store", setup.store)
    training = run_cli(
        "run", "training", "--data", str(setup.data["train"]), "--target", "churned", "--model", "churn",
        *store, "--json", env=env,
    )  # fmt: skip
    assert training.returncode == 0, training.stderr[-2000:]
    keep(training, "run training --json")
    for extra in ((), ("--json",)):
        monitoring = run_cli(
            "run", "monitoring", "--data", str(setup.data["drifted"]), "--model", "churn", *store, "--no-retrain",
            *extra, env=env, timeout=400,
        )  # fmt: skip
        assert monitoring.returncode == 0, monitoring.stdout[-2000:] + monitoring.stderr[-2000:]
        keep(monitoring, f"run monitoring {' '.join(extra)}".strip())
    assert received and all(path == f"/services/{WEBHOOK_TOKEN}" for path, _ in received), (
        "monitoring never posted to the webhook: the scan would not cover the alert path"
    )
    for command in (("list",), ("show", "churn"), ("verify",)):
        for extra in ((), ("--json",)):
            result = run_cli("models", *command, *store, *extra, env=env)
            assert result.returncode == 0, result.stderr
            keep(result, f"models {' '.join(command + extra)}")

    compiled = tmp_path_factory.mktemp("compiled")
    result = run_cli("compile", "--out", str(compiled), "--kubernetes-manifests", env=env)
    assert result.returncode == 0, result.stderr
    keep(result, "compile")
    out.update(_files(compiled, "compiled"))
    assert any(k.endswith("training.yaml") for k in out) and any("kubernetes/" in k for k in out)

    local_runs = setup.home / ".cache" / "shipyard" / "local-runs"
    out.update(_files(local_runs, "local-runs"))
    assert any(k.endswith("run.log") for k in out) and any("task-records" in k for k in out)
    objects = store_objects(setup)
    out.update({f"s3/{key}": data for key, data in objects.items()})
    assert any(k.startswith("s3/runs/") for k in out), "no run record in the store"
    assert any(k.endswith("drift-report.html") for k in out) and any(k.endswith("drift-report.json") for k in out)
    return out


def test_no_credential_appears_in_cli_output_logs_records_reports_or_compiled_yaml(collected):
    assert len(collected) > 50, sorted(collected)  # the scan covers a real run's worth of files
    print(f"scanned {len(collected)} outputs, {sum(map(len, collected.values())):,} bytes")
    assert find_leaks(collected) == []


def test_rendered_manifests_hold_the_keys_only_as_the_credentials_secrets_data(tmp_path):
    rendered = _render_with_test_keys(tmp_path)
    for name, text in rendered.items():
        blanked, secrets = _without_secret_data(text)
        assert find_leaks({f"manifests/{name}": blanked.encode()}) == []
        for secret in secrets:  # the Secret carries exactly the test keys (so the check above was not vacuous)
            assert base64.b64decode(secret["AWS_ACCESS_KEY_ID"]).decode() == ACCESS_KEY
            assert base64.b64decode(secret["AWS_SECRET_ACCESS_KEY"]).decode() == SECRET_KEY
        assert secrets, f"manifests/{name} renders no credentials Secret"


# --- the scan can fail ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "plant",
    [
        lambda blob: blob + b"\nSHIPYARD_S3_SECRET_ACCESS_KEY=" + SECRET_KEY.encode(),
        lambda blob: blob + b' "auth": "' + base64.b64encode(f"x{ACCESS_KEY}:{SECRET_KEY}".encode()) + b'"',
        lambda blob: blob + b"posting to https://hooks.example/services/" + quote(WEBHOOK_TOKEN, safe="").encode(),
    ],
    ids=["raw secret in a log", "base64 inside a longer blob", "url-encoded webhook token"],
)
def test_the_scan_finds_a_planted_leak(collected, plant):
    victim = next(k for k in collected if k.endswith("run.log"))
    leaked = {**collected, victim: plant(collected[victim])}
    hits = find_leaks(leaked)
    assert hits and all(hit.startswith(f"{victim}: ") for hit in hits), hits


def test_the_scan_finds_a_key_the_cli_really_prints(s3_trained: S3Setup, tmp_path):
    """A leak through the real CLI: a data path that contains the access key is echoed in the error."""
    result = run_cli(
        "run", "training", "--data", str(tmp_path / f"{ACCESS_KEY}.csv"), "--target", "churned",
        "--model", "churn", "--store", s3_trained.store, env=s3_trained.env(),
    )  # fmt: skip
    assert result.returncode != 0
    assert find_leaks({"stderr": result.stderr.encode()}) == ["stderr: access key (raw)"]


def test_a_key_copied_out_of_the_secret_is_found(tmp_path):
    """Say an overlay patched the key into the ConfigMap: outside the Secret's data, the scan sees it."""
    text = _render_with_test_keys(tmp_path)["overlays/production"]
    docs = [d for d in yaml.safe_load_all(text) if d]
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    config["data"]["SHIPYARD_S3_ACCESS_KEY_ID"] = ACCESS_KEY
    blanked, _ = _without_secret_data(yaml.safe_dump_all(docs))
    assert find_leaks({"manifests": blanked.encode()}) == ["manifests: access key (raw)"]
