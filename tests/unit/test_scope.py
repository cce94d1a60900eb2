"""An agent's replica holds what concerns its host, and follows it as ports
come and go, on a real sqlite store written through the plugin."""

import time

import pytest

from srv6_ofapp import store as store_lib
from srv6_ofapp.model.plugin import Context, Plugin
from srv6_ofapp.replica import Replica
from srv6_ofapp.scope import HostScope

ADMIN = Context('admin', is_admin=True)


class Cloud:
    """A plugin on a real store, with replicas following it."""

    def __init__(self, path):
        self.store = store_lib.open_store('sqlite:///%s' % path)
        self.plugin = Plugin(self.store)
        self.replicas = []

    def replica(self, scope=None):
        replica = Replica(self.store, scope)
        replica.start()
        self.replicas.append(replica)
        return replica

    def caught_up(self):
        deadline = time.monotonic() + 10
        while any(r.revision < self.store.revision for r in self.replicas):
            assert time.monotonic() < deadline, 'replicas did not catch up'
            time.sleep(0.02)

    def create(self, collection, **attrs):
        return self.plugin.create(ADMIN, collection, [attrs])[0]

    def host(self, n):
        return self.create('hosts', name='hv%d' % n, datapath_id='%016x' % n,
                           segment_node_id='fd00:0:0:%x::' % n, underlay_ip='fd00::%x' % n,
                           bridge='br-int', netns=None, vrf_cidr='169.254.0.0/16',
                           ovsdb=None, description='')

    def network(self, cidr='10.0.0.0/24'):
        network = self.create('networks', name='n', admin_state_up=True, shared=False,
                              description='', port_security_enabled=True)
        self.create('subnets', network_id=network['id'], cidr=cidr, ip_version=4,
                    name='', description='', dns_nameservers=[], host_routes=[],
                    enable_dhcp=True)
        self.create('srv6_encap_networks', network_id=network['id'], name='',
                    encap_rules=[{'destination': '10.9.0.0/24', 'nexthop': 'fd00:9::1'}])
        return network

    def port(self, network, host):
        return self.create('ports', network_id=network['id'], name='', description='',
                           admin_state_up=True, device_id='', device_owner='',
                           binding_profile={}, allowed_address_pairs=[],
                           extra_dhcp_opts=[], security_groups=[],
                           **{'binding:host_id': host, 'binding:profile': {},
                              'binding:vnic_type': 'normal'})

    def close(self):
        for replica in self.replicas:
            replica.close()
        self.store.close()


@pytest.fixture
def cloud(tmp_path):
    cloud = Cloud(tmp_path / 'state.db')
    yield cloud
    cloud.close()


def held(replica):
    return {kind: set(docs) for kind, docs in replica.docs.items()}


def test_an_agents_replica_holds_its_hosts_networks_only(cloud):
    cloud.host(1), cloud.host(2)
    shared, elsewhere = cloud.network(), cloud.network()
    mine, theirs = cloud.port(shared, 'hv1'), cloud.port(shared, 'hv2')
    cloud.port(elsewhere, 'hv2')
    everything, hv1 = cloud.replica(), cloud.replica(HostScope('hv1'))
    cloud.caught_up()
    assert set(hv1.docs['networks']) == {shared['id']}
    assert set(hv1.docs['ports']) == {mine['id'], theirs['id']}
    assert {a['host'] for a in hv1.vrf_allocations_on('hv2')} == {'hv2'}
    assert hv1.vrf_allocation('hv2', shared['id']) is not None  # the remote SID
    assert len(hv1.subnets_of(shared['id'])) == 1 and hv1.encap_networks_of(shared['id'])
    assert set(hv1.docs['hosts']) == set(everything.docs['hosts'])
    # Whatever concerns hv1 is the same as in a replica of everything.
    for kind, keys in held(hv1).items():
        for key in keys:
            assert hv1.docs[kind][key] == everything.docs[kind][key]


def test_it_takes_in_a_network_when_a_port_lands_there_and_lets_it_go_after(cloud):
    cloud.host(1), cloud.host(2)
    first, second = cloud.network(), cloud.network()
    cloud.port(first, 'hv1')
    remote = cloud.port(second, 'hv2')
    hv1 = cloud.replica(HostScope('hv1'))
    cloud.caught_up()
    assert second['id'] not in hv1.docs['networks']
    landed = cloud.port(second, 'hv1')
    cloud.caught_up()
    assert second['id'] in hv1.docs['networks']
    assert remote['id'] in hv1.docs['ports']  # read when the network came in
    assert hv1.subnets_of(second['id']) and hv1.vrf_allocation('hv2', second['id'])
    cloud.plugin.delete(ADMIN, 'ports', landed['id'])
    cloud.caught_up()
    assert second['id'] not in hv1.docs['networks']
    assert remote['id'] not in hv1.docs['ports']
    assert not hv1.subnets_of(second['id']) and not hv1.encap_networks_of(second['id'])
    assert hv1.vrf_allocation('hv2', second['id']) is None


