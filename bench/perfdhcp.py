"""DHCP under load, live: ISC perfdhcp against srv6-ofapp through a real OVS
netdev bridge, and against dnsmasq, side by side, up to 4x overload.

One private Open vSwitch (tests.netlab: its own ovsdb-server and
ovs-vswitchd, in a namespace of its own), two netdev bridges:

  * ``srv6-ofapp``: the controller runs *inside* the OVS namespace, as on a
    real host (OpenFlow over 127.0.0.1 there, no relay in between), on a
    sqlite store with a host, a network, a subnet and two ports; each port's
    VM (namespace + veth ``tap<port id>``) carries the port's MAC and fixed
    IP.  perfdhcp runs in the first VM; the second, the *neighbour*, runs a
    slow perfdhcp at the same time (its own port, its own meter) to show
    whether one port's flood hurts another port.
  * ``dnsmasq``: a bridge with ``actions=NORMAL``, a dnsmasq VM holding a
    static reservation for the same MAC and address, and a perfdhcp VM.

perfdhcp always acts as a relay (giaddr = its address): dnsmasq answers a
relay on port 67, srv6-ofapp on the client port (``-L 68``); ``-R 1`` and
``-b mac=PORT_MAC`` make every exchange the port's own (our server answers
a port's MAC only).  Each step offers ``-r RATE`` DISCOVER->OFFER->REQUEST->
ACK exchanges per second for ``--duration`` seconds.

perfdhcp counts an answer however late as completed, so the exchanges are
taken from its own timestamps (``-x t``: the four packet times of every
exchange it completed) and an exchange counts as completed only if its ACK
came within ``--deadline`` of its DISCOVER.  p50/p99 are of those.

CPU: the server process (srv6-ofapp or dnsmasq), ovs-vswitchd (its share is
the datapath's work for the packet-ins and packet-outs; shown separately so
that the limit is visible) and perfdhcp, from /proc, over each step; "per
exchange" divides by completed exchanges.

The ladder: rates ``--rates`` for both servers; the controller's peak is the
step with the most completed exchanges/s; then 4x that offered rate is run
(and for dnsmasq at the same rate), and checked against issue 12's goals:
controller CPU per exchange <= dnsmasq's (at the controller's peak), and
completed/s at 4x >= 90% of the peak.

    .venv/bin/python bench/perfdhcp.py                  # ~4 min
    .venv/bin/python bench/perfdhcp.py --quick          # 3 rates, 3 s each

Needs root, Open vSwitch, dnsmasq, perfdhcp (Debian kea-admin), ethtool.
Everything it creates is removed at exit, on errors and on SIGTERM.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.dhcp import cpu_seconds, loadavg, print_header  # noqa: E402
from bench.report import table  # noqa: E402
from srv6_ofapp import netns as netns_lib  # noqa: E402
from tests import netlab  # noqa: E402
from tests.server import free_port  # noqa: E402

import requests  # noqa: E402

CIDR = '10.0.0.0/24'
GATEWAY = '10.0.0.1'
DPID = '00000000000000c1'
PERFDHCP = '/usr/sbin/perfdhcp'
GOAL_OVERLOAD = 0.9


# -- the controller, inside the OVS namespace -----------------------------------------

class Controller:
    """srv6-ofapp in the OVS namespace (OpenFlow and REST on its 127.0.0.1)."""

    def __init__(self, netns, directory, extra_args):
        self.netns = netns
        self.rest_port, self.ofp_port = free_port(), free_port()
        self.log_path = os.path.join(directory, 'srv6-ofapp.log')
        self.args = ['ip', 'netns', 'exec', netns, sys.executable, '-m', 'srv6_ofapp',
                     '--store', 'sqlite:///' + os.path.join(directory, 'state.db'),
                     '--wsapi-host', '127.0.0.1', '--wsapi-port', str(self.rest_port),
                     '--ofp-listen-host', '127.0.0.1',
                     '--ofp-tcp-listen-port', str(self.ofp_port)] + list(extra_args)
        self.proc = None
        self.session = None

    def start(self, timeout=30):
        with open(self.log_path, 'ab') as log:
            # `ip netns exec` execs: the PID is the controller's own.
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                         cwd=ROOT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('srv6-ofapp exited:\n' + self.log())
            try:
                self.call(lambda s: s.get(self.url + '/', timeout=1))
                return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError('srv6-ofapp did not answer:\n' + self.log())

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.rest_port

    def call(self, fn):
        """fn(requests session), run in the namespace (its sockets are made there)."""
        def inside():
            if self.session is None:
                self.session = requests.Session()
            return fn(self.session)
        return netns_lib.call_in(self.netns, inside)

    def create(self, member, **attrs):
        response = self.call(lambda s: s.post('%s/v2.0/%ss' % (self.url, member),
                                              json={member: attrs}, timeout=30))
        if response.status_code != 201:
            raise RuntimeError('POST %ss: %s %s' % (member, response.status_code,
                                                   response.text[:300]))
        return response.json()[member]

    def log(self):
        try:
            with open(self.log_path, errors='replace') as f:
                return f.read()[-3000:]
        except OSError:
            return ''

    def stop(self):
        if self.session is not None:
            self.session.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# -- perfdhcp ------------------------------------------------------------------------------

_TIMESTAMPS = re.compile(r'^sent / received: (\d+\.\d+) / (\d+\.\d+)\s*$')


class Perfdhcp:
    """perfdhcp in a VM, offering ``rate`` exchanges/s for ``seconds``."""

    def __init__(self, vm, mac, rate, seconds, local_port=None, drop_time=2.0, cpus=None):
        self.vm = vm
        args = ['taskset', '-c', cpus] if cpus else []
        args += [PERFDHCP, '-4', '-l', vm.ifname, '-R', '1', '-b', 'mac=' + mac,
                '-r', str(rate), '-p', '%d' % round(seconds), '-d', str(drop_time), '-x', 't',
                '-W', '500000']
        if local_port:
            args += ['-L', str(local_port)]
        self.out_path = os.path.join(vm.dir, 'perfdhcp-%d-%d.out' % (rate, time.monotonic_ns()))
        self.out = open(self.out_path, 'w')
        self.proc = subprocess.Popen(vm.cmd(args), stdout=self.out, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait(self, timeout):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.out.close()
        with open(self.out_path, errors='replace') as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if not self.out.closed:
            self.out.close()


def exchanges(output):
    """[(discover sent, ack received)] of the exchanges perfdhcp completed.

    '-x t' prints the (sent, received) times of every DISCOVER-OFFER and of
    every REQUEST-ACK, as two lists; perfdhcp sends a REQUEST as it receives
    an OFFER, so the k-th OFFER received and the k-th REQUEST sent are one
    exchange."""
    lists = {}
    current = None
    for line in output.splitlines():
        if line.startswith('***Timestamps for packets:'):
            current = lists.setdefault(line.split(':', 1)[1].strip(' *'), [])
            continue
        match = _TIMESTAMPS.match(line)
        if match and current is not None:
            current.append((float(match.group(1)), float(match.group(2))))
    offers = sorted(lists.get('DISCOVER-OFFER', []), key=lambda pair: pair[1])
    acks = sorted(lists.get('REQUEST-ACK', []))
    return [(discover, ack) for (discover, _), (_, ack) in zip(offers, acks)]


def sent_count(output):
    """DISCOVERs perfdhcp sent."""
    match = re.search(r'Statistics for: DISCOVER-OFFER\**\s*\nsent packets: (\d+)', output)
    return int(match.group(1)) if match else 0


# -- one step --------------------------------------------------------------------------------

def run_step(side, rate, args, neighbour=None):
    """Offer ``rate`` exchanges/s from side's client for args.duration seconds."""
    pids = {'server': side['pid'], 'ovs': side['ovs_pid']}
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.monotonic()
    load = Perfdhcp(side['vm'], side['mac'], rate, args.duration, side.get('local_port'),
                    cpus=args.client_cpus)
    quiet = None
    if neighbour is not None:
        quiet = Perfdhcp(neighbour['vm'], neighbour['mac'], args.neighbour_rate,
                         args.duration, neighbour.get('local_port'), cpus=args.client_cpus)
    try:
        output = load.wait(args.duration + 30)
        wall = time.monotonic() - started
        after = {name: cpu_seconds(pid) for name, pid in pids.items()}
        quiet_out = quiet.wait(args.duration + 30) if quiet is not None else ''
    finally:
        load.stop()
        if quiet is not None:
            quiet.stop()
    done = exchanges(output)
    sent = sent_count(output)
    in_time = [ack - discover for discover, ack in done if ack - discover <= args.deadline]
    cpu = {name: (after[name] - before[name]) if after[name] is not None and
           before[name] is not None else float('nan') for name in pids}
    row = {'server': side['label'], 'rate': rate, 'sent': sent, 'completed': len(done),
           'in_time': len(in_time), 'per_s': len(in_time) / args.duration,
           'latencies': sorted(in_time), 'cpu': cpu, 'wall': wall}
    if quiet is not None:
        quiet_done = exchanges(quiet_out)
        row['neighbour'] = (sum(1 for d, a in quiet_done if a - d <= args.deadline),
                            sent_count(quiet_out))
    return row


