"""Installing N seg6 encap /32 routes: our RouteTable against iproute2 and pyroute2.

One run, side by side, each method into its own fresh network namespace
(a veth pair, nothing else), every route ``10.x.y.z/32 encap seg6 mode encap
segs SID dev va proto 83``. As in srv6_ofapp.dataplane.host_state, a route's SID is
its remote host's VRF SID: ``--hosts`` (100) SIDs shared by the N routes;
``--distinct-sids`` gives every route its own (the kernel's worst case: every
route then has its own nexthop, and inserting one costs time proportional to
how many there are, for iproute2 and us alike).

  * RouteTable.apply, codec 'struct' (the default): batched netlink, 500
    messages per send(), every ACK read and checked;
  * RouteTable.apply, codec 'pyroute2': the same batches, messages built with
    pyroute2's rtmsg class (shows what the encoder costs);
  * pyroute2 IPRoute.route('replace', ...), one synchronous call per route;
  * ``ip -batch`` with all routes in one file, one process;
  * ``ip route replace``, one process per route (networking-sr's way);
    ``--ip-per-route-sample K`` times K of them and extrapolates (said so in
    the table).

Then, with the N routes in place, what the controller does in steady state:
reconcile ONE change (apply(add=[one], delete=[one]); the caller keeps its
applied state, so no dump), and what dump_ours() of all N costs.

    .venv/bin/python bench/routes.py            # N=10,000 (~25 s, ip per route ~14 s)
    .venv/bin/python bench/routes.py --quick    # N=1,000

Needs root and iproute2. Every namespace it creates is deleted at exit.
"""

import argparse
import os
import platform
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.report import table  # noqa: E402
from srv6_ofapp.dataplane import route_codec, route_table  # noqa: E402
from srv6_ofapp.dataplane.route_codec import RTPROT_SRV6, Route, normalize  # noqa: E402
from srv6_ofapp.dataplane.route_table import RouteTable  # noqa: E402

PREFIX = 'srv6b-routes-%d-' % os.getpid()
DEV = 'va'


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('-n', '--routes', type=int, default=10000, help='routes per method')
    parser.add_argument('--quick', action='store_true', help='N=1,000, fewer repetitions')
    parser.add_argument('--batch-size', type=int, default=route_table.DEFAULT_BATCH,
                        help='RouteTable messages per send()')
    parser.add_argument('--segments', type=int, default=1, help='SIDs per route')
    parser.add_argument('--hosts', type=int, default=100,
                        help='remote hosts: distinct SID lists shared by the routes')
    parser.add_argument('--distinct-sids', action='store_true',
                        help='one SID list per route instead of per remote host')
    parser.add_argument('--ip-per-route-sample', type=int, default=0, metavar='K',
                        help='time only K `ip route replace` processes and extrapolate '
                             '(default: all N)')
    parser.add_argument('--changes', type=int, default=200,
                        help='single-change reconciliations to time')
    parser.add_argument('--part', action='append', choices=sorted(PARTS),
                        help='what to run (repeatable; default: all). interleaved: '
                             'RouteTable vs ip -batch at --sizes; distinct: --distinct '
                             'routes with as many SID lists; restart: an agent restart with '
                             '--restart routes in place; methods: one run of each method at '
                             '-n routes, then the steady state')
    parser.add_argument('--sizes', type=lambda text: [int(x) for x in text.split(',')],
                        default=[10000, 30000, 100000], help='interleaved: route counts')
    parser.add_argument('--repeat', type=int, default=3,
                        help='interleaved pairs / distinct and restart runs (default 3)')
    parser.add_argument('--distinct', type=int, default=20000,
                        help='distinct: routes, each with its own SID list')
    parser.add_argument('--restart', type=int, default=100000,
                        help='restart: routes in place')
    parser.add_argument('--settle', type=float, default=2.0,
                        help='seconds after deleting a namespace before the next run')
    args = parser.parse_args(argv)
    if args.quick:
        args.routes = min(args.routes, 1000)
        args.changes = min(args.changes, 50)
        args.sizes = [1000, 3000]
        args.distinct = 2000
        args.restart = 10000
        args.repeat = 2
        args.settle = 0.5
    return args


