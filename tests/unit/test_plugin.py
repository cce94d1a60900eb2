"""The plugin on a real sqlite file, without HTTP: what the edge will call."""

import queue

import pytest

from srv6_ofapp import exceptions as exc
from srv6_ofapp import store as store_lib
from srv6_ofapp.plugin import Context, Plugin

ADMIN = Context('admin', is_admin=True)


@pytest.fixture
def plugin(tmp_path):
    store = store_lib.open_store('sqlite:///%s' % (tmp_path / 'state.db'))
    yield Plugin(store)
    store.close()


def make_port(plugin):
    network = plugin.create(ADMIN, 'networks', [{'name': 'n', 'admin_state_up': True,
                                                'shared': False, 'description': '',
                                                'port_security_enabled': True}])[0]
    return plugin.create(ADMIN, 'ports', [{
        'network_id': network['id'], 'name': 'p', 'description': '',
        'admin_state_up': True, 'device_id': '', 'device_owner': '',
        'binding:host_id': '', 'binding:profile': {}, 'binding:vnic_type': 'normal',
        'allowed_address_pairs': [], 'extra_dhcp_opts': [], 'security_groups': []}])[0]


def test_edge_sets_port_status_and_the_feed_reports_it(plugin):
    port = make_port(plugin)
    assert port['status'] == 'DOWN'
    changes = queue.Queue()
    watch = plugin.store.watch(changes.put)
    try:
        assert plugin.set_port_status(port['id'], 'ACTIVE') is True
        change = changes.get(timeout=10)
        assert (change.kind, change.key) == ('ports', port['id'])
        assert change.old['status'] == 'DOWN' and change.new['status'] == 'ACTIVE'
    finally:
        watch.cancel()
    # Reporting the same status again writes nothing.
    revision = plugin.store.revision
    assert plugin.set_port_status(port['id'], 'ACTIVE') is False
    assert plugin.store.revision == revision
    shown = plugin.get(ADMIN, 'ports', port['id'])
    assert shown['status'] == 'ACTIVE'
    assert shown['revision_number'] == port['revision_number'] + 1


def test_status_of_a_deleted_port_is_ignored(plugin):
    assert plugin.set_port_status('no-such-port', 'ACTIVE') is False


def test_not_found_is_the_resource_specific_error(plugin):
    with pytest.raises(exc.PortNotFound):
        plugin.get(ADMIN, 'ports', 'nope')
    with pytest.raises(exc.NetworkNotFound):
        plugin.delete(ADMIN, 'networks', 'nope')
