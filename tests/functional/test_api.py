"""The REST API over real HTTP against a running srv6-ofapp (noauth: admin)."""

import collections
import ipaddress
import sqlite3

import pytest

from topology import vrf as vrf_lib

V = '/v2.0'


def store_revision(server):
    """The revision of the store's last change to the model, read from the
    sqlite file itself.  Agents' reports are left out: the server's own
    state reporter writes them whenever it likes (a host just registered,
    every report_interval), and they are not what a request changed."""
    with sqlite3.connect(server.store_path) as conn:
        return conn.execute(
            "SELECT max(revision) FROM changes WHERE kind NOT IN "
            "('agents', 'agent_heartbeats')").fetchone()[0]


@pytest.fixture
def net(client):
    """A network with a /24 subnet and one port on 10.0.0.5."""
    network = client.create('network', name='net-a')
    subnet = client.create('subnet', network_id=network['id'], cidr='10.0.0.0/24',
                           ip_version=4)
    port = client.create('port', network_id=network['id'],
                         fixed_ips=[{'ip_address': '10.0.0.5'}])
    return {'network': network, 'subnet': subnet, 'port': port}


def test_version_document_and_extensions(client):
    versions = client.get('/').json()['versions']
    assert versions[0]['id'] == 'v2.0' and versions[0]['status'] == 'CURRENT'
    assert versions[0]['links'][0]['rel'] == 'self'
    aliases = {e['alias'] for e in client.get(V + '/extensions').json()['extensions']}
    assert {'binding', 'srv6-encap-network', 'extra_dhcp_opt', 'allowed-address-pairs',
            'port-security'} <= aliases
    assert client.get(V + '/extensions/binding').json()['extension']['alias'] == 'binding'
    collections = {r['collection'] for r in client.get(V + '/').json()['resources']}
    assert {'networks', 'subnets', 'ports', 'hosts', 'srv6_encap_networks'} <= collections


def test_network_subnet_port_defaults(client, net):
    network, subnet, port = net['network'], net['subnet'], net['port']
    assert network['status'] == 'ACTIVE' and network['admin_state_up'] is True
    assert network['mtu'] == 1500 - 64
    assert network['tenant_id'] == network['project_id'] == 'admin'
    assert subnet['gateway_ip'] == '10.0.0.1'
    assert subnet['allocation_pools'] == [{'start': '10.0.0.2', 'end': '10.0.0.254'}]
    assert subnet['enable_dhcp'] is True
    assert client.get(V + '/networks/' + network['id']).json()['network']['subnets'] == \
        [subnet['id']]
    assert port['status'] == 'DOWN'
    assert port['mac_address'].startswith('fa:16:3e:')
    assert port['fixed_ips'] == [{'subnet_id': subnet['id'], 'ip_address': '10.0.0.5'}]
    assert port['binding:vif_type'] == 'unbound'
    allocated = client.create('port', network_id=network['id'])
    assert allocated['fixed_ips'][0]['ip_address'] == '10.0.0.2'
    assert allocated['mac_address'] != port['mac_address']


def test_update_changes_only_what_was_asked(client, net):
    port = net['port']
    response = client.put(V + '/ports/' + port['id'], {'port': {'name': 'vm1'}})
    assert response.status_code == 200
    updated = response.json()['port']
    assert updated['name'] == 'vm1'
    assert updated['revision_number'] == port['revision_number'] + 1
    for attr in ('mac_address', 'fixed_ips', 'network_id', 'created_at', 'status'):
        assert updated[attr] == port[attr]
    # Changing fixed_ips frees the old address for others.
    client.put(V + '/ports/' + port['id'], {'port': {'fixed_ips': [
        {'ip_address': '10.0.0.6'}]}})
    other = client.create('port', network_id=net['network']['id'],
                          fixed_ips=[{'ip_address': '10.0.0.5'}])
    assert other['fixed_ips'][0]['ip_address'] == '10.0.0.5'


