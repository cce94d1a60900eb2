"""Two API servers (two real srv6-ofapp processes) on one etcd prefix, as
issue 9 deploys them: what one writes the other serves, and the model's
uniqueness rules hold when both are asked for the same thing at once --
fixed IPs, MACs per network, host names, vrf_ip per (host, network)."""

import threading

import pytest

from tests import etcdlab
from tests.conftest import Client
from tests.server import Server

RACERS = 6


@pytest.fixture(scope='module')
def servers(etcd_single, tmp_path_factory):
    url = etcd_single.url(etcdlab.unique_prefix('api'))
    logs = tmp_path_factory.mktemp('api-servers')
    started = []
    try:
        for name in ('a', 'b'):
            started.append(Server(url, log_path=str(logs / (name + '.log'))).start())
        yield [Client(server.url) for server in started]
    finally:
        for server in started:
            server.stop()


def race(clients, make_request):
    """``make_request(client, i)`` from RACERS threads at once, alternating
    between the servers; the responses, in thread order."""
    barrier = threading.Barrier(RACERS)
    responses = [None] * RACERS

    def run(i):
        barrier.wait(10)
        responses[i] = make_request(clients[i % len(clients)], i)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return responses


def statuses(responses):
    return sorted(response.status_code for response in responses)


def host(i, name=None):
    return {'name': name or 'hv%d' % i, 'datapath_id': '%016x' % (0x100 + i),
            'segment_node_id': 'fd00:0:0:%x::' % (0x100 + i), 'underlay_ip': 'fd00::%x' % (0x100 + i)}


@pytest.fixture(scope='module')
def network(servers):
    a, _ = servers
    net = a.create('network', name='shared-by-two-servers')
    a.create('subnet', network_id=net['id'], cidr='10.9.0.0/24', ip_version=4)
    return net


def test_what_one_server_writes_the_other_serves(servers, network):
    a, b = servers
    port = b.create('port', network_id=network['id'], name='via-b')
    assert a.get('/v2.0/ports/' + port['id']).json()['port']['name'] == 'via-b'
    listed = a.get('/v2.0/ports', params={'network_id': network['id']}).json()['ports']
    assert port['id'] in [p['id'] for p in listed]


def test_one_fixed_ip_for_two_servers(servers, network):
    responses = race(servers, lambda client, i: client.post('/v2.0/ports', {'port': {
        'network_id': network['id'], 'fixed_ips': [{'ip_address': '10.9.0.50'}]}}))
    assert statuses(responses) == [201] + [409] * (RACERS - 1), [r.text for r in responses]
    assert {r.json()['NeutronError']['type'] for r in responses if r.status_code == 409} == {
        'IpAddressAlreadyAllocated'}


def test_one_mac_per_network_for_two_servers(servers, network):
    responses = race(servers, lambda client, i: client.post('/v2.0/ports', {'port': {
        'network_id': network['id'], 'mac_address': 'fa:16:3e:12:34:56'}}))
    assert statuses(responses) == [201] + [409] * (RACERS - 1), [r.text for r in responses]


def test_one_host_name_for_two_servers(servers):
    responses = race(servers, lambda client, i: client.post(
        '/v2.0/hosts', {'host': host(i, name='same-name')}))
    assert statuses(responses) == [201] + [409] * (RACERS - 1), [r.text for r in responses]


def test_concurrent_ports_get_distinct_addresses(servers, network):
    responses = race(servers, lambda client, i: client.post('/v2.0/ports', {'port': {
        'network_id': network['id'], 'name': 'racer%d' % i}}))
    assert statuses(responses) == [201] * RACERS, [r.text for r in responses]
    ports = [r.json()['port'] for r in responses]
    assert len({p['fixed_ips'][0]['ip_address'] for p in ports}) == RACERS
    assert len({p['mac_address'] for p in ports}) == RACERS


def test_vrf_ips_of_one_host_stay_distinct(servers):
    """Ports of different networks bound to one host at once: each
    (host, network) VRF gets its own vrf_ip."""
    a, _ = servers
    a.create('host', **host(50, name='vrf-host'))
    networks = []
    for i in range(RACERS):
        net = a.create('network', name='vrf%d' % i)
        a.create('subnet', network_id=net['id'], cidr='10.%d.0.0/24' % (60 + i), ip_version=4)
        networks.append(net)
    responses = race(servers, lambda client, i: client.post('/v2.0/ports', {'port': {
        'network_id': networks[i]['id'], 'binding:host_id': 'vrf-host'}}))
    assert statuses(responses) == [201] * RACERS, [r.text for r in responses]
    vrf_ips = [r.json()['port']['binding:profile']['vrf_ip'] for r in responses]
    assert len(set(vrf_ips)) == RACERS, vrf_ips
