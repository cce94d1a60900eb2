"""Property-based fuzzing of the REST API (hypothesis), driven by the
attribute maps (rest/definitions): generated bodies for every collection's
create, bulk create and update, its tags, If-Match headers, list filters,
sorting, paging and field selection, raw query strings and raw bodies,
thrown at a running server.

Properties: never a 5xx; an error is a Neutron error body; a 4xx changes
nothing (the store's revision stays; the server runs --role api, so no
agent report writes behind the test's back); the server never logs a
traceback.  `make test` runs FUZZ_EXAMPLES (150) examples per test,
derandomized; `make stress` runs SRV6_FUZZ_EXAMPLES (5000) each.
"""

import json
import os
import urllib.parse

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rest import definitions
from tests.conftest import Client
from tests.functional.test_api import store_revision
from tests.server import Server

V = '/v2.0'
FUZZ_EXAMPLES = 150
EXAMPLES = int(os.environ.get('SRV6_FUZZ_EXAMPLES', FUZZ_EXAMPLES))
# Deterministic (make test must be), no example database left behind.
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                suppress_health_check=list(HealthCheck))
COLLECTIONS = sorted(definitions.RESOURCE_ATTRIBUTE_MAP)
TAGGED = sorted(c for c in COLLECTIONS if 'tags' in definitions.RESOURCE_ATTRIBUTE_MAP[c])


@pytest.fixture(scope='module')
def fuzz_server(tmp_path_factory):
    path = tmp_path_factory.mktemp('fuzz') / 'state.db'
    srv = Server(str(path), ['--role', 'api']).start()
    yield srv
    srv.stop()
    assert 'Traceback' not in srv.log(), srv.log()


@pytest.fixture(scope='module')
def world(fuzz_server):
    """Resources the generated requests may name."""
    client = Client(fuzz_server.url)
    network = client.create('network', name='fuzz', shared=True)
    subnet = client.create('subnet', network_id=network['id'], cidr='10.0.0.0/24')
    port = client.create('port', network_id=network['id'])
    group = client.post(V + '/security-groups', {'security_group': {
        'name': 'fuzz'}}).json()['security_group']
    rule = group['security_group_rules'][0]
    host = client.create('host', name='hv-fuzz', datapath_id='00000000000000aa',
                         segment_node_id='fd00:0:0:aa::', underlay_ip='fd00::aa')
    encap = client.create('srv6_encap_network', network_id=network['id'])
    public = client.create('network', name='fuzz-public', **{'router:external': True})
    client.create('subnet', network_id=public['id'], cidr='198.51.100.0/24')
    router = client.create('router', name='fuzz',
                           external_gateway_info={'network_id': public['id']})
    floating = client.create('floatingip', floating_network_id=public['id'])
    ids = {'networks': network['id'], 'subnets': subnet['id'], 'ports': port['id'],
           'security_groups': group['id'], 'security_group_rules': rule['id'],
           'hosts': host['id'], 'srv6_encap_networks': encap['id'],
           'routers': router['id'], 'floatingips': floating['id']}
    agents = client.get(V + '/agents').json()['agents']
    if agents:
        ids['agents'] = agents[0]['id']
    return ids


# -- values ----------------------------------------------------------------------

# Values that mean something somewhere in the API, to get past the first
# check and into the model's rules.
PLAUSIBLE = ['10.0.0.5', '10.0.0.1', '10.0.0.0/24', '10.0.0.0/8', '0.0.0.0/0', '10.9.0.0/16',
             '169.254.0.0/16', 'fd00::1', 'fd00:0:0:9::', '::', 'ff02::1', '2001:db8::1',
             'fa:16:3e:00:00:01', 'ff:ff:ff:ff:ff:ff', '0000000000000001', 'br-int', 'ns1',
             'unix:/var/run/openvswitch/db.sock', 'tcp:10.0.0.1:6640', 'tcp', 'udp', 'icmp',
             '6', 'ingress', 'egress', 'IPv4', 'IPv6', 'true', 'False', '1', '0', 'None',
             '', 'normal', 'direct', 'network:router_interface', 'compute:nova', 'admin',
             'other-project', 'router', 'mtu', 'tftp-server', 'hv-fuzz', 'vrfabc', 1, 0, -1,
             68, 1400, 65535, 65536, True, False, None]
