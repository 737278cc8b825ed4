"""Reading the file a run starts from (shipyard.stages.source): local paths, file:// and s3:// URIs,
and the DataValidationError that names the URI when there is nothing to read."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from shipyard.errors import DataValidationError
from shipyard.findings import Code
from shipyard.stages.source import data_file_exists, read_data_file
from shipyard.store import open_store
from tests.store.conftest import fresh_bucket, moto_server, s3_env  # noqa: F401 - fixtures

# -- local files -------------------------------------------------------------------------------------


def test_a_local_file_is_read_whole(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\n1,2\n")
    assert read_data_file(str(path)) == b"a,b\n1,2\n"
    assert data_file_exists(str(path))


def test_a_missing_local_file_is_a_data_error_naming_it(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(DataValidationError) as err:
        read_data_file(str(path))
    assert err.value.problems == (f"table: cannot read data at '{path}': no such file",)
    assert [finding.code for finding in err.value.findings] == [Code.NO_SUCH_FILE]
    assert not data_file_exists(str(path))


def test_a_directory_is_not_a_data_file(tmp_path):
    with pytest.raises(DataValidationError) as err:
        read_data_file(str(tmp_path))
    assert err.value.problems == (f"table: cannot read data at '{tmp_path}': it is a directory, not a file",)
    assert [finding.code for finding in err.value.findings] == [Code.NOT_A_FILE]
    assert not data_file_exists(str(tmp_path))


@pytest.mark.parametrize("name", ["win\\data.csv", ".locks", ".staging"])
def test_any_readable_local_file_is_read_whatever_its_name(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"a\n1\n")
    assert data_file_exists(str(path))
    assert read_data_file(str(path)) == b"a\n1\n"


def test_file_uris_are_percent_decoded(tmp_path):
    path = tmp_path / "a b%.csv"
    path.write_bytes(b"x\n1\n")
    uri = "file://" + quote(str(path))
    assert "%20" in uri
    assert read_data_file(uri) == b"x\n1\n"
    assert data_file_exists(uri) and data_file_exists(f"file://localhost{quote(str(path))}")


@pytest.mark.parametrize(
    "uri,match",
    [
        ("file://host/data.csv", "file:///absolute/path"),
        ("gs://bucket/data.csv", "unsupported URI scheme 'gs://'"),
    ],
)
def test_malformed_uris_are_data_errors(uri, match):
    with pytest.raises(DataValidationError, match=match):
        read_data_file(uri)
    with pytest.raises(DataValidationError, match=match):
        data_file_exists(uri)


# -- s3:// -------------------------------------------------------------------------------------------


@pytest.fixture
def offline_s3_env(monkeypatch):
    """S3 settings pointing at a closed port: nothing is contacted when a URI is rejected up front."""
    for name in ("AWS_ENDPOINT_URL_S3", "SHIPYARD_S3_SSE", "SHIPYARD_S3_SSE_KMS_KEY_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")


@pytest.mark.parametrize("uri", ["s3://bucket-x/a/../data.csv", "s3://bucket-x/a//data.csv"])
def test_s3_data_uris_with_traversal_are_data_errors(offline_s3_env, uri):
    with pytest.raises(DataValidationError, match="plain 'a/b/c' path"):
        data_file_exists(uri)
    with pytest.raises(DataValidationError, match="plain 'a/b/c' path"):
        read_data_file(uri)


@pytest.mark.s3
def test_read_s3_uri_reads_data_and_reports_missing_objects_as_data_errors(s3_store):
    s3_store.write("data/train.csv", b"a,b\n1,2\n")
    uri = f"s3://{s3_store.bucket}/p/data/train.csv"
    assert read_data_file(uri) == b"a,b\n1,2\n"
    missing = f"s3://{s3_store.bucket}/p/data/nope.csv"
    with pytest.raises(DataValidationError, match=r"table: cannot read data at 's3://.*nope\.csv': no such object"):
        read_data_file(missing)
    with pytest.raises(DataValidationError, match="no-such-bucket-here"):
        read_data_file("s3://no-such-bucket-here/x.csv")


def test_a_bucket_or_prefix_is_not_a_data_file(offline_s3_env):
    for uri in ("s3://bucket-x", "s3://bucket-x/", "s3://bucket-x/data/"):
        assert not data_file_exists(uri)
        with pytest.raises(DataValidationError, match=r"expected s3://bucket/key of a file"):
            read_data_file(uri)


def test_user_info_in_a_data_uri_is_refused_without_echoing_it(offline_s3_env):
    with pytest.raises(DataValidationError, match="user info") as err:
        read_data_file("s3://AKIA:s3cr3t@bucket-x/data.csv")
    assert "s3cr3t" not in str(err.value)


@pytest.fixture
def s3_store(request):
    request.getfixturevalue("s3_env")
    return open_store(f"s3://{fresh_bucket()}/p")