def test_delete_frees_ip_and_mac(client, net):
    port = net['port']
    assert client.delete(V + '/ports/' + port['id']).status_code == 204
    assert client.get(V + '/ports/' + port['id']).status_code == 404
    again = client.create('port', network_id=net['network']['id'],
                          mac_address=port['mac_address'],
                          fixed_ips=[{'ip_address': '10.0.0.5'}])
    assert again['mac_address'] == port['mac_address']


def test_allocation_takes_the_lowest_free_address(client):
    network = client.create('network', name='lowest')
    subnet = client.create('subnet', network_id=network['id'], cidr='10.80.0.0/24')
    ports = [client.create('port', network_id=network['id']) for _ in range(3)]
    assert [p['fixed_ips'][0]['ip_address'] for p in ports] == \
        ['10.80.0.2', '10.80.0.3', '10.80.0.4']
    client.delete(V + '/ports/' + ports[1]['id'])
    again = client.create('port', network_id=network['id'])
    assert again['fixed_ips'][0]['ip_address'] == '10.80.0.3'
    assert client.create('port', network_id=network['id'])['fixed_ips'][0][
        'ip_address'] == '10.80.0.5'
    # New pools: allocation follows them, from their start.
    client.put(V + '/subnets/' + subnet['id'], {'subnet': {'allocation_pools': [
        {'start': '10.80.0.100', 'end': '10.80.0.101'}, {'start': '10.80.0.50',
                                                         'end': '10.80.0.50'}]}})
    got = [client.create('port', network_id=network['id'])['fixed_ips'][0]['ip_address']
           for _ in range(3)]
    assert got == ['10.80.0.50', '10.80.0.100', '10.80.0.101']
    response = client.post(V + '/ports', {'port': {'network_id': network['id']}})
    assert response.status_code == 409


def test_a_gateway_less_subnet_keeps_its_service_address_from_ports(client):
    network = client.create('network', name='no-gateway')
    subnet = client.create('subnet', network_id=network['id'], cidr='10.83.0.0/24',
                           gateway_ip=None)
    assert subnet['gateway_ip'] is None
    # The address DHCP replies come from (the lowest host address) is internal.
    for shown in (subnet, client.get(V + '/subnets/' + subnet['id']).json()['subnet'],
                  client.get(V + '/subnets', params={'id': subnet['id']}).json()[
                      'subnets'][0]):
        assert 'service_ip' not in shown, shown
    response = client.post(V + '/ports', {'port': {
        'network_id': network['id'], 'fixed_ips': [{'ip_address': '10.83.0.1'}]}})
    assert response.status_code == 409, response.text
    assert response.json()['NeutronError']['type'] == 'IpAddressAlreadyAllocated'
    port = client.create('port', network_id=network['id'])
    assert port['fixed_ips'][0]['ip_address'] == '10.83.0.2'
    assert client.get(V + '/ports', params={'fixed_ips': 'ip_address=10.83.0.1'}).json()[
        'ports'] == []


def test_delete_network_takes_its_subnets_and_encap_networks(client):
    network = client.create('network', name='doomed')
    subnet = client.create('subnet', network_id=network['id'], cidr='10.9.0.0/24')
    encap = client.create('srv6_encap_network', network_id=network['id'], encap_rules=[
        {'destination': '10.200.0.0/24', 'nexthop': 'fd00:0:0:9::1'}])
    assert client.delete(V + '/networks/' + network['id']).status_code == 204
    assert client.get(V + '/subnets/' + subnet['id']).status_code == 404
    assert client.get(V + '/srv6_encap_networks/' + encap['id']).status_code == 404


def test_a_subnet_an_admin_adds_belongs_to_the_network_owner(client):
    network = client.post(V + '/networks', {'network': {'name': 'owned'}},
                          headers={'X-Project-Id': 'tenant-x'}).json()['network']
    subnet = client.create('subnet', network_id=network['id'], cidr='10.82.0.0/24')
    assert subnet['tenant_id'] == 'tenant-x'


