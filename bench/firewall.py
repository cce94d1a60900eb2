"""Security groups: flows per port, time to apply a change, packet rate.

Three parts, each on a private Open vSwitch (tests.netlab: its own daemons in
a namespace of its own, netdev datapath, userspace conntrack) driven by a
real ``srv6-ofapp`` (tests.server) on a sqlite file:

1. flows    For each configuration and port count (default 50 and 500): a
            fresh bridge and server, one host (the bridge's datapath_id), one
            network with a /21, N ports bound to the host (Neutron bulk POSTs)
            and N OVS internal ports named tap + port_id[:11] (what Nova's plug
            makes, minus the VM).  The controller connects once everything is
            there; when its flows have settled, ``ovs-ofctl dump-flows`` is
            counted per table and per owner (the cookie names the port, the
            network or the switch).  Configurations:
              port security off       port_security_enabled false (no firewall)
              port security, no group  security_groups [] (the firewall's
                                      skeleton: passes DHCP and ARP only)
              default group           every port in its project's default group
              default + remote groups every port in default; 3 of 4 also in a
                                      tier group (web, app, db) whose rules name
                                      the other tiers as remote groups, with a
                                      port range; 5 ports in an extra "admin"
                                      group (see TIER_RULES)
2. change   On the "default + remote groups" worlds: the time from the REST
            call to the moment the bridge holds the resulting flows, as seen
            by ``ovs-ofctl monitor`` (OpenFlow 1.3 flow monitor; every event
            stamped with time.monotonic() by a reader thread).  A change is
            done when no further flow event comes for --quiet seconds; its
            result is checked in a dump.  Trials, repeated --repeat times:
              rule add, default group    ingress TCP 2222 from anywhere: every port
              rule delete, default group its DELETE
              rule add, 5-port group     ingress TCP 6379 in "admin"
              rule delete, 5-port group  its DELETE
              port joins a remote group  a port of no tier joins "app", whose
                                         members db's rules admit
              port leaves it             the PUT back
            The observer is calibrated first, on a bridge of its own: one
            ``ovs-ofctl add-flow`` (exit -> stamp) and bursts of 1,000 flows
            through ``add-flows``/``del-flows`` (exit -> last stamp).
3. rate     Four VMs (namespaces, veth) on one bridge: a pair whose ports are
            in a group with one allow rule (TCP and UDP 5201 from anywhere),
            and a pair with port_security_enabled false.  iperf3 TCP (one
            stream) and UDP (64-byte datagrams, -b 0), the pairs alternating
            A B B A, --rounds rounds; ovs-vswitchd's CPU per run.

    .venv/bin/python bench/firewall.py             # all three parts (~15 min)
    .venv/bin/python bench/firewall.py --quick     # fewer configurations, repeats
                                                   # and rounds (~5 min)
    .venv/bin/python bench/firewall.py --part rate # one part (repeatable)

Needs root, Open vSwitch, iperf3, iproute2, ethtool (``make install``).
Everything it starts is stopped by PID, and every bridge, namespace and
temporary file removed, at the end, on an error, and on SIGTERM or Ctrl-C.
"""

import argparse
import collections
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import requests  # noqa: E402

from bench import dhcp as common  # noqa: E402
from bench.report import table  # noqa: E402
from srv6_ofapp.edge.flows import COOKIE_NETWORK, COOKIE_PORT, COOKIE_SWITCH  # noqa: E402
from srv6_ofapp.edge.tables import TABLE_NAME, TABLES  # noqa: E402
from tests import netlab  # noqa: E402
from tests.server import Server  # noqa: E402
from topology import naming  # noqa: E402

V = '/v2.0'
CIDR = '10.0.0.0/21'           # room for 2,000 ports
PREFIXLEN = 21
TIMEOUT = 120                  # seconds for one REST call or one change to settle
CHUNK = 50                     # ports per bulk POST and per ovs-vsctl call
IPERF_PORT = 5201

CONFIGS = ('port security off', 'port security, no group', 'default group',
           'default + remote groups')
RULES_CONFIG = CONFIGS[-1]
QUICK_CONFIGS = (CONFIGS[0], CONFIGS[3])

# "default + remote groups": port i is in tier TIERS[i % 4] (None: default only).
TIERS = ('web', 'app', 'db', None)
TIER_RULES = {
    'web': [dict(protocol='tcp', port_range_min=80, port_range_max=80,
                 remote_ip_prefix='0.0.0.0/0'),
            dict(protocol='tcp', port_range_min=443, port_range_max=443,
                 remote_ip_prefix='0.0.0.0/0'),
            dict(protocol='icmp')],
    'app': [dict(protocol='tcp', port_range_min=8080, port_range_max=8080,
                 remote_group='web'),
            dict(protocol='tcp', port_range_min=22, port_range_max=22,
                 remote_ip_prefix='10.0.0.0/8')],
    'db': [dict(protocol='tcp', port_range_min=5432, port_range_max=5432,
                remote_group='app'),
           dict(protocol='tcp', port_range_min=9000, port_range_max=9100,
                remote_group='app')],
    'admin': [],
}
ADMIN_PORTS = 5


