"""Project scoping over real HTTP, with the token strategy."""

import json

import pytest

from tests import projects
from tests.conftest import Client
from tests.projects import admin, alice, bob  # noqa: F401 (fixtures)

V = '/v2.0'


token_server = projects.token_server('tokens')


def test_unauthenticated_callers_are_refused(token_server):
    for headers in ({}, {'X-Auth-Token': 'wrong'}):
        response = Client(token_server.url, headers).get(V + '/networks')
        assert response.status_code == 401
        assert response.json()['NeutronError']['type'] == 'NotAuthenticated'
    # The version document stays public, as Neutron's does.
    assert Client(token_server.url).get('/').status_code == 200


def test_a_project_sees_only_its_own(alice, bob, admin):
    network = alice.create('network', name='alice-net')
    assert network['tenant_id'] == 'project-a'
    subnet = alice.create('subnet', network_id=network['id'], cidr='10.0.0.0/24')
    port = alice.create('port', network_id=network['id'])

    for collection, resource in (('networks', network), ('subnets', subnet),
                                 ('ports', port)):
        response = bob.get('%s/%s/%s' % (V, collection, resource['id']))
        assert response.status_code == 404, collection
        listed = bob.get('%s/%s' % (V, collection)).json()[collection]
        assert resource['id'] not in [r['id'] for r in listed], collection
        assert bob.put('%s/%s/%s' % (V, collection, resource['id']),
                       {collection[:-1]: {'name': 'mine'}}).status_code == 404
        assert bob.delete('%s/%s/%s' % (V, collection, resource['id'])).status_code == 404
        assert resource['id'] in [r['id'] for r in admin.get(
            '%s/%s' % (V, collection)).json()[collection]]

    # Nor through the address index behind the fixed_ips filter.
    address = port['fixed_ips'][0]['ip_address']
    assert bob.get(V + '/ports', params={'fixed_ips': 'ip_address=' + address}).json()[
        'ports'] == []
    assert [p['id'] for p in alice.get(V + '/ports', params={
        'fixed_ips': 'ip_address=' + address}).json()['ports']] == [port['id']]

    response = bob.post(V + '/ports', {'port': {'network_id': network['id']}})
    assert response.status_code == 404
    assert response.json()['NeutronError']['type'] == 'NetworkNotFound'
    assert alice.get(V + '/networks/' + network['id']).json()['network']['name'] == \
        'alice-net'


def test_non_admin_cannot_act_for_another_project(alice):
    response = alice.post(V + '/networks', {'network': {'tenant_id': 'project-b'}})
    assert response.status_code == 403
    assert response.json()['NeutronError']['type'] == 'PolicyNotAuthorized'


def test_admin_only_attributes_and_resources(alice, admin):
    network = alice.create('network', name='policy')
    for attrs in ({'binding:host_id': 'hv1'}, {'binding:profile': {}}):
        response = alice.post(V + '/ports', {'port': dict(attrs, network_id=network['id'])})
        assert response.status_code == 403, attrs
    assert alice.post(V + '/networks', {'network': {'shared': True}}).status_code == 403
    port = alice.create('port', network_id=network['id'])
    assert 'binding:host_id' not in port and 'binding:profile' not in port
    assert 'binding:host_id' in admin.get(V + '/ports/' + port['id']).json()['port']
    assert alice.get(V + '/hosts').status_code == 403
    host = {'name': 'hv9', 'datapath_id': '0000000000000009',
            'segment_node_id': 'fd00:0:0:9::', 'underlay_ip': 'fd00::9'}
    assert alice.post(V + '/hosts', {'host': host}).status_code == 403
    assert admin.post(V + '/hosts', {'host': host}).status_code == 201


def test_shared_network_is_usable_but_not_changeable_by_others(alice, bob, admin):
    network = alice.create('network', name='shared-net')
    alice.create('subnet', network_id=network['id'], cidr='10.1.0.0/24')
    assert admin.put(V + '/networks/' + network['id'],
                     {'network': {'shared': True}}).status_code == 200

    assert bob.get(V + '/networks/' + network['id']).status_code == 200
    port = bob.create('port', network_id=network['id'])
    assert port['tenant_id'] == 'project-b'
    assert bob.put(V + '/networks/' + network['id'],
                   {'network': {'name': 'taken'}}).status_code == 403
    assert bob.post(V + '/subnets', {'subnet': {
        'network_id': network['id'], 'cidr': '10.2.0.0/24'}}).status_code == 403
    # Un-sharing while another project has ports there would strand them.
    response = admin.put(V + '/networks/' + network['id'], {'network': {'shared': False}})
    assert response.status_code == 409


@pytest.fixture
def shared(alice, admin):
    """alice's shared network with a subnet, and a port of bob's there."""
    network = alice.create('network', name='shared-policy')
    subnet = alice.create('subnet', network_id=network['id'], cidr='10.3.0.0/24')
    assert admin.put(V + '/networks/' + network['id'],
                     {'network': {'shared': True}}).status_code == 200
    return {'network': network, 'subnet': subnet}


# Neutron's default policy: on another project's (shared) network these need
# the network owner or an admin -- anti-spoofing is the owner's to lift.
OWNER_ONLY_ON_CREATE = [
    ('mac_address', {'mac_address': 'fa:16:3e:00:aa:01'}),
    ('fixed_ips:ip_address', {'fixed_ips': [{'ip_address': '10.3.0.50'}]}),
    ('fixed_ips:ip_address', {'fixed_ips': [{'subnet_id': '{subnet}',
                                             'ip_address': '10.3.0.51'}]}),
    ('port_security_enabled', {'port_security_enabled': False}),
    ('allowed_address_pairs', {'allowed_address_pairs': [{'ip_address': '0.0.0.0/0'}]}),
    ('device_owner', {'device_owner': 'network:router_interface'}),
]