def pct(values, q):
    if not values:
        return float('nan')
    return values[min(len(values) - 1, int(len(values) * q / 100))] * 1000


def fmt_row(row):
    n = max(row['in_time'], 1)
    return [row['server'], row['rate'], row['sent'], row['completed'], row['in_time'],
            '%.0f' % row['per_s'], '%.2f' % pct(row['latencies'], 50),
            '%.2f' % pct(row['latencies'], 99),
            '%.1f' % (1e6 * row['cpu']['server'] / n), '%.1f' % (1e6 * row['cpu']['ovs'] / n),
            '%.0f' % (100 * row['cpu']['server'] / row['wall']),
            '%.0f' % (100 * row['cpu']['ovs'] / row['wall']),
            '%d/%d' % row['neighbour'] if 'neighbour' in row else '-']


HEADER = ['server', 'offered/s', 'DISCOVERs sent', 'completed', 'within deadline',
          'completed/s', 'p50 ms', 'p99 ms', 'server CPU us/exchange', 'OVS CPU us/exchange',
          'server cpu%', 'OVS cpu%', 'neighbour in time/sent']


# -- the lab ---------------------------------------------------------------------------------

def pin(pid, cpus):
    """Every thread of ``pid`` onto ``cpus``."""
    if cpus:
        subprocess.run(['taskset', '-a', '-p', '-c', cpus, str(pid)], check=True,
                       capture_output=True)


