"""The local-directory backend: what only it does (staging, locks, OS errors)."""

from __future__ import annotations

import pytest

from shipyard.errors import StoreError
from shipyard.store import NotFound
from shipyard.store.local import LocalStore


def test_local_temp_files_and_locks_stay_invisible(tmp_path):
    store = LocalStore(tmp_path / "root")
    store.write("a.json", b"1")
    (tmp_path / "root" / ".staging" / "tmp-left-by-a-killed-writer").write_bytes(b"partial")
    _, token = store.read_with_token("a.json")
    assert store.replace_if("a.json", b"2", token)
    assert store.list("") == ["a.json"]
    assert store.list(".") == []
    with pytest.raises(ValueError, match="reserved"):
        store.read(".staging/tmp-left-by-a-killed-writer")


def test_local_errors_name_the_path_and_the_fix(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"a file where the store root should be")
    store = LocalStore(blocker)
    with pytest.raises(
        StoreError, match=r"cannot write 'y' in local store .*not-a-directory.*check that the directory"
    ):
        store.write("y", b"2")
    assert blocker.read_bytes().startswith(b"a file")


def test_a_directory_at_a_key_is_a_store_error_not_a_missing_key(tmp_path):
    """A missing key invites a create (an alias move would retry its compare-and-swap for ever)."""
    store = LocalStore(tmp_path / "root")
    store.write("dir/a", b"1")
    with pytest.raises(StoreError, match="Is a directory") as err:
        store.read("dir")
    assert not isinstance(err.value, NotFound)
    assert not store.exists("dir")


def test_a_nul_character_in_the_root_is_a_store_error():
    with pytest.raises(StoreError, match="NUL"):
        LocalStore("/tmp/a\x00b")
