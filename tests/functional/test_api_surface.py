"""The Neutron features and fixes clients hit first (issue 11), over real
HTTP against a running srv6-ofapp (noauth: admin): unbinding with null,
tags, If-Match revisions, request ids, VNIC types, MAC updates, router
interfaces on the gateway, and external networks."""

import itertools
import re

import pytest

V = '/v2.0'
UUID_RE = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
HOST_NUMBERS = itertools.count(0xe01)


def error_type(response):
    return response.json()['NeutronError']['type']


@pytest.fixture
def host(client):
    """A registered host of its own, with a VRF pool of 7 addresses."""
    number = next(HOST_NUMBERS)
    return client.create('host', name='hv-surface-%x' % number,
                         datapath_id='%016x' % number,
                         segment_node_id='fd00:0:0:%x::' % number,
                         underlay_ip='fd00::%x' % number,
                         vrf_cidr='169.254.30.0/29')


@pytest.fixture
def network(client):
    network = client.create('network', name='surface')
    client.create('subnet', network_id=network['id'], cidr='10.90.0.0/24')
    return network


def port_url(port):
    return V + '/ports/' + port['id']


# -- unbinding with null -------------------------------------------------------

def test_null_host_and_profile_unbind_and_release_the_vrf(client, host, network):
    port = client.create('port', network_id=network['id'],
                         **{'binding:host_id': host['name'],
                            'binding:profile': {'pci_slot': '0000:05:00.1'}})
    assert port['binding:vif_type'] == 'ovs'
    vrf_ip = port['binding:profile']['vrf_ip']

    # What Nova sends when a server is deleted or an interface detached.
    response = client.put(port_url(port), {'port': {'binding:host_id': None,
                                                    'binding:profile': None,
                                                    'device_id': '', 'device_owner': ''}})
    assert response.status_code == 200, response.text
    unbound = response.json()['port']
    assert (unbound['binding:host_id'], unbound['binding:profile'],
            unbound['binding:vif_type']) == ('', {}, 'unbound')
    assert unbound['revision_number'] == port['revision_number'] + 1
    assert client.get(V + '/ports', params={'binding:host_id': host['name']}).json()[
        'ports'] == []

    # The (host, network) VRF went with its last port: its vrf_ip is free.
    other = client.create('network', name='surface-other')
    again = client.create('port', network_id=other['id'],
                          **{'binding:host_id': host['name']})
    assert again['binding:profile']['vrf_ip'] == vrf_ip

    # Null on create means the same as leaving them out.
    port = client.create('port', network_id=network['id'],
                         **{'binding:host_id': None, 'binding:profile': None})
    assert (port['binding:host_id'], port['binding:profile']) == ('', {})


# -- request ids ---------------------------------------------------------------

def test_every_response_has_a_request_id_the_log_names(client, server):
    offset = server.log_size()
    responses = [client.get('/'), client.get(V + '/networks'),
                 client.get(V + '/networks/nope'), client.post(V + '/networks', {}),
                 client.get('/metrics')]
    ids = [r.headers['X-Openstack-Request-Id'] for r in responses]
    assert [r.status_code for r in responses] == [200, 200, 404, 400, 200]
    assert all(re.fullmatch('req-' + UUID_RE, id_) for id_ in ids), ids
    assert len(set(ids)) == len(ids)
    log = server.log_since(offset)
    assert re.search(ids[2] + r' \S+ "GET /v2.0/networks/nope" status: 404 ', log), log
    assert ids[3] + ' ' in log


# -- If-Match: revision_number=N -----------------------------------------------

