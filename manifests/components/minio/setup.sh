#!/bin/sh
# One-shot setup of shipyard's MinIO, run by the Job shipyard-minio-setup with the root user.
# Idempotent: every step either creates or overwrites to the same state, so the Job can run again
# at any time (new keys in shipyard-s3-credentials, an edited policy.json, a wiped volume).
#   1. the bucket of SHIPYARD_STORE;
#   2. the policy shipyard-store (policy.json: that bucket's prefix only);
#   3. the user whose keys are in shipyard-s3-credentials, with that policy attached.
# Environment: MINIO_ENDPOINT (= SHIPYARD_S3_ENDPOINT_URL), MINIO_ROOT_USER, MINIO_ROOT_PASSWORD, SHIPYARD_STORE,
# SHIPYARD_ACCESS_KEY, SHIPYARD_SECRET_KEY; policy.json beside this script.
set -eu

POLICY_NAME=shipyard-store
HERE=$(dirname "$0")
MC_CONFIG=/tmp/mc   # the root filesystem is read-only; /tmp is an emptyDir

mcx() {
    mc --config-dir "$MC_CONFIG" --quiet "$@"
}

fail() {
    echo "shipyard-minio-setup: $*" >&2
    exit 1
}

# s3://BUCKET/PREFIX -> BUCKET and PREFIX (without slashes at either end).
case "$SHIPYARD_STORE" in
    s3://*) ;;
    *) fail "SHIPYARD_STORE=$SHIPYARD_STORE is not s3://BUCKET/PREFIX" ;;
esac
store=${SHIPYARD_STORE#s3://}
bucket=${store%%/*}
prefix=${store#"$bucket"}
prefix=${prefix#/}
prefix=${prefix%/}
[ -n "$bucket" ] || fail "SHIPYARD_STORE=$SHIPYARD_STORE names no bucket"

# The policy is a committed file (reviewable, tested); refuse to grant it if it does not cover
# the store shipyard's pods are configured with.
grep -q "\"arn:aws:s3:::$bucket/${prefix:+$prefix/}\*\"" "$HERE/policy.json" \
    || fail "policy.json does not grant s3://$bucket/${prefix:+$prefix/}*; edit it together with SHIPYARD_STORE"

[ "$SHIPYARD_ACCESS_KEY" != "$MINIO_ROOT_USER" ] \
    || fail "shipyard-s3-credentials holds the root user's key; give shipyard's pods their own key pair"

mcx alias set shipyard "$MINIO_ENDPOINT" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null

attempt=0
until mcx admin info shipyard >/dev/null 2>&1; do
    attempt=$((attempt + 1))
    [ "$attempt" -lt 60 ] || fail "MinIO at $MINIO_ENDPOINT did not answer for 5 minutes"
    sleep 5
done

mcx mb --ignore-existing "shipyard/$bucket"
mcx admin policy create shipyard "$POLICY_NAME" "$HERE/policy.json"   # replaces an older version
mcx admin user add shipyard "$SHIPYARD_ACCESS_KEY" "$SHIPYARD_SECRET_KEY"   # sets the key if the user exists
if ! mcx admin policy attach shipyard "$POLICY_NAME" --user "$SHIPYARD_ACCESS_KEY"; then
    # MinIO refuses to attach a policy that is already attached; that is the state we want.
    mcx admin user info shipyard "$SHIPYARD_ACCESS_KEY" | grep -qw "$POLICY_NAME" \
        || fail "could not attach policy $POLICY_NAME to shipyard's user"
fi
echo "shipyard-minio-setup: bucket $bucket ready; shipyard's user limited to s3://$bucket/${prefix:+$prefix/}*"
