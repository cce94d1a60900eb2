"""The network lab itself (tests/netlab.py), without our controller: a private
OVS starts and leaves nothing behind, a secure-mode netdev bridge forwards
between two namespaces only once a flow says so, and real DHCP clients get and
apply a lease from dnsmasq through it."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from tests import netlab
from tests.netlab import lab, ovs  # noqa: F401  (fixtures)
from tests.server import ROOT


def root_links():
    return {link['ifname'] for link in json.loads(netlab.sh(['ip', '-j', 'link']).stdout)}


def ours_in_root_netns(links_before, names):
    """Links of ours in the root netns (the userspace datapath's ovs-netdev
    tap, bridge taps, VM veths must all stay in namespaces of ours)."""
    now = root_links()
    return (set(names) & now) | ({'ovs-netdev'} & (now - links_before))


def netns_names():
    out = netlab.sh(['ip', '-j', 'netns', 'list']).stdout.strip()
    return {ns['name'] for ns in json.loads(out or '[]')}


def read(path):
    with open(path) as f:
        return f.read()


def pid_alive(pid):
    """Running (a zombie, exited but not reaped, does not count)."""
    try:
        return not read('/proc/%d/stat' % pid).rsplit(') ', 1)[1].startswith('Z')
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_ovs_instance_starts_and_leaves_nothing_behind():
    netlab.require()
    links_before = root_links()
    instance = netlab.OvsInstance().start()
    pids = [instance.ovsdb.pid, instance.vswitchd.pid]
    directory, namespace = instance.dir, instance.netns
    try:
        assert all(pid_alive(pid) for pid in pids)
        assert namespace in netns_names()
        bridge = instance.add_bridge(dpid=0xab)
        assert len(bridge) <= 15
        assert instance.datapath_id(bridge) == '00000000000000ab'
        assert instance.vsctl('get', 'bridge', bridge, 'datapath_type') == 'netdev'
        assert instance.vsctl('get', 'bridge', bridge, 'fail_mode') == 'secure'
        assert instance.dump_flows(bridge) == []
        assert 'OFPT_FEATURES_REPLY (OF1.3)' in instance.ofctl('show', bridge)
        # the userspace datapath's tap devices stay in the instance's netns
        assert not ours_in_root_netns(links_before, [bridge])
        inner = netlab.sh(['ip', '-n', namespace, '-j', 'link']).stdout
        assert bridge in {link['ifname'] for link in json.loads(inner)}
    finally:
        instance.stop()
    assert not any(pid_alive(pid) for pid in pids)
    assert namespace not in netns_names()
    assert not os.path.exists(directory)
    assert not ours_in_root_netns(links_before, [bridge])
    assert instance not in netlab._live.values()


def test_parse_flow():
    flow = netlab.parse_flow(
        ' cookie=0x2a, duration=1.5s, table=3, n_packets=7, n_bytes=420, send_flow_rem '
        'priority=100,arp,in_port=1,arp_tpa=10.0.0.1 actions=load:0x2->NXM_OF_ARP_OP[],IN_PORT')
    assert flow['cookie'] == 42 and flow['table'] == 3 and flow['priority'] == 100
    assert flow['n_packets'] == 7 and flow['flags'] == ['send_flow_rem']
    assert flow['match'] == {'arp': None, 'in_port': '1', 'arp_tpa': '10.0.0.1'}
    assert flow['match_str'] == 'arp,in_port=1,arp_tpa=10.0.0.1'
    assert flow['actions'] == 'load:0x2->NXM_OF_ARP_OP[],IN_PORT'
    assert netlab.rfc3442_routes('24 192 168 5 10 0 0 2 0 10 0 0 1') == [
        ('192.168.5.0/24', '10.0.0.2'), ('0.0.0.0/0', '10.0.0.1')]


def test_secure_bridge_forwards_only_once_a_flow_says_so(lab):
    netlab.require('tcpdump', 'arping')
    bridge = lab.bridge()
    a, b = lab.vm(bridge), lab.vm(bridge, mac='fa:16:3e:00:00:0b')
    assert a.tap.startswith('tap') and a.tap[3:] == a.port_id[:11]
    assert lab.ovs.vsctl('get', 'Interface', a.tap, 'external_ids:iface-id') \
        == '"%s"' % a.port_id
    assert {a.ofport, b.ofport} == {1, 2}
    assert a.link()['address'] == a.mac
    a.set_address('10.0.0.1/24')
    b.set_address('10.0.0.2/24')
    assert a.addresses(4) == ['10.0.0.1/24']

    # fail_mode=secure and no controller: no flows, nothing passes
    assert lab.ovs.dump_flows(bridge) == []
    assert not a.ping('10.0.0.2', timeout=1)
    assert a.arping('10.0.0.2', timeout=1) == []

    lab.ovs.add_flow(bridge, 'actions=NORMAL')
    capture = b.capture('icmp', host_side=True)
    flows = lab.ovs.wait_for_flows(bridge)
    assert [f['actions'] for f in flows] == ['NORMAL']
    assert a.ping('10.0.0.2', timeout=5)
    assert a.arping('10.0.0.2') == ['fa:16:3e:00:00:0b']
    lines = capture.stop()
    assert any('10.0.0.1 > 10.0.0.2: ICMP echo request' in line for line in lines), lines
    assert any(line.split()[1] == 'fa:16:3e:00:00:0b' for line in lines), lines

    # TCP too: needs tx checksum offload off on the namespace side
    server = b.spawn([sys.executable, '-c', textwrap.dedent('''
        import socket
        with socket.create_server(('10.0.0.2', 8000)) as srv:
            conn, _ = srv.accept()
            conn.sendall(b'hello over tcp')
            conn.close()
    ''')], 'tcp-server.log')
    client = textwrap.dedent('''
        import socket, sys, time
        for _ in range(100):
            try:
                conn = socket.create_connection(('10.0.0.2', 8000), timeout=5)
                break
            except ConnectionRefusedError:
                time.sleep(0.05)
        sys.stdout.write(conn.recv(100).decode())
    ''')
    assert a.run([sys.executable, '-c', client], timeout=20).stdout == 'hello over tcp'
    assert server.wait(5) == 0


def dhcp_setup(lab):
    """A bridge forwarding NORMAL, dnsmasq in a namespace, one client VM."""
    netlab.require('dnsmasq')
    bridge = lab.bridge()
    lab.ovs.add_flow(bridge, 'actions=NORMAL')
    server, client = lab.vm(bridge), lab.vm(bridge)
    server.set_address('10.0.0.2/24')
    dnsmasq = lab.dnsmasq(server, '10.0.0.0,static,255.255.255.0',
                          hosts=[(client.mac, '10.0.0.11')],
                          options=['option:router,10.0.0.1',
                                   'option:dns-server,10.0.0.53,10.0.0.54',
                                   'option:domain-name,lab.example',
                                   'option:mtu,1400',
                                   'option:classless-static-route,'
                                   '192.168.5.0/24,10.0.0.2,0.0.0.0/0,10.0.0.1'])
    return client, dnsmasq


def check_lease(client, lease, kind):
    assert lease.client == kind
    assert lease.cidr == '10.0.0.11/24'
    assert lease.router == '10.0.0.1'
    assert lease.dns == ['10.0.0.53', '10.0.0.54']
    assert lease.domain == 'lab.example'
    assert lease.mtu == 1400
    assert lease.server_id == '10.0.0.2'
    assert lease.lease_time == 3600
    assert lease.staticroutes == [('192.168.5.0/24', '10.0.0.2'), ('0.0.0.0/0', '10.0.0.1')]
    # ... and applied: address, MTU, the classless routes (RFC 3442: no router route)
    assert client.addresses(4) == ['10.0.0.11/24']
    assert client.link()['mtu'] == 1400
    routes = {r['dst']: r.get('gateway') for r in client.routes()}
    assert routes == {'default': '10.0.0.1', '192.168.5.0/24': '10.0.0.2', '10.0.0.0/24': None}
    assert client.ping('10.0.0.2')
    # nothing outside the namespace was touched
    assert 'lab.example' not in read('/etc/resolv.conf')


def test_udhcpc_gets_and_applies_a_lease_from_dnsmasq(lab):
    netlab.require('udhcpc')
    client, dnsmasq = dhcp_setup(lab)
    lease = client.udhcpc(timeout=10)
    print('udhcpc lease in %.3f s' % client.last_dhcp_seconds)
    check_lease(client, lease, 'udhcpc')
    assert [event for event, _ in client.dhcp_records('udhcpc')] == ['deconfig', 'bound']
    assert 'DHCPACK(eth0) 10.0.0.11 ' + client.mac in dnsmasq.log()


def test_udhcpc_without_a_server_reports_no_lease(lab):
    netlab.require('udhcpc')
    bridge = lab.bridge()
    client = lab.vm(bridge)
    started = time.monotonic()
    assert client.udhcpc(timeout=1, check=False) is None
    assert time.monotonic() - started < 10
    with pytest.raises(netlab.DhcpError):
        client.udhcpc(timeout=1)
    assert client.addresses(4) == []


def test_dhclient_gets_and_applies_a_lease_and_keeps_running(lab):
    netlab.require('dhclient')
    client, dnsmasq = dhcp_setup(lab)
    lease = client.dhclient(timeout=10)
    print('dhclient lease in %.3f s' % client.last_dhcp_seconds)
    check_lease(client, lease, 'dhclient')
    pid = client.dhclient_proc.pid
    assert pid_alive(pid)
    assert int(read(os.path.join(client.dir, 'dhclient.pid'))) == pid
    client.stop_dhclient()
    assert not pid_alive(pid)


CHILD = '''
import json, os, signal, sys, time
from tests import netlab
o = netlab.OvsInstance().start()
br = o.add_bridge()
o.add_flow(br, 'actions=NORMAL')
srv, vm = netlab.VM(o, br).create(), netlab.VM(o, br).create()
srv.set_address('10.0.0.2/24')
netlab.Dnsmasq(srv, '10.0.0.0,static,255.255.255.0', hosts=[(vm.mac, '10.0.0.11')]).start()
vm.dhclient()
cap = vm.capture('arp')
print(json.dumps({'pids': [o.ovsdb.pid, o.vswitchd.pid, vm.dhclient_proc.pid,
                           cap.proc.pid] + [p.pid for p in srv._procs],
                  'netns': [o.netns, srv.netns, vm.netns],
                  'dirs': [o.dir, srv.dir, vm.dir, cap.dir],
                  'links': [br, srv.tap, vm.tap]}), flush=True)
if sys.argv[1] == 'exit':
    sys.exit(0)   # atexit cleans up
time.sleep(60)    # the parent sends SIGTERM
'''


@pytest.mark.parametrize('how', ['exit', 'sigterm'])
def test_a_process_that_forgets_to_clean_up_leaves_nothing_behind(how):
    """The registry cleans up at interpreter exit and on SIGTERM."""
    netlab.require('dnsmasq', 'dhclient', 'tcpdump')
    links_before = root_links()
    child = subprocess.Popen([sys.executable, '-c', CHILD, how], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    try:
        made = json.loads(child.stdout.readline())
        assert all(pid_alive(pid) for pid in made['pids'])
        if how == 'sigterm':
            child.send_signal(signal.SIGTERM)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
    assert child.returncode == (0 if how == 'exit' else -signal.SIGTERM)
    assert not any(pid_alive(pid) for pid in made['pids'])
    assert not set(made['netns']) & netns_names()
    assert not any(os.path.exists(d) for d in made['dirs'])
    assert not ours_in_root_netns(links_before, made['links'])


def test_wait_for_flows_polls_until_the_predicate_holds(ovs):
    bridge = ovs.add_bridge()
    with pytest.raises(TimeoutError, match='flows on ' + bridge):
        ovs.wait_for_flows(bridge, timeout=0.2)
    ovs.add_flow(bridge, 'table=0,priority=10,arp,actions=drop')
    flows = ovs.wait_for_flows(bridge, lambda fl: any(f['priority'] == 10 for f in fl))
    assert flows[0]['match'] == {'arp': None} and flows[0]['actions'] == 'drop'


def test_two_instances_at_once_each_with_its_own_datapath(ovs):
    """Why vswitchd runs in a netns of its own: the netdev datapath's tap is
    always named ovs-netdev, and only one vswitchd per namespace can own it."""
    other = netlab.OvsInstance().start()
    try:
        for instance in (ovs, other):
            bridge = instance.add_bridge()
            assert 'LOCAL(%s)' % bridge in instance.ofctl('show', bridge)
        assert 'failed' not in _log(other) and 'failed' not in _log(ovs)
    finally:
        other.stop()


def _log(instance):
    return netlab._tail(os.path.join(instance.dir, 'ovs-vswitchd.log'), 100000)


def test_the_switch_reaches_a_controller_on_127_0_0_1_of_the_root_netns(ovs):
    """tcp:127.0.0.1:PORT in OVSDB, as in production; a relay in the OVS netns
    carries the connection to the listener of this (root) namespace."""
    with socket.create_server(('127.0.0.1', 0)) as listener:
        listener.settimeout(10)
        port = listener.getsockname()[1]
        bridge = ovs.add_bridge(controller_port=port)
        assert ovs.vsctl('get', 'controller', bridge, 'target') == '"tcp:127.0.0.1:%d"' % port
        assert ovs.vsctl('get', 'controller', bridge, 'max_backoff') == '1000'
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(10)
            hello = conn.recv(8)
            assert hello[:2] == b'\x04\x00'   # OpenFlow 1.3 OFPT_HELLO
        # the connection drops: the switch reconnects within max_backoff
        started = time.monotonic()
        conn, _ = listener.accept()
        conn.close()
        assert time.monotonic() - started < 3
