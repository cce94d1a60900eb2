"""Bad input gets a 4xx with Neutron's error body, never a 500, changes
nothing, and is not echoed back whole."""

import json

import pytest
import requests

from tests.functional.test_api import store_revision

V = '/v2.0'
JSON = {'Content-Type': 'application/json'}


@pytest.fixture(scope='module')
def world(server):
    from tests.conftest import Client
    client = Client(server.url)
    network = client.create('network', name='bad-input-2')
    client.create('subnet', network_id=network['id'], cidr='10.0.0.0/24')
    port = client.create('port', network_id=network['id'])
    host = client.create('host', name='hv-bad-2', datapath_id='00000000000000f2',
                         segment_node_id='fd00:0:0:f2::', underlay_ip='fd00::f2')
    return {'net': network['id'], 'port': port['id'], 'host': host['id']}


def _send(server, method, path, data=None, headers=JSON):
    if data is not None and not isinstance(data, (str, bytes)):
        data = json.dumps(data)
    return requests.request(method, server.url + path, data=data, headers=headers,
                            timeout=30)


def _refused(server, method, path, data=None, status=400, headers=JSON):
    before = store_revision(server)
    response = _send(server, method, path, data, headers)
    assert response.status_code == status, response.text[:500]
    assert response.headers['Content-Type'].startswith('application/json')
    error = response.json()['NeutronError']
    assert error['type'] and error['message'] and error['detail'] == ''
    assert len(response.content) < 2048, 'the error echoes the request: %d bytes' % len(
        response.content)
    assert store_revision(server) == before
    return error


@pytest.mark.parametrize('depth', [10000, 100])
def test_deeply_nested_json_is_a_400(server, world, depth):
    nested = '[' * depth + ']' * depth
    _refused(server, 'POST', V + '/networks', '{"network": {"name": %s}}' % nested)
    profile = '{"a": ' * depth + '1' + '}' * depth
    _refused(server, 'PUT', V + '/ports/' + world['port'],
             '{"port": {"binding:profile": %s}}' % profile)


@pytest.mark.parametrize('body', ['{"network": {"name": NaN}}',
                                  '{"network": {"name": "n", "mtu": Infinity}}',
                                  b'{"network": {"name": "\xff"}}'])
def test_json_that_is_not_json_is_a_400(server, body):
    _refused(server, 'POST', V + '/networks', body)


@pytest.mark.parametrize('query', ['name=%ff', '%ff=1', 'fields=%ff', 'sort_key=%ff',
                                   'marker=%ff', 'tags=%ff%fe'])
def test_a_query_string_that_is_not_utf8_is_a_400(server, world, query):
    _refused(server, 'GET', V + '/networks?' + query)
    _refused(server, 'GET', V + '/networks/%s?%s' % (world['net'], query))


def test_a_path_that_is_not_utf8_is_a_4xx(server, world):
    for path in ('/networks/%ff', '/networks/%s/tags/%%ff' % world['net']):
        response = _send(server, 'GET', V + path)
        assert response.status_code in (400, 404), response.text
        assert 'NeutronError' in response.json()


BIG = 'x' * (512 * 1024)


@pytest.mark.parametrize('method, path, body', [
    ('POST', '/networks', {'network': {'name': BIG}}),
    ('POST', '/networks', {'network': {BIG: 1}}),
    ('POST', '/networks', {'network': {'admin_state_up': BIG}}),
    ('POST', '/ports', {'port': {'network_id': BIG}}),
    ('POST', '/ports', {'port': {'network_id': '00000000-0000-0000-0000-000000000000',
                                 'fixed_ips': [{'ip_address': BIG}]}}),
    ('POST', '/ports', {'port': {'network_id': '00000000-0000-0000-0000-000000000000',
                                 'binding:profile': {'vrf_cidr': BIG}}}),
    ('POST', '/srv6_encap_networks', {'srv6_encap_network': {
        'network_id': '00000000-0000-0000-0000-000000000000',
        'encap_rules': [{'destination': '10.0.0.0/8', 'nexthop': 'fd00::1', BIG: 1}]}}),
    ('PUT', '/networks/{net}/tags', {'tags': [BIG]}),
])
def test_errors_do_not_echo_whole_values(server, world, method, path, body):
    _refused(server, method, V + path.format(**world), body)


