"""Security groups on a real OVS bridge (userspace datapath, userspace
conntrack), VMs as namespaces: TCP, UDP and ICMP allowed and denied by
rules in both directions, replies of allowed connections, the default
group, remote groups following membership, a rule change cutting an
established connection it no longer allows, and stateless groups (no
conntrack: replies pass only when a rule allows them)."""

import os
import sys
import textwrap
import time

import pytest

from tests import netlab
from tests.conftest import Client
from tests.server import Server

V = '/v2.0'
DPID = '00000000000000f1'

pytestmark = pytest.mark.skipif(netlab.unavailable_reason() is not None,
                                reason=str(netlab.unavailable_reason()))

# An echo server for TCP and UDP on one port, in a VM's namespace.
ECHO_SERVER = textwrap.dedent('''
    import socket, sys, threading
    port = int(sys.argv[1])
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(('0.0.0.0', port))
    def udp_echo():
        while True:
            data, peer = udp.recvfrom(2048)
            udp.sendto(data, peer)
    threading.Thread(target=udp_echo, daemon=True).start()
    tcp = socket.socket()
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(('0.0.0.0', port))
    tcp.listen(16)
    def serve(conn):
        with conn:
            while True:
                data = conn.recv(2048)
                if not data:
                    return
                conn.sendall(data)
    while True:
        conn, _ = tcp.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
''')

# One exchange with the echo server: prints ok, or why not.
ECHO_CLIENT = textwrap.dedent('''
    import socket, sys
    proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    kind = socket.SOCK_STREAM if proto == 'tcp' else socket.SOCK_DGRAM
    sock = socket.socket(socket.AF_INET, kind)
    sock.settimeout(2)
    try:
        sock.connect((host, port))
        sock.send(b'hello')
        print('ok' if sock.recv(2048) == b'hello' else 'garbled')
    except OSError as error:
        print(type(error).__name__)
''')

# A long TCP conversation: a line every 0.1 s, each echo's fate logged.
CHATTER = textwrap.dedent('''
    import socket, sys, time
    sock = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
    sock.settimeout(0.5)
    while True:
        try:
            sock.send(b'x')
            ok = sock.recv(16) == b'x'
        except OSError:
            ok = False
        print('ok' if ok else 'lost', flush=True)
        time.sleep(0.1)
''')


class Firewall:
    """One controller, one bridge, VMs with the security groups asked for."""

    def __init__(self, tmp_path):
        self.server = Server(str(tmp_path / 'state.db'))
        self.lab = netlab.Lab()
        try:
            self.server.start()
            self.api = Client(self.server.url)
            self.api.create('host', name='hv1', datapath_id=DPID,
                            segment_node_id='fd00:0:0:f1::', underlay_ip='fd00::f1')
            self.bridge = self.lab.ovs.add_bridge(dpid=DPID,
                                                  controller_port=self.server.ofp_port)
            self.lab.ovs.wait_for_flows(self.bridge, lambda flows: len(flows) >= 4)
            self.network = self.api.create('network', name='fw')
            self.api.create('subnet', network_id=self.network['id'], cidr='10.0.0.0/24')
        except BaseException:
            self.close()
            raise

    def group(self, name, *rules, **attrs):
        response = self.api.post(V + '/security-groups', {'security_group': dict(
            attrs, name=name)})
        assert response.status_code == 201, response.text
        group = response.json()['security_group']
        for rule in rules:
            self.rule(group['id'], **rule)
        return group

    def rule(self, group_id, **rule):
        response = self.api.post(V + '/security-group-rules', {'security_group_rule': dict(
            rule, security_group_id=group_id)})
        assert response.status_code == 201, response.text
        return response.json()['security_group_rule']

    def vm(self, name, **port):
        port = self.api.create('port', network_id=self.network['id'], name=name,
                               **{'binding:host_id': 'hv1'}, **port)
        vm = self.lab.vm(self.bridge, port_id=port['id'], mac=port['mac_address'])
        vm.port, vm.ip = port, port['fixed_ips'][0]['ip_address']
        vm.udhcpc()
        vm.spawn([sys.executable, '-c', ECHO_SERVER, '8080'], 'echo-8080.log')
        vm.spawn([sys.executable, '-c', ECHO_SERVER, '9090'], 'echo-9090.log')
        # Listening before anyone calls (a loaded machine starts Python slowly).
        netlab._wait(lambda: {':8080', ':9090'} <= {
            line.split()[3][-5:] for line in vm.run(['ss', '-ltnH']).stdout.splitlines()},
            20, 'echo servers of %s listening' % name, interval=0.1)
        return vm

    def close(self):
        self.lab.close()
        self.server.stop()


