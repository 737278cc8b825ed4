#!/usr/bin/env bash
# shipyard end to end on a local kind cluster: cluster, Kubeflow Pipelines, shipyard's objects, the
# image, the pipelines, one training run (waited for), the schedules. Needs docker, kind, kubectl,
# curl and the project's .venv (make venv).
#
#   scripts/kind-e2e.sh                  # everything; reuses the cluster if it exists
#   scripts/kind-e2e.sh --dry-run        # print the commands in order, run nothing
#   scripts/kind-e2e.sh --with-kserve    # also install cert-manager and KServe (serving), and
#                                        # apply manifests/overlays/kind-kserve (+ ServingRuntime)
#   scripts/kind-e2e.sh --k8s-native     # KFP in Kubernetes native API mode; the pipelines go in as
#                                        # `shipyard compile --kubernetes-manifests` + kubectl apply -k
#   scripts/kind-e2e.sh --delete         # delete the kind cluster at the end, even on failure
#   make kind-e2e                        # the same as the first line
#
# Settings (environment): KFP_VERSION (default: the '# KFP_VERSION=' pin in kind-config.yaml),
# KSERVE_VERSION (default: the kserve pin in constraints.txt), CERT_MANAGER_VERSION (default: the
# one KFP 2.17.0's backend/Makefile installs), KFP_HOST (default http://localhost:8080,
# kind-config.yaml's UI mapping), WAIT_TIMEOUT (seconds per wait, default 600), RUN_TIMEOUT
# (seconds for the training run, default 1800), SHIPYARD_IMAGE.
set -euo pipefail

usage() {
  sed -n '2,19s/^# \{0,1\}//p' "$0"
}

dry_run=false
with_kserve=false
k8s_native=false
delete_cluster=false
while (($#)); do
  case "$1" in
    --dry-run) dry_run=true ;;
    --with-kserve) with_kserve=true ;;
    --k8s-native) k8s_native=true ;;
    --delete) delete_cluster=true ;;
    -h | --help) usage; exit 0 ;;
    *) echo "kind-e2e: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

cd "$(dirname "$0")/.."

# The cluster's name is kind-config.yaml's `name:`; build-image.sh loads the image into it.
cluster=shipyard
kfp_version=${KFP_VERSION:-$(sed -n 's/^# KFP_VERSION=//p' kind-config.yaml)}
if [[ -z "$kfp_version" ]]; then
  echo "kind-e2e: no KFP release: set KFP_VERSION or pin it in kind-config.yaml ('# KFP_VERSION=2.17.0')" >&2
  exit 2
