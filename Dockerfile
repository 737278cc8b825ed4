# The one image every shipyard KFP component runs in. Its reference is one setting, SHIPYARD_IMAGE
# (default ghcr.io/shipyard-mlops/shipyard:<version>, the rule in shipyard/_image.py that
# `shipyard compile` uses for every step). Build it with the script, from anywhere:
#   scripts/build-image.sh                        # docker build, tagged as above
#   scripts/build-image.sh --kind-load shipyard   # and `kind load docker-image` into that cluster
#   scripts/build-image.sh --push                 # and push it (set SHIPYARD_IMAGE to your registry)
# It runs as uid 1000, never root (USER below).
# Components are lightweight KFP components: KFP runs `python3 -m kfp.dsl.executor_main` in it,
# so kfp comes from the package's own dependencies and nothing is pip-installed at run time.
FROM python:3.11-slim

# Must equal [project].version in pyproject.toml (tests/manifests/test_image.py checks it).
ARG VERSION=0.1.0
ARG REVISION=unknown

LABEL org.opencontainers.image.title="shipyard" \
      org.opencontainers.image.description="CI/CD for machine-learning models as reusable Kubeflow Pipelines components" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/shipyard-mlops/shipyard" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim"

# The code version lineage records and unchanged runs compare (shipyard/stages/code_version.py):
# with REVISION unknown it is "+unknown", which never counts as the same code.
ENV SHIPYARD_CODE_VERSION="shipyard==${VERSION}+${REVISION}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    HOME=/home/shipyard

# uid/gid 1000, numeric in USER below so `runAsNonRoot: true` can verify it.
# /gcs, /minio and /s3 are where KFP's launcher puts artifacts of gs://, minio:// and s3://
# pipeline roots; KFP >= 2.3 mounts emptyDirs there, older launchers need them writable.
RUN groupadd --gid 1000 shipyard \
 && useradd --uid 1000 --gid 1000 --home-dir /home/shipyard --create-home --shell /usr/sbin/nologin shipyard \
 && install -d -o 1000 -g 1000 /gcs /minio /s3

WORKDIR /tmp/shipyard-build

# Dependencies first, pinned by constraints.txt: this layer is rebuilt only when the
# dependency list or the pins change, not on every source edit.
COPY pyproject.toml constraints.txt ./
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
 && pip install --no-cache-dir -c constraints.txt -r requirements.txt

# The package itself, non-editable (components/ and pipelines/ install as shipyard.components
# and shipyard.pipelines); the build folder goes away so only site-packages holds the code.
COPY README.md ./
COPY shipyard/ shipyard/
COPY components/ components/
COPY pipelines/ pipelines/
RUN pip install --no-cache-dir -c constraints.txt . \
 && pip check \
 && cd / && rm -rf /tmp/shipyard-build

WORKDIR /home/shipyard
USER 1000:1000

# Fails the build if the non-root user cannot import what a KFP pod runs.
RUN python3 -c "import kfp.dsl.executor_main, shipyard, shipyard.components, shipyard.pipelines"

CMD ["python3"]
