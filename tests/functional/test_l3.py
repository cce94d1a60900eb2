"""North-south through Neutron routers, end to end on the real kernel:
everything through the REST API of one srv6-ofapp process (sqlite), which
drives two compute hosts (tests/twohosts.py: their own OVS, VMs with DHCP)
and a network node gw1 (a namespace: the routers' namespaces, br-ex with
its external interface ext0) facing an "internet" host 203.0.113.1/24.

Projects alpha and beta both use 10.0.0.0/24 (a1, b1 on hv1; a2, b2 on
hv2), each with its router on gw1; alpha has a second network attached to
its router.
"""

import os
import re
import time

import pytest

from tests import netlab
from tests.twohosts import V, AllInOne, TwoHosts, make_tenants, sh

TOOLS = ('nft', 'tcpdump')
pytestmark = pytest.mark.skipif(netlab.unavailable_reason(TOOLS) is not None,
                                reason=str(netlab.unavailable_reason(TOOLS)))

INTERNET = '203.0.113.1'
SOURCE = re.compile(r'length \d+: ([0-9.]+) > %s' % re.escape(INTERNET))


class NetworkNode:
    """gw1 and the internet host, wired to a TwoHosts world: gw1's underlay
    link goes to hv1 (fd02::/64), its SID prefix is fd00:0:0:8::/64."""

    def __init__(self, hosts):
        self.hosts = hosts
        self.gw = netlab.unique('gw')
        self.inet = netlab.unique('inet')
        for ns in (self.gw, self.inet):
            netlab.netns_add(ns)
            hosts.namespaces.append(ns)
            sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
        hv1, hv2 = hosts.ovs[1].netns, hosts.ovs[2].netns
        sh('ip', 'link', 'add', 'g1', 'netns', hv1, 'type', 'veth', 'peer', 'name', 'u0',
           'netns', self.gw)
        sh('ip', '-n', hv1, 'addr', 'add', 'fd02::1/64', 'dev', 'g1', 'nodad')
        sh('ip', '-n', self.gw, 'addr', 'add', 'fd02::8/64', 'dev', 'u0', 'nodad')
        sh('ip', '-n', hv1, 'link', 'set', 'g1', 'up')
        sh('ip', '-n', self.gw, 'link', 'set', 'u0', 'up')
        sh('ip', '-n', hv1, '-6', 'route', 'add', 'fd00:0:0:8::/64', 'via', 'fd02::8')
        sh('ip', '-n', hv2, '-6', 'route', 'add', 'fd00:0:0:8::/64', 'via', 'fd00::1')
        for prefix in ('fd00:0:0:1::/64', 'fd00:0:0:2::/64'):
            sh('ip', '-n', self.gw, '-6', 'route', 'add', prefix, 'via', 'fd02::1')
        sh('ip', 'link', 'add', 'ext0', 'netns', self.gw, 'type', 'veth', 'peer', 'name',
           'eth0', 'netns', self.inet)
        sh('ip', '-n', self.inet, 'addr', 'add', INTERNET + '/24', 'dev', 'eth0')
        sh('ip', '-n', self.inet, 'link', 'set', 'eth0', 'up')
        hosts.api.create('host', name='gw1', datapath_id='00000000000000e8',
                         segment_node_id='fd00:0:0:8::', underlay_ip='fd02::8',
                         netns=self.gw, role='network', external_interface='ext0')

    def router_namespaces(self):
        return sorted(n for n in os.listdir('/var/run/netns') if n.startswith(self.gw + '-'))

    def close(self):
        # Router namespaces the process made for the simulated node.
        for ns in self.router_namespaces():
            netlab.netns_delete(ns)

    def diagnostics(self):
        """What the routers hold, for a failure's message."""
        parts = []
        for ns in self.router_namespaces():
            for args in (['ip', '-n', ns, 'addr'], ['ip', '-n', ns, 'route'],
                         ['ip', '-n', ns, '-6', 'route'],
                         ['ip', 'netns', 'exec', ns, 'nft', 'list', 'ruleset']):
                parts.append('$ %s\n%s' % (' '.join(args), sh(*args, check=False).stdout))
        return '\n'.join(parts)

    def ping(self, address, count=2, timeout=3):
        return sh('ip', 'netns', 'exec', self.inet, 'ping', '-n', '-c', count, '-W', timeout,
                  address, check=False).returncode == 0

    def sources_seen(self, vm):
        """The source addresses the internet host sees from ``vm``'s ping."""
        with netlab.Capture('eth0', 'icmp and dst host %s' % INTERNET,
                            netns=self.inet) as capture:
            vm.ping(INTERNET, count=1, timeout=3)
        return {m.group(1) for m in map(SOURCE.search, capture.stop()) if m}


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    hosts = TwoHosts(AllInOne(tmp_path_factory.mktemp('l3')))
    node = None
    try:
        node = NetworkNode(hosts)
        tenants = make_tenants(hosts)
        api = hosts.api
        public = api.create('network', name='public', **{'router:external': True})
        api.create('subnet', network_id=public['id'], cidr='203.0.113.0/24',
                   gateway_ip=INTERNET, allocation_pools=[{'start': '203.0.113.10',
                                                           'end': '203.0.113.99'}])
        routers = {}
        for project in ('alpha', 'beta'):
            headers = {'X-Project-Id': project}
            router = api.post(V + '/routers', {'router': {
                'name': 'r-' + project,
                'external_gateway_info': {'network_id': public['id']}}},
                headers=headers).json()['router']
            [subnet] = api.get(V + '/subnets', params={
                'network_id': tenants[project]['id']}).json()['subnets']
            response = api.put(V + '/routers/%s/add_router_interface' % router['id'],
                               {'subnet_id': subnet['id']}, headers=headers)
            assert response.status_code == 200, response.text
            routers[project] = api.get(V + '/routers/' + router['id']).json()['router']
        yield dict(tenants, hosts=hosts, node=node, api=api, public=public, routers=routers)
    finally:
        if node is not None:
            node.close()
        hosts.close()


