"""Routers, external gateways, interfaces and floating IPs over real HTTP
(issue 13), with Neutron's rules and errors, against one srv6-ofapp with
token authentication: an admin and two projects, alice (project-a) and
bob (project-b)."""

import itertools
import time

import pytest

from srv6_ofapp import store as store_lib
from tests import projects
from tests.projects import admin, alice, bob  # noqa: F401 (fixtures)

V = '/v2.0'
NUMBERS = itertools.count(0xd01)


token_server = projects.token_server('routers', ['--report-interval', '1',
                                                 '--agent-down-time', '3'])


def error_type(response):
    return response.json()['NeutronError']['type']


def expect(response, status, type_=None):
    assert response.status_code == status, response.text
    if type_:
        assert error_type(response) == type_, response.text
    return response.json() if response.content else None


def new_host(admin, role='network'):
    number = next(NUMBERS)
    return admin.create('host', name='%s-%x' % ('nn' if role == 'network' else 'hv', number),
                        datapath_id='%016x' % number, segment_node_id='fd00:0:0:%x::' % number,
                        underlay_ip='fd00::%x' % number, role=role,
                        **({'external_interface': 'eth1'} if role == 'network' else {}))


@pytest.fixture
def node(admin):
    """A network node of its own."""
    return new_host(admin)


@pytest.fixture
def public(admin):
    """An external network whose subnet's gateway is the upstream router."""
    network = admin.create('network', name='public', **{'router:external': True})
    subnet = admin.create('subnet', network_id=network['id'], cidr='203.0.113.0/24',
                          allocation_pools=[{'start': '203.0.113.10',
                                             'end': '203.0.113.20'}])
    return dict(network, subnet=subnet)


def tenant_net(client, name, cidr='10.0.0.0/24', **subnet_attrs):
    network = client.create('network', name=name)
    subnet = client.create('subnet', network_id=network['id'], cidr=cidr, **subnet_attrs)
    return dict(network, subnet=subnet)


def url(kind, resource, tail=''):
    return '%s/%s/%s%s' % (V, kind, resource['id'], tail)


def add_interface(client, router, **body):
    return client.put(url('routers', router, '/add_router_interface'), body)


def remove_interface(client, router, **body):
    return client.put(url('routers', router, '/remove_router_interface'), body)


def set_gateway(client, router, info):
    return client.put(url('routers', router), {'router': {'external_gateway_info': info}})


def port_of(client, id_):
    return client.get('%s/ports/%s' % (V, id_)).json().get('port')


# -- routers ---------------------------------------------------------------------

def test_a_projects_routers(admin, alice, bob):
    router = alice.create('router', name='r1')
    assert (router['status'], router['admin_state_up'], router['external_gateway_info'],
            router['tenant_id'], router['project_id']) == ('ACTIVE', True, None,
                                                           'project-a', 'project-a')
    # Where it runs and what it holds are internal; dvr/l3-ha are admins'.
    assert not {'host', 'interfaces', 'gw_port_id', 'distributed', 'ha'} & set(router)
    shown = admin.get(url('routers', router)).json()['router']
    assert (shown['distributed'], shown['ha']) == (False, False)
    assert 'host' not in shown
    for bad in ({'distributed': True}, {'ha': True}):
        expect(admin.post(V + '/routers', {'router': dict(bad, name='x')}), 400)
    expect(alice.post(V + '/routers', {'router': {'distributed': False}}), 403,
           'PolicyNotAuthorized')

    updated = expect(alice.put(url('routers', router), {'router': {
        'name': 'r1b', 'admin_state_up': False, 'description': 'edge'}}), 200)['router']
    assert (updated['name'], updated['admin_state_up'], updated['revision_number']) == \
        ('r1b', False, router['revision_number'] + 1)
    assert expect(alice.put(url('routers', router, '/tags/blue'), None), 201) is None
    assert [r['id'] for r in alice.get(V + '/routers', params={'tags': 'blue'}).json()[
        'routers']] == [router['id']]
    expect(alice.put(url('routers', router), {'router': {'status': 'DOWN'}}), 400)

    # bob neither sees nor touches it.
    assert router['id'] not in [r['id'] for r in bob.get(V + '/routers').json()['routers']]
    for response in (bob.get(url('routers', router)),
                     bob.put(url('routers', router), {'router': {'name': 'mine'}}),
                     bob.delete(url('routers', router)),
                     add_interface(bob, router, subnet_id=tenant_net(bob, 'b')['subnet']['id'])):
        expect(response, 404, 'RouterNotFound')
    assert [r['id'] for r in admin.get(V + '/routers', params={
        'project_id': 'project-a', 'name': 'r1b'}).json()['routers']] == [router['id']]
    expect(alice.delete(url('routers', router)), 204)
    expect(alice.get(url('routers', router)), 404, 'RouterNotFound')
    aliases = {e['alias'] for e in admin.get(V + '/extensions').json()['extensions']}
    assert {'router', 'ext-gw-mode', 'l3_agent_scheduler', 'external-net'} <= aliases


