"""A network node with many routers: building them, bringing them back
after a restart, and a floating IP's way to NAT state.

One ``srv6-ofapp --role gateway`` process serves one cluster whose store
(a one-member etcd: its watch pushes changes, where sqlite's feed polls
other processes' writes every 0.5 s) holds N routers on the network node gw1 (a namespace of this
machine whose external interface is one end of a veth): each router has its own project
network with the same CIDR (10.0.0.0/24), one VM bound to a compute host,
an interface, a gateway on the external network 100.64.0.0/16 and a
floating IP.  The documents are written to the store directly, as the API
would leave them, so that the numbers are the network node's alone
(part ``node``):

  * cold start: the gateway starts on the N routers, none in the kernel;
    time to "in step" (the reconciler's log line), routers per second;
  * restart with nothing changed (SIGTERM, start): time to "in step", the
    changes the process counts, and what an ``ip monitor`` in the node's
    namespace sees (links, addresses, routes) -- goal: 0 writes, < 5 s
    at 1,000 routers; a sample of router namespaces is compared before and
    after (routes, addresses, NAT);
  * a floating IP associated (its document written): time until its
    router's NAT map holds it, p50/p99 over samples, while the N routers
    are in place.

Part ``api``: the same through the REST API of an all-in-one process
(sqlite) that programs the network node, one client: routers per second
(network, subnet, router with its gateway, interface, a VM port) until
every router has its NAT, then a floating IP per VM, each timed from its
POST to its router's NAT map holding it.

    .venv/bin/python bench/routers.py               # N = 1,000, 100 via the API (~6 min)
    .venv/bin/python bench/routers.py --routers 200 --api-routers 50 # quicker
    .venv/bin/python bench/routers.py --part api

Needs root, iproute2 and nft. Everything it creates (namespaces, files,
the process) is removed at exit, also on Ctrl-C.
"""

import argparse
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.report import percentile, table  # noqa: E402
from srv6_ofapp import store as store_lib  # noqa: E402
from tests import etcdlab  # noqa: E402
from srv6_ofapp.replica import Replica  # noqa: E402
from topology import naming  # noqa: E402

V = '/v2.0'
IN_STEP = re.compile(r'host gw1 in step ([0-9.]+) s after start: (\d+) changes')
EXTERNAL_CIDR = '100.64.0.0/16'


def uid():
    return str(uuid.uuid4())