# -- REST ----------------------------------------------------------------------------

class Api:
    """A requests session on one server; every call checks its status."""

    def __init__(self, url):
        self.url = url
        self.session = requests.Session()

    def call(self, method, path, body=None, status=200):
        response = self.session.request(method, self.url + V + path, json=body,
                                        timeout=TIMEOUT)
        if response.status_code != status:
            raise RuntimeError('%s %s -> %s: %s' % (method, path, response.status_code,
                                                    response.text[:500]))
        return response.json() if response.content else None

    def create(self, member, collection=None, **attrs):
        collection = collection or member.replace('_', '-') + 's'
        return self.call('POST', '/' + collection, {member: attrs}, 201)[member]

    def bulk(self, collection, items):
        return self.call('POST', '/' + collection, {collection: items}, 201)[collection]

    def close(self):
        self.session.close()


# -- the observer: ovs-ofctl monitor ---------------------------------------------------

Event = collections.namedtuple('Event', 'stamp kind text')


class FlowMonitor:
    """``ovs-ofctl -O OpenFlow13 monitor BRIDGE watch:!initial,!actions``: every
    flow event (ADDED, DELETED, MODIFIED) stamped with time.monotonic() when
    its line is read; PAUSED/RESUMED (OVS stopped sending updates because the
    monitor fell behind) are recorded as events of their own."""

    def __init__(self, ovs, bridge):
        self.events = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(
            ['ovs-ofctl', '-O', 'OpenFlow13', 'monitor', ovs.mgmt(bridge),
             'watch:!initial,!actions'],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=ovs.env, start_new_session=True)
        # Buffered: a readline() that read a byte per system call (bufsize=0)
        # lagged 100-250 ms behind a burst of 1,000 events.
        self.thread = threading.Thread(target=self._read, daemon=True,
                                       name='flow-monitor-' + bridge)
        self.thread.start()
        time.sleep(0.3)  # the monitor request is in before anything is measured

    def _read(self):
        for line in self.proc.stdout:
            stamp = time.monotonic()
            text = line.decode(errors='replace').strip()
            if text.startswith('event='):
                kind = text.split(None, 1)[0][len('event='):]
            elif 'PAUSED' in text or 'RESUMED' in text:
                kind = 'PAUSED' if 'PAUSED' in text else 'RESUMED'
            else:
                continue
            with self.cond:
                self.events.append(Event(stamp, kind, text))
                self.cond.notify_all()

    def since(self, start):
        with self.cond:
            return [e for e in self.events if e.stamp >= start]

    def settle(self, start, quiet, timeout=TIMEOUT, need=1):
        """The events from ``start`` on, once ``need`` of them came and then
        none for ``quiet`` seconds (the change is done)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [e for e in self.events if e.stamp >= start]
                now = time.monotonic()
                if len(found) >= need:
                    left = found[-1].stamp + quiet - now
                    if left <= 0:
                        return found
                else:
                    left = deadline - now
                if now > deadline:
                    raise TimeoutError('%d of %d flow events within %ss'
                                       % (len(found), need, timeout))
                self.cond.wait(min(left, 0.2))

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.thread.join(2)
        self.proc.stdout.close()


def calibrate(ovs, samples, bursts):
    """How soon the monitor reports what ``ovs-ofctl`` did, on a bridge
    without controller: {'one': [s], ('add' or 'delete', burst size): [s],
    'paused': n}; a burst's figure is from ovs-ofctl's exit to its last
    event (negative: seen before the command had exited)."""
    found = {'one': [], 'paused': 0}
    bridge = ovs.add_bridge()
    monitor = None
    path = os.path.join(ovs.dir, 'burst.flows')
    try:
        monitor = FlowMonitor(ovs, bridge)
        for n in range(samples):
            mac = 'fa:16:3e:ca:1b:%02x' % n
            ovs.add_flow(bridge, 'table=3,priority=100,dl_dst=%s,actions=drop' % mac)
            done = time.monotonic()
            events = monitor.settle(done - 5, quiet=0.05, timeout=10, need=n + 1)
            found['one'].append(events[-1].stamp - done)
        for size in bursts:
            for n in range(3):
                with open(path, 'w') as f:
                    for i in range(size):
                        f.write('table=31,priority=77,reg5=%d,tcp,ct_state=+trk+new,'
                                'tp_dst=%d,actions=drop\n' % (i + 1, 1000 + n))
                for kind, command, args in (('add', 'add-flows', [path]),
                                            ('delete', 'del-flows', ['table=31'])):
                    start = time.monotonic()
                    ovs.ofctl(command, bridge, *args)
                    done = time.monotonic()
                    events = monitor.settle(start, quiet=0.3, timeout=30, need=size)
                    found.setdefault((kind, size), []).append(events[-1].stamp - done)
                    found['paused'] += sum(e.kind == 'PAUSED' for e in events)
    finally:
        if monitor is not None:
            monitor.close()
        ovs.del_bridge(bridge)
    return found


# -- one host: a bridge, its controller, its ports -------------------------------------

def cookie_kind(cookie):
    return cookie >> 56


class World:
    """A bridge of ``ovs`` driven by its own srv6-ofapp, with ``count``
    bound ports in ``config``."""

    _numbers = iter(range(1, 1 << 16))

    def __init__(self, ovs, workdir, count, config, server_args=()):
        self.ovs = ovs
        self.count = count
        self.config = config
        self.number = next(self._numbers)
        self.dpid = '%016x' % (0xf1e000 + self.number)
        self.server = Server(os.path.join(workdir, 'fw%d.db' % self.number),
                             list(server_args))
        self.bridge = None
        self.relay = None
        self.monitor = None
        self.api = None
        self.ports = []
        self.groups = {}
        self.timings = {}

    # building
    def build(self, plug=True):
        """Model and plugs first, controller last: one reconciliation of
        the whole switch (each port made one at a time would reconcile the
        switch once per port)."""
        self.bridge = self.ovs.add_bridge(dpid=self.dpid)
        self.server.start(timeout=60)
        self.api = Api(self.server.url)
        self.api.create('host', name='hv1', datapath_id=self.dpid,
                        segment_node_id='fd00:0:0:%x::' % self.number,
                        underlay_ip='fd00::%x' % self.number)
        self.network = self.api.create('network', name='fw')
        self.api.create('subnet', network_id=self.network['id'], cidr=CIDR, ip_version=4)
        self._groups()
        started = time.monotonic()
        attrs = [self.port_attrs(i) for i in range(self.count)]
        for chunk in range(0, len(attrs), CHUNK):
            self.ports += self.api.bulk('ports', attrs[chunk:chunk + CHUNK])
        self.timings['ports created s'] = time.monotonic() - started
        if plug:
            started = time.monotonic()
            for chunk in range(0, len(self.ports), CHUNK):
                args = []
                for port in self.ports[chunk:chunk + CHUNK]:
                    tap = naming.tap_name(port['id'])
                    args += ['--', 'add-port', self.bridge, tap, '--', 'set', 'Interface',
                             tap, 'type=internal']
                self.ovs.vsctl(*args[1:], timeout=120)
            self.timings['plugged s'] = time.monotonic() - started
        return self

    def _groups(self):
        if self.config != RULES_CONFIG:
            return
        for name in TIER_RULES:
            self.groups[name] = self.api.create('security_group', name=name)['id']
        [default] = self.api.call('GET', '/security-groups?name=default')['security_groups']
        self.groups['default'] = default['id']
        for name, rules in TIER_RULES.items():
            for rule in rules:
                rule = dict(rule, direction='ingress', security_group_id=self.groups[name])
                remote = rule.pop('remote_group', None)
                if remote:
                    rule['remote_group_id'] = self.groups[remote]
                self.api.create('security_group_rule', **rule)

    def port_attrs(self, i):
        attrs = {'network_id': self.network['id'], 'name': 'p%d' % i,
                 'binding:host_id': 'hv1'}
        if self.config == 'port security off':
            attrs['port_security_enabled'] = False
        elif self.config == 'port security, no group':
            attrs['security_groups'] = []
        elif self.config == RULES_CONFIG:
            attrs['security_groups'] = [self.groups['default']] + [
                self.groups[g] for g in self.tiers(i)]
        return attrs

    def tiers(self, i):
        """The groups besides default of port i (rules config)."""
        tier = TIERS[i % len(TIERS)]
        if tier is None:
            return ['admin'] if i // len(TIERS) < ADMIN_PORTS else []
        return [tier]

    def connect(self, quiet):
        """Point the bridge at the controller; the seconds until its flows
        settled, and the controller's CPU seconds meanwhile."""
        self.monitor = FlowMonitor(self.ovs, self.bridge)
        cpu = common.cpu_seconds(self.server.proc.pid)
        ovs_cpu = common.cpu_seconds(self.ovs.vswitchd.pid)
        started = time.monotonic()
        self.relay = common.Relay(self.ovs, self.bridge, self.server.ofp_port)
        events = self.monitor.settle(started, quiet, need=len(TABLES) + 1)
        self.timings['connect -> first flow s'] = events[0].stamp - started
        self.timings['connect -> flows settled s'] = events[-1].stamp - started
        self.timings['controller CPU s (sync)'] = (common.cpu_seconds(self.server.proc.pid)
                                                   - cpu)
        self.timings['ovs-vswitchd CPU s (sync)'] = (
            common.cpu_seconds(self.ovs.vswitchd.pid) - ovs_cpu)
        self.timings['sync flow events'] = len(events)
        return self

    # reading the bridge
    def flows(self):
        return self.ovs.dump_flows(self.bridge)

    def census(self):
        """Flows per table, per owner kind, and per port."""
        flows = self.flows()
        per_table = collections.Counter(TABLE_NAME.get(f['table'], f['table'])
                                        for f in flows)
        owners = collections.Counter(cookie_kind(f['cookie']) for f in flows)
        by_port = collections.Counter(f['cookie'] for f in flows
                                      if cookie_kind(f['cookie']) == COOKIE_PORT)
        per_port = [by_port.get(port_cookie(p['id']), 0) for p in self.ports]
        return {'total': len(flows), 'tables': per_table, 'port': owners[COOKIE_PORT],
                'network': owners[COOKIE_NETWORK], 'switch': owners[COOKIE_SWITCH],
                'per port': per_port}

    def close(self):
        for thing in (self.monitor, self.relay):
            if thing is not None:
                try:
                    (thing.close if hasattr(thing, 'close') else thing.stop)()
                except Exception as error:
                    print('cleanup: %s' % error)
        if self.api is not None:
            self.api.close()
        self.server.stop()
        if self.bridge is not None:
            try:
                self.ovs.del_bridge(self.bridge)
            except Exception as error:
                print('cleanup of bridge %s: %s' % (self.bridge, error))


