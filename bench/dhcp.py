"""DHCP exchanges per second through a real OVS bridge: srv6-ofapp vs dnsmasq.

One run, one private Open vSwitch (tests.netlab), two netdev bridges:

  * ``ours``: a bridge connected to a real ``srv6-ofapp`` (tests.server),
    with a host (the bridge's datapath_id), a network, a subnet and one port
    per client registered through the REST API; each client is a VM
    (namespace + veth ``tap<port id>``) carrying its port's MAC, so the
    controller finds the port by in_port and port security lets it through.
  * ``dnsmasq``: a bridge with ``actions=NORMAL`` (fail_mode=secure installs
    nothing by itself), one dnsmasq VM with a ``dhcp-host=MAC,IP`` reservation
    per client (the same MACs and IPs), and the same number of client VMs.
    Measured twice: as is (NORMAL floods every broadcast DISCOVER/REQUEST to
    all client ports) and "steered", with one more flow sending client DHCP
    to the dnsmasq port only, as our pipeline sends it to the controller only.
    dnsmasq runs with --quiet-dhcp (srv6-ofapp logs nothing per packet either).

srv6-ofapp runs with --packet-in-rate/--packet-in-burst 10000: its per-port
packet-in meter (default 100 pps) must not throttle the benchmark.

The clients are not DHCP client processes (starting those measures process
start-up, see shared/ENVIRONMENT.md): one raw AF_PACKET socket per client VM,
opened inside its namespace, all driven by one event loop in this process.
Each client runs closed-loop exchanges, DISCOVER -> OFFER -> REQUEST -> ACK,
one at a time, until the measuring time is over; the latency of an exchange
is DISCOVER sent to ACK received.  A message unanswered within --timeout is
a failure and the client starts a new exchange (new xid).

    .venv/bin/python bench/dhcp.py                 # 1, 10, 50 clients, 5 s each
    .venv/bin/python bench/dhcp.py --quick         # 1, 10 clients, 2 s each

Needs root, Open vSwitch, dnsmasq, iproute2, ethtool.  Everything it creates
(OVS daemons, namespaces, veths, server, temporary files) is removed at exit.

The helpers below (raw sockets, the closed-loop driver, the controller relay,
tables) are shared with bench/arp.py.
"""

import argparse
import os
import platform
import selectors
import shlex
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.report import percentile, table  # noqa: E402
from srv6_ofapp.edge.tables import TABLE_ID  # noqa: E402
from tests import netlab  # noqa: E402
from tests.server import Server  # noqa: E402

import requests  # noqa: E402

CIDR = '10.0.0.0/20'
NETMASK = '255.255.240.0'
GATEWAY = '10.0.0.1'
DPID_OURS = '00000000000000b1'
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
SO_ATTACH_FILTER = 26
MAX_CLIENTS = 1000


# -- output -------------------------------------------------------------------

def _version(args):
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=10).stdout
        return out.splitlines()[0].strip() if out else '?'
    except (OSError, subprocess.TimeoutExpired):
        return '?'


