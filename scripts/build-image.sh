#!/usr/bin/env bash
# Builds the one image every shipyard pipeline step runs in, from the repository's Dockerfile.
#
#   scripts/build-image.sh                          # docker build only
#   scripts/build-image.sh --kind-load shipyard     # ... then load it into the kind cluster "shipyard"
#   scripts/build-image.sh --push                   # ... then push it to its registry
#   SHIPYARD_IMAGE=registry.example.com/ml/shipyard:dev scripts/build-image.sh --push
#   scripts/build-image.sh --dry-run --kind-load shipyard   # print the commands, run nothing
#
# The image reference is one setting: SHIPYARD_IMAGE, else ghcr.io/shipyard-mlops/shipyard:<version
# in pyproject.toml>, the same rule as shipyard/_image.py, which `shipyard compile` uses for every
# step. Compile with the same SHIPYARD_IMAGE you build with. Keep a fixed tag (not :latest) for
# kind: Kubernetes then uses the loaded image instead of pulling (imagePullPolicy IfNotPresent).
set -euo pipefail

usage() {
  sed -n '2,13s/^# \{0,1\}//p' "$0"
}

kind_cluster=""
push=false
dry_run=false
while (($#)); do
  case "$1" in
    --kind-load)
      [[ $# -ge 2 && -n "$2" && "$2" != --* ]] || { echo "build-image: --kind-load needs a kind cluster name" >&2; exit 2; }
      kind_cluster=$2
      shift 2
      ;;
    --push) push=true; shift ;;
    --dry-run) dry_run=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "build-image: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."

version=$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
image=${SHIPYARD_IMAGE:-ghcr.io/shipyard-mlops/shipyard:${version%%+*}}
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)

run() {
  printf '+'
  printf ' %q' "$@"
  printf '\n'
  if ! $dry_run; then
    "$@"
  fi
}

run docker build --build-arg "VERSION=${version}" --build-arg "REVISION=${revision}" -t "$image" .
if [[ -n "$kind_cluster" ]]; then
  run kind load docker-image "$image" --name "$kind_cluster"
fi
if $push; then
  run docker push "$image"
fi
echo "build-image: ${image}"
