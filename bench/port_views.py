"""What one bound port's POST and GET cost as the cloud's VRF allocations grow.

A port's API view carries its binding:profile, computed from the VRF
allocation of its (host, network); srv6_ofapp/model/views.py read that by
listing *every* ``vrfallocations`` document of the cloud, once per request
(it now reads the port's host's only: docs/BENCHMARKS.md has both). This
measures what the cloud's size costs a port's view, in process through the REST controller (no
HTTP), on sqlite and on a 3-member etcd: the median of 15 bound-port POSTs
and GETs with 0, 1,000 and 5,000 VRF allocations of other (host, network)
pairs in the store (written directly, as binding.py writes them).

    .venv/bin/python bench/port_views.py            # 0, 1000, 5000
    .venv/bin/python bench/port_views.py --sizes 0 2000
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import webob.multidict  # noqa: E402

from bench.report import percentile, table  # noqa: E402
from rest.resource import Controller  # noqa: E402
from srv6_ofapp.model import plugin as plugin_lib  # noqa: E402
from srv6_ofapp.model.context import Context  # noqa: E402
from srv6_ofapp.store import open_store  # noqa: E402
from tests import etcdlab  # noqa: E402
from topology import naming  # noqa: E402

SAMPLES = 15


def add_allocations(store, have, target, batch=50):
    """VRF allocations of other (host, network) pairs up to ``target``."""
    while have < target:
        def put(txn, start=have):
            for n in range(start, min(start + batch, target)):
                host, network_id = 'other%d' % (n % 50), 'net-%06d' % (n // 50)
                txn.put('vrfallocations', '%s/%s' % (host, network_id),
                        {'host': host, 'network_id': network_id,
                         'vrf': naming.vrf_name('elsewhere', network_id),
                         'vrf_ip': '169.254.%d.%d' % (n // 250, n % 250 + 1)})
        store.transact(put)
        have = min(have + batch, target)
    return have


def measure(label, url, sizes):
    store = open_store(url)
    rows = []
    try:
        plugin = plugin_lib.Plugin(store)
        ctx = Context('admin', is_admin=True)
        ctl = {c: Controller(plugin, c) for c in ('networks', 'subnets', 'ports', 'hosts')}
        ctl['hosts'].create(ctx, {'host': {'name': 'h1', 'datapath_id': '%016x' % 1,
                                           'segment_node_id': 'fd00:0:0:1::',
                                           'underlay_ip': 'fd00::1'}})
        network = ctl['networks'].create(ctx, {'network': {'name': 'n'}})[1]['network']
        ctl['subnets'].create(ctx, {'subnet': {'network_id': network['id'],
                                               'cidr': '10.0.0.0/16', 'ip_version': 4}})
        have = 0
        for size in sizes:
            have = add_allocations(store, have, size)
            posts, gets = [], []
            for _ in range(SAMPLES):
                start = time.perf_counter()
                port = ctl['ports'].create(ctx, {'port': {'network_id': network['id'],
                                                          'binding:host_id': 'h1'}})[1]['port']
                posts.append(time.perf_counter() - start)
                start = time.perf_counter()
                ctl['ports'].show(ctx, webob.multidict.MultiDict(), port['id'])
                gets.append(time.perf_counter() - start)
            rows.append([label, size, '%.1f' % percentile(posts, 50),
                         '%.1f' % percentile(gets, 50)])
            print(table(['store', 'VRF allocations elsewhere', 'bound port POST ms (p50)',
                         'GET ms (p50)'], rows[-1:]).splitlines()[-1], flush=True)
    finally:
        store.close()
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[0, 1000, 5000])
    args = parser.parse_args(argv)
    workdir = tempfile.mkdtemp(prefix='bench-port-views-')
    etcd = None
    try:
        rows = measure('sqlite', 'sqlite:///' + os.path.join(workdir, 'state.db'), args.sizes)
        if etcdlab.ETCD:
            etcd = etcdlab.Cluster(os.path.join(workdir, 'etcd'), 3).start()
            rows += measure('etcd, 3 members', etcd.url(etcdlab.unique_prefix('views')),
                            args.sizes)
    finally:
        if etcd is not None:
            etcd.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(table(['store', 'VRF allocations elsewhere', 'bound port POST ms (p50)',
                 'GET ms (p50)'], rows))
    return 0


if __name__ == '__main__':
    sys.exit(main())