def cpu_seconds(pid):
    """User + system CPU seconds of process ``pid`` (all its threads); None if gone."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    except (OSError, IndexError, ValueError):
        return None


class CpuMeter:
    """CPU use of named processes (pid, or 'self' for this one) over an interval, in
    percent of one core."""

    def __init__(self, pids):
        self.pids = pids

    def _sample(self):
        out = {}
        for name, pid in self.pids.items():
            if pid == 'self':
                times = os.times()
                out[name] = times.user + times.system
            else:
                out[name] = cpu_seconds(pid)
        return out

    def __enter__(self):
        self.wall = time.perf_counter()
        self.before = self._sample()
        return self

    def __exit__(self, *exc_info):
        wall = time.perf_counter() - self.wall
        after = self._sample()
        self.percent = {name: (100.0 * (after[name] - self.before[name]) / wall
                               if after[name] is not None and self.before[name] is not None
                               and wall > 0 else float('nan'))
                        for name in self.pids}


def loadavg():
    try:
        with open('/proc/loadavg') as f:
            return ' '.join(f.read().split()[:3])
    except OSError:
        return '?'


def print_header(extra_tools=()):
    """The command line and what it ran on."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        import os_ken
        osken = os_ken.__version__
    except Exception:
        osken = '?'
    print('command: %s' % ' '.join(shlex.quote(a) for a in [sys.executable] + sys.argv))
    print('machine: nproc=%s (usable %s), %s, python %s, os-ken %s'
          % (os.cpu_count(), usable, platform.platform(), platform.python_version(), osken))
    tools = [_version(['ovs-vswitchd', '--version'])]
    tools += [_version(t) for t in extra_tools]
    print('tools: %s' % '; '.join(tools))
    print('load average before: %s (other processes on this machine skew results; '
          'compare the rows of one run)' % loadavg())
    sys.stdout.flush()


def require_root(tools=()):
    """None when the lab can run; else print why and return the exit status."""
    if os.geteuid() != 0:
        print('SKIP: %s must run as root (network namespaces, veth, OVS)'
              % os.path.basename(sys.argv[0]))
        return 0
    reason = netlab.unavailable_reason(tools)
    if reason:
        print('SKIP: %s' % reason)
        return 0
    return None


# -- raw sockets in a VM ---------------------------------------------------------

def _bpf(program):
    return [struct.pack('HBBI', code, jt, jf, k) for code, jt, jf, k in program]


# IPv4, not a fragment, UDP destination port 68 (as tcpdump -dd 'udp dst port 68').
BPF_DHCP_REPLY = _bpf([
    (0x28, 0, 0, 12), (0x15, 0, 8, ETH_P_IP),      # ldh [12]; jeq IPv4 else drop
    (0x30, 0, 0, 23), (0x15, 0, 6, 17),            # ldb [23]; jeq UDP else drop
    (0x28, 0, 0, 20), (0x45, 4, 0, 0x1fff),        # ldh [20]; jset frag -> drop
    (0xb1, 0, 0, 14), (0x48, 0, 0, 16),            # ldxb 4*([14]&0xf); ldh [x+16]
    (0x15, 0, 1, 68),                              # jeq 68 else drop
    (0x06, 0, 0, 0xffff), (0x06, 0, 0, 0)])
# ARP replies only.
BPF_ARP_REPLY = _bpf([
    (0x28, 0, 0, 12), (0x15, 0, 3, ETH_P_ARP),
    (0x28, 0, 0, 20), (0x15, 0, 1, 2),
    (0x06, 0, 0, 0xffff), (0x06, 0, 0, 0)])


def open_raw(netns, ifname, proto, bpf):
    """A non-blocking AF_PACKET socket on ``ifname`` of ``netns`` that sees only
    the frames ``bpf`` accepts (classic BPF, attached in the kernel, so the
    benchmark never reads frames that are not for it)."""
    import ctypes

    def make():
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(proto))
        try:
            code = b''.join(bpf)
            buf = ctypes.create_string_buffer(code, len(code))
            fprog = struct.pack('HL', len(bpf), ctypes.addressof(buf))
            sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
            sock.bind((ifname, proto))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    sock = netlab.in_netns(netns, make)
    drain(sock)  # what arrived before the filter was attached
    return sock


def drain(sock):
    while True:
        try:
            sock.recv(4096)
        except BlockingIOError:
            return


def checksum(data):
    if len(data) % 2:
        data += b'\0'
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff


def mac_bytes(mac):
    return bytes(int(b, 16) for b in mac.split(':'))


# -- the closed-loop driver ---------------------------------------------------------

class Result:
    def __init__(self, name, clients):
        self.name = name
        self.clients = clients
        self.latencies = []
        self.failures = 0
        self.wall = 0.0

    @property
    def rate(self):
        return len(self.latencies) / self.wall if self.wall else 0.0