# -- gateways ------------------------------------------------------------------

def test_a_gateway_on_an_external_network(admin, alice, bob, public, node):
    router = alice.create('router', name='gw', external_gateway_info={
        'network_id': public['id']})
    info = router['external_gateway_info']
    assert (info['network_id'], info['enable_snat']) == (public['id'], True)
    assert info['external_fixed_ips'] == [{'subnet_id': public['subnet']['id'],
                                           'ip_address': '203.0.113.10'}]
    # The gateway port: on the external network, of no project, for admins only.
    [gw_port] = admin.get(V + '/ports', params={'device_id': router['id']}).json()['ports']
    assert (gw_port['device_owner'], gw_port['tenant_id'], gw_port['network_id'],
            gw_port['binding:host_id']) == ('network:router_gateway', '', public['id'], '')
    assert gw_port['fixed_ips'] == info['external_fixed_ips']
    assert alice.get(V + '/ports', params={'device_id': router['id']}).json()['ports'] == []
    expect(admin.delete(url('ports', gw_port)), 409, 'ServicePortInUse')
    expect(admin.put(url('ports', gw_port), {'port': {'fixed_ips': []}}), 409,
           'ServicePortChange')

    # Only an admin chooses SNAT and the addresses (Neutron's policy).
    for extra in ({'enable_snat': False},
                  {'external_fixed_ips': [{'ip_address': '203.0.113.15'}]}):
        expect(set_gateway(alice, router, dict(extra, network_id=public['id'])), 403,
               'PolicyNotAuthorized')
    expect(alice.post(V + '/routers', {'router': {'external_gateway_info': {
        'network_id': public['id'], 'enable_snat': True}}}), 403)
    chosen = expect(set_gateway(admin, router, {
        'network_id': public['id'], 'enable_snat': False,
        'external_fixed_ips': [{'ip_address': '203.0.113.15'}]}), 200)['router']
    assert chosen['external_gateway_info'] == {
        'network_id': public['id'], 'enable_snat': False, 'external_fixed_ips': [
            {'subnet_id': public['subnet']['id'], 'ip_address': '203.0.113.15'}]}
    assert port_of(admin, gw_port['id'])['fixed_ips'][0]['ip_address'] == '203.0.113.15'
    # Setting the same network again without enable_snat: the default again.
    again = expect(set_gateway(alice, router, {'network_id': public['id']}), 200)['router']
    assert again['external_gateway_info']['enable_snat'] is True
    assert again['external_gateway_info']['external_fixed_ips'][0]['ip_address'] == \
        '203.0.113.15'

    private = tenant_net(alice, 'private', '192.168.0.0/24')
    for info, status, type_ in (
            ({'network_id': private['id']}, 400, 'BadRequest'),
            ({'network_id': tenant_net(bob, 'bobs')['id']}, 404, 'NetworkNotFound'),
            ({'network_id': '11111111-2222-3333-4444-555555555555'}, 404, 'NetworkNotFound'),
            ({'network_id': 'nope'}, 400, 'HTTPBadRequest'),
            ({'enable_snat': True}, 400, 'HTTPBadRequest'),
            ({'network_id': public['id'], 'qos_policy_id': None}, 400, 'HTTPBadRequest')):
        expect(set_gateway(alice, router, info), status, type_)
    upstream = set_gateway(admin, router, {'network_id': public['id'], 'external_fixed_ips': [
        {'ip_address': '203.0.113.1'}]})
    assert 'is the same as the gateway IP' in expect(upstream, 400, 'BadRequest')[
        'NeutronError']['message']
    bare = admin.create('network', name='bare-external', **{'router:external': True})
    expect(set_gateway(alice, router, {'network_id': bare['id']}), 400, 'BadRequest')
    assert port_of(admin, gw_port['id'])          # refusals change nothing

    # A network with a gateway on it stays external, and stays.
    expect(admin.put(url('networks', public), {'network': {'router:external': False}}),
           409, 'ExternalNetworkInUse')
    expect(admin.delete(url('networks', public)), 409, 'NetworkInUse')

    # {} (what `router unset --external-gateway` sends) and null remove it.
    for none in ({}, None):
        set_gateway(alice, router, {'network_id': public['id']})
        cleared = expect(set_gateway(alice, router, none), 200)['router']
        assert cleared['external_gateway_info'] is None
    assert port_of(admin, gw_port['id']) is None
    assert admin.get(V + '/ports', params={'network_id': public['id']}).json()['ports'] == []
    expect(admin.put(url('networks', bare), {'network': {'router:external': False}}), 200)

    # Deleting a router takes its gateway port; the address is free again.
    set_gateway(alice, router, {'network_id': public['id']})
    expect(alice.delete(url('routers', router)), 204)
    assert admin.get(V + '/ports', params={'network_id': public['id']}).json()['ports'] == []
    expect(admin.delete(url('networks', public)), 204)


