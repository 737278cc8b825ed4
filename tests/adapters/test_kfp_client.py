"""The kfp.Client adapter against the KFP REST stand-in: paths the CLI tests cannot reach directly."""

from __future__ import annotations

from shipyard.adapters.kfp_client import KfpConnection
from shipyard.pipeline_ir import parse_pipeline_ir
from tests.unit.test_pipeline_ir import TYPED_YAML


def test_an_upload_that_loses_a_race_to_the_same_content_reports_the_existing_version(kfp_api, tmp_path, monkeypatch):
    """Two CI jobs upload the same content: the second finds no version, then the server answers 409."""
    package = tmp_path / "typed.yaml"
    package.write_text(TYPED_YAML)
    pipeline = parse_pipeline_ir(TYPED_YAML)
    connection = KfpConnection(kfp_api.url)
    first = connection.upload(pipeline, package)
    assert first.created_version

    lookups = []
    real_lookup = KfpConnection._version_named

    def absent_on_first_lookup(self, *args):
        lookups.append(args)
        return None if len(lookups) == 1 else real_lookup(self, *args)

    monkeypatch.setattr(KfpConnection, "_version_named", absent_on_first_lookup)
    second = connection.upload(pipeline, package)
    assert len(lookups) == 2  # looked up, uploaded (409), looked up again
    assert not second.changed and second.version == first.version
    assert any(call == "POST /apis/v2beta1/pipelines/upload_version" for call in kfp_api.calls("POST")[2:])
    assert len(kfp_api.pipeline_versions()) == 1