def drive(clients, duration, timeout, name):
    """Run every client's exchanges concurrently for ``duration`` seconds
    (exchanges in flight at the end are finished); a Result.

    A client has ``sock``, ``begin(now)`` (send the first message of a new
    exchange), ``on_frame(frame, now)`` -> None (not ours), 'next' (the next
    message was sent) or 'done' (exchange complete), and ``deadline`` (when
    its outstanding message times out)."""
    result = Result(name, len(clients))
    selector = selectors.DefaultSelector()
    for client in clients:
        drain(client.sock)
        selector.register(client.sock, selectors.EVENT_READ, client)
    try:
        start = time.perf_counter()
        end = start + duration
        hard_end = end + timeout + 5
        for client in clients:
            client.started = time.perf_counter()
            client.begin(client.started)
            client.deadline = client.started + timeout
        active = set(clients)

        def finish(client, now, ok):
            if ok:
                result.latencies.append(now - client.started)
            else:
                result.failures += 1
            if now >= end:
                active.discard(client)
                return
            client.started = now
            client.begin(now)
            client.deadline = now + timeout

        while active:
            now = time.perf_counter()
            if now > hard_end:
                raise RuntimeError('%s: clients still busy %.0f s after the end' %
                                   (name, now - end))
            wait = max(0.0, min(c.deadline for c in active) - now)
            for key, _ in selector.select(wait):
                client = key.data
                while True:
                    try:
                        frame = client.sock.recv(4096)
                    except BlockingIOError:
                        break
                    if client not in active:
                        continue
                    now = time.perf_counter()
                    status = client.on_frame(frame, now)
                    if status == 'next':
                        client.deadline = now + timeout
                    elif status == 'done':
                        finish(client, now, True)
            now = time.perf_counter()
            for client in list(active):
                if now >= client.deadline:
                    finish(client, now, False)
        result.wall = time.perf_counter() - start
    finally:
        selector.close()
    return result


# -- DHCP at packet level --------------------------------------------------------------

BOOTREQUEST, BOOTREPLY = 1, 2
DISCOVER, OFFER, REQUEST, ACK, NAK = 1, 2, 3, 5, 6
MAGIC = b'\x63\x82\x53\x63'
PARAMETERS = bytes([1, 3, 6, 12, 15, 26, 28, 121])


class DhcpClient:
    """One VM's DHCP client: DISCOVER, REQUEST the offered address, ACK."""

    def __init__(self, sock, mac):
        self.sock = sock
        self.mac = mac_bytes(mac)
        self.xid = int.from_bytes(os.urandom(4), 'big')
        self.state = None
        self.leases = set()
        self.naks = 0

    def _frame(self, options):
        bootp = struct.pack('!BBBBIHH4s4s4s4s16s64s128s', BOOTREQUEST, 1, 6, 0, self.xid, 0,
                            0, bytes(4), bytes(4), bytes(4), bytes(4), self.mac, b'', b'')
        opts = b''.join(bytes([code, len(value)]) + value for code, value in options)
        payload = bootp + MAGIC + opts + b'\xff'
        payload += bytes(max(0, 300 - len(payload)))  # RFC 1542 minimum
        udp_len = 8 + len(payload)
        pseudo = struct.pack('!4s4sBBH', bytes(4), b'\xff' * 4, 0, 17, udp_len)
        udp = struct.pack('!HHHH', 68, 67, udp_len, 0) + payload
        udp_sum = checksum(pseudo + udp) or 0xffff
        udp = udp[:6] + struct.pack('!H', udp_sum) + udp[8:]
        ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + udp_len, 0, 0, 64, 17, 0, bytes(4),
                         b'\xff' * 4)
        ip = ip[:10] + struct.pack('!H', checksum(ip)) + ip[12:]
        return b'\xff' * 6 + self.mac + b'\x08\x00' + ip + udp

    def _common(self):
        return [(61, b'\x01' + self.mac), (57, struct.pack('!H', 1500)), (55, PARAMETERS)]

    def begin(self, now):
        self.xid = (self.xid + 1) & 0xffffffff
        self.state = OFFER
        self.sock.send(self._frame([(53, bytes([DISCOVER]))] + self._common()))

    def on_frame(self, frame, now):
        reply = parse_dhcp_reply(frame, self.xid, self.mac)
        if reply is None:
            return None
        message_type, yiaddr, server_id = reply
        if self.state == OFFER and message_type == OFFER and server_id:
            self.state = ACK
            self.sock.send(self._frame([(53, bytes([REQUEST])), (50, yiaddr),
                                        (54, server_id)] + self._common()))
            return 'next'
        if self.state == ACK and message_type == ACK:
            self.leases.add(socket.inet_ntoa(yiaddr))
            self.state = None
            return 'done'
        if self.state == ACK and message_type == NAK:
            self.naks += 1  # counted as a failure at its timeout
        return None