@pytest.mark.parametrize('path', [
    '/networks?' + 'n' * 8000 + '=1',
    '/networks?sort_key=' + 'k' * 8000,
    '/networks?limit=' + '9' * 8000,
    '/networks?marker=' + 'm' * 8000,
    '/ports?fixed_ips=' + 'f' * 8000,
])
def test_errors_do_not_echo_whole_query_values(server, path):
    _refused(server, 'GET', V + path)


def test_an_unknown_id_is_not_echoed_whole(server):
    error = _refused(server, 'GET', V + '/networks/' + 'i' * 8000, status=404)
    assert error['type'] == 'NetworkNotFound'


@pytest.mark.parametrize('nexthop', ['::', '::1', 'ff02::1', 'fe80::1', '::ffff:10.0.0.1',
                                     '::10.0.0.1', '100::1'])
def test_a_sid_is_a_global_or_ula_unicast_address(server, world, nexthop):
    _refused(server, 'POST', V + '/srv6_encap_networks', {'srv6_encap_network': {
        'network_id': world['net'],
        'encap_rules': [{'destination': '10.9.0.0/16', 'nexthop': nexthop}]}})
    _refused(server, 'PUT', V + '/hosts/' + world['host'], {'host': {
        'segment_node_id': nexthop}})
    _refused(server, 'PUT', V + '/ports/' + world['port'], {'port': {
        'binding:profile': {'segment_node_id': nexthop}}})


def test_global_and_ula_sids_are_fine(client, world):
    for nexthop in ('2001:db8:0:9::a9fe:101', 'fd00:0:0:9::a9fe:101'):
        client.create('srv6_encap_network', network_id=world['net'], encap_rules=[
            {'destination': '10.9.0.0/16', 'nexthop': nexthop}])


@pytest.mark.parametrize('attr, value', [
    ('bridge', 'br\x00int'), ('bridge', 'br-\x01'), ('bridge', 'br\x7f'),
    ('bridge', 'br\u200bint'), ('netns', 'ns\x00'), ('netns', 'ns\x1b[2J'),
    ('ovsdb', 'unix:/var/run/db\x00.sock'), ('ovsdb', 'tcp:10.0.0.1\x07:6640'),
])
def test_host_device_names_refuse_control_characters(server, world, attr, value):
    _refused(server, 'PUT', V + '/hosts/' + world['host'], {'host': {attr: value}})


@pytest.mark.parametrize('content_type', ['text/plain', 'application/x-www-form-urlencoded',
                                          'application/xml', 'multipart/form-data'])
def test_a_body_that_is_not_declared_json_is_a_415(server, content_type):
    error = _refused(server, 'POST', V + '/networks', {'network': {'name': 'n'}},
                     status=415, headers={'Content-Type': content_type})
    assert error['type'] == 'HTTPUnsupportedMediaType'


def test_json_content_types_that_are_fine(server):
    for headers in ({'Content-Type': 'application/json; charset=UTF-8'},
                    {'Content-Type': 'Application/JSON'}, {}):
        response = requests.post(server.url + V + '/networks', headers=headers,
                                 data=json.dumps({'network': {'name': 'typed'}}), timeout=10)
        assert response.status_code == 201, (headers, response.text)


@pytest.mark.parametrize('opt', [
    {'opt_name': '', 'opt_value': 'x'}, {'opt_name': 'o' * 65, 'opt_value': 'x'},
    {'opt_name': 'tftp-server', 'opt_value': ''}, {'opt_value': 'x'},
    {'opt_name': 'mtu', 'opt_value': 'x', 'ip_version': 5},
])
def test_extra_dhcp_opts_as_neutron_checks_them(server, world, opt):
    _refused(server, 'PUT', V + '/ports/' + world['port'], {'port': {
        'extra_dhcp_opts': [opt]}})


def test_blank_router_options_are_fine(client, world):
    response = client.put(V + '/ports/' + world['port'], {'port': {'extra_dhcp_opts': [
        {'opt_name': 'router', 'opt_value': ''}]}})
    assert response.status_code == 200, response.text
