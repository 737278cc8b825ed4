"""The rendered manifests (fixtures defined in test_manifests.py), for the other manifest tests."""

from tests.manifests.test_manifests import manifests_copy, rendered  # noqa: F401 - fixtures