def parse_dhcp_reply(frame, xid, mac):
    """(message type, yiaddr, server id) of a BOOTREPLY for (xid, mac); or None."""
    if len(frame) < 14 + 20 + 8 + 240 or frame[12:14] != b'\x08\x00' or frame[23] != 17:
        return None
    udp = 14 + (frame[14] & 0x0f) * 4
    bootp = udp + 8
    if frame[udp + 2:udp + 4] != b'\x00\x44' or frame[bootp] != BOOTREPLY:
        return None
    if int.from_bytes(frame[bootp + 4:bootp + 8], 'big') != xid or \
            frame[bootp + 28:bootp + 34] != mac or frame[bootp + 236:bootp + 240] != MAGIC:
        return None
    message_type = server_id = None
    i, end = bootp + 240, len(frame)
    while i < end:
        code = frame[i]
        if code == 0:
            i += 1
            continue
        if code == 255 or i + 1 >= end:
            break
        length = frame[i + 1]
        if code == 53 and length == 1:
            message_type = frame[i + 2]
        elif code == 54 and length == 4:
            server_id = frame[i + 2:i + 6]
        i += 2 + length
    if message_type is None:
        return None
    return message_type, frame[bootp + 16:bootp + 20], server_id


# -- the controller side ---------------------------------------------------------------

RELAY_CHILD = r'''
import sys
sys.path.insert(0, sys.argv[1])
from tests import netlab
relay = netlab._Relay(sys.argv[2], int(sys.argv[3]))
print('ready', flush=True)
sys.stdin.read()
relay.close()
'''


