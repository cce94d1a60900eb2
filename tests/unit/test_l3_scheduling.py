"""Routers on network nodes, on each store backend (a real sqlite file, a
real etcd member), through the WSGI app in process: scheduling, the
routers' vrf_ips beside the VRFs' on one host, what a network node with
routers may not do, the L3 agent a network node reports, and the upgrade
that gives older hosts their role."""

import ipaddress
import itertools
import json
import threading
import types

import pytest
import webob

from rest import app as rest_app
from srv6_ofapp.model import agents
from srv6_ofapp.model import binding
from srv6_ofapp.model import upgrades
from srv6_ofapp.model.plugin import Plugin
from tests.backends import backend  # noqa: F401 (fixture: sqlite and etcd)
from topology import roles
from topology import vrf as vrf_lib

V = '/v2.0'
NUMBERS = itertools.count(1)


class Api:
    """The REST app in process (noauth: admin) over its own plugin."""

    def __init__(self, store):
        self.plugin = Plugin(store)
        self.app = rest_app.make_app(self.plugin, types.SimpleNamespace(
            auth_strategy='noauth', default_project_id='admin'))

    def call(self, method, path, body=None):
        request = webob.Request.blank(path, method=method)
        if body is not None:
            request.body = json.dumps(body).encode()
        response = request.get_response(self.app)
        return response.status_int, (response.json if response.body else None)

    def create(self, member, **attrs):
        status, body = self.call('POST', '%s/%ss' % (V, member), {member: attrs})
        assert status == 201, body
        return body[member]

    def host(self, name, role='network', vrf_cidr='169.254.0.0/16'):
        number = next(NUMBERS)
        return self.create('host', name=name, role=role, vrf_cidr=vrf_cidr,
                           datapath_id='%016x' % number, segment_node_id='fd00:0:%x::' % number,
                           underlay_ip='fd00::%x' % number)

    def router_with_interface(self, name):
        """A router with an interface on a subnet of its own network."""
        network = self.create('network', name=name)
        subnet = self.create('subnet', network_id=network['id'], cidr='10.0.0.0/24')
        router = self.create('router', name=name)
        status, body = self.call('PUT', '%s/routers/%s/add_router_interface'
                                 % (V, router['id']), {'subnet_id': subnet['id']})
        assert status == 200, body
        return router, subnet, body['port_id']

    def stored(self, kind, key):
        return self.plugin.store.get(kind, key)

    def sids(self, host_name):
        """{vrf_ip: what holds it} on a host: its VRFs and its routers."""
        prefix = host_name + '/'
        held = {}
        for kind in binding.SID_KINDS:
            for allocation in self.plugin.store.list(kind, prefix=prefix):
                assert allocation['vrf_ip'] not in held, (allocation, held)
                held[allocation['vrf_ip']] = allocation.get('router_id') or \
                    allocation.get('network_id')
        return held


@pytest.fixture
def api(backend):
    return Api(backend.open())


def test_a_router_waits_for_a_network_node_then_takes_the_least_loaded(api):
    api.host('compute1', role='compute')
    first, _, _ = api.router_with_interface('first')
    # No network node yet: unscheduled (a compute host never runs routers).
    assert api.stored('routers', first['id'])['host'] is None
    api.host('nn-b')
    # Registering a network node schedules the waiting router.
    stored = api.stored('routers', first['id'])
    assert stored['host'] == 'nn-b'
    allocation = api.stored('routerallocations',
                            vrf_lib.router_allocation_key('nn-b', first['id']))
    assert allocation == {'host': 'nn-b', 'router_id': first['id'],
                          'vrf_ip': '169.254.0.1'}

    api.host('nn-a')
    hosts = [api.stored('routers', api.router_with_interface('r%d' % n)[0]['id'])['host']
             for n in range(3)]
    # Fewest routers first, ties by name.
    assert hosts == ['nn-a', 'nn-a', 'nn-b']

    # A router without interfaces or gateway is not scheduled at all.
    empty = api.create('router', name='empty')
    assert api.stored('routers', empty['id'])['host'] is None