def sh(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def version(args):
    try:
        return subprocess.run(args, capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        return '?'


def print_header(args):
    import pyroute2
    print('command: %s' % ' '.join(shlex.quote(a) for a in [sys.executable] + sys.argv))
    print('machine: nproc=%s, %s, python %s, pyroute2 %s, %s'
          % (os.cpu_count(), platform.platform(), platform.python_version(),
             getattr(pyroute2, '__version__', '?'), version(['ip', '-V'])))
    with open('/proc/loadavg') as f:
        print('load average before: %s (noisy machine: compare the rows of one run)'
              % ' '.join(f.read().split()[:3]))
    print('routes: %d x "10.x.y.z/32 encap seg6 mode encap segs <%d SID> dev %s proto %d", '
          '%s, RouteTable batch %d'
          % (args.routes, args.segments, DEV, RTPROT_SRV6,
             'a distinct SID list per route' if args.distinct_sids
             else '%d distinct SID lists (one per remote host)' % min(args.hosts, args.routes),
             args.batch_size))
    sys.stdout.flush()


class Namespaces:
    """Fresh namespaces with one veth pair; all deleted by cleanup()."""

    def __init__(self):
        self.names = []

    def new(self):
        name = PREFIX + str(len(self.names))
        sh('ip', 'netns', 'add', name)
        self.names.append(name)
        for cmd in (['link', 'add', DEV, 'type', 'veth', 'peer', 'name', 'vb'],
                    ['link', 'set', DEV, 'up'], ['link', 'set', 'vb', 'up'],
                    ['-6', 'addr', 'add', 'fc00::1/64', 'dev', DEV, 'nodad']):
            sh('ip', '-n', name, *cmd)
        return name

    def cleanup(self):
        for name in self.names:
            subprocess.run(['ip', 'netns', 'del', name], capture_output=True)
        self.names = []


def make_routes(n, segments, hosts, distinct):
    out = []
    for i in range(n):
        host = i % hosts
        # RFC 5952 text, as topology.vrf.sid writes a VRF's SID
        sids = tuple(socket.inet_ntop(socket.AF_INET6, socket.inet_pton(
            socket.AF_INET6, 'fc00:%x:%x::%x' % (host + 1, k, (i if distinct else 0) + 1)))
            for k in range(segments))
        out.append(Route('10.%d.%d.%d/32' % (i >> 16 & 255, i >> 8 & 255, i & 255), DEV,
                         'encap', sids))
    return out


def ip_line(route):
    return ('route replace %s encap seg6 mode encap segs %s dev %s proto %d'
            % (route.dst, ','.join(route.segments), route.oif, RTPROT_SRV6))


def count_ours(ns):
    with RouteTable(ns) as table:
        return table.dump_ours()


# -- the methods: each returns (seconds, note) --------------------------------------

def by_route_table(ns, wanted, args, codec='struct'):
    table = RouteTable(ns, batch_size=args.batch_size, codec=codec)
    try:
        start = time.perf_counter()
        table.apply(wanted)
        return time.perf_counter() - start, ''
    finally:
        table.close()


def by_iproute_sync(ns, wanted, args):
    from pyroute2 import IPRoute
    with IPRoute(netns=ns) as ipr:
        index = ipr.link_lookup(ifname=DEV)[0]
        start = time.perf_counter()
        for route in wanted:
            # pyroute2 takes 'segs' in SRH order: last SID first
            ipr.route('replace', dst=route.dst, oif=index, proto=RTPROT_SRV6,
                      encap={'type': 'seg6', 'mode': 'encap',
                             'segs': list(reversed(route.segments))})
        return time.perf_counter() - start, ''


def by_ip_batch(ns, wanted, args):
    with tempfile.NamedTemporaryFile('w', prefix='srv6b-routes-', suffix='.batch') as f:
        f.write('\n'.join(ip_line(r) for r in wanted) + '\n')
        f.flush()
        start = time.perf_counter()
        sh('ip', '-n', ns, '-batch', f.name)
        return time.perf_counter() - start, ''


def by_ip_per_route(ns, wanted, args):
    sample = wanted
    if 0 < args.ip_per_route_sample < len(wanted):
        sample = wanted[:args.ip_per_route_sample]
    start = time.perf_counter()
    for route in sample:
        sh('ip', '-n', ns, *ip_line(route).split())
    elapsed = time.perf_counter() - start
    if len(sample) < len(wanted):
        note = 'extrapolated (linearly) from the first %d' % len(sample)
        if args.distinct_sids:
            note += '; an underestimate: with distinct SIDs the kernel cost per route grows ' \
                    'with the routes in place'
        return elapsed * len(wanted) / len(sample), note
    return elapsed, ''


METHODS = (
    ('RouteTable.apply (struct codec)', by_route_table),
    ('RouteTable.apply (pyroute2 rtmsg codec)',
     lambda ns, wanted, args: by_route_table(ns, wanted, args, 'pyroute2')),
    ('pyroute2 IPRoute.route, 1 call per route', by_iproute_sync),
    ('ip -batch, one file', by_ip_batch),
    ('ip route replace, 1 process per route', by_ip_per_route),
)


def ms(seconds):
    return '%.2f' % (seconds * 1000)


def run(args):
    print_header(args)
    spaces = Namespaces()
    try:
        wanted = make_routes(args.routes, args.segments, args.hosts, args.distinct_sids)
        expected = {normalize(r) for r in wanted}
        results, first_ns = [], None
        for label, method in METHODS:
            ns = spaces.new()
            first_ns = first_ns or ns
            seconds, note = method(ns, wanted, args)
            installed = count_ours(ns)
            # an extrapolated run installed only its sample
            complete = installed == expected or (note and installed <= expected)
            results.append((label, seconds, note, len(installed), complete))
            print('  %-42s %8.3f s  %s' % (label, seconds, note), flush=True)
            if ns != first_ns:
                spaces.names.remove(ns)
                subprocess.run(['ip', 'netns', 'del', ns], capture_output=True)

        by_label = {r[0]: r[1] for r in results}
        batch_s = by_label['ip -batch, one file']
        per_route_s = by_label['ip route replace, 1 process per route']
        rows = []
        for label, seconds, note, installed, complete in results:
            rows.append([label + (' *' if note else ''), '%.3f' % seconds,
                         '%.0f' % (args.routes / seconds), '%.2f' % (batch_s / seconds),
                         '%.1f' % (per_route_s / seconds),
                         installed if complete else '%d WRONG' % installed])
        print()
        print(table(['install %d seg6 encap /32 routes' % args.routes, 'seconds', 'routes/s',
                     'x ip -batch', 'x ip per route', 'routes found'], rows))
        for label, seconds, note, installed, complete in results:
            if note:
                print('* %s: %s' % (label, note))

        # steady state, in the RouteTable namespace (N routes in place)
        rows = []
        table_ = RouteTable(first_ns, batch_size=args.batch_size)
        try:
            applied = set(expected)
            times = []
            for k in range(args.changes):
                new = normalize(Route('10.255.%d.%d/32' % (k >> 8, k & 255), DEV,
                                             'encap', ('fc00:ff::%x' % (k + 1),)))
                old = next(iter(applied))
                start = time.perf_counter()
                table_.apply(add=[new], delete=[old])
                times.append(time.perf_counter() - start)
                applied.discard(old)
                applied.add(new)
            rows.append(stat_row('apply(add 1, delete 1): one change, no dump', times))
            dumps = []
            for _ in range(3 if args.quick else 5):
                start = time.perf_counter()
                got = table_.dump_ours()
                dumps.append(time.perf_counter() - start)
            assert got == applied, 'dump_ours() disagrees with the applied state'
            rows.append(stat_row('dump_ours() of %d routes (struct codec)' % len(got), dumps))
            # N routes of another protocol beside ours: the kernel filters them out
            with tempfile.NamedTemporaryFile('w', prefix='srv6b-routes-', suffix='.batch') as f:
                f.write(''.join('route add 10.%d.%d.%d/32 dev %s proto static\n'
                                % (128 + (i >> 16 & 127), i >> 8 & 255, i & 255, DEV)
                                for i in range(args.routes)))
                f.flush()
                sh('ip', '-n', first_ns, '-batch', f.name)
            mixed = []
            for _ in range(3 if args.quick else 5):
                start = time.perf_counter()
                assert table_.dump_ours() == applied
                mixed.append(time.perf_counter() - start)
            rows.append(stat_row('  same, %d proto-static routes also there' % args.routes,
                                 mixed))
            with RouteTable(first_ns) as unfiltered:
                unfiltered.sock.setsockopt(route_table.SOL_NETLINK,
                                           route_table.NETLINK_GET_STRICT_CHK, 0)
                python_side = []
                for _ in range(3 if args.quick else 5):
                    start = time.perf_counter()
                    assert unfiltered.dump_ours() == applied
                    python_side.append(time.perf_counter() - start)
            rows.append(stat_row('  same, kernel filter off (Python filters)', python_side))
            with RouteTable(first_ns, codec='pyroute2') as reference:
                slow = []
                for _ in range(2):
                    start = time.perf_counter()
                    assert reference.dump_ours() == applied
                    slow.append(time.perf_counter() - start)
            rows.append(stat_row('dump_ours() of %d routes (pyroute2 codec)' % len(got), slow))
            opens = []
            for _ in range(3):
                start = time.perf_counter()
                RouteTable(first_ns).close()
                opens.append(time.perf_counter() - start)
            rows.append(stat_row('RouteTable(netns) open (setns thread)', opens))
            start = time.perf_counter()
            table_.apply(delete=applied)
            rows.append(stat_row('apply(delete all %d)' % len(applied),
                                 [time.perf_counter() - start]))
        finally:
            table_.close()
        print()
        print(table(['with %d routes in place (RouteTable)' % args.routes, 'runs', 'mean ms',
                     'p50 ms', 'max ms'], rows))
        print()
        same = all(r[4] for r in results)
        print('check: every method installed the same routes as RouteTable (same dump): %s'
              % ('yes' if same else 'NO'))
        return 0 if same else 1
    finally:
        spaces.cleanup()


# -- interleaved: RouteTable against ip -batch, the restart, distinct SID lists ----------

def fresh_install(spaces, method, wanted, args):
    """Seconds ``method`` takes to install ``wanted`` in a fresh namespace,
    checked by a dump; the namespace is deleted afterwards and the kernel
    given time to free it (a fixed order of runs is biased otherwise)."""
    ns = spaces.new()
    try:
        seconds, _ = method(ns, wanted, args)
        found = count_ours(ns)
        if found != {normalize(r) for r in wanted}:
            raise RuntimeError('%s installed %d routes, not the %d wanted'
                               % (method.__name__, len(found), len(wanted)))
        return seconds
    finally:
        spaces.names.remove(ns)
        subprocess.run(['ip', 'netns', 'del', ns], capture_output=True)
        time.sleep(args.settle)


def spread(values, fmt='%.3f'):
    ordered = sorted(values)
    return ' / '.join(fmt % v for v in (ordered[0], ordered[len(ordered) // 2], ordered[-1]))


def run_interleaved(args):
    """RouteTable.apply and ip -batch, A B B A ..., per size; the ratio pair by pair."""
    print_header(args)
    spaces = Namespaces()
    rows = []
    try:
        for n in args.sizes:
            wanted = make_routes(n, args.segments, args.hosts, False)
            samples = {'rt': [], 'ip': []}
            ratios = []
            for r in range(args.repeat):
                order = (('rt', by_route_table), ('ip', by_ip_batch))
                pair = {}
                for name, method in (order if r % 2 == 0 else order[::-1]):
                    route_codec._CANONICAL.clear()  # a process meeting these routes first
                    pair[name] = fresh_install(spaces, method, wanted, args)
                    samples[name].append(pair[name])
                ratios.append(pair['ip'] / pair['rt'])
                print('  %6d routes, pair %d: RouteTable %.3f s, ip -batch %.3f s, x %.2f'
                      % (n, r + 1, pair['rt'], pair['ip'], ratios[-1]), flush=True)
            goal = GOAL_X_IP_BATCH if n in (10000, 100000) else None
            rows.append(['%d' % n, len(ratios), spread(samples['rt']), spread(samples['ip']),
                         '%.0f' % (n / sorted(samples['rt'])[len(ratios) // 2]),
                         '%.0f' % (n / sorted(samples['ip'])[len(ratios) // 2]),
                         spread(ratios, '%.2f'),
                         '-' if goal is None else
                         ('yes' if sorted(ratios)[len(ratios) // 2] >= goal else 'NO')])
    finally:
        spaces.cleanup()
    print()
    print(table(['seg6 encap /32 routes (%d SID lists)' % args.hosts, 'pairs',
                 'RouteTable.apply s (min / median / max)', 'ip -batch s (min / median / max)',
                 'RouteTable routes/s (median)', 'ip -batch routes/s (median)',
                 'x ip -batch, pair by pair (min / median / max)',
                 'median >= %.1fx' % GOAL_X_IP_BATCH], rows))
    print('each run into a fresh namespace, deleted after it with %.1f s to settle; pairs '
          'alternate which goes first; the canonical-route cache is emptied before each '
          'RouteTable run' % args.settle)
    return 0


def run_distinct(args):
    """N routes with N distinct SID lists: the kernel's ENOMEM is backpressure."""
    print_header(args)
    spaces = Namespaces()
    rows = []
    try:
        n = args.distinct
        wanted = make_routes(n, args.segments, n, True)
        for r in range(args.repeat):
            ns = spaces.new()
            table_ = RouteTable(ns, batch_size=args.batch_size)
            error = ''
            start = time.perf_counter()
            try:
                table_.apply(wanted)
            except route_table.RouteError as exc:
                error = '%d failed' % len(exc.failures)
            seconds = time.perf_counter() - start
            retries = table_.enomem_retries
            table_.close()
            found = len(count_ours(ns))
            rows.append(['run %d' % (r + 1), '%.2f' % seconds, '%.0f' % (n / seconds),
                         retries, error or 'none', found])
            print('  run %d: %.2f s, %d ENOMEM retries, %s' % (r + 1, seconds, retries,
                                                            error or 'no error'), flush=True)
            spaces.names.remove(ns)
            subprocess.run(['ip', 'netns', 'del', ns], capture_output=True)
            time.sleep(args.settle)
    finally:
        spaces.cleanup()
    print()
    print(table(['RouteTable.apply, %d routes, %d distinct SID lists' % (n, n), 'seconds',
                 'routes/s', 'operations resent after ENOMEM', 'errors', 'routes found'],
                rows))
    return 0 if all(row[4] == 'none' and row[5] == n for row in rows) else 1


def run_restart(args):
    """An agent restart with N routes in place and nothing changed: a new
    KernelRoutes reads ours back and applies the same wanted routes."""
    from srv6_ofapp.dataplane.kernel_routes import KernelRoutes
    print_header(args)
    spaces = Namespaces()
    rows = []
    try:
        n = args.restart
        ns = spaces.new()
        wanted = make_routes(n, args.segments, args.hosts, False)
        with RouteTable(ns, batch_size=args.batch_size) as table_:
            table_.apply(wanted)
        for r in range(args.repeat):
            route_codec._CANONICAL.clear()  # a new process
            fresh = make_routes(n, args.segments, args.hosts, False)  # new objects, as computed
            start = time.perf_counter()
            kernel = KernelRoutes()
            kernel.load(ns)
            loaded = time.perf_counter()
            writes = kernel.apply(ns, {(r_.table, r_.dst): r_ for r_ in fresh})
            done = time.perf_counter()
            kernel.close()
            rows.append(['restart %d' % (r + 1), '%.3f' % (loaded - start),
                         '%.3f' % (done - loaded), '%.3f' % (done - start), writes,
                         'yes' if writes == 0 and done - start < 2 else 'NO'])
            print('  restart %d: %.3f s, %d writes' % (r + 1, done - start, writes), flush=True)
    finally:
        spaces.cleanup()
    print()
    print(table(['agent restart, %d routes in place, nothing changed' % n,
                 'read back s (open + dump_ours)', 'diff + apply s', 'total s', 'writes',
                 '0 writes, < 2 s'], rows))
    return 0 if all(row[-1] == 'yes' for row in rows) else 1


PARTS = {'interleaved': run_interleaved, 'distinct': run_distinct, 'restart': run_restart,
         'methods': None}
GOAL_X_IP_BATCH = 1.2


def stat_row(label, samples):
    return [label, len(samples), ms(statistics.fmean(samples)), ms(statistics.median(samples)),
            ms(max(samples))]


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if os.geteuid() != 0:
        print('SKIP: bench/routes.py must run as root (network namespaces)')
        return 0
    main_pid = os.getpid()

    def on_sigterm(*_):
        # pyroute2's IPRoute(netns=...) forks a child and stops it with SIGTERM;
        # a child still in Python would run this handler, and then our finally
        # clauses, deleting the namespaces: only the parent may unwind
        if os.getpid() != main_pid:
            os._exit(0)
        sys.exit(143)  # run the finally clauses

    signal.signal(signal.SIGTERM, on_sigterm)
    status = 0
    for part in args.part or ['interleaved', 'distinct', 'restart', 'methods']:
        print('\n== %s ==' % part, flush=True)
        status |= (PARTS[part] or run)(args)
    return status


if __name__ == '__main__':
    sys.exit(main())