def port_cookie(port_id):
    return (COOKIE_PORT << 56) | int(port_id.replace('-', '')[:14], 16)


# -- part 1: flows ----------------------------------------------------------------------

def part_flows(ovs, workdir, args, keep_worlds):
    """{(config, count): census}; the rules config's worlds are kept open
    in keep_worlds for part 2."""
    results = {}
    for config in args.configs:
        for count in args.ports:
            world = World(ovs, workdir, count, config, args.server_args)
            kept = False
            try:
                world.build().connect(args.quiet)
                census = world.census()
                census['timings'] = dict(world.timings)
                results[(config, count)] = census
                print('  %-26s %4d ports: %6d flows; %s' % (
                    config, count, census['total'], ', '.join(
                        '%s %.2f' % item for item in sorted(world.timings.items()))),
                    flush=True)
                if config == RULES_CONFIG and 'change' in args.parts:
                    keep_worlds.append(world)
                    kept = True
            finally:
                if not kept:
                    world.close()
    return results


def print_flows(results, args):
    counts = sorted({count for _, count in results})
    rows = []
    for config in args.configs:
        for count in counts:
            census = results.get((config, count))
            if census is None:
                continue
            per_port = census['per port']
            rows.append([config, count, census['total'],
                         '%.1f' % (census['total'] / count),
                         '%d / %d / %d' % (min(per_port), statistics.median(per_port),
                                           max(per_port)),
                         census['network'], census['switch'],
                         '%.1f' % census['timings']['connect -> flows settled s'],
                         '%.1f' % census['timings']['controller CPU s (sync)']])
        if len(counts) >= 2 and (config, counts[0]) in results and \
                (config, counts[-1]) in results:
            low, high = results[(config, counts[0])], results[(config, counts[-1])]
            rows.append(['  added per port, %d -> %d' % (counts[0], counts[-1]), '', '%.1f' % (
                (high['total'] - low['total']) / (counts[-1] - counts[0])), '', '',
                '%.1f' % ((high['network'] - low['network']) / (counts[-1] - counts[0])),
                '', '', ''])
    print(table(['flows on the bridge', 'ports', 'total', 'per port', 'port-owned min / '
                 'median / max', 'network-owned', 'switch-owned', 'connect -> settled s',
                 'controller CPU s'], rows))
    print()
    names = [t.name for t in TABLES]
    rows = []
    for config in args.configs:
        for count in counts:
            census = results.get((config, count))
            if census is not None:
                rows.append([config, count] + [census['tables'].get(n, 0) for n in names])
    print(table(['flows per table (id)', 'ports'] + ['%s (%d)' % (t.name, t.table_id)
                                                     for t in TABLES], rows))
    print()


