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