def test_if_match_revision_number_guards_updates_and_deletes(client, network, server):
    url = V + '/networks/' + network['id']
    revision = client.get(url).json()['network']['revision_number']

    stale = {'If-Match': 'revision_number=%d' % (revision - 1)}
    response = client.put(url, {'network': {'name': 'stale'}}, headers=stale)
    assert response.status_code == 412, response.text
    assert response.json()['NeutronError'] == {
        'type': 'RevisionNumberConstraintFailed', 'detail': '',
        'message': 'Constrained to %d, but current revision is %d' % (revision - 1,
                                                                      revision)}
    assert client.delete(url, headers=stale).status_code == 412
    assert client.get(url).json()['network']['name'] == 'surface'

    current = {'If-Match': 'revision_number=%d' % revision}
    response = client.put(url, {'network': {'name': 'fresh'}}, headers=current)
    assert response.status_code == 200, response.text
    assert response.json()['network']['revision_number'] == revision + 1
    # The revision it was at is stale now.
    assert client.put(url, {'network': {'name': 'again'}},
                      headers=current).status_code == 412
    # Other etags are not constraints (Neutron looks only at revision_number=).
    assert client.put(url, {'network': {'name': 'etag'}},
                      headers={'If-Match': '"abc"'}).status_code == 200

    for bad in ('revision_number=x', 'revision_number=1, revision_number=2'):
        response = client.put(url, {'network': {'name': 'bad'}}, headers={'If-Match': bad})
        assert response.status_code == 400, (bad, response.text)
        assert error_type(response) == 'BadRequest'
    aliases = {e['alias'] for e in client.get(V + '/extensions').json()['extensions']}
    assert 'revision-if-match' in aliases

    # A subnet goes with its network; the delete at the current revision goes through.
    revision = client.get(url).json()['network']['revision_number']
    response = client.delete(url, headers={'If-Match': 'revision_number=%d' % revision})
    assert response.status_code == 204, response.text


# -- tags ----------------------------------------------------------------------

def tags_of(client, url):
    response = client.get(url + '/tags')
    assert response.status_code == 200, response.text
    return response.json()['tags']


def test_tags_of_every_tenant_resource(client, network):
    subnet = client.get(V + '/subnets', params={'network_id': network['id']}).json()[
        'subnets'][0]
    port = client.create('port', network_id=network['id'])
    encap = client.create('srv6_encap_network', network_id=network['id'])
    for collection, resource in (('networks', network), ('subnets', subnet),
                                 ('ports', port), ('srv6_encap_networks', encap)):
        url = '%s/%s/%s' % (V, collection, resource['id'])
        assert resource['tags'] == [] and tags_of(client, url) == [], collection
        response = client.put(url + '/tags/red', None)
        assert (response.status_code, response.content) == (201, b''), collection
        shown = client.get(url).json()[collection[:-1]]
        assert shown['tags'] == ['red'], collection
        assert shown['revision_number'] == resource['revision_number'] + 1, collection
    # Hosts are not a project's resource: no tags.
    assert client.get(V + '/hosts/x/tags').status_code == 404


def test_tag_operations_follow_neutron(client, network):
    url = V + '/networks/' + network['id']
    revision = network['revision_number']

    def revision_now():
        return client.get(url).json()['network']['revision_number']

    assert client.put(url + '/tags/red', None).status_code == 201
    assert client.put(url + '/tags/red', None).status_code == 201   # already there: no change
    assert revision_now() == revision + 1
    assert client.get(url + '/tags/red').status_code == 204
    missing = client.get(url + '/tags/blue')
    assert missing.status_code == 404 and error_type(missing) == 'TagNotFound'

    response = client.put(url + '/tags', {'tags': ['blue', 'green', 'red']})
    assert response.status_code == 200
    assert response.json() == {'tags': ['blue', 'green', 'red']}
    assert revision_now() == revision + 2
    response = client.post(url + '/tags', {'tags': ['green', 'yellow']})  # tag-creation
    assert response.status_code == 200
    assert tags_of(client, url) == ['blue', 'green', 'red', 'yellow']

    assert client.delete(url + '/tags/green').status_code == 204
    missing = client.delete(url + '/tags/green')
    assert missing.status_code == 404 and error_type(missing) == 'TagNotFound'
    assert tags_of(client, url) == ['blue', 'red', 'yellow']
    assert client.delete(url + '/tags').status_code == 204
    assert tags_of(client, url) == []
    revision = revision_now()
    assert client.delete(url + '/tags').status_code == 204    # nothing to remove
    assert revision_now() == revision

    # Any string of up to 255 characters, in the URL too.
    for tag in ('a b', 'ünïcode', 'x' * 255):
        assert client.put(url + '/tags/' + tag, None).status_code == 201, tag
        assert client.get(url + '/tags/' + tag).status_code == 204, tag
    assert sorted(tags_of(client, url)) == sorted(['a b', 'ünïcode', 'x' * 255])
    # An If-Match revision guards tag changes as it does updates.
    stale = {'If-Match': 'revision_number=%d' % revision}
    assert client.put(url + '/tags/late', None, headers=stale).status_code == 412