# -- part 2: time to apply a change ----------------------------------------------------

class Trials:
    """The changes of part 2 on one world, each a (do, check) pair."""

    def __init__(self, world):
        self.world = world
        self.api = world.api
        self.rule = {}
        joiner = next(i for i in range(world.count) if world.tiers(i) == [])
        self.joiner = world.ports[joiner]
        self.joiner_ip = self.joiner['fixed_ips'][0]['ip_address']

    def plan(self):
        """[(name, do, check)] in the order they run; do() makes the REST call."""
        g = self.world.groups
        return [
            ('rule add, default group', lambda: self._add('all', g['default'], 2222),
             lambda: self._count('2222') == 2 * self.world.count),
            ('rule delete, default group', lambda: self._delete('all'),
             lambda: self._count('2222') == 0),
            ('rule add, %d-port group' % ADMIN_PORTS,
             lambda: self._add('admin', g['admin'], 6379),
             lambda: self._count('6379') == 2 * ADMIN_PORTS),
            ('rule delete, %d-port group' % ADMIN_PORTS, lambda: self._delete('admin'),
             lambda: self._count('6379') == 0),
            ('port joins a remote group', lambda: self._groups_of_joiner(['app']),
             lambda: self._member_flows() == 2),
            ('port leaves it', lambda: self._groups_of_joiner([]),
             lambda: self._member_flows() == 0),
        ]

    def _add(self, key, group_id, port):
        self.rule[key] = self.api.create(
            'security_group_rule', security_group_id=group_id, direction='ingress',
            protocol='tcp', port_range_min=port, port_range_max=port,
            remote_ip_prefix='0.0.0.0/0')['id']

    def _delete(self, key):
        self.api.call('DELETE', '/security-group-rules/' + self.rule.pop(key), status=204)

    def _groups_of_joiner(self, extra):
        g = self.world.groups
        self.api.call('PUT', '/ports/' + self.joiner['id'], {'port': {
            'security_groups': [g['default']] + [g[name] for name in extra]}})

    def _count(self, tcp_port):
        """Flows that match this TCP destination port."""
        return sum(f['match'].get('tp_dst') == tcp_port for f in self.world.flows())

    def _member_flows(self):
        """Flows that put the joiner's address in a conjunction for the
        group "app" (db's rules): at offset 3 (TCP with ports), table 61."""
        found = 0
        for f in self.world.flows():
            if f['table'] == 61 and f['match'].get('nw_src') == self.joiner_ip and \
                    f['priority'] == 73:
                found += 1
        return found