KEYS = ['subnet_id', 'ip_address', 'mac_address', 'destination', 'nexthop', 'opt_name',
        'opt_value', 'ip_version', 'start', 'end', 'segment_node_id', 'vrf', 'vrf_cidr',
        'vrf_ip']
TEXT = st.text(alphabet=st.characters(codec='utf-8'), max_size=40) | \
    st.text(alphabet='\x00\x01\x1b\x7f \t\n/:%\\\'"', max_size=8) | \
    st.sampled_from(['x' * 256, 'x' * 5000, '\u200b', 'é' * 15])
SCALARS = st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | \
    st.floats(allow_nan=False, allow_infinity=False) | TEXT


_STRATEGIES = {}


def _cached(key, make):
    """Strategies are built once: building them per example is what costs."""
    if key not in _STRATEGIES:
        _STRATEGIES[key] = make()
    return _STRATEGIES[key]


def values(world):
    def make():
        known = st.sampled_from(PLAUSIBLE + sorted(world.values()))
        leaf = known | known | SCALARS
        records = st.dictionaries(st.sampled_from(KEYS) | TEXT, leaf, max_size=4)
        return st.recursive(leaf | records | st.lists(records, max_size=7),
                            lambda inner: st.lists(inner, max_size=6) |
                            st.dictionaries(TEXT | st.sampled_from(KEYS), inner, max_size=5),
                            max_leaves=12)
    return _cached(('values', tuple(sorted(world.items()))), make)


def member_body(world, collection, allow):
    """A body for one member, from the attribute map: mostly names the
    map allows on ``allow`` (allow_post, allow_put), now and then others."""
    def make():
        attrs = definitions.RESOURCE_ATTRIBUTE_MAP[collection]
        allowed = sorted(n for n, spec in attrs.items() if spec.get(allow))
        names = st.sampled_from(allowed) if allowed else st.nothing()
        name = names | names | names | st.sampled_from(sorted(attrs)) | TEXT
        return st.dictionaries(name, values(world), max_size=6)
    return _cached(('body', collection, allow, tuple(sorted(world.items()))), make)


# -- requests --------------------------------------------------------------------

def send(server, method, path, body=None, raw=None, headers=None, query=''):
    """One request; asserts the properties; returns the response."""
    before = store_revision(server)
    data = raw if raw is not None else (None if body is None else json.dumps(body))
    all_headers = {'Content-Type': 'application/json'}
    all_headers.update(headers or {})
    url = server.url + path + ('?' + query if query else '')
    response = requests.request(method, url, data=data, headers=all_headers, timeout=60)
    assert response.status_code < 500, (method, path, query, data and data[:2000],
                                        response.text[:2000])
    if response.status_code >= 400:
        if method != 'HEAD':
            error = response.json()['NeutronError']
            assert error['type'] and isinstance(error['message'], str)
            assert len(response.content) < 4096
        assert store_revision(server) == before, (method, path, query, data and data[:2000],
                                                  response.text[:500])
    return response


def _path(collection):
    return V + '/' + definitions.PATHS[collection]


IF_MATCH = st.none() | st.sampled_from(['revision_number=0', 'revision_number=1',
                                        'revision_number=x', '*', 'revision_number=99999999999'])


@FUZZ
@given(data=st.data())
def test_create_never_fails_the_server(fuzz_server, world, data):
    collection = data.draw(st.sampled_from(COLLECTIONS), 'collection')
    member = definitions.MEMBERS[collection]
    body = data.draw(member_body(world, collection, 'allow_post'), 'body')
    shape = data.draw(st.sampled_from(['member', 'member', 'bulk', 'junk']), 'shape')
    if shape == 'member':
        wrapped = {member: body}
    elif shape == 'bulk':
        wrapped = {collection: data.draw(st.lists(member_body(
            world, collection, 'allow_post'), max_size=4), 'bulk')}
    else:
        wrapped = data.draw(values(world), 'junk')
    send(fuzz_server, 'POST', _path(collection), wrapped)