def test_the_scheduler_skips_a_network_node_whose_l3_agent_is_disabled(api):
    api.host('nn-a')
    api.host('nn-b')
    for host in ('nn-a', 'nn-b'):
        api.plugin.report_agent(host, {}, 'start', api.plugin.store.grant_lease(30))
    disabled = agents.agent_id(agents.L3_AGENT, 'nn-a')
    status, body = api.call('PUT', '%s/agents/%s' % (V, disabled),
                            {'agent': {'admin_state_up': False}})
    assert status == 200, body
    hosts = [api.stored('routers', api.router_with_interface('r%d' % n)[0]['id'])['host']
             for n in range(2)]
    assert hosts == ['nn-b', 'nn-b']    # nn-a has fewer routers, but is disabled
    api.call('PUT', '%s/agents/%s' % (V, disabled), {'agent': {'admin_state_up': True}})
    assert api.stored('routers', api.router_with_interface('r2')[0]['id'])['host'] == 'nn-a'


def test_a_router_holds_its_node_while_it_has_an_interface_or_a_gateway(api):
    api.host('nn1')
    router, subnet, _ = api.router_with_interface('held')
    key = vrf_lib.router_allocation_key('nn1', router['id'])
    assert api.stored('routerallocations', key)
    status, _ = api.call('PUT', '%s/routers/%s/remove_router_interface' % (V, router['id']),
                         {'subnet_id': subnet['id']})
    assert status == 200
    assert api.stored('routers', router['id'])['host'] is None
    assert api.stored('routerallocations', key) is None

    public = api.create('network', name='public', **{'router:external': True})
    api.create('subnet', network_id=public['id'], cidr='203.0.113.0/24')
    status, body = api.call('PUT', '%s/routers/%s' % (V, router['id']), {'router': {
        'external_gateway_info': {'network_id': public['id']}}})
    assert status == 200, body
    assert api.stored('routers', router['id'])['host'] == 'nn1'
    # Deleting the router releases its gateway port and its allocation.
    gw_port_id = api.stored('routers', router['id'])['gw_port_id']
    assert api.call('DELETE', '%s/routers/%s' % (V, router['id']))[0] == 204
    assert api.stored('routerallocations', key) is None
    assert api.stored('ports', gw_port_id) is None
    assert api.sids('nn1') == {}


def test_routers_and_vrfs_share_a_hosts_vrf_cidr(api):
    api.host('nn1', vrf_cidr='169.254.9.0/29')       # 6 addresses: .1 to .6
    network = api.create('network', name='bound')
    api.create('subnet', network_id=network['id'], cidr='10.1.0.0/24')
    vm = api.create('port', network_id=network['id'], **{'binding:host_id': 'nn1'})
    assert vm['binding:profile']['vrf_ip'] == '169.254.9.1'
    router, _, _ = api.router_with_interface('r1')
    assert api.sids('nn1') == {'169.254.9.1': network['id'], '169.254.9.2': router['id']}

    # The VRF goes; a new one takes .1 again and the next the first free after
    # the router's.
    assert api.call('DELETE', '%s/ports/%s' % (V, vm['id']))[0] == 204
    others = [api.create('network', name='n%d' % n) for n in range(2)]
    for other in others:
        api.create('port', network_id=other['id'], **{'binding:host_id': 'nn1'})
    assert api.sids('nn1') == {'169.254.9.1': others[0]['id'],
                               '169.254.9.2': router['id'],
                               '169.254.9.3': others[1]['id']}

    # The pool full, a router cannot be scheduled there: the request fails.
    for n in range(3):
        api.router_with_interface('fill%d' % n)
    network = api.create('network', name='one-too-many')
    subnet = api.create('subnet', network_id=network['id'], cidr='10.2.0.0/24')
    late = api.create('router', name='late')
    status, body = api.call('PUT', '%s/routers/%s/add_router_interface' % (V, late['id']),
                            {'subnet_id': subnet['id']})
    assert status == 409 and body['NeutronError']['type'] == 'VrfIpGenerationFailure'
    assert api.stored('routers', late['id'])['interfaces'] == []