def setup(lab, tmp, args):
    ovs = lab.ovs
    pin(ovs.vswitchd.pid, args.server_cpus)
    sides = {}
    controller = Controller(ovs.netns, tmp, [
        '--packet-in-rate', str(args.packet_in_rate),
        '--packet-in-burst', str(args.packet_in_burst)] + (
        [] if args.fast_path else ['--nopacket-in-fast-path'])).start()
    pin(controller.proc.pid, args.server_cpus)
    controller.create('host', name='hv1', datapath_id=DPID, segment_node_id='fd00:0:0:1::',
                      underlay_ip='fd00::1')
    net = controller.create('network', name='bench')
    controller.create('subnet', network_id=net['id'], cidr=CIDR, gateway_ip=GATEWAY)
    ports = [controller.create('port', network_id=net['id'], name='c%d' % i,
                               **{'binding:host_id': 'hv1'}) for i in range(2)]
    bridge = ovs.add_bridge('brours', dpid=DPID)
    ovs.vsctl('set-controller', bridge, 'tcp:127.0.0.1:%d' % controller.ofp_port, '--',
              'set', 'controller', bridge, 'max_backoff=1000')
    vms = []
    for port in ports:
        vm = lab.vm(bridge, port_id=port['id'], mac=port['mac_address'])
        vm.set_address('%s/24' % port['fixed_ips'][0]['ip_address'])
        vms.append(vm)
    ovs.wait_for_flows(bridge, lambda flows: sum(
        1 for f in flows if f['table'] == 20 and f['priority'] == 100) >= 2, timeout=60)
    common = {'pid': controller.proc.pid, 'ovs_pid': ovs.vswitchd.pid, 'local_port': 68}
    sides['ours'] = dict(common, label='srv6-ofapp', vm=vms[0], mac=ports[0]['mac_address'])
    sides['neighbour'] = dict(common, label='neighbour', vm=vms[1],
                              mac=ports[1]['mac_address'])

    bridge = ovs.add_bridge('brdnsmasq')
    ovs.add_flow(bridge, 'priority=0,actions=NORMAL')
    server_vm = lab.vm(bridge)
    server_vm.set_address('%s/24' % GATEWAY)
    client_vm = lab.vm(bridge, mac=ports[0]['mac_address'])
    client_vm.set_address('%s/24' % ports[0]['fixed_ips'][0]['ip_address'])
    dnsmasq = netlab.Dnsmasq(server_vm, '10.0.0.0,static,255.255.255.0,24h',
                             hosts=[(ports[0]['mac_address'],
                                     ports[0]['fixed_ips'][0]['ip_address'])],
                             options=['option:router,' + GATEWAY], log_dhcp=False).start()
    pin(dnsmasq.proc.pid, args.server_cpus)
    sides['dnsmasq'] = {'pid': dnsmasq.proc.pid, 'ovs_pid': ovs.vswitchd.pid,
                        'label': 'dnsmasq', 'vm': client_vm, 'mac': ports[0]['mac_address']}
    return controller, dnsmasq, sides


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rates', default='1000,2000,4000,6000,8000',
                        help='offered exchanges/s of the ladder (default 1000,2000,4000,6000,'
                             '8000)')
    parser.add_argument('--duration', type=int, default=8, help='seconds per step')
    parser.add_argument('--deadline', type=float, default=1.0,
                        help='seconds from DISCOVER to ACK within which an exchange counts '
                             'as completed (default 1)')
    parser.add_argument('--repeat', type=int, default=1,
                        help='times the ladder is run (interleaved: ours, dnsmasq, dnsmasq, '
                             'ours...); min/median/max of the peak and of 4x')
    parser.add_argument('--packet-in-rate', type=int, default=20000,
                        help='srv6-ofapp per-port packet-in meter, packets/s (default '
                             '20000: the meter must not be what limits the loaded port)')
    parser.add_argument('--packet-in-burst', type=int, default=2000)
    parser.add_argument('--neighbour-rate', type=int, default=20,
                        help='exchanges/s the neighbour port offers meanwhile (default 20)')
    parser.add_argument('--no-fast-path', dest='fast_path', action='store_false',
                        help='run the controller with --nopacket-in-fast-path (OS-Ken\'s '
                             'queues), for comparison')
    parser.add_argument('--pin', choices=('on', 'off'), default='on',
                        help='on (default, with 2+ CPUs): perfdhcp on the last CPU, the '
                             'servers and ovs-vswitchd on the others, so that the load '
                             'generator does not take the CPU of what it measures')
    parser.add_argument('--quick', action='store_true', help='rates 500,2000,4000; 3 s steps')
    args = parser.parse_args(argv)
    cpus = sorted(os.sched_getaffinity(0))
    args.client_cpus = args.server_cpus = None
    if args.pin == 'on' and len(cpus) >= 2:
        args.client_cpus = str(cpus[-1])
        args.server_cpus = ','.join(str(c) for c in cpus[:-1])
    if args.quick:
        args.rates, args.duration = '500,2000,4000', 3
    args.rates = [int(r) for r in args.rates.split(',')]
    return args


