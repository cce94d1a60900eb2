"""The OpenFlow edge on a real OVS bridge (userspace datapath) with VMs as
network namespaces, real DHCP clients, arping/ping and tcpdump, driven by a
real srv6-ofapp process through its REST API."""

import os
import re
import signal
import sys
import textwrap
import time

import pytest

from tests import netlab
from tests.conftest import Client
from tests.server import Server

V = '/v2.0'
DPID = '00000000000000e1'
GW_MAC = 'fa:16:3f:00:00:01'

pytestmark = pytest.mark.skipif(netlab.unavailable_reason() is not None,
                                reason=str(netlab.unavailable_reason()))


class Edge:
    """One controller, one private OVS with one registered bridge (host hv1)."""

    def __init__(self, tmp_path):
        self.server = Server(str(tmp_path / 'state.db'), ['--verbose'])
        self.lab = netlab.Lab()
        try:
            self.server.start()
            self.api = Client(self.server.url)
            self.api.create('host', name='hv1', datapath_id=DPID,
                            segment_node_id='fd00:0:0:e1::', underlay_ip='fd00::e1')
            self.bridge = self.lab.ovs.add_bridge(dpid=DPID,
                                                  controller_port=self.server.ofp_port)
            self.lab.ovs.wait_for_flows(self.bridge, lambda flows: len(flows) >= 4)
        except BaseException:
            self.close()
            raise

    def network(self, cidr='10.0.0.0/24', **subnet):
        network = self.api.create('network', name='net')
        self.api.create('subnet', network_id=network['id'], cidr=cidr, **subnet)
        return network

    def vm(self, network, name='vm', **port):
        port = self.api.create('port', network_id=network['id'], name=name,
                               **{'binding:host_id': 'hv1'}, **port)
        vm = self.lab.vm(self.bridge, port_id=port['id'], mac=port['mac_address'])
        vm.port = port
        vm.ip = port['fixed_ips'][0]['ip_address'] if port['fixed_ips'] else None
        self.wait_for_flow('dl_dst=%s' % port['mac_address'])
        return vm

    def flows(self):
        return self.lab.ovs.dump_flows(self.bridge)

    def wait_for_flow(self, text, present=True, timeout=15):
        return self.lab.ovs.wait_for_flows(
            self.bridge, lambda flows: any(text in f['raw'] for f in flows) == present,
            timeout=timeout)

    def close(self):
        self.lab.close()
        self.server.stop()


@pytest.fixture(scope='module')
def edge(tmp_path_factory):
    edge = Edge(tmp_path_factory.mktemp('edge'))
    yield edge
    edge.close()


@pytest.fixture
def vms(edge):
    """VMs made by a test are destroyed after it, even on failure."""
    made = []
    yield made
    for vm in made:
        vm.destroy()


def make_vms(edge, vms, network, count=1, **port):
    for i in range(count):
        vms.append(edge.vm(network, name='vm%d' % i, **port))
    return vms[-count:]


def test_udhcpc_and_dhclient_get_and_apply_the_ports_settings(edge, vms):
    network = edge.network(dns_nameservers=['10.0.0.53'],
                           host_routes=[{'destination': '192.168.0.0/16',
                                         'nexthop': '10.0.0.254'}])
    first, second = make_vms(edge, vms, network, 2)
    for vm, lease in ((first, first.udhcpc()), (second, second.dhclient())):
        assert lease.ip == vm.ip and lease.prefixlen == 24
        assert lease.router == '10.0.0.1' and lease.server_id == '10.0.0.1'
        assert lease.dns == ['10.0.0.53'] and lease.domain == 'openstacklocal'
        assert lease.hostname == vm.port['name'] and lease.mtu == 1436
        assert lease.lease_time == 86400
        assert set(lease.staticroutes) == {('192.168.0.0/16', '10.0.0.254'),
                                           ('0.0.0.0/0', '10.0.0.1')}
        # What the client applied to the interface and the routing table.
        assert ('%s/24' % vm.ip) in vm.addresses(4)
        routes = {(r['dst'], r.get('gateway')) for r in vm.routes()}
        assert ('default', '10.0.0.1') in routes
        assert ('192.168.0.0/16', '10.0.0.254') in routes
        assert vm.link()['mtu'] == 1436
    port = edge.api.get(V + '/ports/' + first.port['id']).json()['port']
    assert port['status'] == 'ACTIVE'
    exposition = edge.api.get('/metrics').text
    for event in ('offer', 'ack', 'packet_in', 'switch_connected'):
        count = re.search(r'srv6_ofapp_events_total\{event="%s"\} (\S+)' % event, exposition)
        assert count and float(count.group(1)) >= 1, event


