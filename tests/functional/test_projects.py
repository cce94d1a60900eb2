"""Project scoping over real HTTP, with the token and keystone strategies."""

import pytest

from tests.conftest import Client
from tests.server import Server

V = '/v2.0'


@pytest.fixture(scope='module')
def token_server(tmp_path_factory):
    path = tmp_path_factory.mktemp('tokens') / 'state.db'
    srv = Server(str(path), ['--auth-strategy', 'token', '--admin-token', 'admin-secret',
                             '--project-tokens', 'token-a:project-a,token-b:project-b'])
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def admin(token_server):
    return Client(token_server.url, {'X-Auth-Token': 'admin-secret'})


@pytest.fixture
def alice(token_server):
    return Client(token_server.url, {'X-Auth-Token': 'token-a'})


@pytest.fixture
def bob(token_server):
    return Client(token_server.url, {'X-Auth-Token': 'token-b'})


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


@pytest.fixture(scope='module')
def keystone_server(tmp_path_factory):
    path = tmp_path_factory.mktemp('keystone') / 'state.db'
    srv = Server(str(path), ['--auth-strategy', 'keystone']).start()
    yield srv
    srv.stop()


def _keystone(server, project, roles):
    return Client(server.url, {'X-Identity-Status': 'Confirmed', 'X-Project-Id': project,
                               'X-Roles': roles})


def test_keystone_headers_set_project_and_roles(keystone_server):
    member = _keystone(keystone_server, 'p-member', 'member,reader')
    other = _keystone(keystone_server, 'p-other', 'member')
    admin = _keystone(keystone_server, 'p-admin', 'admin')
    network = member.create('network', name='ks')
    assert network['project_id'] == 'p-member'
    assert other.get(V + '/networks/' + network['id']).status_code == 404
    assert admin.get(V + '/networks/' + network['id']).status_code == 200
    unconfirmed = Client(keystone_server.url, {'X-Identity-Status': 'Invalid',
                                               'X-Project-Id': 'p-member'})
    assert unconfirmed.get(V + '/networks').status_code == 401