class Relay:
    """netlab's controller relay (OVS namespace -> 127.0.0.1 of this one), but in a
    child process: a relay thread in this process would share the GIL with the
    benchmark's clients and add their scheduling to the controller's latency."""

    def __init__(self, ovs, bridge, port, mode='process'):
        self.proc = None
        if mode == 'thread':
            ovs.set_controller(bridge, port)
            return
        self.proc = subprocess.Popen([sys.executable, '-c', RELAY_CHILD, ROOT, ovs.netns,
                                      str(port)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True,
                                     start_new_session=True)
        try:
            if self.proc.stdout.readline().strip() != 'ready':
                raise RuntimeError('controller relay did not start (exit %s)'
                                   % self.proc.poll())
            ovs.vsctl('set-controller', bridge, 'tcp:127.0.0.1:%d' % port, '--',
                      'set', 'controller', bridge, 'max_backoff=1000',
                      'connection-mode=out-of-band')
        except BaseException:
            self.stop()
            raise

    def stop(self):
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()
            proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait(5)
        proc.stdout.close()


class Api:
    def __init__(self, url):
        self.url = url
        self.session = requests.Session()

    def create(self, member, **attrs):
        response = self.session.post('%s/v2.0/%ss' % (self.url, member),
                                     json={member: attrs}, timeout=30)
        if response.status_code != 201:
            raise RuntimeError('POST %ss -> %s: %s' % (member, response.status_code,
                                                      response.text[:500]))
        return response.json()[member]

    def close(self):
        self.session.close()


def controller_args(args):
    return ['--packet-in-rate', str(args.packet_in_rate),
            '--packet-in-burst', str(args.packet_in_burst)]


def dhcp_flows_ready(count):
    """A wait_for_flows predicate: the per-port DHCP punt flow of ``count`` ports."""
    def ready(flows):
        return sum(1 for f in flows
                   if f['table'] == TABLE_ID['dhcp'] and f['priority'] == 100) >= count
    return ready


# -- dnsmasq ------------------------------------------------------------------------

# Client DHCP to the dnsmasq port only, instead of flooded by NORMAL to every port.
STEER = 'priority=10,udp,tp_dst=67'
LABELS = {'ours': 'srv6-ofapp (packet-in)', 'dnsmasq': 'dnsmasq, NORMAL (flooded)',
          'steered': 'dnsmasq, DHCP steered'}


# -- the benchmark ------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--clients', default='1,10,50',
                        help='comma-separated numbers of concurrent clients (default 1,10,50)')
    parser.add_argument('--duration', type=float, default=5.0,
                        help='seconds of exchanges measured per server and client count '
                             '(default 5)')
    parser.add_argument('--timeout', type=float, default=1.0,
                        help='seconds a client waits for OFFER or ACK before counting a '
                             'failure and starting over (default 1)')
    parser.add_argument('--packet-in-rate', type=int, default=10000,
                        help='srv6-ofapp --packet-in-rate, per port (default 10000, so '
                             'the meter does not throttle the benchmark; the product '
                             'default is 100)')
    parser.add_argument('--packet-in-burst', type=int, default=10000,
                        help='srv6-ofapp --packet-in-burst (default 10000)')
    parser.add_argument('--dnsmasq-log', action='store_true',
                        help='run dnsmasq with --log-dhcp (default: --quiet-dhcp)')
    parser.add_argument('--no-steered', action='store_true',
                        help='skip the dnsmasq rows where a flow sends client DHCP straight '
                             'to the dnsmasq port instead of flooding it (NORMAL)')
    parser.add_argument('--relay', choices=('process', 'thread'), default='process',
                        help='controller relay out of the OVS namespace: a child process '
                             '(default) or netlab\'s thread in this process')
    parser.add_argument('--only', choices=('ours', 'dnsmasq'), default=None,
                        help='measure one server only')
    parser.add_argument('--quick', action='store_true', help='clients 1,10; 2 s each')
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.duration = '1,10', 2.0
    check_load_args(parser, args)
    return args


def check_load_args(parser, args):
    """--clients as a list of integers; --duration and --timeout positive."""
    try:
        args.clients = [int(n) for n in args.clients.split(',') if n.strip()]
    except ValueError:
        parser.error('--clients: comma-separated integers')
    if not args.clients or min(args.clients) < 1 or max(args.clients) > MAX_CLIENTS:
        parser.error('--clients: each between 1 and %d' % MAX_CLIENTS)
    if args.duration <= 0 or args.timeout <= 0:
        parser.error('--duration and --timeout must be positive')


def setup_ours(lab, api, ovs, count):
    """Host, network, subnet, ``count`` ports; the bridge and one VM per port."""
    api.create('host', name='hv1', datapath_id=DPID_OURS, segment_node_id='fd00:0:0:1::',
               underlay_ip='fd00::1')
    net = api.create('network', name='bench')
    api.create('subnet', network_id=net['id'], cidr=CIDR, gateway_ip=GATEWAY)
    ports = [api.create('port', network_id=net['id'], name='c%d' % i,
                        **{'binding:host_id': 'hv1'}) for i in range(count)]
    bridge = ovs.add_bridge('brours', dpid=DPID_OURS)
    vms = [lab.vm(bridge, port_id=p['id'], mac=p['mac_address']) for p in ports]
    return bridge, ports, vms