def test_a_port_moving_away_takes_its_network_along(cloud):
    cloud.host(1), cloud.host(2)
    network = cloud.network()
    port = cloud.port(network, 'hv1')
    hv1 = cloud.replica(HostScope('hv1'))
    cloud.caught_up()
    assert network['id'] in hv1.docs['networks']
    cloud.plugin.update(ADMIN, 'ports', port['id'], {'binding:host_id': 'hv2'})
    cloud.caught_up()
    assert hv1.docs['networks'] == {} and hv1.docs['ports'] == {}


def test_the_rest_of_the_cloud_does_not_grow_it(cloud):
    cloud.host(1), cloud.host(2)
    network = cloud.network()
    cloud.port(network, 'hv1')
    hv1 = cloud.replica(HostScope('hv1'))
    cloud.caught_up()
    before = {kind: len(docs) for kind, docs in hv1.docs.items()}
    elsewhere = cloud.network('10.1.0.0/24')
    for _ in range(30):
        cloud.port(elsewhere, 'hv2')
    cloud.caught_up()
    assert {kind: len(docs) for kind, docs in hv1.docs.items()} == before


def l3_world(store):
    """A network node gw1 and a compute host hv1 (through the REST app in
    process), alpha's network with a VM on hv1, the external network, and
    alpha's router on gw1 with its gateway there; another project's
    network elsewhere."""
    from tests.unit.test_l3_scheduling import Api
    api = Api(store)
    api.create('host', name='hv1', datapath_id='00000000000000a1', segment_node_id='fd00:0:0:1::',
               underlay_ip='fd00::1')
    api.host('gw1')
    public = api.create('network', name='public', **{'router:external': True})
    api.create('subnet', network_id=public['id'], cidr='203.0.113.0/24')
    router, subnet, _ = api.router_with_interface('alpha')
    status, body = api.call('PUT', '/v2.0/routers/' + router['id'], {'router': {
        'external_gateway_info': {'network_id': public['id']}}})
    assert status == 200, body
    vm = api.create('port', network_id=subnet['network_id'], **{'binding:host_id': 'hv1'})
    other = api.create('network', name='other')
    api.create('subnet', network_id=other['id'], cidr='10.9.0.0/24')
    api.create('port', network_id=other['id'], **{'binding:host_id': 'hv1'})
    return api, dict(router=router, subnet=subnet, vm=vm, public=public, other=other)


def test_a_network_nodes_replica_holds_its_routers_world(cloud):
    api, world = l3_world(cloud.store)
    gw1 = cloud.replica(HostScope('gw1'))
    cloud.caught_up()
    assert set(gw1.docs['networks']) == {world['subnet']['network_id'], world['public']['id']}
    assert world['vm']['id'] in gw1.docs['ports']            # the route back to it
    assert gw1.vrf_allocation('hv1', world['subnet']['network_id']) is not None
    assert [r['id'] for r in gw1.routers_on('gw1')] == [world['router']['id']]
    # A floating IP of its router comes in as it is made.
    status, body = api.call('POST', '/v2.0/floatingips', {'floatingip': {
        'floating_network_id': world['public']['id'], 'port_id': world['vm']['id']}})
    assert status == 201, body
    cloud.caught_up()
    assert [f['id'] for f in gw1.floating_ips_of(world['router']['id'])] == \
        [body['floatingip']['id']]
    # Without its interface the router no longer touches alpha's network.
    api.call('DELETE', '/v2.0/floatingips/' + body['floatingip']['id'])
    status, body = api.call('PUT', '/v2.0/routers/%s/remove_router_interface'
                            % world['router']['id'], {'subnet_id': world['subnet']['id']})
    assert status == 200, body
    cloud.caught_up()
    assert set(gw1.docs['networks']) == {world['public']['id']}
    assert world['vm']['id'] not in gw1.docs['ports']


def test_a_large_footprint_is_read_a_kind_at_a_time_with_the_same_result(cloud, monkeypatch):
    from srv6_ofapp import scope
    l3_world(cloud.store)
    by_network = held(cloud.replica(HostScope('gw1')))
    monkeypatch.setattr(scope, 'SCAN_ABOVE', 0)
    by_kind = held(cloud.replica(HostScope('gw1')))
    assert by_kind == by_network and by_kind['networks'] and by_kind['ports']