def in_process(world, runs=3):
    """What one reconciliation of the world's switch computes, timed in this
    process on a copy of the server's store (the same model, the same code):
    {'switch_flows': [s], 'network_flows': [s] (security groups' share),
    'flow_changes': [s] (the diff against an unchanged switch), 'flows': n}."""
    from srv6_ofapp.edge import pipeline, security_groups
    from srv6_ofapp.edge.flows import flow_changes
    from srv6_ofapp.replica import Replica
    from srv6_ofapp.store import open_store
    from topology.switch_ports import SwitchPorts
    copy = world.server.store_path + '.copy'
    with sqlite3.connect(world.server.store_path) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    store = open_store('sqlite:///' + copy)
    try:
        replica = Replica(store)
        replica.reload()
    finally:
        store.close()
    ofports = {}
    for line in world.ovs.vsctl('--format=csv', '--no-headings', '--columns=name,ofport',
                                'list', 'Interface').splitlines():
        name, ofport = line.split(',')
        if int(ofport) > 0:
            ofports[name.strip('"')] = int(ofport)
    switch = pipeline.Switch(replica, SwitchPorts(ofports),
                             pipeline.EdgeConfig('fa:16:3f:00:00:01'), True)
    members = pipeline.active_ports(replica, switch.ports)
    found = collections.defaultdict(list)
    for _ in range(runs):
        started = time.perf_counter()
        flows = pipeline.switch_flows(switch)
        found['switch_flows'].append(time.perf_counter() - started)
        started = time.perf_counter()
        security_groups.network_flows(switch, world.network['id'], members)
        found['network_flows'].append(time.perf_counter() - started)
        started = time.perf_counter()
        flow_changes(flows, flows)
        found['flow_changes'].append(time.perf_counter() - started)
    found['flows'] = len(flows)
    os.unlink(copy)
    return found