def test_a_network_node_with_routers_stays_one(api):
    node = api.host('nn1')
    api.router_with_interface('r1')
    url = '%s/hosts/%s' % (V, node['id'])
    for change in ({'role': 'compute'}, {'vrf_cidr': '169.254.1.0/24'}):
        status, body = api.call('PUT', url, {'host': change})
        assert status == 409 and body['NeutronError']['type'] == 'HostInUse', change
    status, body = api.call('DELETE', url)
    assert status == 409 and 'routers run on it' in body['NeutronError']['message']
    # Other attributes change as before.
    status, body = api.call('PUT', url, {'host': {'external_interface': 'eth7'}})
    assert status == 200 and body['host']['external_interface'] == 'eth7'
    status, body = api.call('PUT', url, {'host': {'external_interface': 'not/valid'}})
    assert status == 400


def test_a_compute_host_becoming_a_network_node_takes_waiting_routers(api):
    host = api.host('hv1', role='compute')
    assert (host['role'], host['external_interface']) == ('compute', None)
    router, _, _ = api.router_with_interface('waiting')
    status, body = api.call('PUT', '%s/hosts/%s' % (V, host['id']), {'host': {
        'role': 'network', 'external_interface': 'eth1'}})
    assert status == 200, body
    assert api.stored('routers', router['id'])['host'] == 'hv1'
    status, _ = api.call('PUT', '%s/hosts/%s' % (V, host['id']), {'host': {'role': 'edge'}})
    assert status == 400