def test_bad_tags_are_refused_and_change_nothing(client, network):
    url = V + '/networks/' + network['id']
    client.put(url + '/tags', {'tags': ['keep']})
    before = client.get(url).json()['network']
    for method, path, body, status, type_ in (
            ('PUT', '/tags/' + 'x' * 256, None, 400, 'InvalidInput'),
            ('PUT', '/tags', {'tags': ['a', 'a']}, 400, 'InvalidInput'),
            ('PUT', '/tags', {'tags': [7]}, 400, 'InvalidInput'),
            ('PUT', '/tags', {'tags': 'red'}, 400, 'InvalidInput'),
            ('PUT', '/tags', {'tag': ['red']}, 400, 'InvalidInput'),
            ('POST', '/tags', ['red'], 400, 'InvalidInput'),
            ('PUT', '/tags', {'tags': ['t%d' % i for i in range(51)]}, 400, 'BadRequest'),
            ('POST', '/tags', {'tags': ['t%d' % i for i in range(50)]}, 400,
             'BadRequest'),
            ('PUT', '/nope', None, 404, 'HTTPNotFound'),
            ('PATCH', '/tags', None, 405, 'HTTPMethodNotAllowed')):
        response = client.request(method, url + path, body)
        assert response.status_code == status, (path, body, response.text)
        assert error_type(response) == type_, (path, body)
    assert client.get(url).json()['network'] == before
    missing = client.put(V + '/networks/11111111-2222-3333-4444-555555555555/tags/x', None)
    assert missing.status_code == 404 and error_type(missing) == 'NetworkNotFound'
    # Tags change through their sub-resource, except a port's on create.
    for body in ({'network': {'name': 'n', 'tags': ['a']}},):
        assert client.post(V + '/networks', body).status_code == 400
    assert client.put(url, {'network': {'tags': ['a']}}).status_code == 400


def test_a_port_is_created_with_its_tags(client, network):
    port = client.create('port', network_id=network['id'], tags=['red', 'blue'])
    assert port['tags'] == ['blue', 'red']
    response = client.post(V + '/ports', {'ports': [
        {'network_id': network['id'], 'tags': ['bulk']},
        {'network_id': network['id'], 'tags': ['bulk', 'bulk']}]})
    assert response.status_code == 400 and error_type(response) == 'HTTPBadRequest'
    assert client.get(V + '/ports', params={'tags': 'bulk'}).json()['ports'] == []
    aliases = {e['alias'] for e in client.get(V + '/extensions').json()['extensions']}
    assert {'standard-attr-tag', 'tag-creation',
            'tag-ports-during-bulk-creation'} <= aliases