# -- interfaces ----------------------------------------------------------------

def test_interfaces_by_subnet(admin, alice, bob, node):
    net = tenant_net(alice, 'inside', '10.10.0.0/24')
    router = alice.create('router', name='ri')
    added = expect(add_interface(alice, router, subnet_id=net['subnet']['id']), 200)
    port = port_of(alice, added['port_id'])
    assert added == {'id': router['id'], 'tenant_id': 'project-a', 'project_id': 'project-a',
                     'port_id': port['id'], 'network_id': net['id'],
                     'subnet_id': net['subnet']['id'], 'subnet_ids': [net['subnet']['id']]}
    assert (port['device_owner'], port['device_id'], port['tenant_id'],
            port['port_security_enabled'], port['security_groups']) == \
        ('network:router_interface', router['id'], 'project-a', False, [])
    assert port['fixed_ips'] == [{'subnet_id': net['subnet']['id'], 'ip_address': '10.10.0.1'}]
    shown = alice.get(url('routers', router)).json()['router']
    assert shown['revision_number'] == router['revision_number'] + 1

    overlapping = tenant_net(alice, 'overlapping', '10.10.0.128/25')
    no_gateway = tenant_net(alice, 'no-gateway', '10.11.0.0/24', gateway_ip=None)
    for body, status, type_, words in (
            ({'subnet_id': net['subnet']['id']}, 400, 'BadRequest', 'already has a port'),
            ({'subnet_id': overlapping['subnet']['id']}, 400, 'BadRequest', 'overlaps'),
            ({'subnet_id': no_gateway['subnet']['id']}, 400, 'BadRequest', 'gateway IP'),
            ({'subnet_id': tenant_net(bob, 'bob-in')['subnet']['id']}, 404,
             'SubnetNotFound', ''),
            ({'subnet_id': net['subnet']['id'], 'port_id': port['id']}, 400, 'BadRequest',
             'Cannot specify both'),
            ({}, 400, 'BadRequest', 'Either subnet_id or port_id'),
            ({'subnet_id': 'x'}, 400, 'BadRequest', 'not a valid UUID')):
        response = expect(add_interface(alice, router, **body), status, type_)
        assert words in response['NeutronError']['message'], response
    expect(alice.put(url('routers', router, '/add_router_interface'), ['x']), 400)

    # What the interface holds cannot go under it.
    expect(alice.delete(url('routers', router)), 409, 'RouterInUse')
    expect(alice.delete(url('ports', port)), 409, 'ServicePortInUse')
    # A port that only names the router (made through the port API) is not its.
    named = alice.create('port', network_id=net['id'], device_id=router['id'],
                         device_owner='network:router_interface')
    expect(alice.delete(url('ports', named)), 204)
    expect(alice.put(url('ports', port), {'port': {'device_owner': ''}}), 409,
           'ServicePortChange')
    expect(alice.delete(url('subnets', net['subnet'])), 409, 'SubnetInUse')
    for gateway in ('10.10.0.254', None):
        expect(alice.put(url('subnets', net['subnet']), {'subnet': {'gateway_ip': gateway}}),
               409, 'GatewayIpInUse')
    expect(alice.delete(url('networks', net)), 409, 'NetworkInUse')
    # A subnet on a network shared by the admin is not a project's to attach.
    shared = admin.create('network', name='shared', shared=True)
    shared_subnet = admin.create('subnet', network_id=shared['id'], cidr='10.12.0.0/24')
    expect(add_interface(alice, router, subnet_id=shared_subnet['id']), 400, 'BadRequest')

    for body, status, type_ in (
            ({'subnet_id': overlapping['subnet']['id']}, 404,
             'RouterInterfaceNotFoundForSubnet'),
            ({'port_id': overlapping['id']}, 404, 'RouterInterfaceNotFound'),
            ({'port_id': port['id'], 'subnet_id': overlapping['subnet']['id']}, 400,
             'SubnetMismatchForPort')):
        expect(remove_interface(alice, router, **body), status, type_)
    removed = expect(remove_interface(alice, router, subnet_id=net['subnet']['id']), 200)
    assert removed == added
    assert port_of(admin, port['id']) is None
    expect(remove_interface(alice, router, subnet_id=net['subnet']['id']), 404,
           'RouterInterfaceNotFoundForSubnet')
    # The gateway address is the subnet's again: a new interface takes it.
    again = expect(add_interface(alice, router, subnet_id=net['subnet']['id']), 200)
    expect(remove_interface(alice, router, port_id=again['port_id']), 200)
    expect(alice.delete(url('routers', router)), 204)