def external_ip(router):
    return router['external_gateway_info']['external_fixed_ips'][0]['ip_address']


def wait(condition, what, timeout=20, node=None):
    netlab._wait(condition, timeout, what, interval=0.2,
                 on_timeout=node.diagnostics if node else '')


def test_routers_run_on_the_network_node(world):
    api, node = world['api'], world['node']
    for router in world['routers'].values():
        [agent] = api.get(V + '/routers/%s/l3-agents' % router['id']).json()['agents']
        assert agent['host'] == 'gw1' and agent['agent_type'] == 'L3 agent'
    wait(lambda: len(node.router_namespaces()) == 2, 'two router namespaces on gw1')


def test_vms_of_both_projects_get_out_through_their_own_router(world):
    vms, node = world['vms'], world['node']
    # The same addresses in both projects, each SNATed to its router's address.
    wait(lambda: node.sources_seen(vms['a1']) == {external_ip(world['routers']['alpha'])},
         'a1 out through r-alpha')
    assert node.sources_seen(vms['b2']) == {external_ip(world['routers']['beta'])}
    assert node.sources_seen(vms['a2']) == {external_ip(world['routers']['alpha'])}
    # From outside, no VM is reachable without a floating IP.
    sh('ip', '-n', node.inet, 'route', 'replace', '10.0.0.0/24', 'via',
       external_ip(world['routers']['alpha']))
    assert not node.ping('10.0.0.11', count=1, timeout=1)


def test_a_floating_ip_is_reached_from_outside_and_is_the_vm_source(world):
    api, vms, node = world['api'], world['vms'], world['node']
    # As in Neutron, the project's default security group lets in only its
    # members: pings from outside need a rule.
    [group] = api.get(V + '/security-groups', params={'name': 'default'},
                      headers={'X-Project-Id': 'alpha'}).json()['security_groups']
    rule = api.post(V + '/security-group-rules', {'security_group_rule': {
        'security_group_id': group['id'], 'direction': 'ingress', 'protocol': 'icmp',
        'remote_ip_prefix': '0.0.0.0/0'}}, headers={'X-Project-Id': 'alpha'})
    assert rule.status_code == 201, rule.text
    fip = api.post(V + '/floatingips', {'floatingip': {
        'floating_network_id': world['public']['id'], 'port_id': vms['a2'].port['id']}},
        headers={'X-Project-Id': 'alpha'}).json()['floatingip']
    address = fip['floating_ip_address']
    assert (fip['router_id'], fip['status']) == (world['routers']['alpha']['id'], 'DOWN')
    wait(lambda: node.ping(address, count=1, timeout=1), 'the floating IP answers', node=node)
    # The network node, having applied it, says it works (Neutron's L3 agent
    # does the same).
    wait(lambda: api.get(V + '/floatingips/' + fip['id']).json()['floatingip'][
        'status'] == 'ACTIVE', 'the floating IP ACTIVE')
    assert node.sources_seen(vms['a2']) == {address}
    # The rule lets ICMP in to every VM of alpha's: the router still keeps
    # a1 (no floating IP, its subnet routed to the router) out of reach.
    sh('ip', '-n', node.inet, 'route', 'replace', '10.0.0.0/24', 'via',
       external_ip(world['routers']['alpha']))
    assert not node.ping('10.0.0.11', count=1, timeout=1)
    # a1, on the same router without a floating IP, still leaves as the router.
    assert node.sources_seen(vms['a1']) == {external_ip(world['routers']['alpha'])}
    # Disassociated: no longer reached, and a2 is SNATed again.
    down = api.put(V + '/floatingips/' + fip['id'], {'floatingip': {'port_id': None}})
    assert down.json()['floatingip']['status'] == 'DOWN'
    wait(lambda: not node.ping(address, count=1, timeout=1), 'the floating IP silent')
    assert node.sources_seen(vms['a2']) == {external_ip(world['routers']['alpha'])}
    api.delete(V + '/floatingips/' + fip['id'])