def test_tag_filters(client):
    network = client.create('network', name='tag-filters')
    ports = {}
    for name, tags in (('none', []), ('red', ['red']), ('blue', ['blue']),
                       ('both', ['red', 'blue']), ('all', ['red', 'blue', 'green'])):
        ports[name] = client.create('port', network_id=network['id'], name=name, tags=tags)

    def listed(**params):
        params['network_id'] = network['id']
        found = client.get(V + '/ports', params=params)
        assert found.status_code == 200, found.text
        return sorted(p['name'] for p in found.json()['ports'])

    assert listed(tags='red') == ['all', 'both', 'red']
    assert listed(tags='red,blue') == ['all', 'both']
    assert listed(tags=['red', 'blue']) == ['all', 'both']       # repeated = comma
    assert listed(**{'tags-any': 'red,green'}) == ['all', 'both', 'red']
    assert listed(**{'not-tags': 'red,blue'}) == ['blue', 'none', 'red']
    assert listed(**{'not-tags-any': 'red,blue'}) == ['none']
    assert listed(tags='blue', **{'not-tags-any': 'green'}) == ['blue', 'both']
    assert listed(tags='purple') == []
    assert [n['id'] for n in client.get(V + '/networks', params={
        'tags-any': 'nothing-has-it'}).json()['networks']] == []
    # tags-any and the rest are filters, never shown.
    shown = client.get(V + '/ports/' + ports['all']['id']).json()['port']
    assert 'tags-any' not in shown and shown['tags'] == ['blue', 'green', 'red']
    assert client.get(V + '/hosts', params={'tags': 'red'}).status_code == 400


# -- binding:vnic_type -----------------------------------------------------------

def test_vnic_types_are_neutrons_and_only_normal_binds(client, host, network):
    response = client.post(V + '/ports', {'port': {'network_id': network['id'],
                                                   'binding:vnic_type': 'sriov'}})
    assert response.status_code == 400 and error_type(response) == 'HTTPBadRequest'
    assert 'binding:vnic_type' in response.json()['NeutronError']['message']

    bound = {'binding:host_id': host['name']}
    direct = client.create('port', network_id=network['id'],
                           **dict(bound, **{'binding:vnic_type': 'direct'}))
    assert direct['binding:vnic_type'] == 'direct'
    assert (direct['binding:vif_type'], direct['binding:vif_details'],
            direct['binding:profile']) == ('binding_failed', {}, {})
    unbound = client.create('port', network_id=network['id'],
                            **{'binding:vnic_type': 'macvtap'})
    assert unbound['binding:vif_type'] == 'unbound'

    # A normal port on the host takes the VRF; the direct one never counts.
    normal = client.create('port', network_id=network['id'], **bound)
    assert normal['binding:vif_type'] == 'ovs'
    assert client.get(port_url(direct)).json()['port']['binding:vif_type'] == \
        'binding_failed'
    vrf_ip = normal['binding:profile']['vrf_ip']
    assert client.delete(port_url(normal)).status_code == 204
    other = client.create('network', name='vnic-other')
    assert client.create('port', network_id=other['id'], **bound)[
        'binding:profile']['vrf_ip'] == vrf_ip      # released, though direct is there

    # Becoming normal binds it; becoming direct again releases the VRF.
    response = client.put(port_url(direct), {'port': {'binding:vnic_type': 'normal'}})
    assert response.json()['port']['binding:vif_type'] == 'ovs'
    vrf_ip = response.json()['port']['binding:profile']['vrf_ip']
    client.put(port_url(direct), {'port': {'binding:vnic_type': 'baremetal'}})
    third = client.create('network', name='vnic-third')
    assert client.create('port', network_id=third['id'], **bound)[
        'binding:profile']['vrf_ip'] == vrf_ip


# -- mac_address updates ---------------------------------------------------------

