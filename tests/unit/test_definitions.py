"""The REST resource definitions and the model's resources agree."""

from rest import definitions
from srv6_ofapp.model import plugin


def test_the_api_and_the_model_serve_the_same_collections():
    assert [r.COLLECTION for r in definitions.RESOURCES] == [
        r.collection for r in plugin.RESOURCES]


def test_store_filters_are_api_filters():
    for resource in plugin.RESOURCES:
        attrs = definitions.RESOURCE_ATTRIBUTE_MAP[resource.collection]
        for field in resource.store_filters:
            assert attrs[field].get('is_filter'), (resource.collection, field)


def test_each_extension_is_listed_once():
    aliases = [e.alias for e in definitions.EXTENSIONS]
    assert len(aliases) == len(set(aliases))
    assert {'port-security', 'srv6-host', 'agent', 'revision-if-match'} <= set(aliases)