def renew_by_unicast(vm, server_id):
    """busybox udhcpc takes a lease, then renews it on SIGUSR1: the renewing
    REQUEST goes by unicast to the server identifier.  Asserts it got its
    answer."""
    script = os.path.join(vm.dir, 'udhcpc-hook.sh')
    records = os.path.join(vm.dir, 'udhcpc-records')
    before = len(netlab.read_records(records))
    capture = vm.capture('udp port 67')
    proc = vm.spawn(['udhcpc', '-f', '-i', vm.ifname, '-s', script, '-t', '3', '-T', '1'],
                    'udhcpc-daemon.log', env={'PATH': netlab.PATH})
    try:
        netlab._wait(lambda: any(event == 'bound' for event, _ in
                                 netlab.read_records(records)[before:]), 10, 'first lease')
        seen = len(netlab.read_records(records))
        proc.send_signal(signal.SIGUSR1)  # busybox udhcpc: renew now
        netlab._wait(lambda: any(event == 'renew' for event, _ in
                                 netlab.read_records(records)[seen:]), 10, 'renewal')
    finally:
        proc.terminate()
        proc.wait(10)
    lines = capture.stop()
    # The renewing REQUEST went to the server's address, not broadcast.
    assert any('%s.68 > %s.67' % (vm.ip, server_id) in line for line in lines), lines


def test_renewal_is_answered_by_unicast(edge, vms):
    [vm] = make_vms(edge, vms, edge.network())
    vm.udhcpc()
    renew_by_unicast(vm, '10.0.0.1')


def test_a_subnet_without_gateway_serves_from_an_address_no_port_holds(edge, vms):
    """The server identifier of a gateway-less subnet is an address the model
    reserved: no port gets it, the distributed gateway answers ARP for it, and
    clients renew to it."""
    network = edge.network('10.8.0.0/24', gateway_ip=None)
    [vm] = make_vms(edge, vms, network)
    lease = vm.udhcpc()
    server_id = lease.server_id
    assert lease.router is None and server_id != vm.ip
    taken = edge.api.post(V + '/ports', {'port': {
        'network_id': network['id'], 'fixed_ips': [{'ip_address': server_id}]}})
    assert taken.status_code == 409, taken.text
    assert vm.arping(server_id) == [GW_MAC]
    renew_by_unicast(vm, server_id)


SCAPY_REQUEST = textwrap.dedent('''
    import sys
    from scapy.all import BOOTP, DHCP, IP, UDP, Ether, conf, srp1
    conf.verb = 0
    conf.checkIPaddr = False  # the reply comes from the server, not from the broadcast
    mac, requested = sys.argv[1], sys.argv[2]
    raw = bytes.fromhex(mac.replace(':', ''))
    request = (Ether(src=mac, dst='ff:ff:ff:ff:ff:ff') /
               IP(src='0.0.0.0', dst='255.255.255.255') / UDP(sport=68, dport=67) /
               BOOTP(chaddr=raw, xid=0x1234, flags=0x8000) /
               DHCP(options=[('message-type', 'request'), ('requested_addr', requested),
                             'end']))
    reply = srp1(request, iface='eth0', timeout=3)
    types = {1: 'discover', 2: 'offer', 3: 'request', 5: 'ack', 6: 'nak'}
    print(types.get(dict(o for o in reply[DHCP].options if isinstance(o, tuple))
                    ['message-type']) if reply else 'none')
''')