fi
kserve_version=${KSERVE_VERSION:-$(sed -n 's/^kserve==//p' constraints.txt)}
cert_manager_version=${CERT_MANAGER_VERSION:-v1.16.2}
host=${KFP_HOST:-http://localhost:8080}
wait_timeout=${WAIT_TIMEOUT:-600}
run_timeout=${RUN_TIMEOUT:-1800}
shipyard=${SHIPYARD:-.venv/bin/shipyard}
python=${PYTHON:-.venv/bin/python}
kfp_manifests="github.com/kubeflow/pipelines/manifests/kustomize"
credentials=manifests/components/object-store/s3-credentials.env
data=.shipyard/kind-e2e/churn.csv
data_uri=s3://mlpipeline/shipyard/kind-e2e/churn.csv
compiled=.shipyard/kind-e2e/compiled

step() {
  printf '\n== %s\n' "$*"
}

run() {
  printf '+'
  printf ' %q' "$@"
  printf '\n'
  if ! $dry_run; then
    "$@"
  fi
}

fail() {
  echo "kind-e2e: $*" >&2
  exit 1
}

cleanup() {
  local status=$?
  if $delete_cluster; then
    run kind delete cluster --name "$cluster" || true
  fi
  if ((status != 0)); then
    echo "kind-e2e: failed (exit $status); the cluster is left for inspection: kubectl --context kind-$cluster get pods -A" >&2
  fi
}
trap cleanup EXIT

# Polls URL until it answers 2xx, for at most WAIT_TIMEOUT seconds.
wait_for_url() {
  local url=$1 what=$2 deadline=$((SECONDS + wait_timeout))
  printf '+ wait for %s (%s, up to %ss)\n' "$what" "$url" "$wait_timeout"
  $dry_run && return 0
  until curl -fsS -o /dev/null --max-time 5 "$url"; do
    ((SECONDS < deadline)) || fail "$what did not answer at $url within ${wait_timeout}s"
    sleep 5
  done
}

# The credentials file the kind overlay's secretGenerator reads, from KFP's own artifact secret.
write_credentials() {
  printf '+ write %s from secret kubeflow/mlpipeline-minio-artifact\n' "$credentials"
  $dry_run && return 0
  if [[ -f "$credentials" ]]; then
    echo "  $credentials exists; keeping it"
    return 0
  fi
  local access secret
  access=$(kubectl -n kubeflow get secret mlpipeline-minio-artifact -o jsonpath='{.data.accesskey}' | base64 -d)
  secret=$(kubectl -n kubeflow get secret mlpipeline-minio-artifact -o jsonpath='{.data.secretkey}' | base64 -d)
  [[ -n "$access" && -n "$secret" ]] || fail "secret kubeflow/mlpipeline-minio-artifact has no accesskey/secretkey"
  (umask 077 && printf 'AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n' "$access" "$secret" >"$credentials")
}

install_cert_manager() {
  run kubectl apply -f "https://github.com/cert-manager/cert-manager/releases/download/$cert_manager_version/cert-manager.yaml"
  run kubectl -n cert-manager wait --for=condition=Available deployment --all --timeout="${wait_timeout}s"
}

if ! $dry_run; then
  for tool in docker kind kubectl curl; do
    command -v "$tool" >/dev/null || fail "$tool is not on PATH"
  done
  [[ -x "$shipyard" ]] || fail "$shipyard not found: run 'make venv' first"
fi

step "1. kind cluster '$cluster' from kind-config.yaml"
if ! $dry_run && kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  echo "  cluster $cluster exists; reusing it"
else
  run kind create cluster --config kind-config.yaml --wait "${wait_timeout}s"
fi
run kubectl config use-context "kind-$cluster"

if $k8s_native; then
  step "2. Kubeflow Pipelines $kfp_version (standalone, Kubernetes native API mode: needs cert-manager)"
  install_cert_manager
  run kubectl apply -k "$kfp_manifests/env/cert-manager/cluster-scoped-resources?ref=$kfp_version"
  run kubectl wait --for condition=established --timeout=60s crd/applications.app.k8s.io
  run kubectl apply -k "$kfp_manifests/env/cert-manager/platform-agnostic-k8s-native?ref=$kfp_version"
else
  step "2. Kubeflow Pipelines $kfp_version (standalone)"
  run kubectl apply -k "$kfp_manifests/cluster-scoped-resources?ref=$kfp_version"
  run kubectl wait --for condition=established --timeout=60s crd/applications.app.k8s.io
  run kubectl apply -k "$kfp_manifests/env/platform-agnostic?ref=$kfp_version"
fi
run kubectl -n kubeflow wait --for=condition=Available deployment --all --timeout="${wait_timeout}s"

if $with_kserve; then
  step "2b. cert-manager $cert_manager_version and KServe $kserve_version"
  $k8s_native || install_cert_manager
  run kubectl apply --server-side -f "https://github.com/kserve/kserve/releases/download/v$kserve_version/kserve.yaml"
  run kubectl -n kserve wait --for=condition=Available deployment --all --timeout="${wait_timeout}s"
  run kubectl apply --server-side -f "https://github.com/kserve/kserve/releases/download/v$kserve_version/kserve-cluster-resources.yaml"
fi

# The KServe variant adds the ServingRuntime, which needs KServe's CRDs (so only with --with-kserve).
overlay=manifests/overlays/kind
$with_kserve && overlay=manifests/overlays/kind-kserve
step "3. shipyard's objects ($overlay)"
write_credentials
run kubectl apply -k "$overlay"

step "4. the project image, loaded into the cluster"
run scripts/build-image.sh --kind-load "$cluster"

step "5. the pipelines, uploaded to $host"
wait_for_url "$host/apis/v2beta1/healthz" "the KFP API"
if $k8s_native; then
  run "$shipyard" compile --kubernetes-manifests --out "$compiled"
  run kubectl apply -k "$compiled/kubernetes"
  run kubectl -n kubeflow get pipelines.pipelines.kubeflow.org,pipelineversions.pipelines.kubeflow.org
else
  run "$shipyard" upload training --host "$host"
  run "$shipyard" upload monitoring --host "$host"
fi

step "6. a training run on demo data, waited for (up to ${run_timeout}s)"
run "$shipyard" data demo --out "$data"
printf '+ copy %s to %s (the object store, localhost:9000)\n' "$data" "$data_uri"
if ! $dry_run; then
  "$python" - "$credentials" "$data" "$data_uri" <<'PY'
import sys
from pathlib import Path

from minio import Minio

credentials, source, uri = sys.argv[1:]
keys = dict(line.split("=", 1) for line in Path(credentials).read_text().splitlines() if "=" in line)
bucket, _, key = uri.removeprefix("s3://").partition("/")
store = Minio("localhost:9000", keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"], secure=False)
store.fput_object(bucket, key, source)
PY
fi
run timeout "$run_timeout" "$shipyard" submit training --host "$host" --wait \
  --param "data_uri=$data_uri" --param target=churned --param model_name=churn-e2e

step "7. the schedules (recurring runs as code)"
for schedule in schedules/training.yaml schedules/monitoring.yaml; do
  run "$shipyard" schedule apply "$schedule" --host "$host"
done

step "done: KFP UI at $host"