def echo(client, server, proto, port):
    return client.run([sys.executable, '-c', ECHO_CLIENT, proto, server.ip, str(port)],
                      check=False, timeout=20).stdout.strip()


def eventually(check, what, timeout=10):
    """Rules reach the switch within moments: poll for the outcome."""
    return netlab._wait(check, timeout, what, interval=0.2)


@pytest.fixture(scope='module')
def fw(tmp_path_factory):
    fw = Firewall(tmp_path_factory.mktemp('firewall'))
    yield fw
    fw.close()


@pytest.fixture(scope='module')
def web(fw):
    """A group for servers: TCP 8080 and ICMP from anywhere, UDP 9090 from
    10.0.0.0/24 only."""
    return fw.group('web', dict(direction='ingress', protocol='tcp', port_range_min=8080,
                                port_range_max=8080, remote_ip_prefix='0.0.0.0/0'),
                    dict(direction='ingress', protocol='icmp'),
                    dict(direction='ingress', protocol='udp', port_range_min=9090,
                         port_range_max=9090, remote_ip_prefix='10.0.0.0/24'))


@pytest.fixture(scope='module')
def vms(fw, web):
    made = {'server': fw.vm('server', security_groups=[web['id']]),
            'client': fw.vm('client'),          # the project's default group
            'peer': fw.vm('peer'),              # the default group too
            'lonely': fw.vm('lonely', security_groups=[fw.group('lonely')['id']])}
    yield made
    for vm in made.values():
        vm.destroy()


def test_rules_allow_what_they_name_in_each_direction(vms):
    client, server = vms['client'], vms['server']
    assert echo(client, server, 'tcp', 8080) == 'ok'
    assert echo(client, server, 'udp', 9090) == 'ok'
    assert client.ping(server.ip, count=2)
    # Not named: another TCP port, UDP on the TCP port; and the server's own
    # connections out are allowed (egress) while the client's ingress is its
    # default group's (members only).
    assert echo(client, server, 'tcp', 9090) == 'TimeoutError'
    assert echo(client, server, 'udp', 8080) == 'TimeoutError'
    assert echo(server, client, 'tcp', 8080) == 'TimeoutError'


def test_the_default_group_lets_members_talk_and_keeps_others_out(vms):
    client, peer, lonely = vms['client'], vms['peer'], vms['lonely']
    assert echo(client, peer, 'tcp', 9090) == 'ok'
    assert echo(peer, client, 'udp', 8080) == 'ok'
    assert echo(lonely, peer, 'tcp', 9090) == 'TimeoutError'
    assert not lonely.ping(peer.ip, count=1, timeout=2)
    # The lonely group has only the egress rules: nothing comes in.
    assert echo(peer, lonely, 'tcp', 9090) == 'TimeoutError'


def test_a_remote_group_follows_its_membership(fw, vms):
    db = fw.group('db')
    app = fw.group('app')
    fw.rule(db['id'], direction='ingress', protocol='tcp', port_range_min=9090,
            port_range_max=9090, remote_group_id=app['id'])
    lonely, peer = vms['lonely'], vms['peer']
    groups = peer.port['security_groups']
    fw.api.put(V + '/ports/' + peer.port['id'], {'port': {
        'security_groups': groups + [db['id']]}})
    assert echo(lonely, peer, 'tcp', 9090) == 'TimeoutError'
    fw.api.put(V + '/ports/' + lonely.port['id'], {'port': {
        'security_groups': lonely.port['security_groups'] + [app['id']]}})
    eventually(lambda: echo(lonely, peer, 'tcp', 9090) == 'ok', 'app member reaches db')
    fw.api.put(V + '/ports/' + lonely.port['id'], {'port': {
        'security_groups': lonely.port['security_groups']}})
    eventually(lambda: echo(lonely, peer, 'tcp', 9090) == 'TimeoutError', 'membership gone')
    fw.api.put(V + '/ports/' + peer.port['id'], {'port': {'security_groups': groups}})