def test_interfaces_by_port(admin, alice, bob, node):
    net = tenant_net(alice, 'by-port', '10.20.0.0/24')
    router = alice.create('router', name='rp')
    port = alice.create('port', network_id=net['id'],
                        fixed_ips=[{'ip_address': '10.20.0.50'}])
    for other, status, type_ in (
            (alice.create('port', network_id=net['id'], device_id='vm-1'), 409, 'PortInUse'),
            (alice.create('port', network_id=net['id'], fixed_ips=[]), 400, 'BadRequest'),
            (admin.create('port', network_id=net['id'], tenant_id='project-a',
                          **{'binding:host_id': node['name']}), 400, 'BadRequest'),
            (bob.create('port', network_id=tenant_net(bob, 'bp')['id']), 404, 'PortNotFound')):
        expect(add_interface(alice, router, port_id=other['id']), status, type_)

    added = expect(add_interface(alice, router, port_id=port['id']), 200)
    assert (added['port_id'], added['subnet_ids']) == (port['id'], [net['subnet']['id']])
    became = port_of(alice, port['id'])
    # It keeps its address (Neutron's rule); its device is the router now.
    assert (became['device_owner'], became['device_id'], became['fixed_ips']) == \
        ('network:router_interface', router['id'], port['fixed_ips'])
    expect(add_interface(alice, router, subnet_id=net['subnet']['id']), 400, 'BadRequest')
    expect(remove_interface(alice, router, port_id=port['id']), 200)
    assert port_of(alice, port['id']) is None     # Neutron deletes it
    expect(alice.delete(url('routers', router)), 204)


# -- floating IPs --------------------------------------------------------------

@pytest.fixture
def routed(alice, public, node):
    """alice's network with a VM port, routed to the public network."""
    net = tenant_net(alice, 'routed', '10.30.0.0/24')
    router = alice.create('router', name='edge', external_gateway_info={
        'network_id': public['id']})
    expect(add_interface(alice, router, subnet_id=net['subnet']['id']), 200)
    vm = alice.create('port', network_id=net['id'], name='vm')
    return {'net': net, 'router': router, 'vm': vm, 'public': public}