def test_a_wrong_requested_address_gets_a_nak(edge, vms):
    [vm] = make_vms(edge, vms, edge.network())
    answer = vm.run([sys.executable, '-c', SCAPY_REQUEST, vm.port['mac_address'],
                     '10.0.0.99'], timeout=30).stdout.strip()
    assert answer == 'nak'
    answer = vm.run([sys.executable, '-c', SCAPY_REQUEST, vm.port['mac_address'], vm.ip],
                    timeout=30).stdout.strip()
    assert answer == 'ack'


def test_arp_and_ping_without_flooding(edge, vms):
    first, second, bystander = make_vms(edge, vms, edge.network(), 3)
    for vm in (first, second, bystander):
        vm.udhcpc()
    # IPv4 and ARP reaching the bystander (the veth's host side sends
    # IPv6 MLD of its own straight down the wire, not through the switch).
    watching = bystander.capture('not ip6', extra_args=['-Q', 'in'])
    assert first.arping(second.ip) == [second.port['mac_address']]
    assert first.arping('10.0.0.1') == [GW_MAC]
    assert first.ping(second.ip, count=3)
    assert second.ping(first.ip, count=3)
    # The bystander of the same network saw none of it: no broadcast ARP,
    # no flooded unicast.
    assert watching.stop() == []


def test_same_cidr_networks_are_isolated(edge, vms):
    net_a, net_b = edge.network(), edge.network()
    a1, a2 = make_vms(edge, vms, net_a, 2)
    [b1] = make_vms(edge, vms, net_b, 1, fixed_ips=[{'ip_address': a2.ip}])
    for vm in (a1, a2, b1):
        vm.udhcpc()
    assert b1.ip == a2.ip
    watching = b1.capture('not ip6', extra_args=['-Q', 'in'])
    assert a1.ping(a2.ip, count=2)  # reaches its own network's owner ...
    assert watching.stop() == []    # ... and the other project's twin sees nothing
    # b1 alone in its network: the same address answers nobody there.
    assert not b1.ping(a1.ip, count=1, timeout=2)


def test_spoofed_source_mac_or_ip_is_dropped(edge, vms):
    first, second = make_vms(edge, vms, edge.network(), 2)
    for vm in (first, second):
        vm.udhcpc()
    assert first.ping(second.ip)
    watching = second.capture('icmp', extra_args=['-Q', 'in'])
    first.run(['ip', 'addr', 'add', '10.0.0.200/24', 'dev', 'eth0'])
    spoofed = first.run(['ping', '-n', '-c', '2', '-w', '3', '-I', '10.0.0.200', second.ip],
                        check=False)
    assert spoofed.returncode != 0
    first.run(['ip', 'addr', 'del', '10.0.0.200/24', 'dev', 'eth0'])
    first.run(['ip', 'link', 'set', 'eth0', 'address', 'fa:16:3e:66:66:66'])
    first.run(['ip', 'neigh', 'flush', 'all'])
    assert not first.ping(second.ip, count=2, timeout=3)
    assert watching.stop() == []


def test_removed_port_goes_down_and_its_flows_go(edge, vms):
    [vm] = make_vms(edge, vms, edge.network())
    mac, port_id = vm.port['mac_address'], vm.port['id']
    netlab._wait(lambda: edge.api.get(V + '/ports/' + port_id).json()['port']['status']
                 == 'ACTIVE', 10, 'port ACTIVE')
    vms.remove(vm)
    vm.destroy()
    edge.wait_for_flow('dl_dst=%s' % mac, present=False)
    netlab._wait(lambda: edge.api.get(V + '/ports/' + port_id).json()['port']['status']
                 == 'DOWN', 10, 'port DOWN')


def test_model_changes_reach_the_switch_live(edge, vms):
    [vm] = make_vms(edge, vms, edge.network())
    edge.api.put(V + '/ports/' + vm.port['id'], {'port': {'fixed_ips': [
        {'ip_address': '10.0.0.77'}]}})
    edge.wait_for_flow('nw_src=10.0.0.77')
    # Port security forgot the old address (security groups' flows may name
    # it still: another network's member of the project's default group).
    assert not any('nw_src=%s' % vm.ip in f['raw'] for f in edge.flows() if f['table'] == 0)
    assert vm.udhcpc().ip == '10.0.0.77'


