"""The plugin without HTTP, on each store backend (a real sqlite file, a
real etcd member): what the edge will call."""

import queue
import time
import uuid

import pytest

from srv6_ofapp import exceptions as exc
from srv6_ofapp.model.plugin import Context, Plugin
from srv6_ofapp.store.base import time_limited
from tests.backends import backend  # noqa: F401 (fixture: sqlite and etcd)

ADMIN = Context('admin', is_admin=True)


@pytest.fixture
def plugin(backend):
    return Plugin(backend.open())


PORT_ATTRS = {'name': 'p', 'description': '', 'admin_state_up': True, 'device_id': '',
              'device_owner': '', 'binding:host_id': '', 'binding:profile': {},
              'binding:vnic_type': 'normal', 'allowed_address_pairs': [],
              'extra_dhcp_opts': [], 'security_groups': []}


def make_port(plugin):
    network = plugin.create(ADMIN, 'networks', [{'name': 'n', 'admin_state_up': True,
                                                'shared': False, 'description': '',
                                                'port_security_enabled': True}])[0]
    return plugin.create(ADMIN, 'ports', [dict(PORT_ATTRS, network_id=network['id'])])[0]


def test_edge_sets_port_status_and_the_feed_reports_it(plugin):
    port = make_port(plugin)
    assert port['status'] == 'DOWN'
    changes = queue.Queue()
    watch = plugin.store.watch(changes.put)
    try:
        assert plugin.set_port_statuses({port['id']: 'ACTIVE'}) == [port['id']]
        change = changes.get(timeout=10)
        assert (change.kind, change.key) == ('ports', port['id'])
        assert change.old['status'] == 'DOWN' and change.new['status'] == 'ACTIVE'
    finally:
        watch.cancel()
    # Reporting the same status again writes nothing.
    revision = plugin.store.revision
    assert plugin.set_port_statuses({port['id']: 'ACTIVE'}) == []
    assert plugin.store.revision == revision
    shown = plugin.get(ADMIN, 'ports', port['id'])
    assert shown['status'] == 'ACTIVE'
    assert shown['revision_number'] == port['revision_number'] + 1


def test_status_of_a_deleted_port_is_ignored(plugin):
    assert plugin.set_port_statuses({'no-such-port': 'ACTIVE'}) == []


def test_not_found_is_the_resource_specific_error(plugin):
    with pytest.raises(exc.PortNotFound):
        plugin.get(ADMIN, 'ports', 'nope')
    with pytest.raises(exc.NetworkNotFound):
        plugin.delete(ADMIN, 'networks', 'nope')


def test_two_networks_whose_vrf_names_collide_cannot_share_a_host(plugin, monkeypatch):
    plugin.create(ADMIN, 'hosts', [{'name': 'hv1', 'datapath_id': '0000000000000001',
                                    'segment_node_id': 'fd00:0:0:1::',
                                    'underlay_ip': 'fd00::1', 'bridge': 'br-int',
                                    'netns': None, 'vrf_cidr': '169.254.0.0/16',
                                    'ovsdb': None, 'description': ''}])
    # Every new id starts with abcdef: the networks' VRF names will collide.
    counter = iter(range(1, 1000))
    monkeypatch.setattr(uuid, 'uuid4', lambda: uuid.UUID(
        'abcdef00-0000-4000-8000-%012d' % next(counter)))
    first = make_port(plugin)
    second_net = plugin.create(ADMIN, 'networks', [{
        'name': 'n2', 'admin_state_up': True, 'shared': False, 'description': '',
        'port_security_enabled': True}])[0]
    assert first['network_id'][:6] == second_net['id'][:6]
    plugin.update(ADMIN, 'ports', first['id'], {'binding:host_id': 'hv1'})
    port = dict(PORT_ATTRS, network_id=second_net['id'], **{'binding:host_id': 'hv1'})
    with pytest.raises(exc.VrfNameInUse):
        plugin.create(ADMIN, 'ports', [port])


def test_a_switch_reports_all_its_ports_in_one_transaction(plugin):
    first, second = make_port(plugin), make_port(plugin)
    revision = plugin.store.revision
    changed = plugin.set_port_statuses({first['id']: 'ACTIVE', second['id']: 'ACTIVE',
                                        'gone': 'DOWN'})
    assert sorted(changed) == sorted([first['id'], second['id']])
    assert plugin.store.revision == revision + 1
    assert plugin.set_port_statuses({first['id']: 'ACTIVE'}) == []
    assert plugin.store.revision == revision + 1


def test_a_switch_with_many_ports_reports_them_all(plugin):
    """More statuses than one store transaction may hold (etcd's default
    limit is 128 operations): reported in batches, none lost."""
    network = plugin.create(ADMIN, 'networks', [{'name': 'n', 'admin_state_up': True,
                                                'shared': False, 'description': '',
                                                'port_security_enabled': True}])[0]
    ports = [plugin.create(ADMIN, 'ports', [dict(PORT_ATTRS, network_id=network['id'])])[0]
             for _ in range(60)]
    statuses = {port['id']: 'ACTIVE' for port in ports}
    assert sorted(plugin.set_port_statuses(statuses)) == sorted(statuses)
    listed = plugin.list(ADMIN, 'ports', {'network_id': [network['id']]})
    assert {port['status'] for port in listed} == {'ACTIVE'}


def test_a_request_that_holds_the_store_too_long_is_rolled_back(backend):
    """Each request's transaction is bounded in time (REQUEST_TIME_LIMIT):
    past it, the request is a 503 and writes nothing, on either backend."""
    store = backend.open()
    slow = Plugin(store, request_time_limit=0.2)
    network = make_port(slow)['network_id']
    revision = store.revision

    def crawl(txn):
        for _ in range(100):
            txn.get('networks', network)
            time.sleep(0.01)
    started = time.monotonic()
    with pytest.raises(exc.TransactionTimeLimitExceeded) as info:
        store.transact(time_limited(crawl, 0.2))
    assert info.value.status == 503
    assert time.monotonic() - started < 1
    ports = [dict(PORT_ATTRS, network_id=network) for _ in range(50)]
    with pytest.raises(exc.TransactionTimeLimitExceeded):
        Plugin(store, request_time_limit=-1).create(ADMIN, 'ports', ports)
    assert store.revision == revision
    # What is within the limit goes through, and the store was not left locked.
    assert len(slow.create(ADMIN, 'ports', ports[:3])) == 3