@FUZZ
@given(data=st.data())
def test_update_and_delete_never_fail_the_server(fuzz_server, world, data):
    collection = data.draw(st.sampled_from(sorted(world)), 'collection')
    member = definitions.MEMBERS[collection]
    body = data.draw(member_body(world, collection, 'allow_put'), 'body')
    if_match = data.draw(IF_MATCH, 'if_match')
    headers = {'If-Match': if_match} if if_match else {}
    target = data.draw(st.sampled_from([world[collection]] * 3 + [
        '00000000-0000-0000-0000-000000000000', 'x' * 300, '%ff']), 'id')
    method = data.draw(st.sampled_from(['PUT'] * 6 + ['DELETE']), 'method')
    if method == 'DELETE' and target == world[collection]:
        # Deleting the shared world would starve later examples: ask for a
        # revision it never has, which refuses it with 412.
        headers = {'If-Match': 'revision_number=99999999999'}
    send(fuzz_server, method, _path(collection) + '/' + target,
         {member: body} if method == 'PUT' else None, headers=headers)


@FUZZ
@given(data=st.data())
def test_tags_never_fail_the_server(fuzz_server, world, data):
    collection = data.draw(st.sampled_from(TAGGED), 'collection')
    path = _path(collection) + '/' + world[collection] + '/tags'
    action = data.draw(st.sampled_from(['GET', 'PUT', 'POST', 'DELETE', 'PUT one',
                                        'GET one', 'DELETE one']), 'action')
    if_match = data.draw(IF_MATCH, 'if_match')
    headers = {'If-Match': if_match} if if_match else {}
    if action.endswith(' one'):
        tag = data.draw(TEXT.filter(lambda t: '/' not in t and t not in ('.', '..')), 'tag')
        send(fuzz_server, action.split()[0], path + '/' + urllib.parse.quote(tag, safe=''),
             headers=headers)
    else:
        body = data.draw(st.fixed_dictionaries({'tags': st.lists(TEXT, max_size=60)}) |
                         values(world), 'body')
        send(fuzz_server, action, path, body if action in ('PUT', 'POST') else None,
             headers=headers)


QUERY_NAMES = sorted({name for attrs in definitions.RESOURCE_ATTRIBUTE_MAP.values()
                      for name in attrs} | {'fields', 'sort_key', 'sort_dir', 'limit',
                                            'marker', 'page_reverse', 'tags-any'})


@FUZZ
@given(data=st.data())
def test_lists_and_shows_never_fail_the_server(fuzz_server, world, data):
    collection = data.draw(st.sampled_from(COLLECTIONS), 'collection')
    name = st.sampled_from(QUERY_NAMES) | TEXT
    value = st.sampled_from(PLAUSIBLE[:40] + sorted(world.values()) + [
        'ip_address=10.0.0.5', 'subnet_id=' + world['subnets'], 'asc', 'desc', 'name',
        'id', '-1', '2', 'a,b']).map(str) | TEXT
    params = data.draw(st.lists(st.tuples(name, value), max_size=12), 'params')
    query = urllib.parse.urlencode(params)
    path = _path(collection)
    if data.draw(st.booleans(), 'show') and collection in world:
        path += '/' + world[collection]
    send(fuzz_server, 'GET', path, query=query)


@FUZZ
@given(data=st.data())
def test_raw_query_strings_and_bodies_never_fail_the_server(fuzz_server, world, data):
    """Bytes, not JSON: percent-encoded anything (not UTF-8 too), bodies
    that are not JSON or not declared JSON, odd methods."""
    collection = data.draw(st.sampled_from(COLLECTIONS), 'collection')
    raw_query = ''.join('%%%02x' % b if b not in b'=&' else chr(b)
                        for b in data.draw(st.binary(max_size=60), 'query'))
    method = data.draw(st.sampled_from(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD',
                                        'OPTIONS']), 'method')
    body = data.draw(st.binary(max_size=200) | st.sampled_from([
        b'{', b'[' * 5000, b'{"a": NaN}', b'null', b'{"network": {"name": "\xff"}}',
        b'\xef\xbb\xbf{}']), 'body')
    content_type = data.draw(st.sampled_from([
        'application/json', 'text/plain', 'application/json; charset=latin-1', '',
        'multipart/form-data; boundary=x']), 'content_type')
    path = _path(collection) + data.draw(st.sampled_from(
        ['', '/' + world.get(collection, 'x'), '/x/y', '.json', '/%ff']), 'path')
    send(fuzz_server, method, path, raw=body, query=raw_query,
         headers={'Content-Type': content_type} if content_type else {})
