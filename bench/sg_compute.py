"""What one reconciliation of a switch costs the edge, in process, with the
security groups of bench/firewall.py's "default + remote groups" world.

No Open vSwitch and no server: the model is made through the REST
controllers (no HTTP) on a sqlite file in a temporary directory (one host,
one network with a /21, N ports bound to the host, every port in the
default group, 3 of 4 in a tier group whose rules name the other tiers as
remote groups, 5 in "admin": firewall.TIER_RULES), read into a Replica, and
the switch's interfaces are tap + port_id[:11] numbered 1..N.  Then, --runs
times: pipeline.switch_flows (the whole switch), security_groups.network_flows
(its remote-group share) and flow_changes (a diff with nothing changed),
timed with time.perf_counter.

--baseline REF also loads srv6_ofapp/edge/security_groups.py as it is at the
git commit REF (e.g. main) and times it in the same process, interleaved
with the working tree's, after checking that both produce the same flows
(only that module is swapped: the rest of the pipeline is the working tree's).
--profile prints cProfile's top functions of one switch_flows.

    .venv/bin/python bench/sg_compute.py                       # 500 ports
    .venv/bin/python bench/sg_compute.py --baseline main --runs 7
    .venv/bin/python bench/sg_compute.py --profile
"""

import argparse
import collections
import cProfile
import importlib.util
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.firewall import ADMIN_PORTS, CIDR, TIER_RULES, TIERS  # noqa: E402
from bench.report import table  # noqa: E402
from rest.resource import Controller  # noqa: E402
from srv6_ofapp.edge import pipeline, security_groups  # noqa: E402
from srv6_ofapp.edge.flows import flow_changes  # noqa: E402
from srv6_ofapp.model import plugin as plugin_lib  # noqa: E402
from srv6_ofapp.model.context import Context  # noqa: E402
from srv6_ofapp.replica import Replica  # noqa: E402
from srv6_ofapp.store import open_store  # noqa: E402
from topology import naming  # noqa: E402
from topology.switch_ports import SwitchPorts  # noqa: E402

CHUNK = 50


def tiers(i):
    """The groups besides default of port i (as firewall.World.tiers)."""
    tier = TIERS[i % len(TIERS)]
    if tier is None:
        return ['admin'] if i // len(TIERS) < ADMIN_PORTS else []
    return [tier]


def build(url, count):
    """(switch, network id) of a fresh model with ``count`` bound ports."""
    store = open_store(url)
    try:
        plugin = plugin_lib.Plugin(store)
        ctx = Context('admin', is_admin=True)
        ctl = {c: Controller(plugin, c) for c in ('networks', 'subnets', 'ports', 'hosts',
                                                  'security_groups', 'security_group_rules')}
        ctl['hosts'].create(ctx, {'host': {'name': 'hv1', 'datapath_id': '%016x' % 1,
                                           'segment_node_id': 'fd00:0:0:1::',
                                           'underlay_ip': 'fd00::1'}})
        network = ctl['networks'].create(ctx, {'network': {'name': 'fw'}})[1]['network']
        ctl['subnets'].create(ctx, {'subnet': {'network_id': network['id'], 'cidr': CIDR,
                                               'ip_version': 4}})
        groups = {name: ctl['security_groups'].create(
            ctx, {'security_group': {'name': name}})[1]['security_group']['id']
            for name in TIER_RULES}
        for name, rules in TIER_RULES.items():
            for rule in rules:
                rule = dict(rule, direction='ingress', security_group_id=groups[name])
                remote = rule.pop('remote_group', None)
                if remote:
                    rule['remote_group_id'] = groups[remote]
                ctl['security_group_rules'].create(ctx, {'security_group_rule': rule})
        replica = Replica(store)
        replica.reload()
        [default] = [g['id'] for g in replica.docs['security_groups'].values()
                     if g['name'] == 'default']
        attrs = [{'network_id': network['id'], 'name': 'p%d' % i, 'binding:host_id': 'hv1',
                  'security_groups': [default] + [groups[g] for g in tiers(i)]}
                 for i in range(count)]
        ports = []
        for chunk in range(0, count, CHUNK):
            ports += ctl['ports'].create(ctx, {'ports': attrs[chunk:chunk + CHUNK]})[1]['ports']
        replica = Replica(store)
        replica.reload()
    finally:
        store.close()
    ofports = {naming.tap_name(port['id']): n for n, port in enumerate(ports, 1)}
    switch = pipeline.Switch(replica, SwitchPorts(ofports),
                             pipeline.EdgeConfig('fa:16:3f:00:00:01'), True)
    return switch, network['id']