def test_unknown_datapath_is_kept_at_drop_all(edge, vms):
    bridge = edge.lab.ovs.add_bridge(dpid='00000000000000ee',
                                     controller_port=edge.server.ofp_port)
    flows = edge.lab.ovs.wait_for_flows(bridge, lambda flows: len(flows) >= 4)
    assert all(f['actions'] == 'drop' and f['priority'] == 0 for f in flows)
    stray = edge.lab.vm(bridge)
    vms.append(stray)
    assert stray.udhcpc(timeout=2, check=False) is None


def test_dhcp_flood_from_one_vm_does_not_starve_another(edge, vms):
    flooder, victim = make_vms(edge, vms, edge.network(), 2)
    flood = textwrap.dedent('''
        import sys
        from scapy.all import BOOTP, DHCP, IP, UDP, Ether, conf, sendp
        conf.verb = 0
        mac = sys.argv[1]
        frame = (Ether(src=mac, dst='ff:ff:ff:ff:ff:ff') /
                 IP(src='0.0.0.0', dst='255.255.255.255') / UDP(sport=68, dport=67) /
                 BOOTP(chaddr=bytes.fromhex(mac.replace(':', ''))) /
                 DHCP(options=[('message-type', 'discover'), 'end']))
        sendp(frame, iface='eth0', count=3000, inter=0)
    ''')
    proc = flooder.spawn([sys.executable, '-c', flood, flooder.port['mac_address']],
                         'flood.log')
    try:
        lease = victim.udhcpc(timeout=10)
        assert lease.ip == victim.ip
    finally:
        proc.wait(60)
    stats = edge.lab.ovs.ofctl('meter-stats', edge.bridge)
    dropped = [int(n) for n in re.findall(r'0: packet_count:(\d+)', stats)]
    assert max(dropped) > 0, stats  # the flooder's meter dropped the excess


def test_controller_restart_is_hitless(edge, vms):
    first, second = make_vms(edge, vms, edge.network(), 2)
    for vm in (first, second):
        vm.udhcpc()
    assert first.ping(second.ip)
    flows_before = {(f['table'], f['priority'], f['match_str']): f for f in edge.flows()}
    ping = first.spawn(['ping', '-n', '-i', '0.02', '-c', '300', '-W', '1', second.ip],
                       'restart-ping.log')
    time.sleep(0.5)
    log_size = edge.server.restart(ready='datapath %s synced' % DPID)
    assert ping.wait(30) == 0
    summary = open(os.path.join(first.dir, 'restart-ping.log')).read()
    assert ' 0% packet loss' in summary, summary
    assert re.search(r'datapath %s synced: \d+ flows held, 0 messages sent' % DPID,
                     edge.server.log_since(log_size))
    flows_after = {(f['table'], f['priority'], f['match_str']): f for f in edge.flows()}
    assert flows_after.keys() == flows_before.keys()
    # Not re-added: the packet counters kept counting from before.
    key = next(k for k, f in flows_before.items() if f['n_packets'] > 0)
    assert flows_after[key]['n_packets'] >= flows_before[key]['n_packets']



SET_PORT_REG = r'(?:set_field:(0x[0-9a-f]+)->reg5|load:(0x[0-9a-f]+)->NXM_NX_REG5\[\]),'


def as_the_old_release_held_it(line):
    """A flow of today's dump as the release with list-position table ids
    (ingress 0, arp 1, dhcp 2, l2 3) and no security groups held it; None
    for a flow of a table it did not have."""
    table = int((re.search(r'table=(\d+)', line) or [0, 0])[1])
    if table in (30, 31, 32, 60, 61):
        return None
    if table == 50 and 'goto_table:60' in line:  # delivery went straight out
        port = re.search(SET_PORT_REG, line)
        line = re.sub(r'actions=.*', 'actions=output:%d' % int(port[1] or port[2], 16), line)
    line = re.sub(SET_PORT_REG, '', line).replace('goto_table:30', 'goto_table:50')
    old_ids = {'10': '1', '20': '2', '50': '3'}
    return re.sub(r'\b(table=|goto_table:)(10|20|50)\b',
                  lambda m: m.group(1) + old_ids[m.group(2)], line)


