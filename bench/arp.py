"""ARP replies per second through a real OVS bridge: datapath responder vs packet-in.

One run, one private Open vSwitch (tests.netlab), two real ``srv6-ofapp``
processes (tests.server), each with its own netdev bridge and the same model
registered through the REST API: a host whose datapath_id is its bridge, a
second host ``hv2`` (not connected), a network with a subnet, N client ports
on the bridge's host and one port bound to ``hv2`` (a VM on another host).

  * ``responder``: srv6-ofapp with its defaults (--arp-responder): the arp
    table answers requests for the gateway and for remote VMs in the
    datapath (ARP responder flows).
  * ``packet-in``: srv6-ofapp --noarp-responder: every request goes to the
    controller, which answers with a packet-out.

The clients are raw AF_PACKET sockets opened inside the client VMs'
namespaces (no arping processes), driven by one event loop: each client
sends a request, waits for the reply, sends the next (closed loop, one
outstanding request per client, its port's own MAC and IP as sender so port
security passes), until the measuring time is over.  Latency: request sent
to reply received.  Targets: the subnet's gateway IP and the remote VM's IP
(both answered with the distributed gateway MAC).

    .venv/bin/python bench/arp.py             # 1 and 10 clients, 5 s per row
    .venv/bin/python bench/arp.py --quick     # 1 client, 2 s per row

Needs root, Open vSwitch, iproute2, ethtool.  Everything it creates is
removed at exit.  Helpers (raw sockets, driver, relay, tables) come from
bench/dhcp.py.
"""

import argparse
import os
import shutil
import socket
import struct
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import dhcp as common  # noqa: E402
from bench import report  # noqa: E402
from srv6_ofapp.edge.tables import TABLE_ID  # noqa: E402
from tests import netlab  # noqa: E402
from tests.server import Server  # noqa: E402

GATEWAY_MAC = 'fa:16:3f:00:00:01'  # srv6-ofapp's --gateway-mac default
MODES = (('responder', 'resp', '00000000000000c1', []),
         ('packet-in', 'pin', '00000000000000c2', ['--noarp-responder']))
LABELS = {'responder': 'datapath responder flows', 'packet-in': 'packet-in (--noarp-responder)'}


class ArpClient:
    """One VM asking who has ``target``, one request at a time."""

    def __init__(self, sock, mac, ip, target, expect_mac):
        self.sock = sock
        self.target = socket.inet_aton(target)
        self.ip = socket.inet_aton(ip)
        self.mac = common.mac_bytes(mac)
        self.expect_mac = common.mac_bytes(expect_mac)
        self.frame = (b'\xff' * 6 + self.mac + b'\x08\x06'
                      + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1)
                      + self.mac + self.ip + bytes(6) + self.target)
        self.wrong = 0

    def begin(self, now):
        self.sock.send(self.frame)

    def on_frame(self, frame, now):
        # The socket's filter passes ARP replies only.
        if len(frame) < 42 or frame[28:32] != self.target or frame[38:42] != self.ip:
            return None
        if frame[0:6] != self.mac or frame[22:28] != self.expect_mac:
            self.wrong += 1
            return None
        return 'done'


def arp_flows_ready(count, answered_ips, responder):
    """Every client port's ARP punt flow, and the responder flows if expected."""
    arp_table = TABLE_ID['arp']

    def ready(flows):
        punts = sum(1 for f in flows if f['table'] == arp_table and f['priority'] == 1)
        answered = {f['match'].get('arp_tpa') for f in flows
                    if f['table'] == arp_table and f['priority'] == 200
                    and 'IN_PORT' in f['actions']}
        return punts >= count and (set(answered_ips) <= answered if responder else
                                   not answered)
    return ready


def setup_mode(lab, ovs, tmp, args, mode, short, dpid, extra, count, servers, relays):
    server = Server(os.path.join(tmp, short + '.db'),
                    common.controller_args(args) + extra).start()
    servers.append(server)
    api = common.Api(server.url)
    try:
        api.create('host', name='hv1', datapath_id=dpid, segment_node_id='fd00:0:0:1::',
                   underlay_ip='fd00::1')
        api.create('host', name='hv2', datapath_id='00000000000000f2',
                   segment_node_id='fd00:0:0:2::', underlay_ip='fd00::2')
        net = api.create('network', name='bench')
        api.create('subnet', network_id=net['id'], cidr=common.CIDR, gateway_ip=common.GATEWAY)
        remote = api.create('port', network_id=net['id'], name='remote',
                            **{'binding:host_id': 'hv2'})
        ports = [api.create('port', network_id=net['id'], name='c%d' % i,
                            **{'binding:host_id': 'hv1'}) for i in range(count)]
    finally:
        api.close()
    bridge = ovs.add_bridge('br' + short, dpid=dpid)
    vms = [lab.vm(bridge, port_id=p['id'], mac=p['mac_address']) for p in ports]
    relays.append(common.Relay(ovs, bridge, server.ofp_port, args.relay))
    targets = {'gateway': common.GATEWAY, 'remote VM': remote['fixed_ips'][0]['ip_address']}
    ovs.wait_for_flows(bridge, arp_flows_ready(count, targets.values(),
                                               mode == 'responder'),
                       timeout=60, interval=0.2)
    socks = [common.open_raw(vm.netns, vm.ifname, common.ETH_P_ARP, common.BPF_ARP_REPLY)
             for vm in vms]
    return {'server': server, 'ports': ports, 'socks': socks, 'targets': targets}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--clients', default='1,10',
                        help='comma-separated numbers of concurrent clients (default 1,10)')
    parser.add_argument('--duration', type=float, default=5.0,
                        help='seconds measured per row (default 5)')
    parser.add_argument('--timeout', type=float, default=1.0,
                        help='seconds to wait for a reply before counting a failure '
                             '(default 1)')
    parser.add_argument('--packet-in-rate', type=int, default=10000,
                        help='srv6-ofapp --packet-in-rate for both servers (default 10000: '
                             'the per-port meter must not throttle the packet-in mode)')
    parser.add_argument('--packet-in-burst', type=int, default=10000,
                        help='srv6-ofapp --packet-in-burst (default 10000)')
    parser.add_argument('--relay', choices=('process', 'thread'), default='process',
                        help='controller relay out of the OVS namespace (see bench/dhcp.py)')
    parser.add_argument('--quick', action='store_true', help='1 client, 2 s per row')
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.duration = '1', 2.0
    common.check_load_args(parser, args)
    return args