def test_same_cidr_in_two_networks_is_allowed(client):
    for name in ('tenant-x', 'tenant-y'):
        network = client.create('network', name=name)
        subnet = client.create('subnet', network_id=network['id'], cidr='10.50.0.0/24')
        assert subnet['cidr'] == '10.50.0.0/24'


def test_list_filters_fields_sorting_and_pagination(client):
    names = ['page-%02d' % i for i in range(7)]
    for name in reversed(names):
        client.create('network', name=name, admin_state_up=name != 'page-03')
    listed = client.get(V + '/networks', params={'name': ['page-01', 'page-04']}).json()
    assert sorted(n['name'] for n in listed['networks']) == ['page-01', 'page-04']

    down = client.get(V + '/networks', params={'admin_state_up': 'False'}).json()
    assert [n['name'] for n in down['networks']] == ['page-03']

    only = client.get(V + '/networks', params={'name': 'page-02',
                                               'fields': ['id', 'name']}).json()
    assert set(only['networks'][0]) == {'id', 'name'}

    ordered = client.get(V + '/networks', params={'sort_key': 'name', 'sort_dir': 'desc'})
    ours = [n['name'] for n in ordered.json()['networks'] if n['name'] in names]
    assert ours == sorted(names, reverse=True)

    seen, params = [], {'sort_key': 'name', 'sort_dir': 'asc', 'limit': 3}
    url = V + '/networks'
    for _ in range(20):
        page = client.get(url, params=params).json()
        seen += [n['name'] for n in page['networks']]
        links = [link for link in page.get('networks_links', []) if link['rel'] == 'next']
        if not links:
            break
        assert len(page['networks']) == 3
        url, params = links[0]['href'][len(client.url):], None
    assert [n for n in seen if n in names] == names


def test_bulk_create_is_all_or_nothing(client, server):
    network = client.create('network', name='bulk')
    client.create('subnet', network_id=network['id'], cidr='10.60.0.0/24')
    response = client.post(V + '/ports', {'ports': [
        {'network_id': network['id'], 'name': 'b1'},
        {'network_id': network['id'], 'name': 'b2'}]})
    assert response.status_code == 201
    assert [p['name'] for p in response.json()['ports']] == ['b1', 'b2']

    before = store_revision(server)
    response = client.post(V + '/ports', {'ports': [
        {'network_id': network['id'], 'name': 'ok'},
        {'network_id': network['id'], 'name': 'bad', 'mac_address': 'nope'}]})
    assert response.status_code == 400
    assert store_revision(server) == before
    names = [p['name'] for p in client.get(V + '/ports', params={
        'network_id': network['id']}).json()['ports']]
    assert sorted(names) == ['b1', 'b2']


def test_port_filters_by_fixed_ip_and_device(client, net):
    client.put(V + '/ports/' + net['port']['id'], {'port': {'device_id': 'vm-42'}})
    by_ip = client.get(V + '/ports', params={'fixed_ips': 'ip_address=10.0.0.5',
                                             'network_id': net['network']['id']}).json()
    assert [p['id'] for p in by_ip['ports']] == [net['port']['id']]
    everywhere = client.get(V + '/ports', params={'fixed_ips': 'ip_address=10.0.0.5'})
    assert all(p['fixed_ips'][0]['ip_address'] == '10.0.0.5'
               for p in everywhere.json()['ports'])
    by_device = client.get(V + '/ports', params={'device_id': 'vm-42'}).json()
    assert [p['id'] for p in by_device['ports']] == [net['port']['id']]


def test_extra_dhcp_opts_merge_by_name(client, net):
    port_url = V + '/ports/' + net['port']['id']
    client.put(port_url, {'port': {'extra_dhcp_opts': [
        {'opt_name': 'bootfile-name', 'opt_value': 'pxelinux.0'},
        {'opt_name': 'tftp-server', 'opt_value': '10.0.0.9'}]}})
    client.put(port_url, {'port': {'extra_dhcp_opts': [
        {'opt_name': 'tftp-server', 'opt_value': None},
        {'opt_name': 'bootfile-name', 'opt_value': 'grub.efi'}]}})
    opts = client.get(port_url).json()['port']['extra_dhcp_opts']
    assert opts == [{'opt_name': 'bootfile-name', 'opt_value': 'grub.efi', 'ip_version': 4}]