def load_module(ref):
    """security_groups.py as it is at git commit ``ref``, as a module."""
    source = subprocess.check_output(['git', '-C', ROOT, 'show',
                                      '%s:srv6_ofapp/edge/security_groups.py' % ref])
    path = os.path.join(tempfile.mkdtemp(prefix='sg-baseline-'), 'security_groups.py')
    with open(path, 'wb') as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location('security_groups_at_' + ref, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shutil.rmtree(os.path.dirname(path))
    return module


def with_module(module):
    """pipeline.FEATURES with ``module`` in security_groups' place."""
    return tuple(module if f is security_groups else f for f in pipeline.FEATURES)


def time_once(switch, network_id, module, found):
    features = pipeline.FEATURES
    pipeline.FEATURES = with_module(module)
    try:
        started = time.perf_counter()
        flows = pipeline.switch_flows(switch)
        found['switch_flows'].append(time.perf_counter() - started)
    finally:
        pipeline.FEATURES = features
    members = pipeline.active_ports(switch.replica, switch.ports)
    started = time.perf_counter()
    module.network_flows(switch, network_id, members)
    found['network_flows'].append(time.perf_counter() - started)
    started = time.perf_counter()
    flow_changes(flows, flows)
    found['flow_changes'].append(time.perf_counter() - started)
    found['flows'] = len(flows)
    return flows


def mmm(values):
    values = sorted(v * 1000 for v in values)
    return '%.0f / %.0f / %.0f' % (values[0], statistics.median(values), values[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--ports', type=int, default=500)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--baseline', metavar='REF',
                        help='also time security_groups.py at this git commit')
    parser.add_argument('--profile', action='store_true',
                        help="print cProfile's view of one switch_flows")
    args = parser.parse_args(argv)
    workdir = tempfile.mkdtemp(prefix='bench-sg-compute-')
    try:
        started = time.perf_counter()
        switch, network_id = build('sqlite:///' + os.path.join(workdir, 'state.db'),
                                   args.ports)
        print('model of %d ports made in %.1f s' % (args.ports, time.perf_counter() - started),
              flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(pipeline.switch_flows, switch)
        pstats.Stats(profile).sort_stats('cumulative').print_stats(30)
        pstats.Stats(profile).sort_stats('tottime').print_stats(20)
        return 0
    modules = [('working tree', security_groups)]
    if args.baseline:
        modules.insert(0, (args.baseline, load_module(args.baseline)))
    found = {label: collections.defaultdict(list) for label, _ in modules}
    outputs = {}
    for _ in range(args.runs):
        for label, module in modules:  # interleaved: both see the same load
            outputs[label] = time_once(switch, network_id, module, found[label])
    if args.baseline:
        assert outputs[args.baseline] == outputs['working tree'], \
            'the working tree computes other flows than %s' % args.baseline
        print('same %d flows as %s' % (len(outputs[args.baseline]), args.baseline))
    print(table(['code', 'ports', 'flows', 'runs', 'pipeline.switch_flows ms',
                 'of which security_groups.network_flows ms',
                 'flow_changes (nothing changed) ms'],
                [[label, args.ports, found[label]['flows'], args.runs,
                  mmm(found[label]['switch_flows']), mmm(found[label]['network_flows']),
                  mmm(found[label]['flow_changes'])] for label, _ in modules]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
