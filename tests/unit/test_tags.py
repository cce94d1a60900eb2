"""Tags and If-Match revisions in the model, without HTTP, on each store
backend: what a change of tags stores, when it is a new revision, and the
revision a write may be constrained to."""

import pytest

from srv6_ofapp import exceptions as exc
from srv6_ofapp.model import tags
from srv6_ofapp.model.plugin import Context, Plugin
from tests.backends import backend  # noqa: F401 (fixture: sqlite and etcd)

ADMIN = Context('admin', is_admin=True)
ALICE = Context('alice')
NETWORK = {'name': 'n', 'admin_state_up': True, 'shared': False, 'description': '',
           'port_security_enabled': True}


@pytest.fixture
def plugin(backend):
    return Plugin(backend.open())


def test_stored_tags_are_a_sorted_set_of_at_most_fifty():
    assert tags.stored('networks', ['b', 'a', 'b']) == ['a', 'b']
    assert len(tags.stored('networks', ['t%d' % i for i in range(50)])) == 50
    with pytest.raises(exc.BadRequest) as too_many:
        tags.stored('networks', ['t%d' % i for i in range(51)])
    assert 'limit of 50' in too_many.value.msg


@pytest.mark.parametrize('change,expected', [
    (tags.adding(['c', 'a']), ['a', 'b', 'c']),
    (tags.replacing(['z']), ['z']),
    (tags.removing('a'), ['b']),
    (tags.clearing(), []),
])
def test_changes(change, expected):
    assert tags.stored('networks', change(['a', 'b'])) == expected


def test_removing_a_missing_tag_is_tag_not_found():
    with pytest.raises(exc.TagNotFound):
        tags.removing('c')(['a', 'b'])


def test_a_change_of_tags_is_the_next_revision_and_no_change_is_none(plugin):
    network = plugin.create(ADMIN, 'networks', [NETWORK])[0]
    assert network['tags'] == []
    revision = network['revision_number']
    assert plugin.change_tags(ADMIN, 'networks', network['id'],
                              tags.adding(['red'])) == ['red']
    store_revision = plugin.store.revision
    assert plugin.change_tags(ADMIN, 'networks', network['id'],
                              tags.adding(['red'])) == ['red']
    assert plugin.store.revision == store_revision       # nothing written
    shown = plugin.get(ADMIN, 'networks', network['id'])
    assert (shown['tags'], shown['revision_number']) == (['red'], revision + 1)
    assert plugin.list(ADMIN, 'networks', {'tags': ['red']})[0]['id'] == network['id']


def test_a_failed_change_of_tags_changes_nothing(plugin):
    network = plugin.create(ADMIN, 'networks', [NETWORK])[0]
    plugin.change_tags(ADMIN, 'networks', network['id'], tags.replacing(['a']))
    store_revision = plugin.store.revision
    for change, error in ((tags.removing('b'), exc.TagNotFound),
                          (tags.adding(['t%d' % i for i in range(50)]), exc.BadRequest)):
        with pytest.raises(error):
            plugin.change_tags(ADMIN, 'networks', network['id'], change)
    assert plugin.store.revision == store_revision
    with pytest.raises(exc.NetworkNotFound):
        plugin.change_tags(ALICE, 'networks', network['id'], tags.clearing())


def test_if_revision_constrains_updates_deletes_and_tags(plugin):
    network = plugin.create(ADMIN, 'networks', [NETWORK])[0]
    id_, revision = network['id'], network['revision_number']
    with pytest.raises(exc.RevisionNumberConstraintFailed) as stale:
        plugin.update(ADMIN, 'networks', id_, {'name': 'x'}, if_revision=revision + 1)
    assert stale.value.status == 412
    with pytest.raises(exc.RevisionNumberConstraintFailed):
        plugin.change_tags(ADMIN, 'networks', id_, tags.clearing(),
                           if_revision=revision + 1)
    with pytest.raises(exc.RevisionNumberConstraintFailed):
        plugin.delete(ADMIN, 'networks', id_, if_revision=revision + 1)
    updated = plugin.update(ADMIN, 'networks', id_, {'name': 'x'}, if_revision=revision)
    plugin.delete(ADMIN, 'networks', id_, if_revision=updated['revision_number'])
    with pytest.raises(exc.NetworkNotFound):
        plugin.get(ADMIN, 'networks', id_)