def _fill(attrs, shared):
    text = json.dumps(attrs).replace('{subnet}', shared['subnet']['id'])
    return json.loads(text)


@pytest.mark.parametrize('rule, attrs', OWNER_ONLY_ON_CREATE,
                         ids=[r + '-' + list(a)[0] for r, a in OWNER_ONLY_ON_CREATE])
def test_on_a_shared_network_others_may_not_lift_anti_spoofing(alice, bob, admin, shared,
                                                               rule, attrs):
    attrs = _fill(attrs, shared)
    net_id = shared['network']['id']
    before = admin.get(V + '/ports', params={'network_id': net_id}).json()['ports']
    response = bob.post(V + '/ports', {'port': dict(attrs, network_id=net_id)})
    assert response.status_code == 403, response.text
    error = response.json()['NeutronError']
    assert error['type'] == 'PolicyNotAuthorized' and 'create_port:' + rule in \
        error['message']
    assert admin.get(V + '/ports', params={'network_id': net_id}).json()['ports'] == before
    # The network's owner and an admin may.
    for who in (alice, admin):
        port = who.create('port', network_id=net_id, **attrs)
        assert who.delete(V + '/ports/' + port['id']).status_code == 204


OWNER_ONLY_ON_UPDATE = [
    ('fixed_ips:ip_address', {'fixed_ips': [{'ip_address': '10.3.0.60'}]}),
    ('port_security_enabled', {'port_security_enabled': False, 'security_groups': []}),
    ('allowed_address_pairs', {'allowed_address_pairs': [{'ip_address': '10.3.0.0/24'}]}),
    ('device_owner', {'device_owner': 'network:dhcp'}),
]


@pytest.mark.parametrize('rule, attrs', OWNER_ONLY_ON_UPDATE,
                         ids=[r for r, _ in OWNER_ONLY_ON_UPDATE])
def test_on_a_shared_network_others_may_not_change_anti_spoofing(alice, bob, admin, shared,
                                                                 rule, attrs):
    port = bob.create('port', network_id=shared['network']['id'], name='bobs')
    url = V + '/ports/' + port['id']
    response = bob.put(url, {'port': attrs})
    assert response.status_code == 403, response.text
    assert 'update_port:' + rule in response.json()['NeutronError']['message']
    assert bob.get(url).json()['port'] == port
    assert admin.put(url, {'port': attrs}).status_code == 200


def test_on_a_shared_network_others_keep_what_they_may_do(bob, shared):
    net_id, subnet_id = shared['network']['id'], shared['subnet']['id']
    # An address from a subnet of the network's choosing (Neutron's
    # create_port:fixed_ips:subnet_id allows the shared rule) ...
    port = bob.create('port', network_id=net_id, fixed_ips=[{'subnet_id': subnet_id}],
                      device_owner='compute:nova', name='vm')
    assert port['port_security_enabled'] is True
    url = V + '/ports/' + port['id']
    # ... sending back what the port has, renaming it, or adding a subnet address.
    for change in ({'fixed_ips': port['fixed_ips']}, {'name': 'renamed'},
                   {'port_security_enabled': True}, {'allowed_address_pairs': []},
                   {'fixed_ips': port['fixed_ips'] + [{'subnet_id': subnet_id}]}):
        response = bob.put(url, {'port': change})
        assert response.status_code == 200, (change, response.text)


def test_a_mac_is_chosen_by_its_owner_and_changed_by_admins(alice, admin):
    network = alice.create('network', name='macs')
    port = alice.create('port', network_id=network['id'], mac_address='fa:16:3e:0a:0b:0c')
    url = V + '/ports/' + port['id']
    response = alice.put(url, {'port': {'mac_address': 'fa:16:3e:0a:0b:0d'}})
    assert response.status_code == 403
    assert response.json()['NeutronError']['type'] == 'PolicyNotAuthorized'
    assert admin.put(url, {'port': {'mac_address': 'fa:16:3e:0a:0b:0d'}}).status_code == 200


def test_an_external_network_is_seen_by_all_and_used_by_its_owner(alice, bob, admin):
    assert alice.post(V + '/networks', {'network': {
        'router:external': True}}).status_code == 403
    network = admin.post(V + '/networks', {'network': {'name': 'public',
                                                       'router:external': True}},
                         headers={'X-Project-Id': 'project-ops'}).json()['network']
    subnet = admin.create('subnet', network_id=network['id'], cidr='172.24.4.0/24')
    # Neutron's rule:external and rule:external_network: every project reads them.
    assert bob.get(V + '/networks/' + network['id']).status_code == 200
    assert bob.get(V + '/subnets/' + subnet['id']).status_code == 200
    assert network['id'] in [n['id'] for n in bob.get(V + '/networks', params={
        'router:external': 'True'}).json()['networks']]
    # ... but only the shared rule lets others put ports there, and none may change it.
    for response in (bob.post(V + '/ports', {'port': {'network_id': network['id']}}),
                     bob.put(V + '/networks/' + network['id'],
                             {'network': {'name': 'mine'}}),
                     bob.put(V + '/networks/' + network['id'] + '/tags/mine', None)):
        assert response.status_code == 403, response.text
    assert bob.get(V + '/networks/' + network['id'] + '/tags').json() == {'tags': []}
