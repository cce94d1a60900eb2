"""Port creation over HTTP must not get slower as ports accumulate.

Starts a real ``srv6-ofapp`` (tests.server.Server) on a temporary sqlite
file, creates NETWORKS networks with one /24 subnet each, then:

  1. SAMPLE sequential port creations on the empty model ("at 0 ports"),
  2. a concurrent fill (THREADS clients) up to PORTS ports,
  3. SAMPLE sequential port creations again ("at PORTS ports"),
     interleaved in blocks with SAMPLE creations on a second, empty
     "control" server (same networks, same disk, same moment), so that
     drift in fsync latency over the run cannot pass for growth,
  4. list timings: GET /v2.0/ports?network_id=X, the unfiltered list, and
     a fixed_ips=ip_address=... filter.

and prints creations/s and p50/p99 latency of (1) and (3) side by side.

    .venv/bin/python -m bench.rest_ports            # 10000 ports, 100 networks
    .venv/bin/python -m bench.rest_ports --quick    # 1000 ports, 10 networks

Only stdlib + requests; all traffic goes to 127.0.0.1.
"""

import argparse
import concurrent.futures
import os
import platform
import shlex
import sqlite3
import sys
import tempfile
import threading
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.report import percentile, table  # noqa: E402
from tests.server import Server  # noqa: E402

USABLE_PER_24 = 253  # 254 hosts minus the gateway
TIMEOUT = 60


# -- helpers ---------------------------------------------------------------

def post(session, url, body):
    start = time.perf_counter()
    response = session.post(url, json=body, timeout=TIMEOUT)
    elapsed = time.perf_counter() - start
    if response.status_code != 201:
        raise RuntimeError('POST %s -> %s: %s' % (url, response.status_code,
                                                  response.text[:500]))
    return response.json(), elapsed


def get(session, url, params=None):
    start = time.perf_counter()
    response = session.get(url, params=params, timeout=TIMEOUT)
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise RuntimeError('GET %s %s -> %s: %s' % (url, params, response.status_code,
                                                    response.text[:500]))
    return response.json(), elapsed


def fs_type(path):
    """The filesystem type holding ``path`` (fsync cost depends on it)."""
    path = os.path.realpath(path)
    best, kind = '', '?'
    try:
        with open('/proc/mounts') as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) >= 3 and (path == fields[1] or
                                         path.startswith(fields[1].rstrip('/') + '/')):
                    if len(fields[1]) > len(best):
                        best, kind = fields[1], fields[2]
    except OSError:
        pass
    return kind


# -- phases ----------------------------------------------------------------

