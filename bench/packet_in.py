"""Packet-in handler throughput, in process: no OVS, no sockets, no threads.

Builds a Replica (srv6_ofapp.replica.Replica.from_docs) of realistic size
-- NETWORKS networks with one /24 subnet each and PORTS ports per network,
documents shaped as the REST API stores them -- and calls the pure handlers
in a loop on prebuilt frames:

  * srv6_ofapp.edge.dhcp.handle_dhcp: DISCOVER -> OFFER, REQUEST -> ACK
  * srv6_ofapp.edge.arp.handle_arp: request for the gateway (reply), for a VM on
    this host (turned into unicast), for a VM on another host (reply; the
    last port of its network)

and then the same frames through the adapter, SRv6OFApp._packet_in of
srv6_ofapp/edge/app.py, as OS-Ken would hand them over: the OpenFlow packet-in
message parsed from its bytes, the adapter's lookups (port by in_port, the
switch's local ports), the handler, and the packet-out serialized as
Datapath.send_msg does.  What the adapter rows leave out: OS-Ken's event
queue and thread hand-off, socket I/O, OVS.

    .venv/bin/python bench/packet_in.py            # 100 networks x 100 ports
    .venv/bin/python bench/packet_in.py --quick    # same model, shorter runs

Runs as root only, like the other benchmarks (nothing here needs it).
"""

import argparse
import os
import struct
import sys
import time
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import dhcp as common  # noqa: E402
from bench import report  # noqa: E402

from scapy.layers.dhcp import BOOTP, DHCP  # noqa: E402
from scapy.layers.inet import IP, UDP  # noqa: E402
from scapy.layers.l2 import ARP, Ether  # noqa: E402

from os_ken.ofproto import ofproto_parser as ofp_parser_lib  # noqa: E402
from os_ken.ofproto import ofproto_v1_3, ofproto_v1_3_parser  # noqa: E402

from srv6_ofapp import config  # noqa: E402
from srv6_ofapp.edge.responder import Responder  # noqa: E402
from tests.edge_reference import arp as ref_arp  # noqa: E402
from tests.edge_reference import dhcp as ref_dhcp  # noqa: E402
from srv6_ofapp.edge import app as app_lib  # noqa: E402
from srv6_ofapp.edge.switch import SwitchState  # noqa: E402
from srv6_ofapp.edge.tables import TABLE_ID  # noqa: E402
from srv6_ofapp.runtime import HostReports, Role  # noqa: E402
from srv6_ofapp.replica import Replica  # noqa: E402
from topology import naming  # noqa: E402

GATEWAY_MAC = 'fa:16:3f:00:00:01'
CREATED = '2026-01-01T00:00:00Z'
DPID = 0xb1
# Issue 12's goals, replies per second through the app's packet-in entry.
GOALS = {'DHCP': 50000, 'ARP': 100000}


# -- a model of realistic size, as the REST API stores it --------------------------