def test_networks_of_one_router_reach_each_other_and_no_one_else(world):
    api, vms, hosts = world['api'], world['vms'], world['hosts']
    headers = {'X-Project-Id': 'alpha'}
    second = api.post(V + '/networks', {'network': {'name': 'alpha-2'}},
                      headers=headers).json()['network']
    subnet = api.post(V + '/subnets', {'subnet': {'network_id': second['id'],
                                                  'cidr': '10.1.0.0/24'}},
                      headers=headers).json()['subnet']
    a3 = hosts.vm(second, 2, '10.1.0.13')
    assert a3.udhcpc().ip == '10.1.0.13'
    router = world['routers']['alpha']
    path = V + '/routers/%s/%%s_router_interface' % router['id']
    assert api.put(path % 'add', {'subnet_id': subnet['id']},
                   headers=headers).status_code == 200
    wait(lambda: vms['a1'].ping('10.1.0.13', count=1, timeout=1), 'a1 -> a3 through r-alpha')
    assert a3.ping('10.0.0.11', count=1, timeout=2)
    # Beta's VM, same addresses as a1, has no way to alpha's second network.
    assert not vms['b1'].ping('10.1.0.13', count=2, timeout=1)
    # Removing the interface cuts the path.
    assert api.put(path % 'remove', {'subnet_id': subnet['id']},
                   headers=headers).status_code == 200
    wait(lambda: not vms['a1'].ping('10.1.0.13', count=1, timeout=1), 'a3 cut off')


def test_restart_keeps_north_south_without_loss_or_writes(world):
    vms, node, hosts = world['vms'], world['node'], world['hosts']
    wait(lambda: vms['a1'].ping(INTERNET, count=1, timeout=1), 'a1 reaches the internet')
    before = {ns: sh('ip', 'netns', 'exec', ns, 'nft', 'list', 'ruleset').stdout
              for ns in node.router_namespaces()}
    ping = vms['a1'].spawn(['ping', '-n', '-i', '0.05', '-c', '120', '-W', '1', INTERNET],
                           'l3-restart-ping.log')
    time.sleep(0.5)
    size = hosts.controllers.server.restart(ready='synced')
    assert ping.wait(30) == 0
    summary = open(os.path.join(vms['a1'].dir, 'l3-restart-ping.log')).read()
    assert ' 0% packet loss' in summary, summary
    time.sleep(1)  # time to (not) act
    log = hosts.controllers.server.log_since(size)
    assert 'host gw1 in step' in log
    assert not re.search(r'creating router|deleting router|routes added', log), log
    assert before == {ns: sh('ip', 'netns', 'exec', ns, 'nft', 'list', 'ruleset').stdout
                      for ns in node.router_namespaces()}


def test_removing_the_gateway_cuts_the_way_out(world):
    api, vms = world['api'], world['vms']
    router = world['routers']['beta']
    response = api.put(V + '/routers/' + router['id'],
                       {'router': {'external_gateway_info': {}}},
                       headers={'X-Project-Id': 'beta'})
    assert response.status_code == 200, response.text
    wait(lambda: not vms['b1'].ping(INTERNET, count=1, timeout=1), 'beta cut off')
    assert vms['a1'].ping(INTERNET, count=1, timeout=2)   # alpha's router still out
    api_routers = api.get(V + '/routers').json()['routers']
    assert {r['name'] for r in api_routers} == {'r-alpha', 'r-beta'}