def test_binding_profile_from_host_and_vrf_allocation(client):
    client.create('host', name='hv1', datapath_id='00000000000000a1',
                  segment_node_id='fd00:0:0:a1::', underlay_ip='fd00::a1',
                  vrf_cidr='169.254.10.0/29')
    net1 = client.create('network', name='bind-1')
    net2 = client.create('network', name='bind-2')
    for network in (net1, net2):
        client.create('subnet', network_id=network['id'], cidr='10.70.0.0/24')

    p1 = client.create('port', network_id=net1['id'], **{'binding:host_id': 'hv1'})
    p2 = client.create('port', network_id=net1['id'], **{'binding:host_id': 'hv1'})
    p3 = client.create('port', network_id=net2['id'], **{'binding:host_id': 'hv1'})
    profile = p1['binding:profile']
    assert profile['segment_node_id'] == 'fd00:0:0:a1::'
    assert profile['vrf'] == 'vrf' + net1['tenant_id'][:6] + net1['id'][:6]
    assert profile['vrf_cidr'] == '169.254.10.0/29'
    assert profile['vrf_ip'] == '169.254.10.1'
    assert p1['binding:vif_type'] == 'ovs'
    # One vrf_ip per (host, network): same for every port of the network.
    assert p2['binding:profile'] == profile
    assert p3['binding:profile']['vrf_ip'] == '169.254.10.2'
    assert vrf_lib.sid(profile['segment_node_id'], profile['vrf_ip']) == \
        'fd00::a1:0:0:a9fe:a01'

    # Released when the network's last port leaves the host.
    client.delete(V + '/ports/' + p1['id'])
    client.put(V + '/ports/' + p2['id'], {'port': {'binding:host_id': ''}})
    unbound = client.get(V + '/ports/' + p2['id']).json()['port']
    assert unbound['binding:vif_type'] == 'unbound' and unbound['binding:profile'] == {}
    net3 = client.create('network', name='bind-3')
    p4 = client.create('port', network_id=net3['id'], **{'binding:host_id': 'hv1'})
    assert p4['binding:profile']['vrf_ip'] == '169.254.10.1'

    # A host that is still in use cannot go, and its vrf_cidr cannot change.
    host = client.get(V + '/hosts', params={'name': 'hv1'}).json()['hosts'][0]
    assert client.delete(V + '/hosts/' + host['id']).status_code == 409
    response = client.put(V + '/hosts/' + host['id'], {'host': {
        'vrf_cidr': '169.254.20.0/24'}})
    assert response.status_code == 409


def test_port_bound_before_its_host_exists(client):
    network = client.create('network', name='early')
    port = client.create('port', network_id=network['id'], **{'binding:host_id': 'hv-late'})
    assert port['binding:vif_type'] == 'binding_failed'
    client.create('host', name='hv-late', datapath_id='00000000000000b2',
                  segment_node_id='fd00:0:0:b2::', underlay_ip='fd00::b2')
    bound = client.get(V + '/ports/' + port['id']).json()['port']
    assert bound['binding:vif_type'] == 'ovs'
    assert ipaddress.ip_address(bound['binding:profile']['vrf_ip']) in \
        ipaddress.ip_network('169.254.0.0/16')