def _uuid(kind, n):
    """Deterministic UUID-shaped ids (distinct in their first 11 characters, as
    tap names need)."""
    return '%08x-%04x-4%03x-8%03x-%012x' % (n * 2654435761 % (1 << 32), kind, n % 4096,
                                              n // 4096, n)


def build_docs(networks, ports_per_network, local_per_network):
    docs = {'networks': [], 'subnets': [], 'ports': [], 'hosts': [],
            'vrfallocations': [], 'srv6_encap_networks': []}
    for i, name in enumerate(('hv1', 'hv2')):
        docs['hosts'].append({
            'id': _uuid(9, i), 'name': name, 'datapath_id': '%016x' % (DPID + i),
            'bridge': 'br-int', 'segment_node_id': 'fd00:0:0:%d::' % (i + 1),
            'underlay_ip': 'fd00::%d' % (i + 1), 'vrf_cidr': '169.254.0.0/16', 'netns': None,
            'description': '', 'revision_number': 0, 'created_at': CREATED,
            'updated_at': CREATED})
    port_n = 0
    for n in range(networks):
        net_id, sub_id = _uuid(1, n), _uuid(2, n)
        docs['networks'].append({
            'id': net_id, 'name': 'net%d' % n, 'tenant_id': 'p%d' % (n % 10),
            'admin_state_up': True, 'mtu': 1436, 'port_security_enabled': True,
            'shared': False, 'status': 'ACTIVE', 'description': '', 'revision_number': 0,
            'created_at': CREATED, 'updated_at': CREATED})
        prefix = '10.%d.%d' % (n // 256, n % 256)
        docs['subnets'].append({
            'id': sub_id, 'network_id': net_id, 'name': '', 'tenant_id': 'p%d' % (n % 10),
            'cidr': prefix + '.0/24', 'gateway_ip': prefix + '.1', 'ip_version': 4,
            'enable_dhcp': True, 'dns_nameservers': ['10.255.0.53'], 'host_routes': [],
            'allocation_pools': [{'start': prefix + '.2', 'end': prefix + '.254'}],
            'ipv6_address_mode': None, 'ipv6_ra_mode': None, 'subnetpool_id': None,
            'description': '', 'revision_number': 0, 'created_at': CREATED,
            'updated_at': CREATED})
        for p in range(ports_per_network):
            port_n += 1
            docs['ports'].append({
                'id': _uuid(3, port_n), 'network_id': net_id, 'name': 'vm%d-%d' % (n, p),
                'tenant_id': 'p%d' % (n % 10), 'admin_state_up': True,
                'mac_address': 'fa:16:3e:%02x:%02x:%02x' % (port_n >> 16, (port_n >> 8) & 255,
                                                            port_n & 255),
                'fixed_ips': [{'subnet_id': sub_id, 'ip_address': '%s.%d' % (prefix, p + 2)}],
                'allowed_address_pairs': [], 'extra_dhcp_opts': [],
                'port_security_enabled': True, 'security_groups': [],
                'binding:host_id': 'hv1' if p < local_per_network else 'hv2',
                'binding:profile': {}, 'binding:vnic_type': 'normal', 'device_id': '',
                'device_owner': 'compute:nova', 'status': 'ACTIVE', 'description': '',
                'revision_number': 0, 'created_at': CREATED, 'updated_at': CREATED})
    return docs


# -- frames ------------------------------------------------------------------------

def dhcp_frame(port, message_type, gateway=None):
    mac = port['mac_address']
    options = [('message-type', message_type),
               ('client_id', b'\x01' + bytes.fromhex(mac.replace(':', ''))),
               ('max_dhcp_size', 1500), ('param_req_list', [1, 3, 6, 12, 15, 26, 28, 121])]
    if message_type == 'request':
        options += [('requested_addr', port['fixed_ips'][0]['ip_address']),
                    ('server_id', gateway)]
    return bytes(Ether(src=mac, dst='ff:ff:ff:ff:ff:ff') / IP(src='0.0.0.0',
                                                                 dst='255.255.255.255')
                 / UDP(sport=68, dport=67)
                 / BOOTP(chaddr=bytes.fromhex(mac.replace(':', '')), xid=0x1234)
                 / DHCP(options=options + ['end']))


def arp_frame(port, target):
    mac = port['mac_address']
    return bytes(Ether(src=mac, dst='ff:ff:ff:ff:ff:ff') / ARP(
        op=1, hwsrc=mac, psrc=port['fixed_ips'][0]['ip_address'], pdst=target))


# -- the adapter, without OS-Ken's loop -------------------------------------------------

class FakeDatapath:
    """What SRv6OFApp._packet_in touches of an OS-Ken Datapath; send_msg
    serializes the message as the real one does, then drops it."""
    ofproto = ofproto_v1_3
    ofproto_parser = ofproto_v1_3_parser

    def __init__(self, dpid):
        self.id = dpid
        self.xid = 0
        self.sent = 0
        self.last = None

    def send_msg(self, msg):
        if msg.xid is None:
            msg.set_xid(1)
        msg.serialize()
        self.sent += 1
        self.last = msg

    def send(self, buf):
        """The fast path's packet-outs arrive as bytes."""
        self.sent += 1
        self.last = bytes(buf)

    def last_out(self):
        """(frame, out port) of the last packet-out, whichever way it came."""
        if isinstance(self.last, bytes):
            return self.last[40:], struct.unpack_from('!I', self.last, 28)[0]
        return bytes(self.last.data), self.last.actions[0].port


def packet_in_bytes(in_port, frame, table_id):
    """An OFPT_PACKET_IN as OVS sends it (OpenFlow 1.3, no buffer)."""
    match = ofproto_v1_3_parser.OFPMatch(in_port=in_port)
    buf = bytearray()
    match.serialize(buf, 0)
    body = struct.pack('!IHBBQ', ofproto_v1_3.OFP_NO_BUFFER, len(frame),
                       ofproto_v1_3.OFPR_ACTION, table_id, 0) + bytes(buf) + b'\0\0' + frame
    header = struct.pack('!BBHI', ofproto_v1_3.OFP_VERSION, ofproto_v1_3.OFPT_PACKET_IN,
                         8 + len(body), 7)
    return header + body


def make_app(view, ofports):
    """An SRv6OFApp over ``view`` with one switch (no store, no OS-Ken loop)."""
    config.register_opts()
    app = app_lib.SRv6OFApp(runtime=types.SimpleNamespace(
        plugin=None, replica=view, role=Role('all'), reports=HostReports()))
    datapath = FakeDatapath(DPID)
    state = SwitchState(datapath, DPID)
    state.ports.set_ports(ofports)
    state.responder = Responder(view, state.ports, app.config.gateway_mac, app.dhcp_config)
    app.switches = {DPID: state}
    return app, datapath


# -- timing ------------------------------------------------------------------------------

def timed(fn, duration, batch=50):
    """Call fn() in batches until ``duration`` seconds passed; (calls, seconds)."""
    calls = 0
    start = time.perf_counter()
    deadline = start + duration
    while True:
        for _ in range(batch):
            fn()
        calls += batch
        now = time.perf_counter()
        if now >= deadline:
            return calls, now - start


def measure_interleaved(variants, duration, repeat):
    """Time every variant ``repeat`` times, interleaved (A B C, C B A, ...),
    after a warm-up each; {name: sorted us per call of each run}."""
    for _, fn in variants:
        timed(fn, max(0.1, duration / repeat))  # warm-up (the first row ran slow without)
    runs = {name: [] for name, _ in variants}
    for r in range(repeat):
        for name, fn in (variants if r % 2 == 0 else variants[::-1]):
            calls, seconds = timed(fn, duration / repeat)
            runs[name].append(seconds / calls * 1e6)
    return {name: sorted(values) for name, values in runs.items()}


def spread(values):
    """'min / median / max' of us per call."""
    return '%.1f / %.1f / %.1f' % (values[0], values[len(values) // 2], values[-1])


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--networks', type=int, default=100, help='networks (default 100)')
    parser.add_argument('--ports', type=int, default=100,
                        help='ports per network, one /24 subnet each (default 100)')
    parser.add_argument('--local', type=int, default=5,
                        help='ports per network bound to this switch\'s host; the others '
                             'are on another host (default 5)')
    parser.add_argument('--duration', type=float, default=2.0,
                        help='seconds per row (default 2)')
    parser.add_argument('--repeat', type=int, default=5,
                        help='runs per row, the duration split among them (default 5)')
    parser.add_argument('--quick', action='store_true', help='0.5 s per row')
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = 0.5
    if not 1 <= args.networks <= 65536 or not 2 <= args.ports <= 253:
        parser.error('--networks 1..65536, --ports 2..253')
    if not 2 <= args.local <= args.ports - 1:
        parser.error('--local: 2 .. ports-1 (a client, a local target and a remote VM)')
    if args.duration <= 0 or args.repeat < 1:
        parser.error('--duration must be positive, --repeat at least 1')
    return args


def run(args):
    common.print_header()
    t0 = time.perf_counter()
    docs = build_docs(args.networks, args.ports, args.local)
    view = Replica.from_docs(docs)
    build = time.perf_counter() - t0
    nets = docs['networks']
    net = nets[len(nets) // 2]
    sub = view.subnets_of(net['id'])[0]
    members = view.ports_of(net['id'])
    client, local_target, remote_target = members[0], members[args.local - 1], members[-1]
    local_ports = [p for p in docs['ports'] if p['binding:host_id'] == 'hv1']
    ofports = {naming.tap_name(p['id']): n + 1 for n, p in enumerate(local_ports)}
    local_ofports = {p['id']: n + 1 for n, p in enumerate(local_ports)}
    client_ofport = ofports[naming.tap_name(client['id'])]
    print('model: %d networks x %d ports = %d ports (%d on this switch), %d subnets; '
          'view built in %.2f s' % (len(nets), args.ports, len(docs['ports']),
                                    len(local_ports), len(docs['subnets']), build))
    print('client: %s in network %d; unicast target: local port %d of that network; remote '
          'target: its last port (%d)' % (client['fixed_ips'][0]['ip_address'],
                                           len(nets) // 2, args.local - 1, args.ports - 1))
    sys.stdout.flush()

    network = view.network(net['id'])
    subnets = view.subnets_of(net['id'])
    cases = [
        ('DHCP DISCOVER -> OFFER', dhcp_frame(client, 'discover'), 'offer'),
        ('DHCP REQUEST -> ACK', dhcp_frame(client, 'request', sub['gateway_ip']), 'ack'),
        ('ARP gateway -> reply', arp_frame(client, sub['gateway_ip']), 'arp_reply_gateway'),
        ('ARP local VM -> unicast', arp_frame(client, local_target['fixed_ips'][0]['ip_address']),
         'arp_unicast'),
        ('ARP remote VM -> reply', arp_frame(client, remote_target['fixed_ips'][0]['ip_address']),
         'arp_reply_remote'),
    ]

    ref_config = ref_dhcp.DhcpConfig(gateway_mac=GATEWAY_MAC)

    def reference(frame):
        if frame[12:14] == b'\x08\x06':
            return lambda: ref_arp.handle_arp(frame, net['id'], view, local_ofports.get,
                                              GATEWAY_MAC)
        return lambda: ref_dhcp.handle_dhcp(frame, client, network, subnets, ref_config)

    app, datapath = make_app(view, ofports)
    state = app.switches[DPID]
    compiled = state.responder

    def handler(frame):
        # The compiled port and network answers the adapter keeps (responder.py).
        return lambda: compiled.answer(client_ofport, frame)

    rows = []
    for name, frame, event in cases:
        expected, got = reference(frame)()
        if got != event or expected is None:
            raise RuntimeError('%s: reference handler said %r, expected %r' % (name, got, event))
        if isinstance(expected, ref_arp.Reply):
            expected = (expected.frame, expected.out_port or client_ofport)
        else:
            expected = (expected, client_ofport)
        out_port, reply, got = handler(frame)()
        if got != event or (reply, out_port or client_ofport) != expected:
            raise RuntimeError('%s: the fast handler\'s reply differs from the reference\'s'
                               % name)

        table_id = TABLE_ID['arp' if frame[12:14] == b'\x08\x06' else 'dhcp']
        raw = packet_in_bytes(client_ofport, frame, table_id)
        version, msg_type, msg_len, xid = struct.unpack_from('!BBHI', raw)

        def os_ken_path(raw=raw, version=version, msg_type=msg_type, msg_len=msg_len, xid=xid):
            msg = ofp_parser_lib.msg(datapath, version, msg_type, msg_len, xid, raw)
            app._packet_in(msg)

        def raw_path(raw=raw):
            datapath.send(app.packet_in_raw(datapath, raw))

        for call in (os_ken_path, raw_path):
            before_sent = datapath.sent
            call()
            if datapath.sent != before_sent + 1 or datapath.last_out() != expected:
                raise RuntimeError('%s: %s did not send the reference reply out of port %s'
                                   % (name, call.__name__, expected[1]))
        timings = measure_interleaved(
            [('reference', reference(frame)), ('handler', handler(frame)),
             ('os_ken', os_ken_path), ('raw', raw_path)], args.duration, args.repeat)
        best_raw = timings['raw'][len(timings['raw']) // 2]
        goal = GOALS['DHCP' if name.startswith('DHCP') else 'ARP']
        rows.append([name, spread(timings['reference']), spread(timings['handler']),
                     spread(timings['os_ken']), spread(timings['raw']),
                     '%.0f' % (1e6 / best_raw), '%d' % goal,
                     'yes' if 1e6 / best_raw >= goal else 'NO'])

    print()
    print(report.table(['packet-in (us per call: min / median / max)',
                        'before: os_ken handler', 'handler', 'app, via OS-Ken message',
                        'app.packet_in_raw', 'replies/s (median)', 'goal /s', 'met'], rows))
    print('before: os_ken handler = the os_ken.lib.packet responders this fast path replaced '
          '(tests/edge_reference/), on a prebuilt frame;')
    print('handler = the switch\'s Responder.answer (compiled port and network answers) on a '
          'prebuilt frame;')
    print('app, via OS-Ken message = OS-Ken\'s OpenFlow parse + SRv6OFApp._packet_in + os_ken '
          'OFPPacketOut serialization (the --nopacket-in-fast-path path, less its queues);')
    print('app.packet_in_raw = the fast path\'s entry: packet-in bytes in, packet-out bytes '
          'out (what FastDatapath calls per message), %d ports on the switch;' % len(ofports))
    print('one thread; the four interleaved, %d runs of %g s each per column'
          % (args.repeat, args.duration / args.repeat))
    return 0


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if os.geteuid() != 0:
        # Nothing here needs privileges; root is asked for so that every
        # benchmark of bench/ runs under the same conditions.
        print('SKIP: bench/packet_in.py must run as root, like the other benchmarks')
        return 0
    return run(args)


if __name__ == '__main__':
    sys.exit(main())