def external_ip(n, offset):
    """The nth address of a block of the external /16 (never .0 or .255)."""
    n += offset
    return '100.64.%d.%d' % (1 + n // 250, 1 + n % 250)


def world(count, gw_netns, without_fip=0):
    """{kind: [documents]} of ``count`` routers on gw1, each with a floating
    IP but the first ``without_fip``."""
    hv1 = {'id': uid(), 'name': 'hv1', 'segment_node_id': 'fd00:0:0:1::',
           'datapath_id': '0000000000000001', 'vrf_cidr': '169.254.0.0/16'}
    gw1 = {'id': uid(), 'name': 'gw1', 'segment_node_id': 'fd00:0:0:8::',
           'datapath_id': '0000000000000008', 'vrf_cidr': '169.254.0.0/16',
           'role': 'network', 'external_interface': 'ext0', 'netns': gw_netns}
    ext = {'id': uid(), 'tenant_id': 'admin', 'name': 'public', 'router:external': True}
    ext_subnet = {'id': uid(), 'network_id': ext['id'], 'cidr': EXTERNAL_CIDR,
                  'gateway_ip': '100.64.0.1', 'created_at': 't'}
    docs = {'hosts': [hv1, gw1], 'networks': [ext], 'subnets': [ext_subnet], 'ports': [],
            'vrfallocations': [], 'routers': [], 'routerallocations': [], 'floatingips': []}
    for n in range(count):
        project = 'p%04d' % n
        net = {'id': uid(), 'tenant_id': project, 'name': project}
        subnet = {'id': uid(), 'network_id': net['id'], 'cidr': '10.0.0.0/24',
                  'gateway_ip': '10.0.0.1', 'created_at': 't'}
        vm = {'id': uid(), 'network_id': net['id'], 'binding:host_id': 'hv1',
              'mac_address': 'fa:16:3e:00:%02x:%02x' % (n // 256, n % 256),
              'fixed_ips': [{'subnet_id': subnet['id'], 'ip_address': '10.0.0.5'}]}
        gw_port = {'id': uid(), 'network_id': ext['id'], 'binding:host_id': '',
                   'mac_address': 'fa:16:3e:01:%02x:%02x' % (n // 256, n % 256),
                   'fixed_ips': [{'subnet_id': ext_subnet['id'],
                                  'ip_address': external_ip(n, 0)}]}
        router = {'id': uid(), 'name': 'r%d' % n, 'tenant_id': project,
                  'admin_state_up': True, 'host': 'gw1', 'gw_port_id': gw_port['id'],
                  'interfaces': [{'port_id': uid(), 'subnet_id': subnet['id'],
                                  'network_id': net['id']}],
                  'external_gateway_info': {
                      'network_id': ext['id'], 'enable_snat': True,
                      'external_fixed_ips': [{'subnet_id': ext_subnet['id'],
                                              'ip_address': external_ip(n, 0)}]}}
        vrf_ip = '169.254.%d.%d' % (1 + n // 250, 1 + n % 250)
        docs['networks'].append(net)
        docs['subnets'].append(subnet)
        docs['ports'] += [vm, gw_port]
        docs['vrfallocations'].append({'host': 'hv1', 'network_id': net['id'], 'vrf_ip': vrf_ip,
                                       'vrf': naming.vrf_name(project, net['id'])})
        docs['routers'].append(router)
        docs['routerallocations'].append({'host': 'gw1', 'router_id': router['id'],
                                          'vrf_ip': vrf_ip})
        if n >= without_fip:
            docs['floatingips'].append(floating_ip(router, vm, external_ip(n, 10000), ext))
    return docs


def floating_ip(router, vm, address, ext):
    return {'id': uid(), 'floating_ip_address': address, 'fixed_ip_address': '10.0.0.5',
            'floating_network_id': ext['id'], 'router_id': router['id'],
            'port_id': vm['id'], 'tenant_id': router['tenant_id']}


def write(store, docs):
    """Put ``docs`` into ``store``, 20 to a transaction (etcd's default limit
    is 128 operations, and a put is more than one)."""
    for kind, items in docs.items():
        for start in range(0, len(items), 20):
            store.transact(lambda txn, chunk=items[start:start + 20]: [
                txn.put(kind, Replica._key(kind, doc), doc) for doc in chunk])


def sh(*args, check=True, input=None):
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                            input=input)
    if check and result.returncode != 0:
        raise RuntimeError('%s: %s' % (' '.join(map(str, args)), result.stderr.strip()))
    return result


class Gateway:
    """The gateway process and its log."""

    def __init__(self, workdir, store_url):
        self.log_path = os.path.join(workdir, 'gateway.log')
        self.args = [sys.executable, '-m', 'srv6_ofapp', '--role', 'gateway', '--host', 'gw1',
                     '--cluster', 'bench=' + store_url, '--wsapi-port', '0',
                     '--report-interval', '30']
        self.proc = None

    def start(self):
        self.offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        with open(self.log_path, 'ab') as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                         cwd=ROOT)
        self.started = time.monotonic()

    def log(self):
        with open(self.log_path, errors='replace') as log:
            log.seek(self.offset)
            return log.read()

    def wait_in_step(self, timeout):
        """(seconds the process says it took, changes it counts, wall seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = IN_STEP.search(self.log())
            if match:
                return float(match.group(1)), int(match.group(2)), \
                    time.monotonic() - self.started
            if self.proc.poll() is not None:
                raise RuntimeError('the gateway exited:\n' + self.log()[-3000:])
            time.sleep(0.05)
        raise RuntimeError('not in step within %d s:\n%s' % (timeout, self.log()[-3000:]))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def router_namespaces(gw_netns):
    return sorted(name for name in os.listdir('/var/run/netns')
                  if name.startswith(gw_netns + '-bench-rtr'))


def sample_state(namespaces):
    state = {}
    for ns in namespaces:
        state[ns] = (sh('ip', '-n', ns, 'route', 'show', 'proto', '83').stdout,
                     sh('ip', '-n', ns, '-6', 'route', 'show', 'proto', '83').stdout,
                     sh('ip', '-n', ns, '-4', 'addr').stdout,
                     sh('ip', 'netns', 'exec', ns, 'nft', 'list', 'table', 'ip', 'srv6_nat',
                        check=False).stdout)
    return state


def fip_latency(store, docs, gw_netns, samples):
    """Seconds from writing a floating IP to its router's NAT map holding it
    (the first ``samples`` routers, which have none yet, get one)."""
    ext = docs['networks'][0]
    vms = {port['network_id']: port for port in docs['ports']}
    latencies = []
    for n, router in enumerate(docs['routers'][:samples]):
        address = external_ip(n, 10000)
        fip = floating_ip(router, vms[router['interfaces'][0]['network_id']], address, ext)
        ns = '%s-bench-%s' % (gw_netns, naming.router_name(router['id']))
        started = time.monotonic()
        store.transact(lambda txn: txn.put('floatingips', fip['id'], fip))
        while address not in sh('ip', 'netns', 'exec', ns, 'nft', 'list', 'map', 'ip',
                                'srv6_nat', 'floating_dnat').stdout:
            if time.monotonic() > started + 30:
                raise RuntimeError('floating IP %s not in NAT after 30 s' % address)
            time.sleep(0.002)
        latencies.append(time.monotonic() - started)
    return latencies


def settle(netns, quiet=2.0, timeout=60):
    """Wait until the kernel has been quiet in ``netns`` for ``quiet`` seconds
    (nothing left over from the cold start for the restart to be blamed for)."""
    monitor = subprocess.Popen(['ip', '-n', netns, '-o', 'monitor'], stdout=subprocess.PIPE)
    fd = monitor.stdout.fileno()
    os.set_blocking(fd, False)
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    try:
        while time.monotonic() - last < quiet and time.monotonic() < deadline:
            try:
                if os.read(fd, 65536):
                    last = time.monotonic()
            except BlockingIOError:
                pass
            time.sleep(0.1)
    finally:
        monitor.kill()
        monitor.wait()


def part_node(args, workdir, gw_netns):
    """Cold start, restart and floating IPs with the documents written to
    the store directly."""
    gateway = monitor = store = etcd = None
    try:
        etcd = etcdlab.start_cluster(os.path.join(workdir, 'etcd'), 1)
        store_url = etcd.url('/bench')
        store = store_lib.open_store(store_url)
        docs = world(args.routers, gw_netns, without_fip=args.fip_samples)
        write(store, docs)
        gateway = Gateway(workdir, store_url)

        gateway.start()
        cold, cold_changes, cold_wall = gateway.wait_in_step(60 + args.routers)
        assert len(router_namespaces(gw_netns)) == args.routers
        print('[cold] %d routers in step in %.1f s (%d changes)'
              % (args.routers, cold, cold_changes))

        sample = router_namespaces(gw_netns)[::max(1, args.routers // args.sample)]
        before = sample_state(sample)
        gateway.stop()
        settle(gw_netns)
        monitor = subprocess.Popen(['ip', '-n', gw_netns, '-o', 'monitor', 'link', 'address',
                                    'route'], stdout=subprocess.PIPE, text=True)
        gateway.start()
        warm, warm_changes, warm_wall = gateway.wait_in_step(60 + args.routers)
        time.sleep(1)
        monitor.terminate()
        events = [line for line in monitor.communicate()[0].splitlines() if line.strip()]
        monitor = None
        after = sample_state(sample)
        unchanged = sum(before[ns] == after[ns] for ns in sample)
        print('[restart] in step in %.2f s, %d changes, %d netlink events on the node'
              % (warm, warm_changes, len(events)))

        latencies = fip_latency(store, docs, gw_netns, args.fip_samples)
        print()
        print(table(
            ['%d routers on one network node' % args.routers, 'to in step s',
             'process wall s', 'routers/s', 'changes', 'netlink events (node)',
             'sampled routers unchanged'],
            [['cold start (nothing in the kernel)', '%.2f' % cold, '%.2f' % cold_wall,
              '%.0f' % (args.routers / cold), cold_changes, '-', '-'],
             ['restart, nothing changed', '%.2f' % warm, '%.2f' % warm_wall,
              '%.0f' % (args.routers / warm), warm_changes, len(events),
              '%d/%d' % (unchanged, len(sample))]]))
        print()
        print(table(['floating IP written to the store -> in its router\'s NAT map',
                     'samples', 'p50 ms', 'p99 ms', 'max ms'],
                    [['with %d routers in place' % args.routers, len(latencies),
                      '%.1f' % percentile(latencies, 50), '%.1f' % percentile(latencies, 99),
                      '%.1f' % (max(latencies) * 1000)]]))
        if events:
            print('\nnetlink events on the node during the restart:\n' + '\n'.join(events[:30]))
    finally:
        if monitor is not None:
            monitor.kill()
        if gateway is not None:
            gateway.stop()
        if store is not None:
            store.close()
        if etcd is not None:
            etcd.stop()
        delete_routers(gw_netns)


def part_api(args, workdir, gw_netns):
    """Routers and floating IPs through the REST API of an all-in-one
    process (sqlite) that programs the network node, to working NAT."""
    from tests.conftest import Client
    from tests.server import Server
    server = Server(os.path.join(workdir, 'api.db'))
    try:
        server.start()
        api = Client(server.url)
        api.create('host', name='hv1', datapath_id='00000000000000a1',
                   segment_node_id='fd00:0:0:1::', underlay_ip='fd00::1')
        api.create('host', name='gw1', datapath_id='00000000000000a8',
                   segment_node_id='fd00:0:0:8::', underlay_ip='fd00::8', role='network',
                   external_interface='ext0', netns=gw_netns)
        public = api.create('network', name='public', **{'router:external': True})
        api.create('subnet', network_id=public['id'], cidr=EXTERNAL_CIDR,
                   gateway_ip='100.64.0.1')
        count = args.api_routers
        started = time.monotonic()
        vms = []
        for n in range(count):
            project = {'X-Project-Id': 'p%04d' % n}
            network = api.post(V + '/networks', {'network': {'name': 'n%d' % n}},
                               headers=project).json()['network']
            subnet = api.post(V + '/subnets', {'subnet': {
                'network_id': network['id'], 'cidr': '10.0.0.0/24'}},
                headers=project).json()['subnet']
            router = api.post(V + '/routers', {'router': {
                'name': 'r%d' % n, 'external_gateway_info': {'network_id': public['id']}}},
                headers=project).json()['router']
            api.put(V + '/routers/%s/add_router_interface' % router['id'],
                    {'subnet_id': subnet['id']}, headers=project)
            vms.append((project, api.post(V + '/ports', {'port': {
                'network_id': network['id'], 'binding:host_id': 'hv1'}},
                headers=project).json()['port'], router))
        posted = time.monotonic()

        def nat_ready(router):
            ns = '%s-%s' % (gw_netns, naming.router_name(router['id']))
            return os.path.exists('/var/run/netns/' + ns) and 'snat to' in sh(
                'ip', 'netns', 'exec', ns, 'nft', 'list', 'table', 'ip', 'srv6_nat',
                check=False).stdout
        for _, _, router in vms:
            while not nat_ready(router):
                if time.monotonic() > posted + 120:
                    raise RuntimeError('router %s without NAT after 120 s' % router['id'])
                time.sleep(0.01)
        routers_done = time.monotonic()

        latencies, fip_started = [], time.monotonic()
        for project, port, router in vms:
            sent = time.monotonic()
            fip = api.post(V + '/floatingips', {'floatingip': {
                'floating_network_id': public['id'], 'port_id': port['id']}},
                headers=project).json()['floatingip']
            ns = '%s-%s' % (gw_netns, naming.router_name(router['id']))
            while fip['floating_ip_address'] not in sh(
                    'ip', 'netns', 'exec', ns, 'nft', 'list', 'map', 'ip', 'srv6_nat',
                    'floating_dnat', check=False).stdout:
                if time.monotonic() > sent + 30:
                    raise RuntimeError('floating IP %s not in NAT after 30 s'
                                       % fip['floating_ip_address'])
                time.sleep(0.002)
            latencies.append(time.monotonic() - sent)
        fips_done = time.monotonic()
        print()
        print(table(['through the API (all-in-one, sqlite), one client', 'count',
                     'API s', 'to NAT s', 'per second', 'p50 ms', 'p99 ms'],
                    [['routers (network, subnet, router+gateway, interface, port)', count,
                      '%.1f' % (posted - started), '%.1f' % (routers_done - started),
                      '%.1f' % (count / (routers_done - started)), '-', '-'],
                     ['floating IPs, one after another (POST -> NAT map)', count, '-',
                      '%.1f' % (fips_done - fip_started),
                      '%.1f' % (count / (fips_done - fip_started)),
                      '%.0f' % percentile(latencies, 50), '%.0f' % percentile(latencies, 99)]]))
    finally:
        server.stop()
        delete_routers(gw_netns, prefix='')


def delete_routers(gw_netns, prefix='bench-'):
    if os.path.isdir('/var/run/netns'):
        for ns in os.listdir('/var/run/netns'):
            if ns.startswith(gw_netns + '-' + prefix + 'rtr'):
                sh('ip', 'netns', 'del', ns, check=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--routers', type=int, default=1000)
    parser.add_argument('--api-routers', type=int, default=100,
                        help='routers (and floating IPs) made through the API')
    parser.add_argument('--fip-samples', type=int, default=20)
    parser.add_argument('--sample', type=int, default=20,
                        help='router namespaces compared before and after the restart')
    parser.add_argument('--part', action='append', choices=['node', 'api'],
                        help='only this part (repeatable; default: both)')
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error('needs root')
    for tool in ('ip', 'nft'):
        if shutil.which(tool) is None:
            parser.error('needs %s' % tool)

    workdir = tempfile.mkdtemp(prefix='srv6-bench-routers-')
    gw_netns = 'srv6b%d-gw' % os.getpid()
    print('command: %s' % ' '.join([os.path.relpath(sys.executable, ROOT)] + sys.argv))
    print('machine: nproc=%d, %s, python %s; load average %s' % (
        os.cpu_count(), platform.platform(), platform.python_version(),
        ' '.join('%.2f' % v for v in os.getloadavg())))

    def interrupted(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupted)
    try:
        sh('ip', 'netns', 'add', gw_netns)
        sh('ip', '-n', gw_netns, 'link', 'add', 'ext0', 'type', 'veth', 'peer', 'name', 'ext1')
        for part in args.part or ['node', 'api']:
            {'node': part_node, 'api': part_api}[part](args, workdir, gw_netns)
    finally:
        delete_routers(gw_netns, prefix='')
        delete_routers(gw_netns)
        sh('ip', 'netns', 'del', gw_netns, check=False)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    main()