def test_floating_ips(admin, alice, bob, routed):
    """(DOWN throughout: no network node builds this server's routers; the
    node's dataplane says ACTIVE, test_l3.py.)"""
    public, vm, router = routed['public'], routed['vm'], routed['router']
    fip = alice.create('floatingip', floating_network_id=public['id'], port_id=vm['id'],
                       description='web')
    assert (fip['port_id'], fip['fixed_ip_address'], fip['router_id'], fip['status'],
            fip['tenant_id'], fip['description']) == \
        (vm['id'], vm['fixed_ips'][0]['ip_address'], router['id'], 'DOWN', 'project-a', 'web')
    assert fip['floating_ip_address'] == '203.0.113.11'   # .10 is the router's gateway
    assert not {'floating_port_id', 'subnet_id'} & set(fip)
    [fip_port] = admin.get(V + '/ports', params={'device_id': fip['id']}).json()['ports']
    assert (fip_port['device_owner'], fip_port['tenant_id'], fip_port['network_id'],
            fip_port['fixed_ips'][0]['ip_address']) == \
        ('network:floatingip', '', public['id'], fip['floating_ip_address'])
    expect(admin.delete(url('ports', fip_port)), 409, 'ServicePortInUse')

    # Lists and filters, as the CLI and the SDK ask.
    for params in ({'port_id': vm['id']}, {'floating_ip_address': '203.0.113.11'},
                   {'router_id': router['id'], 'status': 'DOWN'},
                   {'floating_network_id': public['id']}):
        assert [f['id'] for f in alice.get(V + '/floatingips', params=params).json()[
            'floatingips']] == [fip['id']], params
    assert bob.get(V + '/floatingips').json()['floatingips'] == []
    expect(bob.get(url('floatingips', fip)), 404, 'FloatingIPNotFound')
    expect(bob.put(url('floatingips', fip), {'floatingip': {'port_id': None}}), 404)

    # One floating IP per fixed IP and external network.
    expect(alice.post(V + '/floatingips', {'floatingip': {
        'floating_network_id': public['id'], 'port_id': vm['id']}}), 409,
        'FloatingIPPortAlreadyAssociated')
    # The association holds the router's interface, gateway and the fixed IP.
    expect(remove_interface(alice, router, subnet_id=routed['net']['subnet']['id']), 409,
           'RouterInterfaceInUseByFloatingIP')
    expect(set_gateway(alice, router, None), 409, 'RouterExternalGatewayInUseByFloatingIp')
    expect(alice.put(url('ports', vm), {'port': {'fixed_ips': [
        {'ip_address': '10.30.0.99'}]}}), 400, 'BadRequest')
    expect(admin.delete(url('networks', public)), 409, 'NetworkInUse')

    # Disassociate with port_id null, associate again by PUT.
    down = expect(alice.put(url('floatingips', fip), {'floatingip': {'port_id': None}}),
                  200)['floatingip']
    assert (down['port_id'], down['fixed_ip_address'], down['router_id'], down['status']) == \
        (None, None, None, 'DOWN')
    up = expect(alice.put(url('floatingips', fip), {'floatingip': {
        'port_id': vm['id'], 'fixed_ip_address': vm['fixed_ips'][0]['ip_address']}}),
        200)['floatingip']
    assert (up['router_id'], up['status']) == (router['id'], 'DOWN')
    kept = expect(alice.put(url('floatingips', fip), {'floatingip': {'description': 'x'}}),
                  200)['floatingip']
    assert (kept['port_id'], kept['description']) == (vm['id'], 'x')

    # Deleting the port disassociates it.
    expect(alice.delete(url('ports', vm)), 204)
    gone = alice.get(url('floatingips', fip)).json()['floatingip']
    assert (gone['port_id'], gone['router_id'], gone['status']) == (None, None, 'DOWN')
    assert gone['revision_number'] > up['revision_number']
    # Deleting the floating IP frees its address and its port.
    expect(alice.delete(url('floatingips', fip)), 204)
    assert admin.get(V + '/ports', params={'device_id': fip['id']}).json()['ports'] == []
    again = alice.create('floatingip', floating_network_id=public['id'])
    assert (again['floating_ip_address'], again['status'], again['port_id']) == \
        ('203.0.113.11', 'DOWN', None)


