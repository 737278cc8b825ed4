#!/usr/bin/env bash
# shipyard CI/CD for a repository that uses shipyard, as plain shell for any CI system (the same
# stages as templates/ci/github-actions.yml). Copy to ci.sh at your repository root.
#
#   ./ci.sh                  # test, build the image, compile; on main also push, upload, schedule
#   ./ci.sh test             # one stage: test | image | compile | deliver
#   ./ci.sh --dry-run        # print the commands, run nothing
#
# Assumes a Dockerfile and tests/ at the repository root, shipyard installed (pip install -r
# requirements.txt), optionally resources.yaml and schedules/*.yaml.
# Settings (environment): SHIPYARD_IMAGE (registry/name:tag the steps run in; default
# shipyard-pipelines:<commit>), BRANCH (default: the CI system's branch variable, else git's),
# KFP_HOST (required on main: the KFP API URL), SHIPYARD_KFP_TOKEN (multi-user KFP), PYTHON.
set -euo pipefail

usage() {
  sed -n '2,14s/^# \{0,1\}//p' "$0"
}

dry_run=false
stages=()
while (($#)); do
  case "$1" in
    --dry-run) dry_run=true ;;
    -h | --help) usage; exit 0 ;;
    test | image | compile | deliver) stages+=("$1") ;;
    *) echo "ci: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

cd "$(dirname "$0")"

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo dev)
branch=${BRANCH:-${GITHUB_REF_NAME:-${CI_COMMIT_BRANCH:-${BRANCH_NAME:-$(git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)}}}}
export SHIPYARD_IMAGE=${SHIPYARD_IMAGE:-shipyard-pipelines:$commit}
python=${PYTHON:-python3}
on_main=false
[[ "$branch" == main ]] && on_main=true
if ((${#stages[@]} == 0)); then
  stages=(test image compile)
  $on_main && stages+=(deliver)
fi

run() {
  printf '+'
  printf ' %q' "$@"
  printf '\n'
  if ! $dry_run; then
    "$@"
  fi
}

stage_test() {
  run "$python" -m pytest
}

stage_image() {
  run docker build -t "$SHIPYARD_IMAGE" .
  if $on_main; then
    run docker push "$SHIPYARD_IMAGE"
  fi
}

stage_compile() {
  local resources=()
  if [[ -f resources.yaml ]]; then
    resources=(--resources resources.yaml)
  fi
  run shipyard compile --out compiled "${resources[@]}" --kubernetes-manifests
}

stage_deliver() {
  run shipyard upload training --host "$KFP_HOST"
  run shipyard upload monitoring --host "$KFP_HOST"
  local schedule
  for schedule in schedules/*.yaml; do
    [[ -e "$schedule" ]] || continue
    run shipyard schedule apply "$schedule" --host "$KFP_HOST"
  done
}

# Refuse a delivery that cannot happen before spending time on the other stages.
if [[ " ${stages[*]} " == *" deliver "* ]]; then
  if ! $on_main; then
    echo "ci: deliver runs on main only (this is '$branch')" >&2
    exit 2
  fi
  if [[ -z "${KFP_HOST:-}" ]]; then
    echo "ci: set KFP_HOST to the Kubeflow Pipelines API URL to deliver" >&2
    exit 2
  fi
fi

echo "ci: branch $branch, image $SHIPYARD_IMAGE, stages: ${stages[*]}"
for stage in "${stages[@]}"; do
  echo "== $stage"
  "stage_$stage"
done