def test_client_supplied_profile_for_unknown_host_is_kept(client):
    network = client.create('network', name='supplied')
    profile = {'segment_node_id': 'fd00:0:0:77::', 'vrf': 'vrfabcdef123456',
               'vrf_cidr': '169.254.0.0/16', 'vrf_ip': '169.254.7.7', 'other': 1}
    port = client.create('port', network_id=network['id'],
                         **{'binding:host_id': 'elsewhere', 'binding:profile': profile})
    assert port['binding:profile'] == profile
    # Once the host is known, the API's allocation is the authority.
    client.create('host', name='elsewhere', datapath_id='00000000000000c3',
                  segment_node_id='fd00:0:0:c3::', underlay_ip='fd00::c3')
    bound = client.get(V + '/ports/' + port['id']).json()['port']['binding:profile']
    assert bound['segment_node_id'] == 'fd00:0:0:c3::'
    assert bound['vrf'] == 'vrf' + network['tenant_id'][:6] + network['id'][:6]
    assert bound['vrf_ip'] != '169.254.7.7' and bound['other'] == 1


# -- bad input: status, error type, and no change to the store ---------------

def _bad_requests(ids):
    """(name, method, path, body, status, type); ids fill {net}, {subnet}, {port}."""
    return [
        ('body not json', 'POST', '/networks', b'{nope', 400, 'HTTPBadRequest'),
        ('body without resource', 'POST', '/networks', {'nets': {}}, 400, 'BadRequest'),
        ('unknown attribute', 'POST', '/networks', {'network': {'colour': 'red'}}, 400,
         'HTTPBadRequest'),
        ('read-only attribute', 'POST', '/networks', {'network': {'status': 'DOWN'}},
         400, 'HTTPBadRequest'),
        ('wrong type', 'POST', '/networks', {'network': {'admin_state_up': 'maybe'}}, 400,
         'HTTPBadRequest'),
        ('name not a string', 'POST', '/networks', {'network': {'name': 7}}, 400,
         'HTTPBadRequest'),
        ('mtu too small', 'POST', '/networks', {'network': {'mtu': 10}}, 400,
         'HTTPBadRequest'),
        ('mtu too big for the underlay', 'POST', '/networks', {'network': {'mtu': 1500}},
         400, 'InvalidInput'),
        ('tenant_id and project_id differ', 'POST', '/networks', {'network': {
            'tenant_id': 'a', 'project_id': 'b'}}, 400, 'HTTPBadRequest'),
        ('bad cidr', 'POST', '/subnets', {'subnet': {
            'network_id': ids['net'], 'cidr': '10.0.0.300/24'}}, 400, 'HTTPBadRequest'),
        ('cidr with host bits', 'POST', '/subnets', {'subnet': {
            'network_id': ids['net'], 'cidr': '10.1.0.1/24'}}, 400, 'HTTPBadRequest'),
        ('ipv6 subnet', 'POST', '/subnets', {'subnet': {
            'network_id': ids['net'], 'cidr': '10.2.0.0/24', 'ip_version': 6}}, 400,
         'InvalidInput'),
        ('network_id not a uuid', 'POST', '/subnets', {'subnet': {
            'network_id': 'xyz', 'cidr': '10.3.0.0/24'}}, 400, 'HTTPBadRequest'),
        ('subnet on unknown network', 'POST', '/subnets', {'subnet': {
            'network_id': '11111111-2222-3333-4444-555555555555',
            'cidr': '10.3.0.0/24'}}, 404, 'NetworkNotFound'),
        ('missing cidr', 'POST', '/subnets', {'subnet': {'network_id': ids['net']}}, 400,
         'HTTPBadRequest'),
        ('overlapping subnet', 'POST', '/subnets', {'subnet': {
            'network_id': ids['net'], 'cidr': '10.0.0.128/25'}}, 400, 'InvalidInput'),
        ('gateway outside subnet', 'POST', '/subnets', {'subnet': {
            'network_id': ids['net'], 'cidr': '10.4.0.0/24', 'gateway_ip': '10.5.0.1'}},
         400, 'InvalidInput'),
        ('pool outside subnet', 'POST', '/subnets', {'subnet': {
            'network_id': ids['net'], 'cidr': '10.4.0.0/24', 'allocation_pools': [
                {'start': '10.4.0.10', 'end': '10.4.1.10'}]}}, 400, 'InvalidInput'),
        ('pool holds the gateway', 'POST', '/subnets', {'subnet': {
            'network_id': ids['net'], 'cidr': '10.4.0.0/24', 'allocation_pools': [
                {'start': '10.4.0.1', 'end': '10.4.0.10'}]}}, 400, 'InvalidInput'),
        ('dns not an address', 'POST', '/subnets', {'subnet': {
            'network_id': ids['net'], 'cidr': '10.4.0.0/24',
            'dns_nameservers': ['dns.example']}}, 400, 'HTTPBadRequest'),
        ('host route without nexthop', 'POST', '/subnets', {'subnet': {
            'network_id': ids['net'], 'cidr': '10.4.0.0/24',
            'host_routes': [{'destination': '0.0.0.0/0'}]}}, 400, 'HTTPBadRequest'),
        ('bad mac', 'POST', '/ports', {'port': {
            'network_id': ids['net'], 'mac_address': 'zz:zz'}}, 400, 'HTTPBadRequest'),
        ('multicast mac', 'POST', '/ports', {'port': {
            'network_id': ids['net'], 'mac_address': '01:00:5e:00:00:01'}}, 400,
         'HTTPBadRequest'),
        ('mac in use', 'POST', '/ports', {'port': {
            'network_id': ids['net'], 'mac_address': ids['mac']}}, 409, 'MacAddressInUse'),
        ('ip outside subnet', 'POST', '/ports', {'port': {
            'network_id': ids['net'], 'fixed_ips': [
                {'subnet_id': ids['subnet'], 'ip_address': '10.9.9.9'}]}}, 400,
         'InvalidIpForSubnet'),
        ('ip on no subnet of the network', 'POST', '/ports', {'port': {
            'network_id': ids['net'], 'fixed_ips': [{'ip_address': '10.9.9.9'}]}}, 400,
         'InvalidIpForNetwork'),
        ('ip in use', 'POST', '/ports', {'port': {
            'network_id': ids['net'], 'fixed_ips': [{'ip_address': '10.0.0.5'}]}}, 409,
         'IpAddressAlreadyAllocated'),
        ('ip is the gateway', 'POST', '/ports', {'port': {
            'network_id': ids['net'], 'fixed_ips': [{'ip_address': '10.0.0.1'}]}}, 409,
         'IpAddressAlreadyAllocated'),
        ('ip not an address', 'POST', '/ports', {'port': {
            'network_id': ids['net'], 'fixed_ips': [{'ip_address': '10.0.0'}]}}, 400,
         'HTTPBadRequest'),
        ('pool exhausted', 'POST', '/ports', {'port': {'network_id': ids['full_net']}},
         409, 'IpAddressGenerationFailure'),
        ('port on unknown network', 'POST', '/ports', {'port': {
            'network_id': '11111111-2222-3333-4444-555555555555'}}, 404, 'NetworkNotFound'),
        ('address pairs without port security', 'POST', '/ports', {'port': {
            'network_id': ids['net'], 'port_security_enabled': False,
            'allowed_address_pairs': [{'ip_address': '10.0.0.77'}]}}, 409,
         'AddressPairAndPortSecurityRequired'),
        ('security groups', 'POST', '/ports', {'port': {
            'network_id': ids['net'], 'security_groups': ['default']}}, 400,
         'HTTPBadRequest'),
        ('profile vrf_ip not an address', 'POST', '/ports', {'port': {
            'network_id': ids['net'], 'binding:profile': {'vrf_ip': 'x'}}}, 400,
         'HTTPBadRequest'),
        ('profile disagrees with the host', 'POST', '/ports', {'port': {
            'network_id': ids['net'], 'binding:host_id': 'hv-bad',
            'binding:profile': {'vrf_ip': '169.254.99.99'}}}, 400, 'InvalidInput'),
        ('update to a mac in use', 'PUT', '/ports/' + ids['port2'], {'port': {
            'mac_address': ids['mac']}}, 409, 'MacAddressInUse'),
        ('update network_id', 'PUT', '/ports/' + ids['port'], {'port': {
            'network_id': ids['net']}}, 400, 'HTTPBadRequest'),
        ('update unknown attribute', 'PUT', '/ports/' + ids['port'], {'port': {
            'colour': 'red'}}, 400, 'HTTPBadRequest'),
        ('update to an ip in use', 'PUT', '/ports/' + ids['port2'], {'port': {
            'fixed_ips': [{'ip_address': '10.0.0.5'}]}}, 409, 'IpAddressAlreadyAllocated'),
        ('update unknown port', 'PUT', '/ports/11111111-2222-3333-4444-555555555555',
         {'port': {'name': 'x'}}, 404, 'PortNotFound'),
        ('delete network with ports', 'DELETE', '/networks/' + ids['net'], None, 409,
         'NetworkInUse'),
        ('delete subnet with ports', 'DELETE', '/subnets/' + ids['subnet'], None, 409,
         'SubnetInUse'),
        ('delete unknown subnet', 'DELETE', '/subnets/nope', None, 404, 'SubnetNotFound'),
        ('get unknown network', 'GET', '/networks/nope', None, 404, 'NetworkNotFound'),
        ('unknown collection', 'GET', '/lbaas/loadbalancers', None, 404, 'HTTPNotFound'),
        ('method not allowed', 'PATCH', '/networks', None, 405, 'HTTPMethodNotAllowed'),
        ('unknown filter', 'GET', '/networks?colour=red', None, 400, 'HTTPBadRequest'),
        ('bad sort key', 'GET', '/networks?sort_key=colour', None, 400, 'HTTPBadRequest'),
        ('bad sort dir', 'GET', '/networks?sort_key=name&sort_dir=up', None, 400,
         'HTTPBadRequest'),
        ('bad limit', 'GET', '/networks?limit=-1', None, 400, 'HTTPBadRequest'),
        ('unknown marker', 'GET', '/networks?limit=1&marker=nope', None, 400,
         'HTTPBadRequest'),
        ('bad datapath id', 'POST', '/hosts', {'host': {
            'name': 'h', 'datapath_id': '12', 'segment_node_id': 'fd00:0:0:5::',
            'underlay_ip': 'fd00::5'}}, 400, 'HTTPBadRequest'),
        ('sid prefix uses the low 32 bits', 'POST', '/hosts', {'host': {
            'name': 'h', 'datapath_id': '0000000000000005',
            'segment_node_id': 'fd00:0:0:5::1', 'underlay_ip': 'fd00::5'}}, 400,
         'InvalidInput'),
        ('empty host name', 'POST', '/hosts', {'host': {
            'name': '', 'datapath_id': '0000000000000007',
            'segment_node_id': 'fd00:0:0:7::', 'underlay_ip': 'fd00::7'}}, 400,
         'HTTPBadRequest'),
        ('bad ovsdb target', 'POST', '/hosts', {'host': {
            'name': 'h-ovsdb', 'datapath_id': '0000000000000008',
            'segment_node_id': 'fd00:0:0:8::', 'underlay_ip': 'fd00::8',
            'ovsdb': 'localhost'}}, 400, 'HTTPBadRequest'),
        ('duplicate host name', 'POST', '/hosts', {'host': {
            'name': 'hv-bad', 'datapath_id': '0000000000000006',
            'segment_node_id': 'fd00:0:0:6::', 'underlay_ip': 'fd00::6'}}, 409,
         'HostNameInUse'),
        ('encap nexthop not ipv6', 'POST', '/srv6_encap_networks', {'srv6_encap_network': {
            'network_id': ids['net'], 'encap_rules': [
                {'destination': '10.100.0.0/24', 'nexthop': '10.0.0.1'}]}}, 400,
         'HTTPBadRequest'),
        ('encap destination not a cidr', 'POST', '/srv6_encap_networks', {
            'srv6_encap_network': {'network_id': ids['net'], 'encap_rules': [
                {'destination': 'everything', 'nexthop': 'fd00::1'}]}}, 400,
         'HTTPBadRequest'),
        ('encap destination repeated', 'POST', '/srv6_encap_networks', {
            'srv6_encap_network': {'network_id': ids['net'], 'encap_rules': [
                {'destination': '10.100.0.0/24', 'nexthop': 'fd00::1'},
                {'destination': '10.100.0.0/24', 'nexthop': 'fd00::2'}]}}, 400,
         'InvalidInput'),
    ]


