"""Unmodified openstacksdk against a running srv6-ofapp, over HTTP.

The SDK discovers the API version with ``GET /`` and then talks to
``/v2.0/...`` exactly as it talks to Neutron; every test here goes through
its public ``conn.network`` proxy.  Each test deletes what it created, so
that list queries see only the current test's resources.
"""

import ipaddress
import time
import uuid

import openstack
import pytest
import requests
from openstack import exceptions as sdk_exc

HOST = {'name': 'compute1', 'datapath_id': '0000000000000001',
        'segment_node_id': 'fd00:0:0:1::', 'underlay_ip': 'fd00::1'}


def wait_for(fetch, timeout=10):
    """What ``fetch`` returns once it is not empty (the server's own
    threads write some things a moment after the request that caused them)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def unique(prefix):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:8])


@pytest.fixture(scope='module')
def conn(server):
    connection = openstack.connection.Connection(
        auth_type='none', network_endpoint_override=server.url + '/')
    yield connection
    connection.close()


@pytest.fixture
def cleanup(conn):
    """Append (kind, id) of what a test creates; deleted newest first."""
    created = []
    yield created
    for kind, id_ in reversed(created):
        getattr(conn.network, 'delete_' + kind)(id_, ignore_missing=True)


@pytest.fixture
def network(conn, cleanup):
    net = conn.network.create_network(name=unique('net'))
    cleanup.append(('network', net.id))
    return net


@pytest.fixture
def subnet(conn, cleanup, network):
    sub = conn.network.create_subnet(network_id=network.id, cidr='10.0.0.0/24',
                                     ip_version=4)
    cleanup.append(('subnet', sub.id))
    return sub


def create_port(conn, cleanup, **attrs):
    port = conn.network.create_port(**attrs)
    cleanup.append(('port', port.id))
    return port


def ips(port):
    return [f['ip_address'] for f in port.fixed_ips]


def test_network_create_list_find_get_update(conn, cleanup):
    name = unique('net')
    net = conn.network.create_network(name=name, mtu=1400)
    cleanup.append(('network', net.id))
    assert (net.name, net.mtu, net.is_admin_state_up, net.status) == \
        (name, 1400, True, 'ACTIVE')

    assert [n.id for n in conn.network.networks(name=name)] == [net.id]
    assert list(conn.network.networks(name=unique('absent'))) == []
    # ignore_missing=False: the SDK 6.0 default (True is deprecated).
    assert conn.network.find_network(name, ignore_missing=False).id == net.id
    assert conn.network.find_network(net.id, ignore_missing=False).name == name

    fetched = conn.network.get_network(net.id)
    assert (fetched.id, fetched.name, fetched.mtu, fetched.subnet_ids) == \
        (net.id, name, 1400, [])

    renamed = unique('renamed')
    revision = fetched.revision_number
    updated = conn.network.update_network(net, name=renamed, is_admin_state_up=False)
    assert (updated.name, updated.is_admin_state_up) == (renamed, False)
    assert updated.revision_number > revision
    fetched = conn.network.get_network(net.id)
    assert (fetched.name, fetched.is_admin_state_up, fetched.mtu) == (renamed, False, 1400)
    assert net.id in {n.id for n in conn.network.networks(is_admin_state_up=False)}
    assert net.id not in {n.id for n in conn.network.networks(is_admin_state_up=True)}
    with pytest.raises(sdk_exc.NotFoundException):
        conn.network.find_network(name, ignore_missing=False)


def test_subnet_create_and_update(conn, cleanup, network):
    sub = conn.network.create_subnet(network_id=network.id, cidr='10.0.0.0/24',
                                     ip_version=4)
    cleanup.append(('subnet', sub.id))
    assert (sub.network_id, sub.cidr, sub.ip_version) == (network.id, '10.0.0.0/24', 4)
    assert sub.gateway_ip == '10.0.0.1'
    assert sub.allocation_pools == [{'start': '10.0.0.2', 'end': '10.0.0.254'}]
    assert conn.network.get_network(network.id).subnet_ids == [sub.id]

    name = unique('sub')
    updated = conn.network.update_subnet(sub, name=name,
                                         dns_nameservers=['8.8.8.8', '1.1.1.1'])
    assert (updated.name, updated.dns_nameservers) == (name, ['8.8.8.8', '1.1.1.1'])
    fetched = conn.network.get_subnet(sub.id)
    assert (fetched.name, fetched.dns_nameservers, fetched.cidr, fetched.gateway_ip) == \
        (name, ['8.8.8.8', '1.1.1.1'], '10.0.0.0/24', '10.0.0.1')
    assert [s.id for s in conn.network.subnets(network_id=network.id)] == [sub.id]


def test_ports_create_filter_update(conn, cleanup, network, subnet):
    fixed = create_port(conn, cleanup, network_id=network.id, name=unique('fixed'),
                        fixed_ips=[{'ip_address': '10.0.0.5'}])
    assert fixed.fixed_ips == [{'subnet_id': subnet.id, 'ip_address': '10.0.0.5'}]

    allocated = create_port(conn, cleanup, network_id=network.id)
    [address] = ips(allocated)
    assert ipaddress.ip_address(address) in ipaddress.ip_network('10.0.0.0/24')
    assert address not in ('10.0.0.1', '10.0.0.5')
    assert allocated.fixed_ips[0]['subnet_id'] == subnet.id
    assert allocated.mac_address != fixed.mac_address

    bound = create_port(conn, cleanup, network_id=network.id,
                        binding_host_id='not-a-known-host',
                        binding_profile={'local_link_information': [{'port_id': 'eth1'}]})
    assert bound.binding_host_id == 'not-a-known-host'
    assert bound.binding_profile == {'local_link_information': [{'port_id': 'eth1'}]}
    assert bound.binding_vif_type == 'binding_failed'  # no such host registered
    fetched = conn.network.get_port(bound.id)
    assert (fetched.binding_host_id, fetched.binding_profile) == \
        (bound.binding_host_id, bound.binding_profile)

    assert {p.id for p in conn.network.ports(network_id=network.id)} == \
        {fixed.id, allocated.id, bound.id}
    assert [p.id for p in conn.network.ports(fixed_ips=['ip_address=10.0.0.5'])] == \
        [fixed.id]
    assert [p.id for p in conn.network.ports(fixed_ips=['ip_address=%s' % address])] == \
        [allocated.id]

    name = unique('moved')
    updated = conn.network.update_port(fixed, name=name,
                                       fixed_ips=[{'ip_address': '10.0.0.6'}])
    assert (updated.name, ips(updated)) == (name, ['10.0.0.6'])
    assert ips(conn.network.get_port(fixed.id)) == ['10.0.0.6']
    assert [p.id for p in conn.network.ports(fixed_ips=['ip_address=10.0.0.6'])] == \
        [fixed.id]
    assert list(conn.network.ports(fixed_ips=['ip_address=10.0.0.5'])) == []
    # The old address was released: it can be taken again.
    again = create_port(conn, cleanup, network_id=network.id,
                        fixed_ips=[{'ip_address': '10.0.0.5'}])
    assert ips(again) == ['10.0.0.5']


def test_errors_map_to_sdk_exceptions(conn, cleanup, network, subnet):
    create_port(conn, cleanup, network_id=network.id, fixed_ips=[{'ip_address': '10.0.0.7'}])
    with pytest.raises(sdk_exc.ConflictException) as conflict:
        create_port(conn, cleanup, network_id=network.id,
                    fixed_ips=[{'ip_address': '10.0.0.7'}])
    assert conflict.value.status_code == 409
    assert '10.0.0.7' in conflict.value.details
    assert len(list(conn.network.ports(network_id=network.id))) == 1

    with pytest.raises(sdk_exc.BadRequestException) as bad:
        conn.network.create_subnet(network_id=network.id, cidr='10.0.300.0/24', ip_version=4)
    assert bad.value.status_code == 400
    assert 'cidr' in bad.value.details
    assert [s.id for s in conn.network.subnets(network_id=network.id)] == [subnet.id]

    with pytest.raises(sdk_exc.ConflictException):  # NetworkInUse: it still has a port
        conn.network.delete_network(network.id)
    with pytest.raises(sdk_exc.NotFoundException):
        conn.network.get_port(str(uuid.uuid4()))


def test_pagination_returns_every_network(conn, cleanup, server):
    for _ in range(5):
        cleanup.append(('network', conn.network.create_network(name=unique('page')).id))
    everything = [n.id for n in conn.network.networks()]
    assert len(everything) >= 5

    # The server really pages: two per page and a link to the next one.
    first = requests.get(server.url + '/v2.0/networks', params={'limit': 2}, timeout=10)
    assert first.status_code == 200
    assert len(first.json()['networks']) == 2
    assert [link['rel'] for link in first.json()['networks_links']] == ['next']

    paged = [n.id for n in conn.network.networks(limit=2)]
    assert len(paged) == len(set(paged))
    assert sorted(paged) == sorted(everything)
    assert {id_ for _, id_ in cleanup} <= set(paged)


def test_delete_port_subnet_network(conn, cleanup, network, subnet):
    ports = [create_port(conn, cleanup, network_id=network.id) for _ in range(2)]
    for port in ports:
        conn.network.delete_port(port)
        with pytest.raises(sdk_exc.NotFoundException):
            conn.network.get_port(port.id)
    assert list(conn.network.ports(network_id=network.id)) == []

    conn.network.delete_subnet(subnet)
    with pytest.raises(sdk_exc.NotFoundException):
        conn.network.get_subnet(subnet.id)
    assert conn.network.get_network(network.id).subnet_ids == []

    conn.network.delete_network(network)
    with pytest.raises(sdk_exc.NotFoundException) as missing:
        conn.network.get_network(network.id)
    assert network.id in missing.value.details
    with pytest.raises(sdk_exc.NotFoundException):
        conn.network.find_network(network.name, ignore_missing=False)
    assert network.id not in {n.id for n in conn.network.networks()}


@pytest.fixture
def compute_host(server):
    """compute1, registered through the plain REST API (the SDK has no hosts)."""
    hosts = server.url + '/v2.0/hosts'
    response = requests.post(hosts, json={'host': HOST}, timeout=10)
    assert response.status_code == 201, response.text
    host = response.json()['host']
    yield host
    # A host with bound ports cannot go: unbind whatever a failed test left.
    ports = requests.get(server.url + '/v2.0/ports',
                         params={'binding:host_id': HOST['name']}, timeout=10).json()
    for port in ports['ports']:
        requests.delete(server.url + '/v2.0/ports/' + port['id'], timeout=10)
    response = requests.delete(hosts + '/' + host['id'], timeout=10)
    assert response.status_code == 204, response.text


def test_binding_profile_from_host(request, conn, cleanup, network, subnet):
    early = create_port(conn, cleanup, network_id=network.id, binding_host_id=HOST['name'])
    assert early.binding_profile == {}
    assert early.binding_vif_type == 'binding_failed'

    host = request.getfixturevalue('compute_host')  # registered only now
    assert host['vrf_cidr'] == '169.254.0.0/16'
    port = create_port(conn, cleanup, network_id=network.id, binding_host_id=HOST['name'])
    assert port.binding_host_id == 'compute1'
    assert port.binding_vif_type == 'ovs'
    profile = port.binding_profile
    assert profile['segment_node_id'] == 'fd00:0:0:1::'
    assert profile['vrf'] == 'vrf' + network.project_id[:6] + network.id[:6]
    assert profile['vrf_cidr'] == '169.254.0.0/16'
    assert ipaddress.ip_address(profile['vrf_ip']) in ipaddress.ip_network('169.254.0.0/16')

    # One VRF per (host, network): the port bound before the host shares it.
    assert conn.network.get_port(early.id).binding_profile == profile
    assert conn.network.get_port(port.id).binding_profile == profile
    assert {p.id for p in conn.network.ports(binding_host_id='compute1')} == \
        {early.id, port.id}


def test_if_revision_updates_and_deletes_only_that_revision(conn, cleanup, network):
    revision = conn.network.get_network(network.id).revision_number
    with pytest.raises(sdk_exc.PreconditionFailedException) as stale:
        conn.network.update_network(network, name=unique('stale'), if_revision=revision - 1)
    assert stale.value.status_code == 412
    assert 'current revision is %d' % revision in stale.value.details
    updated = conn.network.update_network(network, name=unique('fresh'),
                                          if_revision=revision)
    assert updated.revision_number == revision + 1
    # By id: the SDK sends a Resource's header only when it changed.
    with pytest.raises(sdk_exc.PreconditionFailedException):
        conn.network.delete_network(network.id, if_revision=revision)
    conn.network.delete_network(network.id, if_revision=revision + 1)
    with pytest.raises(sdk_exc.NotFoundException):
        conn.network.get_network(network.id)


def test_tags(conn, cleanup, network):
    conn.network.set_tags(network, ['red', 'blue'])
    assert sorted(conn.network.get_network(network.id).tags) == ['blue', 'red']
    conn.network.add_tag(network, 'green')
    conn.network.remove_tag(network, 'red')
    assert conn.network.get_network(network.id).tags == ['blue', 'green']
    with pytest.raises(sdk_exc.NotFoundException):
        conn.network.remove_tag(network, 'red')
    assert [n.id for n in conn.network.networks(tags='blue,green')] == [network.id]
    assert [n.id for n in conn.network.networks(any_tags='red,green')] == [network.id]
    assert network.id not in {n.id for n in conn.network.networks(not_any_tags='green')}
    port = create_port(conn, cleanup, network_id=network.id, tags=['web'])
    assert port.tags == ['web']
    assert [p.id for p in conn.network.ports(tags='web')] == [port.id]


def test_routers_and_floating_ips(conn, cleanup, server, network, subnet):
    """A network node, a router with a gateway and an interface, a
    floating IP associated, moved off and deleted: the SDK's own calls."""
    hosts = server.url + '/v2.0/hosts'
    node = requests.post(hosts, timeout=10, json={'host': {
        'name': 'sdk-nn1', 'datapath_id': '00000000000000f1', 'segment_node_id': 'fd00:0:0:f1::',
        'underlay_ip': 'fd00::f1', 'role': 'network', 'external_interface': 'eth1'}})
    assert node.status_code == 201, node.text
    public = conn.network.create_network(name=unique('public'), is_router_external=True)
    cleanup.append(('network', public.id))
    public_subnet = conn.network.create_subnet(network_id=public.id, ip_version=4,
                                               cidr='198.51.100.0/24')
    cleanup.append(('subnet', public_subnet.id))

    router = conn.network.create_router(name=unique('router'),
                                        external_gateway_info={'network_id': public.id})
    cleanup.append(('router', router.id))
    assert (router.status, router.is_admin_state_up) == ('ACTIVE', True)
    assert router.external_gateway_info['enable_snat'] is True
    assert router.external_gateway_info['external_fixed_ips'] == [
        {'subnet_id': public_subnet.id, 'ip_address': '198.51.100.2'}]
    added = conn.network.add_interface_to_router(router, subnet=subnet.id)
    assert (added['subnet_id'], added['id']) == (subnet.id, router.id)
    interface = conn.network.get_port(added['port_id'])
    assert (interface.device_owner, ips(interface)) == ('network:router_interface',
                                                        ['10.0.0.1'])
    assert [r.id for r in conn.network.routers(name=router.name)] == [router.id]

    vm = create_port(conn, cleanup, network_id=network.id)
    fip = conn.network.create_ip(floating_network_id=public.id, port_id=vm.id)
    cleanup.append(('ip', fip.id))
    # DOWN: no network node of this server builds routers (as Neutron's
    # status until an L3 agent has applied the floating IP).
    assert (fip.port_id, fip.fixed_ip_address, fip.router_id, fip.status) == \
        (vm.id, ips(vm)[0], router.id, 'DOWN')
    assert conn.network.find_ip(fip.floating_ip_address, ignore_missing=False).id == fip.id
    assert [f.id for f in conn.network.ips(port_id=vm.id)] == [fip.id]
    with pytest.raises(sdk_exc.ConflictException):     # the floating IP needs the interface
        conn.network.remove_interface_from_router(router, subnet=subnet.id)

    down = conn.network.update_ip(fip, port_id=None)
    assert (down.port_id, down.router_id, down.status) == (None, None, 'DOWN')
    lonely = create_port(conn, cleanup, network_id=public.id, name=unique('no'))
    with pytest.raises(sdk_exc.NotFoundException):      # no router reaches it
        conn.network.update_ip(fip, port_id=lonely.id)

    # The router's L3 agent: the all-in-one server reports one for the
    # network node it serves as soon as the host is registered.
    hosting = wait_for(lambda: list(conn.network.routers_hosting_l3_agents(router)))
    assert [(a.host, a.agent_type) for a in hosting] == [('sdk-nn1', 'L3 agent')]

    conn.network.delete_ip(fip)
    removed = conn.network.remove_interface_from_router(router, subnet=subnet.id)
    assert removed['port_id'] == added['port_id']
    conn.network.update_router(router, external_gateway_info={})
    assert conn.network.get_router(router.id).external_gateway_info is None
    conn.network.delete_router(router)
    with pytest.raises(sdk_exc.NotFoundException):
        conn.network.get_router(router.id)
    response = requests.delete(hosts + '/' + node.json()['host']['id'], timeout=10)
    assert response.status_code == 204, response.text