def test_flows_of_the_old_table_numbering_are_replaced_without_a_loss(edge, vms):
    """An upgrade from the release whose table ids were list positions
    (ingress 0, arp 1, dhcp 2, l2 3): the first start replaces its flows in
    one pass, under traffic, and leaves none behind."""
    first, second = make_vms(edge, vms, edge.network(), 2)
    for vm in (first, second):
        vm.udhcpc()
    assert first.ping(second.ip)
    assert edge.server.stop() == 0
    dump = edge.lab.ovs.ofctl('dump-flows', edge.bridge, '--no-stats')
    old = '\n'.join(filter(None, map(as_the_old_release_held_it, dump.splitlines())))
    flows_file = os.path.join(first.dir, 'old-flows.txt')
    with open(flows_file, 'w') as out:
        out.write(old)
    edge.lab.ovs.ofctl('replace-flows', edge.bridge, flows_file)
    assert {f['table'] for f in edge.flows()} == {0, 1, 2, 3}
    ping = first.spawn(['ping', '-n', '-i', '0.02', '-c', '250', '-W', '1', second.ip],
                       'upgrade-ping.log')
    time.sleep(0.5)
    offset = edge.server.log_size()
    edge.server.start()
    netlab._wait(lambda: 'datapath %s synced' % DPID in edge.server.log_since(offset), 20,
                 'switch synced')
    assert ping.wait(30) == 0
    summary = open(os.path.join(first.dir, 'upgrade-ping.log')).read()
    assert ' 0% packet loss' in summary, summary
    assert {f['table'] for f in edge.flows()} == {0, 10, 20, 30, 31, 32, 50, 60, 61}
    log_size = edge.server.restart(ready='datapath %s synced' % DPID)
    assert re.search(r'datapath %s synced: \d+ flows held, 0 messages sent' % DPID,
                     edge.server.log_since(log_size))


def test_a_port_found_by_its_ovsdb_iface_id(edge, vms):
    """An interface not named tap+port_id[:11] is the port its
    external_ids:iface-id names, when the host's ovsdb is known."""
    host = edge.api.get(V + '/hosts', params={'name': 'hv1'}).json()['hosts'][0]
    edge.api.put(V + '/hosts/' + host['id'], {'host': {'ovsdb': 'unix:' + edge.lab.ovs.db_sock}})
    network = edge.network()
    port = edge.api.create('port', network_id=network['id'], **{'binding:host_id': 'hv1'})
    vm = edge.lab.vm(edge.bridge, mac=port['mac_address'], iface_id=port['id'])
    vms.append(vm)
    assert vm.tap != 'tap' + port['id'][:11]
    assert vm.udhcpc().ip == port['fixed_ips'][0]['ip_address']
    netlab._wait(lambda: edge.api.get(V + '/ports/' + port['id']).json()['port']['status']
                 == 'ACTIVE', 10, 'port ACTIVE')


def test_a_host_registered_after_its_switch_connected(edge, vms):
    """The switch first sits at drop-all; registering its host (with an
    ovsdb naming ports by iface-id) brings the full pipeline, live."""
    bridge = edge.lab.ovs.add_bridge(dpid='00000000000000e7',
                                     controller_port=edge.server.ofp_port)
    edge.lab.ovs.wait_for_flows(bridge, lambda flows: len(flows) >= 4)
    network = edge.network()
    port = edge.api.create('port', network_id=network['id'], **{'binding:host_id': 'hv7'})
    vm = edge.lab.vm(bridge, mac=port['mac_address'], iface_id=port['id'])
    vms.append(vm)
    assert vm.udhcpc(timeout=2, check=False) is None
    edge.api.create('host', name='hv7', datapath_id='00000000000000e7',
                    segment_node_id='fd00:0:0:e7::', underlay_ip='fd00::e7',
                    ovsdb='unix:' + edge.lab.ovs.db_sock)
    assert vm.udhcpc().ip == port['fixed_ips'][0]['ip_address']
    netlab._wait(lambda: edge.api.get(V + '/ports/' + port['id']).json()['port']['status']
                 == 'ACTIVE', 10, 'port ACTIVE')