@pytest.fixture(scope='module')
def bad_input_world(server):
    from tests.conftest import Client
    client = Client(server.url)
    network = client.create('network', name='bad-input')
    subnet = client.create('subnet', network_id=network['id'], cidr='10.0.0.0/24')
    port = client.create('port', network_id=network['id'],
                         fixed_ips=[{'ip_address': '10.0.0.5'}])
    port2 = client.create('port', network_id=network['id'])
    full = client.create('network', name='full')
    client.create('subnet', network_id=full['id'], cidr='10.8.0.0/30')  # one pool address
    client.create('port', network_id=full['id'])
    client.create('host', name='hv-bad', datapath_id='00000000000000f1',
                  segment_node_id='fd00:0:0:f1::', underlay_ip='fd00::f1')
    return {'net': network['id'], 'subnet': subnet['id'], 'port': port['id'],
            'port2': port2['id'], 'mac': port['mac_address'], 'full_net': full['id']}


def _all_resources(client):
    return {c: client.get(V + '/' + c).json()[c]
            for c in ('networks', 'subnets', 'ports', 'hosts', 'srv6_encap_networks')}


BAD_CASES = [case[0] for case in _bad_requests(collections.defaultdict(str))]


@pytest.mark.parametrize('case', BAD_CASES)
def test_bad_input_is_refused_and_changes_nothing(client, server, bad_input_world, case):
    cases = {c[0]: c for c in _bad_requests(bad_input_world)}
    name, method, path, body, status, error_type = cases[case]
    before_revision = store_revision(server)
    before = _all_resources(client)
    if isinstance(body, bytes):
        response = client.session.request(method, client.url + V + path, data=body,
                                          headers={'Content-Type': 'application/json'})
    else:
        response = client.request(method, V + path, body)
    assert response.status_code == status, (name, response.text)
    assert response.headers['Content-Type'].startswith('application/json'), name
    error = response.json()['NeutronError']
    assert error['type'] == error_type, (name, error)
    assert error['message'] and error['detail'] == '', name
    assert store_revision(server) == before_revision, name
    assert _all_resources(client) == before, name