def run(args):
    print_header([[PERFDHCP, '-v'], ['dnsmasq', '--version']])
    print('setup: perfdhcp -R 1 -b mac=<port MAC> -r RATE -p %g -x t; deadline %g s; '
          'srv6-ofapp --packet-in-rate %d --packet-in-burst %d%s; neighbour port offers %d/s; '
          'CPUs: perfdhcp %s, servers and ovs-vswitchd %s'
          % (args.duration, args.deadline, args.packet_in_rate, args.packet_in_burst,
             '' if args.fast_path else ' --nopacket-in-fast-path', args.neighbour_rate,
             args.client_cpus or 'any', args.server_cpus or 'any'))
    sys.stdout.flush()
    tmp = tempfile.mkdtemp(prefix='bench-perfdhcp-')
    lab = netlab.Lab()
    controller = dnsmasq = None
    rows, peaks, overloads = [], [], []
    try:
        controller, dnsmasq, sides = setup(lab, tmp, args)
        # warm-up: megaflows, templates
        run_step(sides['ours'], 100, argparse.Namespace(**dict(vars(args), duration=1)))
        run_step(sides['dnsmasq'], 100, argparse.Namespace(**dict(vars(args), duration=1)))
        for r in range(args.repeat):
            ladder = {'ours': [], 'dnsmasq': []}
            order = ('ours', 'dnsmasq') if r % 2 == 0 else ('dnsmasq', 'ours')
            for rate in args.rates:
                for name in order:
                    row = run_step(sides[name], rate, args,
                                   sides['neighbour'] if name == 'ours' else None)
                    ladder[name].append(row)
                    rows.append(row)
                    print('  ' + ' | '.join(str(c) for c in fmt_row(row)), flush=True)
            peak = max(ladder['ours'], key=lambda row: row['per_s'])
            over_rate = 4 * peak['rate']
            over = {}
            for name in order:
                over[name] = run_step(sides[name], over_rate, args,
                                      sides['neighbour'] if name == 'ours' else None)
                rows.append(over[name])
                print('  ' + ' | '.join(str(c) for c in fmt_row(over[name])), flush=True)
            dns_at_peak = [row for row in ladder['dnsmasq'] if row['rate'] == peak['rate']][0]
            peaks.append((peak, dns_at_peak))
            overloads.append(over)
        if controller.proc.poll() is not None:
            raise RuntimeError('srv6-ofapp died:\n' + controller.log())
    finally:
        if dnsmasq is not None:
            dnsmasq.stop()
        lab.close()
        if controller is not None:
            controller.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print('load average after: %s' % loadavg())
    print(table(HEADER, [fmt_row(row) for row in rows]))
    summary = []
    for (peak, dns), over in zip(peaks, overloads):
        ours_cpu = 1e6 * peak['cpu']['server'] / max(peak['in_time'], 1)
        dns_cpu = 1e6 * dns['cpu']['server'] / max(dns['in_time'], 1)
        kept = over['ours']['per_s'] / peak['per_s'] if peak['per_s'] else 0
        summary.append([peak['rate'], '%.0f' % peak['per_s'], '%.1f' % ours_cpu,
                        '%.1f' % dns_cpu, 'yes' if ours_cpu <= dns_cpu else 'NO',
                        4 * peak['rate'], '%.0f' % over['ours']['per_s'], '%.2f' % kept,
                        'yes' if kept >= GOAL_OVERLOAD else 'NO'])
    print()
    print(table(['controller peak at offered/s', 'completed/s', 'controller CPU us/exchange',
                 'dnsmasq CPU us/exchange (same offered)', '<= dnsmasq',
                 '4x offered/s', 'completed/s at 4x', 'x peak', '>= %.1f' % GOAL_OVERLOAD],
                summary))
    if len(summary) > 1:
        def spread(values, fmt):
            values = sorted(values)
            return ' / '.join(fmt % v for v in (values[0], values[len(values) // 2], values[-1]))
        print()
        print(table(['over %d ladders (min / median / max)' % len(summary), 'value'], [
            ['controller peak, completed/s', spread([float(row[1]) for row in summary], '%.0f')],
            ['controller CPU us/exchange at its peak',
             spread([float(row[2]) for row in summary], '%.1f')],
            ['dnsmasq CPU us/exchange, same offered',
             spread([float(row[3]) for row in summary], '%.1f')],
            ['controller completed/s at 4x, x its peak',
             spread([float(row[7]) for row in summary], '%.2f')],
            ['dnsmasq completed/s at that rate, x its own best',
             spread([over['dnsmasq']['per_s'] / max(r['per_s'] for r in rows
                                                    if r['server'] == 'dnsmasq' and
                                                    r['rate'] < 4 * peak['rate']) for
                     (peak, _), over in zip(peaks, overloads)], '%.2f')]]))
    print('completed = ACK within %g s of its DISCOVER, from perfdhcp\'s own timers; CPU per '
          'exchange = the process\'s CPU over the step / completed exchanges; OVS = '
          'ovs-vswitchd (datapath + OpenFlow), shared by both bridges but busy with one at a '
          'time' % args.deadline)
    return 0


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if os.geteuid() != 0:
        print('SKIP: bench/perfdhcp.py must run as root')
        return 0
    reason = netlab.unavailable_reason(['dnsmasq', PERFDHCP])
    if reason:
        print('SKIP: %s' % reason)
        return 0
    return run(args)


if __name__ == '__main__':
    sys.exit(main())
