"""A version's extra files (the reference sample): written before metadata.json, sha256-verified."""

from __future__ import annotations

import pytest

from shipyard.errors import IntegrityError, RegistryError


def test_extra_files_are_part_of_the_version_and_downloaded_verified(registry, model_file, tmp_path):
    reference = tmp_path / "reference.parquet"
    reference.write_bytes(b"PAR1 reference rows PAR1")
    version = registry.register_version(
        "churn", model_file(), metrics={}, params={}, lineage={}, extra_files={"reference.parquet": reference}
    )
    assert set(version.files) == {"reference.parquet"}
    assert version.files["reference.parquet"]["size_bytes"] == reference.stat().st_size
    assert registry.get_version("churn", 1).files == version.files
    copy = registry.download_file("churn", 1, "reference.parquet", tmp_path / "out")
    assert copy == tmp_path / "out" / "reference.parquet" and copy.read_bytes() == reference.read_bytes()
    assert all(entry["ok"] for entry in registry.verify("churn"))

    registry.store.write("models/churn/1/reference.parquet", b"changed")
    with pytest.raises(IntegrityError, match="reference.parquet has sha256"):
        registry.download_file("churn", 1, "reference.parquet", tmp_path / "out2")
    assert list((tmp_path / "out2").iterdir()) == []  # nothing unverified left behind
    [entry] = registry.verify("churn")
    assert not entry["ok"] and "reference.parquet" in entry["problem"]


def test_a_version_without_the_file_says_so(registry, model_file, tmp_path):
    registry.register_version("churn", model_file(), metrics={}, params={}, lineage={})
    assert registry.get_version("churn", 1).files == {}
    with pytest.raises(RegistryError, match="registered without a reference.parquet file"):
        registry.download_file("churn", 1, "reference.parquet", tmp_path)


@pytest.mark.parametrize("bad", ["model.joblib", "metadata.json", ".claim", "../x", "a/b", "", "..parquet"])
def test_extra_file_names_cannot_replace_the_registry_files_or_escape(registry, model_file, tmp_path, bad):
    extra = tmp_path / "x"
    extra.write_bytes(b"x")
    with pytest.raises(RegistryError, match="plain file name"):
        registry.register_version("churn", model_file(), metrics={}, params={}, lineage={}, extra_files={bad: extra})
    assert registry.list_models() == []


def test_a_missing_extra_file_registers_nothing(registry, model_file, tmp_path):
    with pytest.raises(RegistryError, match="does not exist"):
        registry.register_version(
            "churn",
            model_file(),
            metrics={},
            params={},
            lineage={},
            extra_files={"reference.parquet": tmp_path / "nope"},
        )
    assert registry.list_models() == [] and registry.store.list("models/") == []