def test_a_rule_change_cuts_an_established_connection_it_denies(fw, web, vms):
    client, server = vms['client'], vms['server']
    [rule] = [r for r in fw.api.get(V + '/security-group-rules', params={
        'security_group_id': web['id'], 'protocol': 'tcp'}).json()['security_group_rules']]
    chatter = client.spawn([sys.executable, '-c', CHATTER, server.ip, '8080'],
                           'chatter.log')
    log = os.path.join(client.dir, 'chatter.log')

    def lines():
        with open(log) as f:
            return f.read().split()
    eventually(lambda: lines().count('ok') >= 5, 'a conversation going')
    # A rule that allows something else: the conversation goes on.
    fw.rule(web['id'], direction='ingress', protocol='tcp', port_range_min=7070,
            port_range_max=7070)
    seen = len(lines())
    time.sleep(1)
    assert 'lost' not in lines()[seen:]
    # The rule that allowed it goes: the conversation stops, both ways.
    assert fw.api.delete(V + '/security-group-rules/' + rule['id']).status_code == 204
    eventually(lambda: lines()[-3:] == ['lost'] * 3, 'the conversation cut')
    chatter.kill()
    assert echo(client, server, 'tcp', 8080) == 'TimeoutError'
    fw.rule(web['id'], direction='ingress', protocol='tcp', port_range_min=8080,
            port_range_max=8080, remote_ip_prefix='0.0.0.0/0')
    eventually(lambda: echo(client, server, 'tcp', 8080) == 'ok', 'allowed again')


def test_port_security_off_means_no_filtering(fw, vms):
    open_vm = fw.vm('open', port_security_enabled=False)
    try:
        assert echo(vms['lonely'], open_vm, 'tcp', 9090) == 'ok'
        assert echo(vms['client'], open_vm, 'udp', 8080) == 'ok'
    finally:
        open_vm.destroy()


def port_flows(fw, vm):
    """The bridge's flows of one VM port's security groups (reg5: its ofport)."""
    ofport = fw.lab.ovs.ofport(vm.tap)
    return [f for f in fw.lab.ovs.dump_flows(fw.bridge)
            if int(f['match'].get('reg5', '-1'), 0) == ofport]


def uses_conntrack(flow):
    return 'ct(' in flow['actions'] or any(k.startswith('ct_') for k in flow['match'])


def test_a_stateless_group_passes_replies_only_when_a_rule_allows_them(fw, web):
    group = fw.group('stateless', dict(direction='ingress', protocol='icmp',
                                       port_range_min=8), stateful=False)
    # Anything goes out: the egress rules a new group comes with.
    a = fw.vm('sl-a', security_groups=[group['id']])
    b = fw.vm('sl-b', security_groups=[group['id']])
    try:
        flows = port_flows(fw, a)
        assert flows and not [f['raw'] for f in flows if uses_conntrack(f)]
        # b's echo request reaches a and a answers, but no rule lets the
        # reply into b: nothing remembers that b asked.
        assert not b.ping(a.ip, count=2, timeout=2)
        fw.rule(group['id'], direction='ingress', protocol='icmp', port_range_min=0)
        eventually(lambda: b.ping(a.ip, count=1, timeout=2), 'the reply allowed by a rule')
        # TCP alike: the server's port allowed in, its answers to the
        # client's (ephemeral) port are not, until a rule allows them.
        fw.rule(group['id'], direction='ingress', protocol='tcp', port_range_min=8080,
                port_range_max=8080)
        time.sleep(1)
        assert echo(b, a, 'tcp', 8080) == 'TimeoutError'
        fw.rule(group['id'], direction='ingress', protocol='tcp', port_range_min=1024,
                port_range_max=65535)
        eventually(lambda: echo(b, a, 'tcp', 8080) == 'ok', 'TCP answers allowed by a rule')
        # Moved to a stateful group, a's flows are replaced: conntrack again.
        fw.api.put(V + '/ports/' + a.port['id'], {'port': {'security_groups': [web['id']]}})
        eventually(lambda: any(uses_conntrack(f) for f in port_flows(fw, a)),
                   'conntrack flows for the moved port')
        assert not [f['raw'] for f in port_flows(fw, b) if uses_conntrack(f)]
    finally:
        a.destroy()
        b.destroy()
