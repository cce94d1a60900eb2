"""The real ``openstack`` CLI (python-openstackclient) against a running
srv6-ofapp without Keystone, as the README tells an operator to use it:
an operator's session (networks, an external one, a subnet, ports with
binding options and tags, security groups and rules, unbinding with
``port unset --host``, a MAC
change, a VNIC type this backend cannot bind, a refused create that leaves
nothing behind), a router session (a network node, a router with its
gateway and an interface, floating IPs associated, moved and let go, the
L3 agent it runs on, moved by hand to another network node), every answer read with ``-f json``; and each
documented way of pointing the CLI at the API.  Each command is a process (2-3 s),
so the session is one test and checks in between go through plain REST."""

import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import Client
from tests.server import ROOT, Server

V = '/v2.0'
OPENSTACK = os.path.join(os.path.dirname(sys.executable), 'openstack')
HOST = {'name': 'cli-compute1', 'datapath_id': '00000000000000c1',
        'segment_node_id': 'fd00:0:0:c1::', 'underlay_ip': 'fd00::c1'}


def clean_env(**settings):
    """This environment without the caller's OS_* settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    env.update(settings)
    return env


def openstack(args, env, check=True):
    result = subprocess.run([OPENSTACK] + list(args), capture_output=True, text=True,
                            timeout=60, cwd=ROOT, env=env)
    if check:
        assert result.returncode == 0, (args, result.stderr)
    return result


class Cli:
    """``openstack`` with OS_AUTH_TYPE=none and OS_ENDPOINT set."""

    def __init__(self, url):
        self.env = clean_env(OS_AUTH_TYPE='none', OS_ENDPOINT=url + '/')

    def run(self, *args, check=True):
        return openstack(args, self.env, check)

    def json(self, *args):
        return json.loads(self.run(*args, '-f', 'json').stdout)


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    """The API, reporting its agents every second (the router session
    lists the L3 agent of its network node)."""
    path = tmp_path_factory.mktemp('cli') / 'state.db'
    with Server(str(path), ['--report-interval', '1', '--agent-down-time', '3']) as srv:
        yield srv


@pytest.fixture(scope='module')
def cli(server):
    return Cli(server.url)


def names(rows):
    return sorted(row['Name'] for row in rows)


def test_an_operator_session(cli, client):
    client.create('host', **HOST)

    web = cli.json('network', 'create', 'web', '--tag', 'red')
    assert (web['name'], web['tags'], web['router:external']) == ('web', ['red'], False)
    public = cli.json('network', 'create', 'public', '--external')
    assert public['router:external'] is True
    assert names(cli.json('network', 'list', '--external')) == ['public']
    assert names(cli.json('network', 'list', '--internal')) == ['web']

    subnet = cli.json('subnet', 'create', 'web-sub', '--network', 'web',
                      '--subnet-range', '10.0.0.0/24', '--dns-nameserver', '10.0.0.53')
    assert (subnet['gateway_ip'], subnet['dns_nameservers']) == ('10.0.0.1', ['10.0.0.53'])

    vm1 = cli.json('port', 'create', 'vm1', '--network', 'web', '--host', HOST['name'],
                   '--vnic-type', 'normal', '--binding-profile', 'pci_slot=0000:05:00.1',
                   '--tag', 'blue', '--tag', 'green')
    assert (vm1['binding_host_id'], vm1['binding_vif_type'], vm1['binding_vnic_type']) == \
        (HOST['name'], 'ovs', 'normal')
    profile = vm1['binding_profile']
    assert profile['pci_slot'] == '0000:05:00.1'
    assert profile['segment_node_id'] == HOST['segment_node_id'] and profile['vrf_ip']
    assert sorted(vm1['tags']) == ['blue', 'green']
    assert vm1['fixed_ips'] == [{'subnet_id': subnet['id'], 'ip_address': '10.0.0.2'}]

    assert names(cli.json('port', 'list', '--tags', 'blue,green')) == ['vm1']
    cli.run('port', 'unset', '--tag', 'green', 'vm1')

    # Security groups: the port has its project's default group; add a
    # group with a rule and take it back.
    [default] = cli.json('security', 'group', 'list')
    assert (default['Name'], vm1['security_group_ids']) == ('default', [default['ID']])
    group = cli.json('security', 'group', 'create', 'web-sg', '--description', 'web')
    rule = cli.json('security', 'group', 'rule', 'create', 'web-sg', '--ingress',
                    '--protocol', 'tcp', '--dst-port', '8080:8081',
                    '--remote-ip', '192.168.0.0/16')
    assert (rule['port_range_min'], rule['port_range_max'], rule['remote_ip_prefix']) == \
        (8080, 8081, '192.168.0.0/16')
    from_members = cli.json('security', 'group', 'rule', 'create', 'web-sg', '--ingress',
                            '--protocol', 'icmp', '--remote-group', 'default')
    assert from_members['remote_group_id'] == default['ID']
    listed = cli.json('security', 'group', 'rule', 'list', 'web-sg')
    assert len(listed) == 4  # the two egress rules every new group has, and ours
    cli.run('port', 'set', '--security-group', 'web-sg', 'vm1')
    shown = client.get(V + '/ports/' + vm1['id']).json()['port']
    assert shown['security_groups'] == [default['ID'], group['id']]
    in_use = cli.run('security', 'group', 'delete', 'web-sg', check=False)
    assert in_use.returncode == 1 and 'in use' in in_use.stderr, in_use.stderr
    cli.run('port', 'unset', '--security-group', 'web-sg', 'vm1')
    cli.run('security', 'group', 'rule', 'delete', rule['id'])
    cli.run('security', 'group', 'delete', 'web-sg')
    assert [g['name'] for g in client.get(V + '/security-groups').json()[
        'security_groups']] == ['default']
    # A stateless group: it may not join the default (stateful) group on a
    # port, and keeps its statefulness while a port uses it.
    notrack = cli.json('security', 'group', 'create', 'notrack-sg', '--stateless')
    assert notrack['stateful'] is False
    mixed = cli.run('port', 'set', '--security-group', 'notrack-sg', 'vm1', check=False)
    assert mixed.returncode == 1 and 'both stateful and stateless' in mixed.stderr, \
        mixed.stderr
    cli.run('port', 'set', '--no-security-group', '--security-group', 'notrack-sg', 'vm1')
    in_use = cli.run('security', 'group', 'set', '--stateful', 'notrack-sg', check=False)
    assert in_use.returncode == 1 and 'in use' in in_use.stderr, in_use.stderr
    cli.run('port', 'set', '--no-security-group', '--security-group', 'default', 'vm1')
    cli.run('security', 'group', 'set', '--stateful', 'notrack-sg')
    assert cli.json('security', 'group', 'show', 'notrack-sg')['stateful'] is True
    cli.run('security', 'group', 'delete', 'notrack-sg')

    # Unbinding, as Nova does when a server goes: the VRF goes with its last port.
    cli.run('port', 'unset', '--host', 'vm1')
    shown = client.get(V + '/ports/' + vm1['id']).json()['port']
    assert (shown['binding:host_id'], shown['binding:vif_type']) == ('', 'unbound')
    assert shown['binding:profile'] == {'pci_slot': '0000:05:00.1'}
    gateway = cli.json('port', 'create', 'public-1', '--network', 'public',
                       '--host', HOST['name'])
    assert gateway['binding_profile']['vrf_ip'] == profile['vrf_ip']

    # Unplugged, its MAC may change.
    cli.run('port', 'set', '--mac-address', 'fa:16:3e:0c:11:01', 'vm1')
    vm1 = client.get(V + '/ports/' + vm1['id']).json()['port']
    assert (vm1['mac_address'], vm1['tags']) == ('fa:16:3e:0c:11:01', ['blue'])

    sriov = cli.json('port', 'create', 'sriov', '--network', 'web', '--host', HOST['name'],
                     '--vnic-type', 'direct')
    assert sriov['binding_vif_type'] == 'binding_failed'

    refused = cli.run('port', 'create', 'bad', '--network', 'web', '--fixed-ip',
                      'ip-address=10.0.0.1', '--tag', 'x', check=False)
    assert refused.returncode == 1 and '409' in refused.stderr, refused.stderr
    assert sorted(p['name'] for p in client.get(V + '/ports').json()['ports']) == \
        ['public-1', 'sriov', 'vm1']

    cli.run('port', 'delete', 'vm1', 'sriov', 'public-1')
    cli.run('network', 'delete', 'web', 'public')       # web-sub goes with web
    assert client.get(V + '/networks').json()['networks'] == []
    assert client.get(V + '/subnets').json()['subnets'] == []


def test_a_router_session(cli, client):
    client.create('host', name='cli-nn1', datapath_id='00000000000000c2',
                  segment_node_id='fd00:0:0:c2::', underlay_ip='fd00::c2', role='network',
                  external_interface='eth1')
    cli.json('network', 'create', 'public', '--external')
    public_sub = cli.json('subnet', 'create', 'public-sub', '--network', 'public',
                          '--subnet-range', '203.0.113.0/24',
                          '--allocation-pool', 'start=203.0.113.10,end=203.0.113.99')
    cli.json('network', 'create', 'app')
    app_sub = cli.json('subnet', 'create', 'app-sub', '--network', 'app',
                       '--subnet-range', '10.1.0.0/24')

    router = cli.json('router', 'create', 'r1', '--tag', 'edge')
    assert (router['status'], router['external_gateway_info'], router['tags']) == \
        ('ACTIVE', None, ['edge'])
    cli.run('router', 'set', '--external-gateway', 'public', 'r1')
    cli.run('router', 'add', 'subnet', 'r1', 'app-sub')
    shown = cli.json('router', 'show', 'r1')
    assert shown['external_gateway_info']['external_fixed_ips'] == [
        {'subnet_id': public_sub['id'], 'ip_address': '203.0.113.10'}]
    assert shown['external_gateway_info']['enable_snat'] is True
    [interface] = shown['interfaces_info']
    assert (interface['subnet_id'], interface['ip_address']) == (app_sub['id'], '10.1.0.1')

    vm1 = cli.json('port', 'create', 'vm1', '--network', 'app')
    vm2 = cli.json('port', 'create', 'vm2', '--network', 'app')
    fip = cli.json('floating', 'ip', 'create', '--port', 'vm1', 'public')
    address = fip['floating_ip_address']
    assert (fip['port_id'], fip['router_id'], fip['status'], address) == \
        (vm1['id'], router['id'], 'DOWN', '203.0.113.11')   # no node builds routers here
    [row] = cli.json('floating', 'ip', 'list')
    assert (row['Floating IP Address'], row['Fixed IP Address'], row['Port']) == \
        (address, vm1['fixed_ips'][0]['ip_address'], vm1['id'])

    def floating_ip():
        return client.get(V + '/floatingips/' + fip['id']).json()['floatingip']
    cli.run('floating', 'ip', 'unset', '--port', address)
    assert (floating_ip()['port_id'], floating_ip()['status']) == (None, 'DOWN')
    cli.run('floating', 'ip', 'set', '--port', 'vm2', address)
    assert (floating_ip()['port_id'], floating_ip()['fixed_ip_address']) == \
        (vm2['id'], vm2['fixed_ips'][0]['ip_address'])
    assert [r['Floating IP Address'] for r in cli.json('floating', 'ip', 'list', '--port',
                                                       'vm2')] == [address]

    # Where the router runs: the network node's L3 agent, once it has reported.
    deadline = time.monotonic() + 15
    while not client.get(V + '/routers/%s/l3-agents' % router['id']).json()['agents']:
        assert time.monotonic() < deadline, 'no L3 agent reported'
        time.sleep(0.2)
    [agent] = cli.json('network', 'agent', 'list', '--router', 'r1')
    assert (agent['Agent Type'], agent['Host']) == ('L3 agent', 'cli-nn1')
    assert [r['Name'] for r in cli.json('router', 'list', '--agent', agent['ID'])] == ['r1']

    # An admin moves it to a second network node by hand (manual L3
    # scheduling): off its agent, then onto the other.
    client.create('host', name='cli-nn2', datapath_id='00000000000000c3',
                  segment_node_id='fd00:0:0:c3::', underlay_ip='fd00::c3', role='network',
                  external_interface='eth1')
    deadline = time.monotonic() + 15
    while not client.get(V + '/agents', params={'host': 'cli-nn2'}).json()['agents']:
        assert time.monotonic() < deadline, 'no agent for cli-nn2'
        time.sleep(0.2)
    [other] = client.get(V + '/agents', params={'host': 'cli-nn2'}).json()['agents']
    # Hosted by the first: refused (409). openstacksdk's add_router_to_agent
    # does not look at the answer's status, so the command says nothing;
    # the router stays where it is.
    cli.run('network', 'agent', 'add', 'router', '--l3', other['id'], 'r1', check=False)
    assert [a['Host'] for a in cli.json('network', 'agent', 'list', '--router', 'r1')] == \
        ['cli-nn1']
    cli.run('network', 'agent', 'remove', 'router', '--l3', agent['ID'], 'r1')
    assert cli.json('network', 'agent', 'list', '--router', 'r1') == []
    cli.run('network', 'agent', 'add', 'router', '--l3', other['id'], 'r1')
    cli.run('network', 'agent', 'add', 'router', '--l3', other['id'], 'r1')   # again: no-op
    [agent] = cli.json('network', 'agent', 'list', '--router', 'r1')
    assert (agent['ID'], agent['Host']) == (other['id'], 'cli-nn2')
    assert cli.json('router', 'list', '--agent', agent['ID'])[0]['Name'] == 'r1'

    in_use = cli.run('router', 'delete', 'r1', check=False)
    assert in_use.returncode == 1 and 'still attached' in in_use.stderr, in_use.stderr
    cli.run('floating', 'ip', 'delete', address)
    cli.run('router', 'remove', 'subnet', 'r1', 'app-sub')
    cli.run('router', 'unset', '--external-gateway', 'r1')
    assert client.get(V + '/routers/' + router['id']).json()['router'][
        'external_gateway_info'] is None
    cli.run('router', 'delete', 'r1')
    cli.run('port', 'delete', 'vm1', 'vm2')
    cli.run('network', 'delete', 'app', 'public')
    assert client.get(V + '/ports').json()['ports'] == []


def test_the_ways_to_point_the_cli_at_the_api(server, client, tmp_path):
    """Besides OS_AUTH_TYPE/OS_ENDPOINT (above) and --os-auth-type none
    --os-endpoint (test_roles): a clouds.yaml, and the admin token."""
    client.create('network', name='pointed')
    url = server.url + '/'
    listing = ['network', 'list', '-f', 'value', '-c', 'Name']
    clouds = tmp_path / 'clouds.yaml'
    clouds.write_text('clouds:\n  srv6:\n    auth_type: none\n'
                      '    network_endpoint_override: %s\n' % url)
    cloud = openstack(['--os-cloud', 'srv6'] + listing,
                      clean_env(OS_CLIENT_CONFIG_FILE=str(clouds)))
    assert cloud.stdout.split() == ['pointed']

    # auth_strategy = token: the admin token as keystoneauth's admin_token.
    with Server(str(tmp_path / 'token.db'), ['--auth-strategy', 'token',
                                             '--admin-token', 'sesame']) as token_server:
        Client(token_server.url, {'X-Auth-Token': 'sesame'}).create('network', name='t')
        args = ['--os-auth-type', 'admin_token', '--os-endpoint', token_server.url + '/']
        token = openstack(args + ['--os-token', 'sesame'] + listing, clean_env())
        assert token.stdout.split() == ['t']