def part_change(worlds, args):
    """{count: {trial: [sample dict]}}, and {count: in_process(world)}."""
    results = {}
    computed = {}
    for world in worlds:
        computed[world.count] = in_process(world)
        trials = Trials(world)
        plan = trials.plan()
        samples = collections.defaultdict(list)
        pid = world.server.proc.pid
        for repeat in range(args.repeat):
            for name, do, check in plan:
                time.sleep(args.settle)
                cpu = common.cpu_seconds(pid)
                start = time.monotonic()
                do()
                answered = time.monotonic()
                events = world.monitor.settle(start, args.quiet)
                cpu = common.cpu_seconds(pid) - cpu
                if not check():
                    raise RuntimeError('%s (%d ports): the bridge does not show the change '
                                       'after %d flow events' % (name, world.count,
                                                                 len(events)))
                samples[name].append({
                    'answered': answered - start, 'first': events[0].stamp - start,
                    'last': events[-1].stamp - start, 'events': len(events),
                    'paused': sum(e.kind == 'PAUSED' for e in events), 'cpu': cpu})
            print('  %d ports: repeat %d of %d done' % (world.count, repeat + 1,
                                                        args.repeat), flush=True)
        results[world.count] = {name: samples[name] for name, _, _ in plan}
    return results, computed


def mmm(values, scale=1000.0, fmt='%.0f'):
    values = sorted(v * scale for v in values)
    return ' / '.join(fmt % v for v in (values[0], statistics.median(values), values[-1]))


def print_change(results, computed, calibration):
    rows = [['one add-flow: exit -> event', len(calibration['one']),
             mmm(calibration['one'], fmt='%.1f')]]
    for key in sorted((k for k in calibration if isinstance(k, tuple)),
                      key=lambda k: (k[1], k[0])):
        rows.append(['add-flows / del-flows of %d flows: exit -> last event' % key[1]
                     if key[0] == 'add' else '  del-flows of them: exit -> last event',
                     len(calibration[key]), mmm(calibration[key], fmt='%.1f')])
    print(table(['observer (ovs-ofctl monitor), own bridge', 'samples',
                 'ms min / median / max'], rows))
    if calibration['paused']:
        print('the monitor was PAUSED %d times during the bursts' % calibration['paused'])
    print()
    rows = []
    for count, trials in sorted(results.items()):
        for name, samples in trials.items():
            rows.append([name, count, len(samples),
                         mmm([s['answered'] for s in samples]),
                         mmm([s['first'] for s in samples]),
                         mmm([s['last'] for s in samples]),
                         '%d' % statistics.median(s['events'] for s in samples),
                         mmm([s['cpu'] for s in samples]),
                         sum(s['paused'] for s in samples)])
    print(table(['change (REST call -> bridge)', 'ports', 'runs',
                 'API answered ms min / med / max', 'first flow event ms',
                 'applied (last event) ms', 'flow events', 'controller CPU ms',
                 'monitor paused'], rows))
    print()
    rows = [[count, found['flows'], len(found['switch_flows']), mmm(found['switch_flows']),
             mmm(found['network_flows']), mmm(found['flow_changes'])]
            for count, found in sorted(computed.items())]
    print(table(['one reconciliation, in process', 'flows', 'runs',
                 'pipeline.switch_flows ms', '  of which security_groups.network_flows ms',
                 'flow_changes (nothing changed) ms'], rows))
    print()


# -- part 3: packet rate ---------------------------------------------------------------