def setup_networks(session, base, count):
    networks = []
    for i in range(count):
        net, _ = post(session, base + '/v2.0/networks',
                      {'network': {'name': 'bench-net-%d' % i}})
        net_id = net['network']['id']
        cidr = '10.%d.%d.0/24' % (i // 256, i % 256)
        post(session, base + '/v2.0/subnets',
             {'subnet': {'network_id': net_id, 'cidr': cidr, 'ip_version': 4,
                         'name': 'bench-subnet-%d' % i}})
        networks.append(net_id)
    return networks


def sequential_creations(session, base, networks, count, offset):
    """``count`` single POSTs, round-robin over networks; (latencies, wall)."""
    url = base + '/v2.0/ports'
    latencies = []
    start = time.perf_counter()
    for i in range(count):
        net_id = networks[(offset + i) % len(networks)]
        _, elapsed = post(session, url, {'port': {'network_id': net_id}})
        latencies.append(elapsed)
    return latencies, time.perf_counter() - start


def interleaved_creations(targets, count, block=25):
    """``count`` creations on each of ``targets`` ((session, base, networks,
    offset) tuples), alternating blocks of ``block``; [(latencies, wall)]."""
    results = [([], 0.0) for _ in targets]
    for first in range(0, count, block):
        n = min(block, count - first)
        for t, (session, base, networks, offset) in enumerate(targets):
            lat, wall = sequential_creations(session, base, networks, n, offset + first)
            results[t] = (results[t][0] + lat, results[t][1] + wall)
    return results


def stop_all(servers):
    """SIGTERM every server at once (each may take up to 10 s); exit codes."""
    codes = [None] * len(servers)

    def stop(i):
        codes[i] = servers[i].stop()
    threads = [threading.Thread(target=stop, args=(i,)) for i in range(len(servers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return codes


def concurrent_fill(base, networks, count, offset, threads):
    """``count`` POSTs from ``threads`` clients, one Session each."""
    url = base + '/v2.0/ports'
    local = threading.local()
    sessions = []
    sessions_lock = threading.Lock()

    def session():
        if getattr(local, 'session', None) is None:
            local.session = requests.Session()
            with sessions_lock:
                sessions.append(local.session)
        return local.session

    def one(i):
        net_id = networks[(offset + i) % len(networks)]
        return post(session(), url, {'port': {'network_id': net_id}})[1]

    start = time.perf_counter()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
            latencies = list(pool.map(one, range(count)))
    finally:
        for s in sessions:
            s.close()
    return latencies, time.perf_counter() - start


def timed_gets(session, url, params, repeat, key='ports'):
    latencies, counts = [], set()
    for _ in range(repeat):
        body, elapsed = get(session, url, params)
        latencies.append(elapsed)
        counts.add(len(body[key]))
    return latencies, counts


# -- output ----------------------------------------------------------------

def fmt(value, digits=2):
    return '%.*f' % (digits, value)


# -- main ------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--ports', type=int, default=10000,
                        help='ports existing at the second sample (default 10000)')
    parser.add_argument('--networks', type=int, default=100,
                        help='networks, one /24 subnet each (default 100)')
    parser.add_argument('--sample', type=int, default=500,
                        help='sequential creations measured per phase (default 500)')
    parser.add_argument('--threads', type=int, default=8,
                        help='concurrent clients for the fill (default 8)')
    parser.add_argument('--list-repeat', type=int, default=50,
                        help='repeats of the filtered list (default 50)')
    parser.add_argument('--no-control', action='store_true',
                        help='skip the empty control server measured beside phase 2')
    parser.add_argument('--dir', default=None,
                        help='where the temporary store directory goes (default: '
                             'the system temp dir); fsync cost depends on its disk')
    parser.add_argument('--quick', action='store_true',
                        help='1000 ports, 10 networks, sample 100')
    args = parser.parse_args(argv)
    if args.quick:
        args.ports, args.networks, args.sample = 1000, 10, 100
    if min(args.ports, args.networks, args.sample, args.threads, args.list_repeat) < 1:
        parser.error('--ports, --networks, --sample, --threads, --list-repeat must be >= 1')
    if args.sample > args.ports:
        parser.error('--sample must not exceed --ports')
    if args.networks > 65536:
        parser.error('at most 65536 networks (10.X.Y.0/24 subnets)')
    per_network = -(-(args.ports + args.sample) // args.networks)
    if per_network > USABLE_PER_24:
        parser.error('%d ports per /24 network needed; at most %d fit: raise --networks'
                     % (per_network, USABLE_PER_24))
    return args


def run(args):
    nproc = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = nproc
    print('command: %s' % ' '.join(shlex.quote(a) for a in [sys.executable] + sys.argv))
    print('machine: nproc=%s (usable %s), %s, python %s, sqlite %s, requests %s'
          % (nproc, usable, platform.platform(), platform.python_version(),
             sqlite3.sqlite_version, requests.__version__))

    with tempfile.TemporaryDirectory(prefix='rest_ports-', dir=args.dir) as tmp:
        print('stores: %s/{state,control}.db (%s); ports=%d networks=%d sample=%d '
              'threads=%d' % (tmp, fs_type(tmp), args.ports, args.networks, args.sample,
                              args.threads))
        sys.stdout.flush()
        servers, sessions = [], []
        try:
            server = Server(os.path.join(tmp, 'state.db'))
            servers.append(server)
            server.start()
            session = requests.Session()
            sessions.append(session)
            if not args.no_control:
                control = Server(os.path.join(tmp, 'control.db'))
                servers.append(control)
                control.start()
                control_session = requests.Session()
                sessions.append(control_session)
            base = server.url
            t0 = time.perf_counter()
            networks = setup_networks(session, base, args.networks)
            if not args.no_control:
                control_networks = setup_networks(control_session, control.url,
                                                  args.networks)
            setup_s = time.perf_counter() - t0
            # Warm the read path without creating anything.
            for _ in range(20):
                get(session, base + '/v2.0/ports', {'network_id': networks[0]})
            print('setup: %d networks + subnets per server in %.1f s'
                  % (len(networks), setup_s))
            sys.stdout.flush()

            lat0, wall0 = sequential_creations(session, base, networks, args.sample, 0)
            print('phase 1 (at 0 ports): %d creations in %.1f s' % (args.sample, wall0))
            sys.stdout.flush()

            fill = args.ports - args.sample
            fill_lat, fill_wall = concurrent_fill(base, networks, fill, args.sample,
                                                  args.threads)
            print('fill: %d creations in %.1f s with %d threads'
                  % (fill, fill_wall, args.threads))
            sys.stdout.flush()

            existing = args.sample + fill
            targets = [(session, base, networks, existing)]
            if not args.no_control:
                targets.append((control_session, control.url, control_networks, 0))
            results = interleaved_creations(targets, args.sample)
            lat1, wall1 = results[0]
            total = existing + args.sample
            print('phase 2 (at %d ports): %d creations in %.1f s%s'
                  % (existing, args.sample, wall1,
                     '' if args.no_control else
                     ', interleaved with %d on the control server' % args.sample))
            sys.stdout.flush()

            # Lists, at ``total`` ports.
            ports_url = base + '/v2.0/ports'
            filt_lat, filt_counts = timed_gets(
                session, ports_url, {'network_id': networks[len(networks) // 2]},
                args.list_repeat)
            some_port = get(session, ports_url,
                            {'network_id': networks[0], 'limit': '1'})[0]['ports'][0]
            ip = some_port['fixed_ips'][0]['ip_address']
            ip_lat, ip_counts = timed_gets(
                session, ports_url, {'fixed_ips': 'ip_address=' + ip},
                max(3, args.list_repeat // 5))
            full_lat, full_counts = timed_gets(session, ports_url, None, 3)
            if full_counts != {total}:
                raise RuntimeError('unfiltered list returned %s ports, expected %d'
                                   % (sorted(full_counts), total))
        finally:
            for s in sessions:
                s.close()
            codes = stop_all(servers)
            if -9 in codes:
                print('note: srv6-ofapp did not exit on SIGTERM within 10 s; it was '
                      'SIGKILLed (exit -9)')
            for srv, code in zip(servers, codes):
                if code not in (0, -9, None):
                    print('warning: server exited with %s; log tail:\n%s'
                          % (code, srv.log()))

    def stats(lat, wall):
        return (len(lat) / wall, percentile(lat, 50), percentile(lat, 99), max(lat) * 1000)

    s0, s1 = stats(lat0, wall0), stats(lat1, wall1)
    header = ['port creation (sequential, 1 client)', 'at 0 ports', 'at %d ports' % existing,
              'ratio']
    names = ['creations/s', 'p50 latency ms', 'p99 latency ms', 'max latency ms']
    rows = [[name, fmt(a, 1 if i == 0 else 2), fmt(b, 1 if i == 0 else 2), fmt(b / a)]
            for i, (name, a, b) in enumerate(zip(names, s0, s1))]
    if not args.no_control:
        sc = stats(*results[1])
        header += ['control at 0 ports*', 'ratio to control']
        for i, row in enumerate(rows):
            row += [fmt(sc[i], 1 if i == 0 else 2), fmt(s1[i] / sc[i])]
    print()
    print(table(header, rows))
    if not args.no_control:
        print('* an empty server on the same disk, measured in blocks of 25 alternating '
              'with phase 2')
    ratio = s1[1] / s0[1]
    ctl_ratio = None if args.no_control else s1[1] / sc[1]
    judged = ratio if ctl_ratio is None else ctl_ratio
    verdict = 'OK' if judged <= 1.5 else 'GROWS'
    print('creation cost vs number of ports: %s (p50 ratio %.2f%s; limit 1.50)'
          % (verdict, ratio, '' if ctl_ratio is None else
             ', to the same-time control %.2f, judged' % ctl_ratio))
    print()
    print(table(
        ['fill and lists (at %d ports)' % total, 'rate/s', 'p50 ms', 'p99 ms', 'returned'],
        [['fill, %d threads (%d creations)' % (args.threads, fill),
          fmt(fill / fill_wall, 1), fmt(percentile(fill_lat, 50)),
          fmt(percentile(fill_lat, 99)), '-'],
         ['GET ports?network_id=X (x%d)' % len(filt_lat),
          fmt(len(filt_lat) / sum(filt_lat), 1),
          fmt(percentile(filt_lat, 50)), fmt(percentile(filt_lat, 99)),
          '/'.join(str(c) for c in sorted(filt_counts))],
         ['GET ports?fixed_ips=ip_address=IP (x%d)' % len(ip_lat),
          fmt(len(ip_lat) / sum(ip_lat), 1), fmt(percentile(ip_lat, 50)),
          fmt(percentile(ip_lat, 99)), '/'.join(str(c) for c in sorted(ip_counts))],
         ['GET ports, unfiltered (x%d)' % len(full_lat),
          fmt(len(full_lat) / sum(full_lat), 1),
          fmt(percentile(full_lat, 50)), fmt(percentile(full_lat, 99)),
          '/'.join(str(c) for c in sorted(full_counts))]]))
    return 0 if verdict == 'OK' else 1


def main(argv=None):
    return run(parse_args(sys.argv[1:] if argv is None else argv))


if __name__ == '__main__':
    sys.exit(main())