def run(args):
    print_header([['dnsmasq', '--version']])
    need = max(args.clients)
    print('setup: %d client VMs per server; srv6-ofapp started with --packet-in-rate %d '
          '--packet-in-burst %d (per-port meter; the default 100 pps would throttle this '
          'benchmark); dnsmasq %s; controller relay: %s'
          % (need, args.packet_in_rate, args.packet_in_burst,
             '--log-dhcp' if args.dnsmasq_log else '--quiet-dhcp', args.relay))
    sys.stdout.flush()
    tmp = tempfile.mkdtemp(prefix='bench-dhcp-')
    lab = netlab.Lab()
    server = api = None
    relays = []
    results = []
    setups = {}
    dnsmasq = None
    try:
        ovs = lab.ovs
        t0 = time.perf_counter()
        if args.only in (None, 'ours'):
            server = Server(os.path.join(tmp, 'state.db'), controller_args(args)).start()
            api = Api(server.url)
            bridge, ports, vms = setup_ours(lab, api, ovs, need)
            relays.append(Relay(ovs, bridge, server.ofp_port, args.relay))
            ovs.wait_for_flows(bridge, dhcp_flows_ready(need), timeout=60, interval=0.2)
            socks = [open_raw(vm.netns, vm.ifname, ETH_P_IP, BPF_DHCP_REPLY) for vm in vms]
            setups['ours'] = (socks, [p['mac_address'] for p in ports],
                              [p['fixed_ips'][0]['ip_address'] for p in ports],
                              server.proc.pid)
        if args.only in (None, 'dnsmasq'):
            if 'ours' in setups:
                macs, ips = setups['ours'][1], setups['ours'][2]
            else:
                macs = [netlab.random_mac() for _ in range(need)]
                ips = ['10.0.%d.%d' % ((i + 2) // 256, (i + 2) % 256) for i in range(need)]
            bridge = ovs.add_bridge('brdnsmasq')
            ovs.add_flow(bridge, 'priority=0,actions=NORMAL')
            server_vm = lab.vm(bridge)
            server_vm.set_address('%s/%d' % (GATEWAY, 20))
            vms = [lab.vm(bridge, mac=mac) for mac in macs]
            # srv6-ofapp logs nothing per packet, so neither does dnsmasq.
            dnsmasq = netlab.Dnsmasq(server_vm, '10.0.0.0,static,%s,24h' % NETMASK,
                                     hosts=list(zip(macs, ips)),
                                     options=['option:router,' + GATEWAY],
                                     log_dhcp=args.dnsmasq_log).start()
            socks = [open_raw(vm.netns, vm.ifname, ETH_P_IP, BPF_DHCP_REPLY) for vm in vms]
            setups['dnsmasq'] = setups['steered'] = (socks, macs, ips, dnsmasq.proc.pid)
            dnsmasq_bridge, dnsmasq_ofport = bridge, server_vm.ofport
        print('setup: done in %.1f s' % (time.perf_counter() - t0))
        sys.stdout.flush()

        for n in args.clients:
            for name in ('ours', 'dnsmasq', 'steered'):
                if name not in setups or (name == 'steered' and args.no_steered):
                    continue
                if name == 'dnsmasq':
                    ovs.ofctl('del-flows', dnsmasq_bridge, '--strict', STEER)
                elif name == 'steered':
                    ovs.add_flow(dnsmasq_bridge, STEER + ',actions=output:%d' % dnsmasq_ofport)
                socks, macs, ips, server_pid = setups[name]
                clients = [DhcpClient(sock, mac) for sock, mac in zip(socks[:n], macs[:n])]
                # Warm-up: one exchange per client (leases, OVS megaflows), not counted.
                warm = drive(clients, 0, args.timeout * 3, name)
                pids = {'server': server_pid, 'ovs': ovs.vswitchd.pid, 'client': 'self'}
                if name == 'ours' and relays and relays[0].proc is not None:
                    pids['relay'] = relays[0].proc.pid
                with CpuMeter(pids) as cpu:
                    result = drive(clients, args.duration, args.timeout, name)
                result.cpu = cpu.percent
                wrong = sorted({lease for c, ip in zip(clients, ips)
                                for lease in c.leases if lease != ip})
                result.warm_failures = warm.failures
                result.naks = sum(c.naks for c in clients)
                result.wrong = wrong
                results.append(result)
                print('  %-8s %3d clients: %6d exchanges in %5.2f s, %d failures%s%s'
                      % (name, n, len(result.latencies), result.wall, result.failures,
                         ' (WRONG ADDRESSES %s)' % wrong[:3] if wrong else '',
                         ', controller relay cpu %.0f%%' % cpu.percent['relay']
                         if 'relay' in cpu.percent else ''))
                sys.stdout.flush()
        if server is not None and server.proc.poll() is not None:
            raise RuntimeError('srv6-ofapp died:\n' + server.log())
        if dnsmasq is not None and dnsmasq.proc.poll() is not None:
            raise RuntimeError('dnsmasq died:\n' + dnsmasq.log())
    finally:
        for setup in setups.values():
            for sock in setup[0]:
                sock.close()
        lab.close()
        for relay in relays:
            relay.stop()
        if api is not None:
            api.close()
        if server is not None:
            code = server.stop()
            if code not in (0, None):
                print('warning: srv6-ofapp exited with %s; log tail:\n%s'
                      % (code, server.log()))
        shutil.rmtree(tmp, ignore_errors=True)

    rows = []
    for r in results:
        rows.append([LABELS.get(r.name, r.name), r.clients, len(r.latencies), '%.1f' % r.rate,
                     '%.2f' % percentile(r.latencies, 50), '%.2f' % percentile(r.latencies, 99),
                     r.failures + r.warm_failures + len(r.wrong)]
                    + ['%.0f' % r.cpu[k] for k in ('server', 'ovs', 'client')])
    print()
    print('load average after: %s' % loadavg())
    print(table(['DHCP server', 'clients', 'exchanges', 'exchanges/s', 'p50 ms', 'p99 ms',
                 'failures', 'cpu% server', 'cpu% ovs', 'cpu% client'], rows))
    print('exchange = DISCOVER->OFFER->REQUEST->ACK, closed loop, one at a time per client; '
          '%g s per row; failure = no reply within %g s (or a wrong address).'
          % (args.duration, args.timeout))
    print('cpu%% = percent of one core during the row (%d cores): server = srv6-ofapp or '
          'dnsmasq, ovs = ovs-vswitchd, client = this process (the packet generator)'
          % (os.cpu_count() or 0))
    if 'steered' in {r.name for r in results}:
        print('NORMAL floods each broadcast DISCOVER/REQUEST to all %d client ports of the '
              'dnsmasq bridge; "steered" adds %s,actions=output:<dnsmasq> so that '
              'only the server sees them (as only the controller does on our bridge)'
              % (need, STEER))
    print('srv6-ofapp ran with --packet-in-rate %d --packet-in-burst %d so that its '
          'per-port packet-in meter does not throttle the benchmark'
          % (args.packet_in_rate, args.packet_in_burst))
    return 1 if any(r.failures + r.warm_failures + len(r.wrong) for r in results) else 0


def exit_on_sigterm():
    """SIGTERM unwinds like Ctrl-C, so that the finally blocks stop the servers and
    the lab (netlab's own handler, installed only when none is, would skip them)."""
    import signal
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    exit_on_sigterm()
    skip = require_root(['dnsmasq', 'ss'])
    if skip is not None:
        return skip
    return run(args)


if __name__ == '__main__':
    sys.exit(main())