def test_concurrent_scheduling_and_binding_never_share_a_vrf_ip(backend):
    """Two API servers, several threads: routers scheduled onto a network
    node and ports bound to it at once; every vrf_ip of the host is held
    once (on etcd the optimistic transactions retry)."""
    apis = [Api(backend.open()), Api(backend.open())]
    apis[0].host('nn1')
    networks = [apis[0].create('network', name='bind%d' % n) for n in range(4)]
    errors = []

    def work(i):
        api = apis[i % 2]
        try:
            if i % 2:
                api.router_with_interface('race%d' % i)
            else:
                api.create('port', network_id=networks[i // 2]['id'],
                           **{'binding:host_id': 'nn1'})
        except Exception as error:  # reported below, not lost in the thread
            errors.append(error)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    held = apis[0].sids('nn1')          # asserts each is held once
    assert sorted(held, key=ipaddress.ip_address) == \
        ['169.254.0.%d' % n for n in range(1, 9)]


def test_a_network_nodes_agent_is_an_l3_agent(api):
    api.host('hv1', role='compute')
    node = api.host('nn1')
    store = api.plugin.store
    for host in ('hv1', 'nn1'):
        lease = store.grant_lease(30)
        api.plugin.report_agent(host, {}, 'start', lease)
    status, body = api.call('GET', V + '/agents')
    types_ = {a['host']: (a['agent_type'], a['alive']) for a in body['agents']}
    assert types_ == {'hv1': ('SRv6 OpenFlow agent', True), 'nn1': ('L3 agent', True)}

    router, _, _ = api.router_with_interface('r1')
    l3_id = agents.agent_id(agents.L3_AGENT, 'nn1')
    status, body = api.call('GET', '%s/routers/%s/l3-agents' % (V, router['id']))
    assert status == 200 and [a['id'] for a in body['agents']] == [l3_id]
    status, body = api.call('GET', '%s/agents/%s/l3-routers' % (V, l3_id))
    assert [r['id'] for r in body['routers']] == [router['id']]
    assert 'host' not in body['routers'][0]          # internal
    hv_agent = agents.agent_id(agents.OPENFLOW_AGENT, 'hv1')
    assert api.call('GET', '%s/agents/%s/l3-routers' % (V, hv_agent))[1] == {'routers': []}
    status, body = api.call('GET', '%s/agents/%s/l3-routers' % (V, 'nope'))
    assert status == 404 and body['NeutronError']['type'] == 'AgentNotFound'

    # A host that stops being a network node reports the other agent; the L3
    # agent is dead from that report on.
    api.call('PUT', '%s/routers/%s' % (V, router['id']), {'router': {'name': 'x'}})
    for interface in api.stored('routers', router['id'])['interfaces']:
        api.call('PUT', '%s/routers/%s/remove_router_interface' % (V, router['id']),
                 {'port_id': interface['port_id']})
    assert api.call('PUT', '%s/hosts/%s' % (V, node['id']),
                    {'host': {'role': 'compute'}})[0] == 200
    api.plugin.report_agent('nn1', {}, 'start', store.grant_lease(30))
    body = api.call('GET', V + '/agents?host=nn1')[1]
    assert sorted((a['agent_type'], a['alive']) for a in body['agents']) == [
        ('L3 agent', False), ('SRv6 OpenFlow agent', True)]


def test_hosts_from_before_roles_are_compute_hosts(api):
    store = api.plugin.store
    store.transact(lambda txn: txn.put('hosts', 'h-old', {
        'id': 'h-old', 'name': 'old', 'datapath_id': '00000000000000ff',
        'segment_node_id': 'fd00:0:ff::', 'underlay_ip': 'fd00::ff', 'bridge': 'br-int',
        'netns': None, 'vrf_cidr': '169.254.0.0/16', 'ovsdb': None, 'description': '',
        'created_at': 'x', 'updated_at': 'x', 'revision_number': 0}))
    store.transact(lambda txn: txn.put(upgrades.VERSION_KIND, upgrades.VERSION_KEY,
                                       {'version': upgrades.VERSION - 1}))
    assert upgrades.upgrade(store) == upgrades.VERSION - 1
    host = store.get('hosts', 'h-old')
    assert (host['role'], host['external_interface']) == ('compute', None)
    assert not roles.is_network_node(host)


def test_an_admin_places_a_router_by_hand_and_moves_it(api):
    """l3_agent_scheduler's writes: POST /agents/{id}/l3-routers and DELETE
    .../l3-routers/{router_id}, with Neutron's errors; a move (remove, add)
    takes the router's vrf_ip on the new node and frees the old one."""
    api.host('hv1', role='compute')
    api.host('nn1')
    api.host('nn2')
    for host in ('hv1', 'nn1', 'nn2'):
        api.plugin.report_agent(host, {}, 'start', api.plugin.store.grant_lease(30))
    nn1, nn2 = (agents.agent_id(agents.L3_AGENT, h) for h in ('nn1', 'nn2'))
    hv1 = agents.agent_id(agents.OPENFLOW_AGENT, 'hv1')
    router, subnet, _ = api.router_with_interface('moved')
    rid = router['id']

    def l3_routers(agent):
        return '%s/agents/%s/l3-routers' % (V, agent)

    def hosted_by():
        body = api.call('GET', '%s/routers/%s/l3-agents' % (V, rid))[1]
        return [a['id'] for a in body['agents']]

    def error(call, status, type_):
        got, body = call
        assert (got, body['NeutronError']['type']) == (status, type_), body

    assert hosted_by() == [nn1]               # the automatic scheduler's choice
    before = (api.stored('routers', rid), api.sids('nn1'), api.sids('nn2'))

    def unchanged():
        return (api.stored('routers', rid), api.sids('nn1'), api.sids('nn2')) == before

    # Adding it where it is: nothing changes (201, null, as Neutron answers).
    assert api.call('POST', l3_routers(nn1), {'router_id': rid}) == (201, None)
    assert unchanged()
    # Refused, changing nothing.
    error(api.call('POST', l3_routers(nn2), {'router_id': rid}), 409, 'RouterHostedByL3Agent')
    error(api.call('POST', l3_routers('nope'), {'router_id': rid}), 404, 'AgentNotFound')
    error(api.call('POST', l3_routers(nn2), {'router_id': 'nope'}), 404, 'RouterNotFound')
    error(api.call('POST', l3_routers(hv1), {'router_id': rid}), 404, 'InvalidL3Agent')
    for body in (None, {}, {'router_id': None}, {'router_id': [rid]}, [rid]):
        error(api.call('POST', l3_routers(nn2), body), 400, 'BadRequest')
    error(api.call('DELETE', '%s/%s' % (l3_routers('nope'), rid)), 404, 'AgentNotFound')
    error(api.call('DELETE', '%s/%s' % (l3_routers(nn1), 'nope')), 404, 'RouterNotFound')
    # Removing it from an agent that does not host it: nothing (Neutron's 204).
    assert api.call('DELETE', '%s/%s' % (l3_routers(nn2), rid)) == (204, None)
    assert api.call('DELETE', '%s/%s' % (l3_routers(hv1), rid)) == (204, None)
    assert api.call('PUT', l3_routers(nn1), {'router_id': rid})[0] == 405
    assert unchanged()

    # The move: off nn1 (unscheduled, its vrf_ip there free), onto nn2.
    assert api.call('DELETE', '%s/%s' % (l3_routers(nn1), rid)) == (204, None)
    assert api.stored('routers', rid)['host'] is None
    assert api.sids('nn1') == {} and hosted_by() == []
    # Where a router runs is not one of its attributes: no new revision.
    assert api.stored('routers', rid)['revision_number'] == before[0]['revision_number']
    assert api.call('POST', l3_routers(nn2), {'router_id': rid}) == (201, None)
    assert api.stored('routers', rid)['host'] == 'nn2'
    assert api.sids('nn2') == {'169.254.0.1': rid} and api.sids('nn1') == {}
    assert api.stored('routerallocations', vrf_lib.router_allocation_key('nn2', rid)) == \
        {'host': 'nn2', 'router_id': rid, 'vrf_ip': '169.254.0.1'}
    assert hosted_by() == [nn2]
    assert [r['id'] for r in api.call('GET', l3_routers(nn2))[1]['routers']] == [rid]
    assert api.call('GET', l3_routers(nn1))[1] == {'routers': []}

    # A disabled agent takes no router.
    assert api.call('DELETE', '%s/%s' % (l3_routers(nn2), rid))[0] == 204
    assert api.call('PUT', '%s/agents/%s' % (V, nn1), {'agent': {'admin_state_up': False}})[0] \
        == 200
    error(api.call('POST', l3_routers(nn1), {'router_id': rid}), 404, 'InvalidL3Agent')
    assert api.stored('routers', rid)['host'] is None

    # Taken off, a router waits until an admin adds it or the automatic
    # scheduler places it again: at its next interface or gateway change.
    other = api.create('subnet', network_id=subnet['network_id'], cidr='10.9.0.0/24')
    assert api.call('PUT', '%s/routers/%s/add_router_interface' % (V, rid),
                    {'subnet_id': other['id']})[0] == 200
    assert api.stored('routers', rid)['host'] in ('nn1', 'nn2')


def test_a_router_without_interfaces_placed_by_hand(api):
    """Neutron places any router asked for; it keeps its node until an
    interface or gateway change leaves it with neither."""
    api.host('nn1')
    api.plugin.report_agent('nn1', {}, 'start', api.plugin.store.grant_lease(30))
    nn1 = agents.agent_id(agents.L3_AGENT, 'nn1')
    empty = api.create('router', name='empty')
    assert api.call('POST', '%s/agents/%s/l3-routers' % (V, nn1),
                    {'router_id': empty['id']}) == (201, None)
    assert api.stored('routers', empty['id'])['host'] == 'nn1'
    assert api.sids('nn1') == {'169.254.0.1': empty['id']}
    assert api.call('PUT', '%s/routers/%s' % (V, empty['id']),
                    {'router': {'name': 'renamed'}})[0] == 200
    assert api.stored('routers', empty['id'])['host'] == 'nn1'
    network = api.create('network', name='n')
    subnet = api.create('subnet', network_id=network['id'], cidr='10.0.0.0/24')
    for action in ('add_router_interface', 'remove_router_interface'):
        assert api.call('PUT', '%s/routers/%s/%s' % (V, empty['id'], action),
                        {'subnet_id': subnet['id']})[0] == 200
    assert api.stored('routers', empty['id'])['host'] is None
    assert api.sids('nn1') == {}


def test_a_floating_ip_is_active_once_its_node_has_applied_it(api):
    """DOWN from the API; ACTIVE when the network node reports what it
    applied; DOWN again when the association changes, and a report of the
    old association (a node that had not seen the change yet) is ignored."""
    api.host('nn1')
    api.host('nn2')
    public = api.create('network', name='public', **{'router:external': True})
    api.create('subnet', network_id=public['id'], cidr='203.0.113.0/24')
    router, subnet, _ = api.router_with_interface('r')
    status, body = api.call('PUT', '%s/routers/%s' % (V, router['id']), {'router': {
        'external_gateway_info': {'network_id': public['id']}}})
    assert status == 200, body
    vm1, vm2 = (api.create('port', network_id=subnet['network_id'], name=n)
                for n in ('vm1', 'vm2'))
    fip = api.create('floatingip', floating_network_id=public['id'], port_id=vm1['id'])
    assert fip['status'] == 'DOWN'
    applied = (router['id'], fip['floating_ip_address'], fip['fixed_ip_address'])

    status_of = lambda: api.stored('floatingips', fip['id'])['status']  # noqa: E731
    assert api.plugin.activate_floating_ips('nn2', {fip['id']: applied}) == []  # not its node
    assert api.plugin.activate_floating_ips('nn1', {fip['id']: applied}) == [fip['id']]
    assert status_of() == 'ACTIVE'
    assert api.plugin.activate_floating_ips('nn1', {fip['id']: applied}) == []  # said already

    # The router set down, or taken off its node: DOWN until a node has it.
    assert api.call('PUT', '%s/routers/%s' % (V, router['id']),
                    {'router': {'admin_state_up': False}})[0] == 200
    assert status_of() == 'DOWN'
    api.call('PUT', '%s/routers/%s' % (V, router['id']), {'router': {'admin_state_up': True}})
    api.plugin.activate_floating_ips('nn1', {fip['id']: applied})
    api.plugin.report_agent('nn1', {}, 'start', api.plugin.store.grant_lease(30))
    l3_routers = '%s/agents/%s/l3-routers' % (V, agents.agent_id(agents.L3_AGENT, 'nn1'))
    assert api.call('DELETE', l3_routers + '/' + router['id'])[0] == 204
    assert status_of() == 'DOWN'
    assert api.plugin.activate_floating_ips('nn1', {fip['id']: applied}) == []  # left it
    assert api.call('POST', l3_routers, {'router_id': router['id']})[0] == 201

    assert api.plugin.activate_floating_ips('nn1', {fip['id']: applied}) == [fip['id']]
    status, body = api.call('PUT', '%s/floatingips/%s' % (V, fip['id']),
                            {'floatingip': {'port_id': vm2['id']}})
    assert (status, body['floatingip']['status']) == (200, 'DOWN')
    assert api.plugin.activate_floating_ips('nn1', {fip['id']: applied}) == []  # stale
    assert status_of() == 'DOWN'


def test_an_l3_agent_enabled_again_takes_the_routers_waiting(api):
    api.host('nn1')
    api.plugin.report_agent('nn1', {}, 'start', api.plugin.store.grant_lease(30))
    agent = '%s/agents/%s' % (V, agents.agent_id(agents.L3_AGENT, 'nn1'))
    assert api.call('PUT', agent, {'agent': {'admin_state_up': False}})[0] == 200
    router, _, _ = api.router_with_interface('waiting')
    assert api.stored('routers', router['id'])['host'] is None
    assert api.call('PUT', agent, {'agent': {'admin_state_up': True}})[0] == 200
    assert api.stored('routers', router['id'])['host'] == 'nn1'