def run(args):
    common.print_header()
    need = max(args.clients)
    print('setup: 2 srv6-ofapp, each with its own bridge and %d client VMs; both with '
          '--packet-in-rate %d --packet-in-burst %d (per-port meter; the default 100 pps '
          'would throttle the packet-in mode); controller relay: %s'
          % (need, args.packet_in_rate, args.packet_in_burst, args.relay))
    sys.stdout.flush()
    tmp = tempfile.mkdtemp(prefix='bench-arp-')
    lab = netlab.Lab()
    servers, relays, setups, results = [], [], {}, []
    try:
        ovs = lab.ovs
        t0 = time.perf_counter()
        for mode, short, dpid, extra in MODES:
            setups[mode] = setup_mode(lab, ovs, tmp, args, mode, short, dpid, extra, need,
                                      servers, relays)
        print('setup: done in %.1f s' % (time.perf_counter() - t0))
        sys.stdout.flush()
        for n in args.clients:
            for target in ('gateway', 'remote VM'):
                for mode, _, _, _ in MODES:
                    setup = setups[mode]
                    target_ip = setup['targets'][target]
                    clients = [ArpClient(sock, p['mac_address'], p['fixed_ips'][0]['ip_address'],
                                         target_ip, GATEWAY_MAC)
                               for sock, p in zip(setup['socks'][:n], setup['ports'][:n])]
                    warm = common.drive(clients, 0, args.timeout * 3, mode)
                    with common.CpuMeter({'server': setup['server'].proc.pid,
                                          'ovs': ovs.vswitchd.pid, 'client': 'self'}) as cpu:
                        result = common.drive(clients, args.duration, args.timeout, mode)
                    result.cpu = cpu.percent
                    result.target = target
                    result.bad = warm.failures + sum(c.wrong for c in clients)
                    results.append(result)
                    print('  %-10s %-9s %3d clients: %7d replies in %5.2f s, %d failures'
                          % (mode, target, n, len(result.latencies), result.wall,
                             result.failures + result.bad))
                    sys.stdout.flush()
        for server in servers:
            if server.proc.poll() is not None:
                raise RuntimeError('srv6-ofapp died:\n' + server.log())
    finally:
        for setup in setups.values():
            for sock in setup['socks']:
                sock.close()
        lab.close()
        for relay in relays:
            relay.stop()
        for server in servers:
            code = server.stop()
            if code not in (0, None):
                print('warning: srv6-ofapp exited with %s; log tail:\n%s'
                      % (code, server.log()))
        shutil.rmtree(tmp, ignore_errors=True)

    rows = [[LABELS[r.name], r.target, r.clients, len(r.latencies), '%.1f' % r.rate,
             '%.3f' % report.percentile(r.latencies, 50),
             '%.3f' % report.percentile(r.latencies, 99), r.failures + r.bad]
            + ['%.0f' % r.cpu[k] for k in ('server', 'ovs', 'client')] for r in results]
    print()
    print('load average after: %s' % common.loadavg())
    print(report.table(['ARP answered by', 'target', 'clients', 'replies', 'replies/s',
                        'p50 ms', 'p99 ms', 'failures', 'cpu% server', 'cpu% ovs',
                        'cpu% client'], rows))
    print('closed loop, one outstanding request per client; %g s per row; failure = no '
          'reply within %g s, or a reply with the wrong MAC' % (args.duration, args.timeout))
    print('cpu%% = percent of one core during the row (%d cores): server = that mode\'s '
          'srv6-ofapp, ovs = ovs-vswitchd, client = this process (the packet generator)'
          % (os.cpu_count() or 0))
    return 1 if any(r.failures + r.bad for r in results) else 0


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    common.exit_on_sigterm()
    skip = common.require_root()
    if skip is not None:
        return skip
    return run(args)


if __name__ == '__main__':
    sys.exit(main())