def test_floating_ip_refusals(admin, alice, bob, routed):
    public, vm = routed['public'], routed['vm']
    create = lambda client, **attrs: client.post(V + '/floatingips', {'floatingip': dict(
        {'floating_network_id': public['id']}, **attrs)})
    unrouted = tenant_net(alice, 'unrouted', '10.31.0.0/24')
    lonely = alice.create('port', network_id=unrouted['id'])
    two_ips = alice.create('port', network_id=routed['net']['id'], fixed_ips=[
        {'subnet_id': routed['net']['subnet']['id']}, {'subnet_id': routed['net']['subnet']['id']}])
    bobs = bob.create('port', network_id=tenant_net(bob, 'bob-fip')['id'])
    router_port = admin.get(V + '/ports', params={
        'device_owner': 'network:router_interface', 'network_id': routed['net']['id']}).json()[
        'ports'][0]
    for client, attrs, status, type_ in (
            (alice, {'floating_ip_address': '203.0.113.12'}, 403, 'PolicyNotAuthorized'),
            (alice, {'floating_network_id': routed['net']['id']}, 400, 'BadRequest'),
            (alice, {'floating_network_id': '11111111-2222-3333-4444-555555555555'}, 404,
             'NetworkNotFound'),
            (alice, {'port_id': lonely['id']}, 404, 'ExternalGatewayForFloatingIPNotFound'),
            (alice, {'port_id': two_ips['id']}, 400, 'BadRequest'),
            (alice, {'port_id': vm['id'], 'fixed_ip_address': '10.30.0.200'}, 400,
             'BadRequest'),
            (alice, {'fixed_ip_address': '10.30.0.2'}, 400, 'BadRequest'),
            (alice, {'port_id': bobs['id']}, 404, 'PortNotFound'),
            (admin, {'port_id': router_port['id']}, 400, 'BadRequest'),
            (admin, {'floating_ip_address': '203.0.113.1'}, 409, 'IpAddressAlreadyAllocated'),
            (admin, {'floating_ip_address': '198.51.100.1'}, 400, 'InvalidIpForNetwork')):
        expect(create(client, **attrs), status, type_)
    assert alice.get(V + '/floatingips', params={'floating_network_id': public['id']}).json()[
        'floatingips'] == []
    # An admin chooses the address, or the subnet to take it from.
    chosen = admin.create('floatingip', floating_network_id=public['id'],
                          floating_ip_address='203.0.113.250', tenant_id='project-a')
    assert chosen['floating_ip_address'] == '203.0.113.250'
    by_subnet = alice.create('floatingip', floating_network_id=public['id'],
                             subnet_id=public['subnet']['id'], port_id=two_ips['id'],
                             fixed_ip_address=two_ips['fixed_ips'][1]['ip_address'])
    assert by_subnet['fixed_ip_address'] == two_ips['fixed_ips'][1]['ip_address']
    # A port holding another project's floating IP is not the project's to delete.
    expect(admin.put(url('floatingips', chosen), {'floatingip': {'port_id': vm['id']}}), 200)
    admin.put(url('floatingips', chosen), {'floatingip': {'port_id': None}})
    foreign = admin.create('floatingip', floating_network_id=public['id'], port_id=vm['id'])
    expect(alice.delete(url('ports', vm)), 409, 'FipAssociated')
    expect(admin.delete(url('floatingips', foreign)), 204)
    expect(alice.delete(url('ports', vm)), 204)


# -- network nodes and L3 agents ---------------------------------------------------

def test_routers_run_on_network_nodes_and_their_l3_agents(admin, alice, public, node):
    net = tenant_net(alice, 'scheduled', '10.40.0.0/24')
    router = alice.create('router', name='scheduled')
    assert expect(admin.get(url('routers', router, '/l3-agents')), 200) == {'agents': []}
    expect(add_interface(alice, router, subnet_id=net['subnet']['id']), 200)
    deadline = time.monotonic() + 15
    while True:
        agents = expect(admin.get(url('routers', router, '/l3-agents')), 200)['agents']
        if agents or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    # The least loaded of the module's network nodes.
    nodes = {h['name'] for h in admin.get(V + '/hosts', params={'role': 'network'}).json()[
        'hosts']}
    assert node['name'] in nodes
    assert [a['agent_type'] for a in agents] == ['L3 agent'] and agents[0]['host'] in nodes
    hosted = expect(admin.get('%s/agents/%s/l3-routers' % (V, agents[0]['id'])), 200)
    assert router['id'] in [r['id'] for r in hosted['routers']]
    expect(alice.get(url('routers', router, '/l3-agents')), 403, 'PolicyNotAuthorized')
    expect(admin.get(url('routers', {'id': 'nope'}, '/l3-agents')), 404, 'RouterNotFound')
    expect(admin.put(url('routers', router, '/l3-agents'), {}), 405)
    # The node runs a router: it stays a network node.
    [host] = admin.get(V + '/hosts', params={'name': agents[0]['host']}).json()['hosts']
    expect(admin.delete(url('hosts', host)), 409, 'HostInUse')
    expect(remove_interface(alice, router, subnet_id=net['subnet']['id']), 200)
    assert expect(admin.get(url('routers', router, '/l3-agents')), 200) == {'agents': []}
    expect(alice.delete(url('routers', router)), 204)


def agent_of(admin, host, timeout=15):
    """The agent of ``host``, once the server has reported it."""
    deadline = time.monotonic() + timeout
    while True:
        found = admin.get(V + '/agents', params={'host': host['name']}).json()['agents']
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    [agent] = found
    return agent