def part_rate(ovs, workdir, args):
    """{(kind, label): [sample dict]} of iperf3 runs through the firewall and
    without it, interleaved A B B A."""
    world = World(ovs, workdir, 0, 'rate', args.server_args)
    vms = []
    results = collections.defaultdict(list)
    try:
        world.build(plug=False)
        api = world.api
        group = api.create('security_group', name='iperf')['id']
        for protocol in ('tcp', 'udp'):
            api.create('security_group_rule', security_group_id=group, direction='ingress',
                       protocol=protocol, port_range_min=IPERF_PORT,
                       port_range_max=IPERF_PORT, remote_ip_prefix='0.0.0.0/0')
        pairs = {}
        for label, attrs in (('security group (allow rule)', {'security_groups': [group]}),
                             ('port security off', {'port_security_enabled': False})):
            pair = []
            for role in ('client', 'server'):
                port = api.create('port', network_id=world.network['id'], name=role,
                                  **{'binding:host_id': 'hv1'}, **attrs)
                vm = netlab.VM(ovs, world.bridge, port_id=port['id'],
                               mac=port['mac_address'])
                vms.append(vm)
                vm.create()
                vm.ip = port['fixed_ips'][0]['ip_address']
                vm.set_address('%s/%d' % (vm.ip, PREFIXLEN))
                pair.append(vm)
            pairs[label] = pair
        world.connect(args.quiet)
        for client, server in pairs.values():
            server.spawn(['iperf3', '-s', '-p', IPERF_PORT], 'iperf3-server.log')
            netlab._wait(lambda: ':%d' % IPERF_PORT in server.run(
                ['ss', '-ltnH']).stdout, 20, 'iperf3 server listening', interval=0.1)
            # A warm-up run, which also checks the pair can talk (the group
            # allows TCP and UDP 5201 only: no ping).
            client.run(['iperf3', '-c', server.ip, '-p', IPERF_PORT, '-t', 1, '-J'],
                       timeout=60)
        labels = list(pairs)
        vswitchd = ovs.vswitchd.pid
        kinds = [('TCP', []), ('UDP 64 B', ['-u', '-b', '0', '-l', '64']),
                 # The same packets at a load that neither VM struggles with:
                 # OVS's CPU per packet is then the firewall's own cost.
                 ('UDP 64 B at %d kpps' % args.fixed_kpps,
                  ['-u', '-l', '64', '-b', '%dK' % (args.fixed_kpps * 64 * 8)])]
        for round_ in range(args.rounds):
            order = labels if round_ % 2 == 0 else labels[::-1]
            for kind, extra in kinds:
                for label in order:
                    client, server = pairs[label]
                    time.sleep(args.settle)
                    counters = port_counters(ovs, world.bridge)
                    before = common.cpu_seconds(vswitchd)
                    started = time.monotonic()
                    out = client.run(['iperf3', '-c', server.ip, '-p', IPERF_PORT, '-J',
                                      '-t', args.duration] + extra,
                                     timeout=args.duration + 60).stdout
                    wall = time.monotonic() - started
                    cpu = common.cpu_seconds(vswitchd) - before
                    rx, tx, dropped = (after - first for after, first in
                                       zip(port_counters(ovs, world.bridge), counters))
                    results[(kind, label)].append(dict(
                        iperf(json.loads(out)), ovs_cpu=cpu / wall, ovs_pps=rx / wall,
                        ovs_us=1e6 * cpu / max(rx, 1), ovs_dropped=dropped))
            print('  round %d of %d done' % (round_ + 1, args.rounds), flush=True)
        world.timings['flows'] = len(world.flows())
    finally:
        for vm in reversed(vms):
            vm.destroy()
        world.close()
    return results


def port_counters(ovs, bridge):
    """(packets received, packets sent, packets dropped on send) over all
    of the bridge's ports, from OVS's own counters (``dump-ports``)."""
    text = ovs.ofctl('dump-ports', bridge)
    rx = sum(int(n) for n in re.findall(r'rx pkts=(\d+)', text))
    tx = sum(int(n) for n in re.findall(r'tx pkts=(\d+)', text))
    dropped = sum(int(n) for n in re.findall(r'tx pkts=\d+, bytes=\d+, drop=(\d+)', text))
    return rx, tx, dropped


def iperf(report):
    """Gbit/s, packets/s received and loss (UDP) or retransmits (TCP)."""
    end = report['end']
    if 'sum_received' in end and report['start']['test_start']['protocol'] == 'TCP':
        seconds = end['sum_received']['seconds']
        bits = end['sum_received']['bits_per_second']
        return {'gbps': bits / 1e9, 'pps': None, 'loss': None,
                'retransmits': end['sum_sent'].get('retransmits', 0), 'seconds': seconds}
    total = end['sum']
    seconds = total['seconds']
    received = total['packets'] - total['lost_packets']
    return {'gbps': total['bits_per_second'] * (1 - total['lost_percent'] / 100.0) / 1e9,
            'pps': received / seconds, 'loss': total['lost_percent'],
            'retransmits': None, 'seconds': seconds}


def print_rate(results):
    rows = []
    for (kind, label), samples in results.items():
        base = results.get((kind, 'port security off'))
        ratio = statistics.median(s['pps'] if s['pps'] is not None else s['gbps']
                                  for s in samples) / statistics.median(
            s['pps'] if s['pps'] is not None else s['gbps'] for s in base) if base else None
        cost = statistics.median(s['ovs_us'] for s in samples) / statistics.median(
            s['ovs_us'] for s in base) if base else None
        is_udp = samples[0]['pps'] is not None
        rows.append([
            kind, label, len(samples),
            mmm([s['gbps'] for s in samples], 1.0, '%.2f'),
            mmm([s['pps'] for s in samples], 1e-3, '%.0f') if is_udp else '-',
            mmm([s['loss'] for s in samples], 1.0, '%.0f') if is_udp else
            mmm([s['retransmits'] for s in samples], 1.0, '%d'),
            '%.2f' % ratio if ratio is not None else '-',
            mmm([s['ovs_pps'] for s in samples], 1e-3, '%.0f'),
            mmm([s['ovs_cpu'] for s in samples], 100.0, '%.0f'),
            mmm([s['ovs_us'] for s in samples], 1.0, '%.1f'),
            '%.2f' % cost if cost is not None else '-'])
    print(table(['iperf3, one stream', 'path', 'runs', 'Gbit/s received min / med / max',
                 'kpps received', 'loss % (UDP) / retransmits (TCP)', 'median x no firewall',
                 'kpps into OVS', 'ovs-vswitchd CPU %', 'OVS CPU us per packet',
                 'median x no firewall'], rows))
    print()


