"""The distributed deployment against the all-in-one, side by side:

1. convergence: from ``POST /v2.0/ports`` (bound to a host) to the port's
   flows on its host and its /32 encap route in the network's VRF on every
   other host, with 2 and 20 simulated hosts, an all-in-one process on
   sqlite vs API server + one agent per host on a 3-member etcd;
2. port creations/s with parallel HTTP clients: the all-in-one (sqlite) vs
   1 and 2 API servers on the 3-member etcd;
3. one agent's RSS and CPU with 50 ports on its host while the store holds
   1,000 and then 20,000 ports elsewhere, beside an all-in-one process's
   (--role all) on the same store.

    .venv/bin/python bench/distributed.py            # everything (~15 min)
    .venv/bin/python bench/distributed.py --quick    # a couple of minutes
    .venv/bin/python bench/distributed.py --part convergence

Alternatives are interleaved (A B B A ...) in one run; see
docs/BENCHMARKS.md for how each measurement works and its resolution.
Root, Open vSwitch and etcd are needed (``make install`` brings them).
Everything started is stopped by PID and removed at the end, also on
SIGTERM / Ctrl-C.
"""

import argparse
import concurrent.futures
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import requests  # noqa: E402

from bench import cloud  # noqa: E402
from bench.report import percentile, table  # noqa: E402
from tests import etcdlab  # noqa: E402
from tests import netlab  # noqa: E402

GOAL_MS = 500.0


def log(message):
    print('[%7.1fs] %s' % (time.monotonic() - STARTED, message), flush=True)


STARTED = time.monotonic()


def fmt(value, digits=1):
    return '-' if value is None else '%.*f' % (digits, value)


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def spread(values, digits=1):
    """'min / median / max' of values."""
    if not values:
        return '-'
    return '%s / %s / %s' % (fmt(min(values), digits), fmt(median(values), digits),
                             fmt(max(values), digits))


def abba(alternatives, rounds):
    """A B B A A B B A ... (or A B C C B A ...) over ``rounds`` passes."""
    order = []
    for n in range(rounds):
        order += alternatives if n % 2 == 0 else list(reversed(alternatives))
    return order


# -- 1. convergence ---------------------------------------------------------------

class ConvergenceCloud:
    """A World with one network spanning every host (a resident port on
    each, so every host has the network's VRF), observed."""

    def __init__(self, world, etcd_pids=()):
        self.world = world
        self.network = None
        self.samples = []
        self.missing = 0
        self.etcd_pids = list(etcd_pids)
        self.cpu = {'controllers': 0.0, 'etcd': 0.0}

    def cpu_now(self):
        """CPU seconds of this shape's controller processes and of etcd
        (the cluster is shared, but only one shape writes to it at a time)."""
        return {'controllers': sum(cloud.cpu_seconds(pid) for pid in
                                   self.world.controllers.processes().values()),
                'etcd': sum(cloud.cpu_seconds(pid) for pid in self.etcd_pids)}

    def build(self):
        world = self.world.start()
        api = world.api
        self.network = api.network('conv', '10.0.0.0/16')
        residents = []
        for host in world.hosts:
            port = api.post('ports', 'port', {'network_id': self.network['id'],
                                              'binding:host_id': host.name})
            host.plug(port['id'])
            residents.append(port['fixed_ips'][0]['ip_address'])

        def converged():
            for host in world.hosts:
                if not os.path.exists('/var/run/netns/' + host.vrf_ns(self.network)):
                    return False
                have = {r['dst'] for r in host.our_routes(self.network)}
                if not all(ip in have or ip + '/32' in have for ip in residents):
                    return False
            return True
        netlab._wait(converged, 180, 'resident ports routed on every host', interval=0.2)
        world.observe([h.vrf_ns(self.network) for h in world.hosts])
        return self

    def sample(self, n, timeout):
        world = self.world
        host = world.hosts[n % len(world.hosts)]
        others = [h for h in world.hosts if h is not host]
        t0 = time.monotonic()
        port = world.api.post('ports', 'port', {'network_id': self.network['id'],
                                                'binding:host_id': host.name})
        t_post = time.monotonic()
        host.plug(port['id'])
        t_plug = time.monotonic()
        ip, mac = port['fixed_ips'][0]['ip_address'], port['mac_address']
        flow_keys = [(host.name, 'nw_src=' + ip), (host.name, 'dl_dst=' + mac)]
        route_keys = [(h.vrf_ns(self.network), ip + '/32') for h in others]
        deadline = t0 + timeout
        flows = world.flows.events.wait_all(flow_keys, deadline)
        routes = world.routes.events.wait_all(route_keys, deadline)
        if len(flows) < len(flow_keys) or len(routes) < len(route_keys):
            self.missing += 1
            log('%s: port %s on %s not converged within %ss (flows %d/%d, routes %d/%d)'
                % (world.label, port['id'], host.name, timeout, len(flows), len(flow_keys),
                   len(routes), len(route_keys)))
            return None
        sample = {'post': t_post - t0, 'plug': t_plug - t0,
                  'flows': max(flows.values()) - t0,
                  'routes': max(routes.values()) - t0 if routes else None}
        sample['all'] = max(v for v in (sample['flows'], sample['routes']) if v is not None)
        self.samples.append(sample)
        return sample