def test_an_admin_moves_a_router_between_network_nodes(admin, alice, bob, token_server):
    """l3_agent_scheduler's manual scheduling (openstack network agent add /
    remove router --l3): Neutron's answers and errors, and the router's
    allocation following it from node to node."""
    first, second = new_host(admin), new_host(admin)
    l3 = [agent_of(admin, first), agent_of(admin, second)]
    assert [a['agent_type'] for a in l3] == ['L3 agent', 'L3 agent']
    compute_agent = agent_of(admin, new_host(admin, role='compute'))
    net = tenant_net(alice, 'moved', '10.41.0.0/24')
    router = alice.create('router', name='moved')
    expect(add_interface(alice, router, subnet_id=net['subnet']['id']), 200)

    def l3_routers(agent, tail=''):
        return '%s/agents/%s/l3-routers%s' % (V, agent['id'], tail)

    def hosted_by():
        agents = expect(admin.get(url('routers', router, '/l3-agents')), 200)['agents']
        return [a['id'] for a in agents]

    def allocations():
        """{node name: the router's vrf_ip there}, from the server's store."""
        store = store_lib.open_store(token_server.store_url)
        try:
            return {a['host']: a['vrf_ip'] for a in store.list('routerallocations')
                    if a['router_id'] == router['id']}
        finally:
            store.close()

    # Wherever the automatic scheduler put it, an admin takes it off...
    [current] = hosted_by()
    assert len(allocations()) == 1
    expect(admin.delete(l3_routers({'id': current}, '/' + router['id'])), 204)
    assert hosted_by() == [] and allocations() == {}

    # ... and puts it on the first node: 201 and a JSON null, as Neutron.
    added = admin.post(l3_routers(l3[0]), {'router_id': router['id']})
    assert (added.status_code, added.headers['Content-Type'], added.text) == \
        (201, 'application/json', 'null')
    assert hosted_by() == [l3[0]['id']]
    assert list(allocations()) == [first['name']]
    assert [r['id'] for r in expect(admin.get(l3_routers(l3[0])), 200)['routers']] == \
        [router['id']]
    # Again: nothing changes.
    before = allocations()
    expect(admin.post(l3_routers(l3[0]), {'router_id': router['id']}), 201)
    assert allocations() == before and hosted_by() == [l3[0]['id']]

    # Refused, changing nothing: hosted elsewhere, not an L3 agent, unknown
    # agent or router, a body without router_id, a caller not an admin.
    expect(admin.post(l3_routers(l3[1]), {'router_id': router['id']}), 409,
           'RouterHostedByL3Agent')
    expect(admin.post(l3_routers(compute_agent), {'router_id': router['id']}), 404,
           'InvalidL3Agent')
    expect(admin.post(l3_routers({'id': 'nope'}), {'router_id': router['id']}), 404,
           'AgentNotFound')
    expect(admin.post(l3_routers(l3[1]), {'router_id': 'nope'}), 404, 'RouterNotFound')
    expect(admin.post(l3_routers(l3[1]), {'router': router['id']}), 400, 'BadRequest')
    expect(admin.delete(l3_routers({'id': 'nope'}, '/' + router['id'])), 404,
           'AgentNotFound')
    for caller in (alice, bob):
        expect(caller.post(l3_routers(l3[1]), {'router_id': router['id']}), 403,
               'PolicyNotAuthorized')
        expect(caller.delete(l3_routers(l3[0], '/' + router['id'])), 403,
               'PolicyNotAuthorized')
    assert allocations() == before and hosted_by() == [l3[0]['id']]

    # The move: remove, then add; the first node's allocation goes.
    expect(admin.delete(l3_routers(l3[0], '/' + router['id'])), 204)
    expect(admin.post(l3_routers(l3[1]), {'router_id': router['id']}), 201)
    assert hosted_by() == [l3[1]['id']]
    assert list(allocations()) == [second['name']]
    assert expect(admin.get(l3_routers(l3[0])), 200) == {'routers': []}
    # Its own project sees no difference.
    assert expect(alice.get(url('routers', router)), 200)['router']['name'] == 'moved'

    expect(remove_interface(alice, router, subnet_id=net['subnet']['id']), 200)
    assert hosted_by() == [] and allocations() == {}
    expect(alice.delete(url('routers', router)), 204)