def test_fixed_ips_update_forms_clients_send(client):
    network = client.create('network', name='fixed-forms')
    subnet = client.create('subnet', network_id=network['id'], cidr='10.81.0.0/24')
    port = client.create('port', network_id=network['id'],
                         fixed_ips=[{'ip_address': '10.81.0.5'}])
    url = V + '/ports/' + port['id']
    forms = ([{'ip_address': '10.81.0.5'}],               # the address it already has
             [{'subnet_id': subnet['id']}],               # keep the one on that subnet
             [{'subnet_id': subnet['id'], 'ip_address': '10.81.0.5'}])
    for fixed_ips in forms:
        response = client.put(url, {'port': {'fixed_ips': fixed_ips}})
        assert response.status_code == 200, (fixed_ips, response.text)
        assert response.json()['port']['fixed_ips'] == [
            {'subnet_id': subnet['id'], 'ip_address': '10.81.0.5'}]
    # Adding a second address on the subnet keeps the first.
    response = client.put(url, {'port': {'fixed_ips': [{'subnet_id': subnet['id']},
                                                        {'subnet_id': subnet['id']}]}})
    assert [f['ip_address'] for f in response.json()['port']['fixed_ips']] == [
        '10.81.0.5', '10.81.0.2']
    response = client.put(url, {'port': {'fixed_ips': [{}]}})
    assert response.status_code == 400