# -- main -----------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--part', dest='parts', action='append',
                        choices=('flows', 'change', 'rate'),
                        help='run this part only (repeatable; default: all three; '
                             '"change" builds the worlds of "flows" it needs)')
    parser.add_argument('--ports', default='50,500',
                        help='comma-separated port counts of parts 1 and 2 (default 50,500)')
    parser.add_argument('--config', dest='configs', action='append', choices=CONFIGS,
                        help='configuration of part 1 (repeatable; default: all)')
    parser.add_argument('--repeat', type=int, default=10,
                        help='runs of each change in part 2 (default 10)')
    parser.add_argument('--quiet', type=float, default=1.0,
                        help='seconds without a flow event that end a change (default 1)')
    parser.add_argument('--settle', type=float, default=1.0,
                        help='seconds of rest before each measured change or iperf3 run')
    parser.add_argument('--rounds', type=int, default=4,
                        help='A B B A rounds of part 3, each pair once a round (default 4)')
    parser.add_argument('--duration', type=int, default=5,
                        help='seconds of each iperf3 run (default 5)')
    parser.add_argument('--fixed-kpps', type=int, default=30,
                        help='offered load of the fixed-rate UDP rows, thousands of '
                             '64-byte datagrams per second (default 30)')
    parser.add_argument('--keep', action='store_true',
                        help='keep the servers\' stores and logs (printed at the end)')
    parser.add_argument('--quick', action='store_true',
                        help='configurations "port security off" and "default + remote '
                             'groups" only, 3 repeats, 2 rounds of 2 s')
    args = parser.parse_args(argv)
    args.parts = args.parts or ['flows', 'change', 'rate']
    try:
        args.ports = sorted(int(n) for n in args.ports.split(',') if n.strip())
    except ValueError:
        parser.error('--ports: comma-separated integers')
    if args.quick:
        args.configs = args.configs or list(QUICK_CONFIGS)
        args.repeat, args.rounds, args.duration = 3, 2, 2
    args.configs = args.configs or list(CONFIGS)
    if 'change' in args.parts and RULES_CONFIG not in args.configs:
        args.configs.append(RULES_CONFIG)
    if 'flows' not in args.parts and 'change' in args.parts:
        args.configs = [RULES_CONFIG]
    if args.repeat < 1 or args.rounds < 1 or args.duration < 1:
        parser.error('--repeat, --rounds and --duration must be positive')
    # The per-port packet-in meter has nothing to do here; quiet logs.
    args.server_args = []
    return args


def run(args):
    common.print_header([['iperf3', '--version']])
    print('parts: %s; ports %s; %d repeats of each change, %.1f s quiet ends one; '
          '%d A B B A rounds of %d s' % (', '.join(args.parts), args.ports, args.repeat,
                                          args.quiet, args.rounds, args.duration))
    workdir = tempfile.mkdtemp(prefix='srv6-fwbench-')
    ovs = None
    worlds = []
    try:
        ovs = netlab.OvsInstance().start()
        calibration = None
        if 'change' in args.parts:
            print('calibrating the observer...', flush=True)
            calibration = calibrate(ovs, 25, sorted({2 * n for n in args.ports}))
        if 'flows' in args.parts or 'change' in args.parts:
            print('part 1: flows (configurations x ports)...', flush=True)
            flows = part_flows(ovs, workdir, args, worlds)
            print()
            print_flows(flows, args)
        if 'change' in args.parts:
            print('part 2: time to apply a change...', flush=True)
            changes, computed = part_change(worlds, args)
            print()
            print_change(changes, computed, calibration)
        if 'rate' in args.parts:
            print('part 3: packet rate through the firewall and without it...', flush=True)
            rates = part_rate(ovs, workdir, args)
            print()
            print_rate(rates)
        print('load average after: %s' % common.loadavg())
    finally:
        for world in reversed(worlds):
            world.close()
        if ovs is not None:
            ovs.stop()
        if args.keep:
            print('kept: %s' % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    common.exit_on_sigterm()
    skip = common.require_root(['iperf3', 'ss'])
    if skip is not None:
        return skip
    return run(args)


if __name__ == '__main__':
    sys.exit(main())