def test_mac_address_changes_while_the_port_is_unplugged(client, host, network):
    port = client.create('port', network_id=network['id'])
    response = client.put(port_url(port), {'port': {'mac_address': 'FA:16:3E:00:AB:01'}})
    assert response.status_code == 200, response.text
    assert response.json()['port']['mac_address'] == 'fa:16:3e:00:ab:01'
    # The old MAC is free again, the new one taken.
    client.create('port', network_id=network['id'], mac_address=port['mac_address'])
    taken = client.post(V + '/ports', {'port': {'network_id': network['id'],
                                                'mac_address': 'fa:16:3e:00:ab:01'}})
    assert taken.status_code == 409 and error_type(taken) == 'MacAddressInUse'

    # binding_failed is unplugged too (Neutron's VIF_UNPLUGGED_TYPES).
    nowhere = client.put(port_url(port), {'port': {'binding:host_id': 'hv-unknown',
                                                   'mac_address': 'fa:16:3e:00:ab:02'}})
    assert nowhere.json()['port']['binding:vif_type'] == 'binding_failed'
    assert nowhere.json()['port']['mac_address'] == 'fa:16:3e:00:ab:02'

    bound = client.put(port_url(port), {'port': {'binding:host_id': host['name']}})
    assert bound.json()['port']['binding:vif_type'] == 'ovs'
    response = client.put(port_url(port), {'port': {'mac_address': 'fa:16:3e:00:ab:03'}})
    assert response.status_code == 409 and error_type(response) == 'PortBound'
    assert 'port type: ovs' in response.json()['NeutronError']['message']
    # Unbinding and changing it in one request: the port was bound (Neutron checks
    # the binding it had).
    response = client.put(port_url(port), {'port': {'binding:host_id': None,
                                                    'mac_address': 'fa:16:3e:00:ab:03'}})
    assert response.status_code == 409
    assert client.get(port_url(port)).json()['port']['mac_address'] == 'fa:16:3e:00:ab:02'


# -- router interfaces on the gateway --------------------------------------------

@pytest.mark.parametrize('owner', ['network:router_interface',
                                   'network:router_interface_distributed'])
def test_a_router_interface_may_take_the_gateway(client, owner):
    network = client.create('network', name='router-' + owner)
    subnet = client.create('subnet', network_id=network['id'], cidr='10.91.0.0/24')
    gateway = [{'subnet_id': subnet['id'], 'ip_address': '10.91.0.1'}]
    plain = client.post(V + '/ports', {'port': {'network_id': network['id'],
                                                'fixed_ips': gateway}})
    assert plain.status_code == 409 and error_type(plain) == 'IpAddressAlreadyAllocated'

    router_port = client.create('port', network_id=network['id'], fixed_ips=gateway,
                                device_owner=owner, device_id='router-1')
    assert router_port['fixed_ips'] == gateway
    again = client.post(V + '/ports', {'port': {'network_id': network['id'],
                                                'fixed_ips': gateway,
                                                'device_owner': owner}})
    assert again.status_code == 409       # one interface holds it
    # It stays a router's: the gateway cannot pass to a plain port.
    response = client.put(port_url(router_port), {'port': {'device_owner': 'compute:nova'}})
    assert response.status_code == 409 and error_type(response) == \
        'IpAddressAlreadyAllocated'
    assert client.delete(port_url(router_port)).status_code == 204
    # A plain port becoming an interface may ask for it then.
    port = client.create('port', network_id=network['id'])
    response = client.put(port_url(port), {'port': {'device_owner': owner,
                                                    'fixed_ips': gateway}})
    assert response.status_code == 200, response.text
    assert response.json()['port']['fixed_ips'] == gateway


# -- router:external -------------------------------------------------------------

def test_external_networks_and_their_filter(client):
    public = client.create('network', name='public', **{'router:external': True})
    private = client.create('network', name='private')
    assert (public['router:external'], private['router:external']) == (True, False)

    def names(value):
        found = client.get(V + '/networks', params={'router:external': value})
        assert found.status_code == 200, found.text
        return {n['name'] for n in found.json()['networks']}
    assert 'public' in names('True') and 'private' not in names('True')
    assert 'private' in names('false') and 'public' not in names('false')

    response = client.put(V + '/networks/' + private['id'],
                          {'network': {'router:external': True}})
    assert response.status_code == 200 and response.json()['network']['router:external']
    response = client.put(V + '/networks/' + private['id'],
                          {'network': {'router:external': 'maybe'}})
    assert response.status_code == 400
    aliases = {e['alias'] for e in client.get(V + '/extensions').json()['extensions']}
    assert 'external-net' in aliases