def run_convergence(args, workdir, etcd):
    results = []
    for size_index, count in enumerate(args.hosts):
        clouds = []
        try:
            for shape_index, shape in enumerate(('aio', 'dist')):
                number = size_index * 2 + shape_index
                if shape == 'aio':
                    controllers = cloud.AllInOne(workdir, 'conv%d-aio' % count)
                else:
                    controllers = cloud.Distributed(workdir, etcd, 'conv%d' % count)
                conv = ConvergenceCloud(cloud.World(controllers, count, number),
                                        [] if shape == 'aio' else
                                        [m.proc.pid for m in etcd.members])
                clouds.append(conv)
                started = time.monotonic()
                conv.build()
                log('convergence: %d hosts, %s built in %.1f s'
                    % (count, conv.world.label, time.monotonic() - started))
            block = max(1, args.samples // args.blocks)
            done = {id(c): 0 for c in clouds}
            for conv in abba(clouds, 2 * args.blocks):
                before = conv.cpu_now()
                for _ in range(block // 2 or 1):
                    if done[id(conv)] >= args.samples:
                        break
                    conv.sample(done[id(conv)], args.timeout)
                    done[id(conv)] += 1
                    time.sleep(args.gap)
                for key, seconds in conv.cpu_now().items():
                    conv.cpu[key] += seconds - before[key]
            overruns = sum(c.world.routes.overruns for c in clouds)
            for conv in clouds:
                results.append((count, conv))
            log('convergence: %d hosts sampled (%s)%s' % (
                count, ', '.join('%s %d' % (c.world.label, len(c.samples)) for c in clouds),
                ', %d netlink overruns' % overruns if overruns else ''))
        finally:
            for conv in reversed(clouds):
                conv.world.close()
    return results


def convergence_table(results):
    header = ['hosts', 'shape', 'samples', 'POST p50', 'POST p99', 'plugged p50',
              'flows p50', 'flows p99', '/32 on every other host p50', 'p99',
              'all p50', 'all p99', 'all max', 'p99 < %d ms' % GOAL_MS,
              'CPU ms/port: controllers', 'etcd']
    rows = []
    for count, conv in results:
        s = conv.samples

        def pct(key, p):
            values = [x[key] for x in s if x[key] is not None]
            return fmt(percentile(values, p)) if values else '-'
        all_p99 = percentile([x['all'] for x in s], 99) if s else None
        rows.append([count, conv.world.label, '%d%s' % (len(s), ' (%d lost)' % conv.missing
                                                        if conv.missing else ''),
                     pct('post', 50), pct('post', 99), pct('plug', 50),
                     pct('flows', 50), pct('flows', 99), pct('routes', 50), pct('routes', 99),
                     pct('all', 50), pct('all', 99),
                     fmt(max(x['all'] for x in s) * 1000) if s else '-',
                     '-' if all_p99 is None else ('yes' if all_p99 < GOAL_MS and
                                                   not conv.missing else 'NO'),
                     fmt(1000 * conv.cpu['controllers'] / max(1, len(s))),
                     fmt(1000 * conv.cpu['etcd'] / max(1, len(s))) if conv.etcd_pids
                     else '-'])
    return table(header, rows)


# -- 2. port creations/s -------------------------------------------------------------

class RateTarget:
    def __init__(self, label, urls, networks, host_names, pids=None):
        self.label = label
        self.urls = urls
        self.networks = networks
        self.host_names = host_names
        self.pids = pids or {}   # {'api': [pid], 'etcd': [pid]}: CPU accounted per group
        self.cpu = {group: 0.0 for group in self.pids}
        self.created = 0
        self.rates = []
        self.latencies = []
        self.offset = 0

    def cpu_now(self):
        return {group: sum(cloud.cpu_seconds(pid) for pid in pids)
                for group, pids in self.pids.items()}


def rate_trial(target, count, threads):
    local = threading.local()
    sessions = []
    lock = threading.Lock()

    def session():
        if getattr(local, 'session', None) is None:
            with lock:
                local.url = target.urls[len(sessions) % len(target.urls)]
                local.session = requests.Session()
                sessions.append(local.session)
        return local.session, local.url

    def one(i):
        s, url = session()
        n = target.offset + i
        body = {'port': {'network_id': target.networks[n % len(target.networks)],
                         'binding:host_id': target.host_names[n % len(target.host_names)]}}
        start = time.perf_counter()
        response = s.post(url + '/v2.0/ports', json=body, timeout=cloud.TIMEOUT)
        elapsed = time.perf_counter() - start
        if response.status_code != 201:
            raise RuntimeError('%s: POST ports -> %s %s' % (target.label, response.status_code,
                                                            response.text[:300]))
        return elapsed
    cpu_before = target.cpu_now()
    start = time.perf_counter()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
            latencies = list(pool.map(one, range(count)))
    finally:
        for s in sessions:
            s.close()
    wall = time.perf_counter() - start
    for group, seconds in target.cpu_now().items():
        target.cpu[group] += seconds - cpu_before[group]
    target.created += count
    target.offset += count
    target.rates.append(count / wall)
    target.latencies += latencies


def run_rate(args, workdir, etcd):
    aio = cloud.AllInOne(workdir, 'rate-aio')
    dist = cloud.Distributed(workdir, etcd, 'rate', api_servers=2)
    worlds = [aio, dist]
    try:
        aio.start()
        dist.start()
        host_names = ['hv%d' % n for n in range(1, 5)]
        targets = []
        for label, controllers, urls in (
                ('all-in-one, sqlite', aio, aio.api_urls),
                ('1 API server, 3-member etcd', dist, dist.api_urls[:1]),
                ('2 API servers, 3-member etcd', dist, dist.api_urls)):
            api = cloud.Api(urls[0])
            if controllers is aio or len(urls) == 1:
                # Hosts without a bridge: documents only, the ports bind to them.
                for n, name in enumerate(host_names, 1):
                    api.post('hosts', 'host', {
                        'name': name, 'datapath_id': '%016x' % (0xaa00 + n),
                        'segment_node_id': 'fd00:0:0:%x::' % n,
                        'underlay_ip': 'fd00::%x' % n})
            networks = [api.network('rate-%d' % len(targets) + '-%d' % i,
                                    '10.%d.%d.0/22' % (len(targets), 4 * i))['id']
                        for i in range(args.rate_networks)]
            api.close()
            if controllers is aio:
                pids = {'server': [aio.server.proc.pid]}
            else:
                pids = {'server': [s.proc.pid for s in dist.api_servers[:len(urls)]],
                        'etcd': [m.proc.pid for m in etcd.members]}
            targets.append(RateTarget(label, urls, networks, host_names, pids))
        # Warm up every path (connections, imports, caches), not measured.
        for target in targets:
            rate_trial(target, args.threads * 2, args.threads)
            target.rates, target.latencies, target.created = [], [], 0
            target.cpu = {group: 0.0 for group in target.pids}
        for target in abba(targets, args.rate_rounds):
            rate_trial(target, args.rate_count, args.threads)
            log('rate: %s %.1f creations/s' % (target.label, target.rates[-1]))
        return targets
    finally:
        for world in reversed(worlds):
            world.close()


def rate_table(targets, args):
    base = median(targets[0].rates)
    rows = []
    for target in targets:
        per = {group: 1000.0 * seconds / target.created for group, seconds in target.cpu.items()}
        rows.append([target.label, len(target.rates), spread(target.rates),
                     fmt(percentile(target.latencies, 50), 2),
                     fmt(percentile(target.latencies, 99), 2),
                     fmt(median(target.rates) / base, 2),
                     fmt(per.get('server'), 2), fmt(per.get('etcd'), 2)])
    return table(['port creations, %d clients, %d per trial' % (args.threads, args.rate_count),
                  'trials', 'creations/s min / median / max', 'p50 ms', 'p99 ms',
                  'median x all-in-one', 'CPU ms/creation: API process(es)',
                  '3 etcd members'], rows)


# -- 3. one agent's footprint -------------------------------------------------------------

def fill(api_urls, networks, host_names, total, start, threads, per_request=14):
    """Ports ``start``..``total`` (exclusive) elsewhere: bulk POSTs of
    ``per_request`` ports (the documents the API writes), one client per
    thread, each on networks and hosts of its own (concurrent bulk POSTs
    that share a host conflict: see docs/BENCHMARKS.md).  Returns the
    number of 409 answers, each retried."""
    todo = list(range(start, total))
    chunks = [todo[i:i + per_request] for i in range(0, len(todo), per_request)]
    conflicts = []

    def worker(k):
        api = cloud.Api(api_urls[k % len(api_urls)])
        mine = networks[k::threads]
        hosts = host_names[k::threads] or host_names
        try:
            for c, chunk in enumerate(chunks[k::threads]):
                # One network and one host per request: an etcd txn holds at
                # most 128 operations, 7 per port plus the network's and the
                # (host, network) VRF's own.
                items = [{'network_id': mine[c % len(mine)],
                          'binding:host_id': hosts[c % len(hosts)]} for _ in chunk]
                for attempt in range(10):
                    try:
                        api.bulk('ports', items)
                        break
                    except RuntimeError as error:
                        if '-> 409' not in str(error) or attempt == 9:
                            raise
                        conflicts.append(error)
        finally:
            api.close()
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(worker, range(threads)))
    return len(conflicts)


class Footprint:
    """RSS (after settling) and idle CPU of one process."""

    def __init__(self, label, cloud_ports):
        self.label = label
        self.cloud_ports = cloud_ports
        self.rss = self.hwm = self.idle_cpu = self.settle = None
        self.busy_cpu = None
        self.ready = None   # seconds from start until it had followed the feed

    def measure(self, pid, idle_seconds):
        self.settle = cloud.settle(pid)
        self.rss, self.hwm = cloud.rss_mib(pid)
        before = cloud.cpu_seconds(pid)
        time.sleep(idle_seconds)
        self.idle_cpu = cloud.cpu_seconds(pid) - before
        self.rss, self.hwm = cloud.rss_mib(pid)
        return self


def run_agent(args, workdir, etcd):
    dist = cloud.Distributed(workdir, etcd, 'agent', api_servers=1)
    world = cloud.World(dist, 1, number=9)
    results, changes = [], []
    elsewhere = ['other%d' % n for n in range(1, args.other_hosts + 1)]
    aio = None
    try:
        world.start()
        host = world.hosts[0]
        api = world.api
        agent = dist.agents[host.name]
        for n, name in enumerate(elsewhere, 2):
            api.post('hosts', 'host', {'name': name, 'datapath_id': '%016x' % (0xcc00 + n),
                                       'segment_node_id': 'fd00:0:0:%x::' % n,
                                       'underlay_ip': 'fd00::%x' % n})
        # 50 ports on the agent's host, in 5 networks, their taps plugged.
        local_networks = [api.network('local-%d' % i, '10.250.%d.0/24' % i)
                          for i in range(5)]
        local = []
        for i in range(args.local_ports):
            port = api.post('ports', 'port', {
                'network_id': local_networks[i % 5]['id'], 'binding:host_id': host.name})
            host.plug(port['id'])
            local.append(port)
        # The cloud elsewhere: other networks, bound to other hosts.
        networks = [api.network('cloud-%d' % i, '10.%d.%d.0/24' % (i // 256, i % 256))['id']
                    for i in range(args.cloud_networks)]
        log('agent: host with %d ports, %d networks elsewhere' % (len(local), len(networks)))
        markers = 0

        def caught_up(who):
            """A port elsewhere on a local network: its /32 in the VRF on
            this host says ``who`` has followed the feed up to now."""
            nonlocal markers
            markers += 1
            network = local_networks[markers % 5]
            port = api.post('ports', 'port', {'network_id': network['id'],
                                              'binding:host_id': elsewhere[0]})
            ip = port['fixed_ips'][0]['ip_address']
            started = time.monotonic()
            netlab._wait(lambda: any(r['dst'] in (ip, ip + '/32')
                                     for r in host.our_routes(network)),
                         300, '%s caught up' % who, interval=0.1)
            return time.monotonic() - started

        have = 0
        for size in args.cloud_sizes:
            cpu_before = cloud.cpu_seconds(agent.proc.pid)
            started = time.monotonic()
            refused = fill(dist.api_urls, networks, elsewhere, size, have, args.fill_threads)
            fill_seconds = time.monotonic() - started
            lag = caught_up('the agent')
            have = size
            log('agent: cloud at %d ports elsewhere (filled in %.1f s, %d bulk POSTs '
                'refused with 409 and retried), agent caught up %.2f s later'
                % (size, fill_seconds, refused, lag))
            running = Footprint('agent, running while the cloud grew', size)
            running.busy_cpu = cloud.cpu_seconds(agent.proc.pid) - cpu_before
            running.fill_seconds = fill_seconds
            running.measure(agent.proc.pid, args.idle)
            results.append(running)
            # The same agent started afresh on this store.
            agent.stop()
            started = time.monotonic()
            agent.start(timeout=60)
            caught_up('the restarted agent')
            fresh = Footprint('agent, started on this cloud', size)
            fresh.ready = time.monotonic() - started
            results.append(fresh.measure(agent.proc.pid, args.idle))
            # For contrast: the all-in-one role, replicating everything. It
            # would program this host's kernel as the agent does (same
            # state), so the agent stops meanwhile.
            agent.stop()
            aio = cloud.Server(dist.url, [], log_path=os.path.join(
                workdir, 'agent-aio-%d.log' % size))
            started = time.monotonic()
            aio.start(timeout=300)
            caught_up('the all-in-one process')
            whole = Footprint('all-in-one process (--role all), same store', size)
            whole.ready = time.monotonic() - started
            results.append(whole.measure(aio.proc.pid, args.idle))
            aio.stop()
            aio = None
            agent.start(timeout=60)
            caught_up('the agent')
            log('agent: measured at %d ports elsewhere' % size)
        # What one port creation costs the agent, on one of its networks
        # (bound elsewhere: a remote VM there) and on a network elsewhere.
        for where, network_id in (('on one of its networks', local_networks[0]['id']),
                                  ('elsewhere', networks[0])):
            cpu, ranges = [], []
            for _ in range(args.change_samples):
                cloud.settle(agent.proc.pid, window=0.5)
                cpu0, ranges0 = cloud.cpu_seconds(agent.proc.pid), cloud.etcd_ranges(etcd)
                api.post('ports', 'port', {'network_id': network_id,
                                           'binding:host_id': elsewhere[1]})
                time.sleep(1.0)
                cloud.settle(agent.proc.pid, window=0.5)
                cpu.append(cloud.cpu_seconds(agent.proc.pid) - cpu0)
                ranges.append(cloud.etcd_ranges(etcd) - ranges0)
            changes.append((where, cpu, ranges))
        return results, changes
    finally:
        if aio is not None:
            aio.stop()
        world.close()


def changes_table(changes, args):
    return table(
        ['one port created (bound elsewhere), x%d' % args.change_samples,
         'agent CPU ms (median)', 'etcd Range requests, all clients (median)'],
        [[where, fmt(median(cpu) * 1000), fmt(median(ranges), 0)]
         for where, cpu, ranges in changes])


def agent_table(results, args):
    sizes = args.cloud_sizes
    labels = []
    for r in results:
        if r.label not in labels:
            labels.append(r.label)
    by = {(r.label, r.cloud_ports): r for r in results}
    header = ['process (%d ports on its host)' % args.local_ports]
    for size in sizes:
        header += ['RSS MiB @%d' % size]
    header += ['RSS ratio']
    for size in sizes:
        header += ['idle CPU s/%ds @%d' % (args.idle, size)]
    for size in sizes:
        header += ['ready s @%d' % size]
    rows = []
    for label in labels:
        row = [label]
        for size in sizes:
            r = by.get((label, size))
            row.append(fmt(r.rss) if r else '-')
        first, last = by.get((label, sizes[0])), by.get((label, sizes[-1]))
        row.append(fmt(last.rss / first.rss, 2) if first and last else '-')
        for size in sizes:
            r = by.get((label, size))
            row.append(fmt(r.idle_cpu, 2) if r else '-')
        for size in sizes:
            r = by.get((label, size))
            row.append(fmt(r.ready, 1) if r and r.ready is not None else '-')
        rows.append(row)
    text = table(header, rows)
    busy = [r for r in results if r.busy_cpu is not None]
    if busy:
        text += '\n\n' + table(
            ['while the cloud grew (agent running)', 'ports added elsewhere', 'fill s',
             'agent CPU s', 'agent CPU ms per 1000 ports'],
            [['to %d ports' % r.cloud_ports, r.cloud_ports - prev, fmt(r.fill_seconds),
              fmt(r.busy_cpu, 2), fmt(1000.0 * r.busy_cpu * 1000 / (r.cloud_ports - prev))]
             for r, prev in zip(busy, [0] + [b.cloud_ports for b in busy[:-1]])])
    return text


# -- main ------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='fewer hosts, samples and ports: a couple of minutes')
    parser.add_argument('--part', action='append',
                        choices=['convergence', 'rate', 'agent'],
                        help='run only this part (repeatable; default: all three)')
    parser.add_argument('--hosts', type=int, nargs='+', default=[2, 20],
                        help='simulated host counts for convergence (default 2 20)')
    parser.add_argument('--samples', type=int, default=100,
                        help='ports timed per shape and host count (default 100)')
    parser.add_argument('--blocks', type=int, default=5,
                        help='A B B A blocks the samples are split into (default 5)')
    parser.add_argument('--gap', type=float, default=0.2,
                        help='seconds between two convergence samples (default 0.2)')
    parser.add_argument('--timeout', type=float, default=30.0,
                        help='seconds after which a sample counts as lost (default 30)')
    parser.add_argument('--threads', type=int, default=8,
                        help='parallel HTTP clients for port creations (default 8)')
    parser.add_argument('--rate-count', type=int, default=400,
                        help='creations per rate trial (default 400)')
    parser.add_argument('--rate-rounds', type=int, default=4,
                        help='A B C C B A passes of rate trials (default 4)')
    parser.add_argument('--rate-networks', type=int, default=16)
    parser.add_argument('--local-ports', type=int, default=50,
                        help="ports on the measured agent's host (default 50)")
    parser.add_argument('--cloud-sizes', type=int, nargs='+', default=[1000, 20000],
                        help='ports elsewhere at each footprint measurement')
    parser.add_argument('--cloud-networks', type=int, default=100)
    parser.add_argument('--other-hosts', type=int, default=20)
    parser.add_argument('--fill-threads', type=int, default=2)
    parser.add_argument('--change-samples', type=int, default=10,
                        help='single port creations timed on the agent (default 10)')
    parser.add_argument('--idle', type=int, default=60,
                        help='seconds of idle CPU measured (default 60)')
    parser.add_argument('--keep', action='store_true',
                        help='keep the work directory (logs, stores) for a post-mortem')
    args = parser.parse_args(argv)
    if args.quick:
        args.hosts = [2, 10] if args.hosts == [2, 20] else args.hosts
        args.samples, args.blocks = 16, 2
        args.rate_count, args.rate_rounds = 120, 2
        args.cloud_sizes = [500, 2000] if args.cloud_sizes == [1000, 20000] \
            else args.cloud_sizes
        args.cloud_networks = min(args.cloud_networks, 20)
        args.other_hosts = min(args.other_hosts, 5)
        args.idle = min(args.idle, 5)
        args.change_samples = min(args.change_samples, 4)
    args.part = args.part or ['convergence', 'rate', 'agent']
    if args.cloud_sizes != sorted(args.cloud_sizes) or \
            args.cloud_sizes[-1] > args.cloud_networks * 250:
        parser.error('--cloud-sizes must ascend and fit in --cloud-networks /24s (250 each)')
    return args


def machine():
    def version(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.split('\n')[0]
        except OSError:
            return '?'
    with open('/proc/loadavg') as f:
        load = ' '.join(f.read().split()[:3])
    return ('machine: nproc=%d, %s, python %s, %s, %s; load average %s'
            % (os.cpu_count(), platform.platform(), platform.python_version(),
               version(['ovs-vswitchd', '--version']).strip(),
               version(['etcd', '--version']).strip(), load))


def _raise_exit(signum, frame):
    raise SystemExit(128 + signum)


def run(args):
    print('command: %s' % ' '.join(shlex.quote(a) for a in [sys.executable] + sys.argv))
    print(machine(), flush=True)
    reason = netlab.unavailable_reason()
    if reason or etcdlab.ETCD is None:
        print('cannot run: %s' % (reason or 'no etcd binary (Debian etcd-server)'))
        return 2
    workdir = tempfile.mkdtemp(prefix='bench-distributed-')
    etcd = None
    out = []
    try:
        etcd = etcdlab.Cluster(os.path.join(workdir, 'etcd'), 3).start()
        log('etcd: 3 members at %s' % etcd.endpoints)
        if 'convergence' in args.part:
            delays = cloud.calibrate()
            out.append(table(
                ['observer (own namespace / bridge)', 'events', 'delay ms min', 'p50',
                 'p99', 'max'],
                [[name, len(v), fmt(min(v) * 1000, 2), fmt(percentile(v, 50), 2),
                  fmt(percentile(v, 99), 2), fmt(max(v) * 1000, 2)]
                 for name, v in (('route: RTM_NEWROUTE sent -> stamped', delays['routes']),
                                 ('flow: ovs-ofctl add-flow exited -> stamped',
                                  delays['flows'])) if v]))
            print('\n' + out[-1] + '\n', flush=True)
            results = run_convergence(args, workdir, etcd)
            out.append('convergence: POST /v2.0/ports (bound) -> flows on its host and its '
                       '/32 on every other host, ms\n' + convergence_table(results))
            print('\n' + out[-1] + '\n', flush=True)
        if 'rate' in args.part:
            targets = run_rate(args, workdir, etcd)
            out.append(rate_table(targets, args))
            print('\n' + out[-1] + '\n', flush=True)
        if 'agent' in args.part:
            results, changes = run_agent(args, workdir, etcd)
            out.append(agent_table(results, args) + '\n\n' + changes_table(changes, args))
            print('\n' + out[-1] + '\n', flush=True)
    finally:
        if etcd is not None:
            etcd.stop()
        netlab.cleanup_all()
        if args.keep:
            print('kept %s' % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print('\n=== results ===\n' + machine() + '\n\n' + '\n\n'.join(out))
    return 0


def main(argv=None):
    # SIGTERM/SIGHUP unwind like Ctrl-C: every finally block stops what it started.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_exit)
    return run(parse_args(sys.argv[1:] if argv is None else argv))


if __name__ == '__main__':
    sys.exit(main())
