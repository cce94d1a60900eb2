"""A network node's lab on the real kernel, in namespaces: a compute host's
VRF per cluster for 10.0.0.0/24 reduced to what matters to a router (the
VM's address, a default route encapsulated toward the router's SID, the
VRF's End.DX4 SID), an IPv6 underlay to the network node gw1, whose
external interface ext0 faces the "internet" host 203.0.113.1/24.

The world's documents come from tests/routerworld.py; the routers are
made by whoever the test runs (a RouterDriver, a gateway process)."""

import contextlib
import os
import re
import shutil
import subprocess
import tempfile

from tests import netlab
from tests import routerworld

TOOLS = ('nft', 'tcpdump', 'conntrack')
INTERNET = '203.0.113.1'
VM = '10.0.0.5'
ROUTER_SID = 'fd00::8:0:0:a9fe:9'
VRF_SID = 'fd00::1:0:0:a9fe:1'
SOURCE = re.compile(r'length \d+: ([0-9.]+) > %s' % re.escape(INTERNET))


def sh(*args, check=True):
    return netlab.sh(list(args), check=check)


class Lab:
    """gw1 (namespace ``gw``), a compute VRF per cluster (``vrf<n>``) and the
    internet host (``inet``)."""

    def __init__(self, clusters=1):
        self.gw = netlab.unique('gw')
        self.inet = netlab.unique('inet')
        self.vrfs = [netlab.unique('vrf') for _ in range(clusters)]
        self.namespaces = [self.gw, self.inet] + self.vrfs
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _build(self):
        for ns in self.namespaces:
            netlab.netns_add(ns)
            sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
        sh('ip', 'link', 'add', 'ext0', 'netns', self.gw, 'type', 'veth', 'peer', 'name',
           'eth0', 'netns', self.inet)
        sh('ip', '-n', self.inet, 'addr', 'add', INTERNET + '/24', 'dev', 'eth0')
        sh('ip', '-n', self.inet, 'link', 'set', 'eth0', 'up')
        for n, vrf in enumerate(self.vrfs):
            # Cluster n's compute host: underlay fd0n::/64, SID prefixes
            # fd00:0:0:1::/64 (the VRF) and fd00:0:0:8:n::/80 (gw1's routers).
            underlay = 'fd0%d::' % n
            sh('ip', 'link', 'add', 'u%d' % n, 'netns', self.gw, 'type', 'veth', 'peer', 'name',
               'u0', 'netns', vrf)
            sh('ip', '-n', self.gw, 'addr', 'add', underlay + '8/64', 'dev', 'u%d' % n, 'nodad')
            sh('ip', '-n', vrf, 'addr', 'add', underlay + '1/64', 'dev', 'u0', 'nodad')
            sh('ip', '-n', self.gw, 'link', 'set', 'u%d' % n, 'up')
            sh('ip', '-n', vrf, 'link', 'set', 'u0', 'up')
            sh('ip', '-n', vrf, 'addr', 'add', VM + '/32', 'dev', 'lo')
            sh('ip', '-n', vrf, '-6', 'route', 'add', self.router_prefix(n), 'via',
               underlay + '8')
            sh('ip', '-n', self.gw, '-6', 'route', 'add', self.vrf_sid(n) + '/128', 'via',
               underlay + '1')
            sh('ip', '-n', vrf, 'route', 'add', '0.0.0.0/0', 'encap', 'seg6', 'mode', 'encap',
               'segs', self.router_sid(n), 'dev', 'u0', 'src', VM)
            sh('ip', '-n', vrf, '-6', 'route', 'add', self.vrf_sid(n) + '/128', 'encap',
               'seg6local', 'action', 'End.DX4', 'nh4', VM, 'dev', 'u0')
            sh('ip', 'netns', 'exec', vrf, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1')
        sh('ip', 'netns', 'exec', self.gw, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1')

    @staticmethod
    def segment_node_id(n):
        return 'fd00:0:0:8::' if n == 0 else 'fd00:0:0:8:%d::' % n

    def router_prefix(self, n):
        return self.segment_node_id(n) + '/80'

    def router_sid(self, n):
        return ROUTER_SID if n == 0 else 'fd00::8:%d:0:a9fe:9' % n

    @staticmethod
    def vrf_sid(n):
        # Both clusters' compute hosts use fd00:0:0:1::; the underlay keeps
        # them apart (each behind its own link) -- in the test, by vrf_ip.
        return VRF_SID if n == 0 else 'fd00::1:0:0:a9fe:%x' % (0x10 + n)

    def world(self, n=0, **kwargs):
        world = routerworld.world(netns=self.gw, **kwargs)
        world['gw1']['segment_node_id'] = self.segment_node_id(n)
        if n:
            world['docs']['vrfallocations'][0]['vrf_ip'] = '169.254.0.%d' % (0x10 + n)
            ext = world['router']['external_gateway_info']['external_fixed_ips'][0]
            ext['ip_address'] = '203.0.113.1%d' % n
        return world

    def ping_out(self, n=0, count=2, timeout=3):
        return sh('ip', 'netns', 'exec', self.vrfs[n], 'ping', '-c', count, '-W', timeout,
                  '-I', VM, INTERNET, check=False).returncode == 0

    def ping_in(self, address, count=2, timeout=3):
        return sh('ip', 'netns', 'exec', self.inet, 'ping', '-c', count, '-W', timeout,
                  address, check=False).returncode == 0

    def spawn_ping(self, n, log_name, count=60, interval=0.05):
        """A VM's ping of the internet host in the background; its log is
        ping_log(log_name)."""
        self.logs = getattr(self, 'logs', None) or tempfile.mkdtemp(prefix=netlab.PREFIX)
        with open(os.path.join(self.logs, log_name), 'wb') as log:
            return subprocess.Popen(
                ['ip', 'netns', 'exec', self.vrfs[n], 'ping', '-n', '-i', str(interval),
                 '-c', str(count), '-W', '1', '-I', VM, INTERNET],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def ping_log(self, log_name):
        with open(os.path.join(self.logs, log_name)) as log:
            return log.read()

    def sources_seen_outside(self, n=0):
        """The source addresses the internet host sees from a VM's ping."""
        with netlab.Capture('eth0', 'icmp and dst host %s' % INTERNET,
                            netns=self.inet) as capture:
            self.ping_out(n, count=1)
        return {match.group(1) for match in map(SOURCE.search, capture.stop()) if match}

    def router_namespaces(self):
        return sorted(n for n in os.listdir('/var/run/netns') if n.startswith(self.gw + '-'))

    def close(self):
        for ns in self.router_namespaces() if os.path.isdir('/var/run/netns') else ():
            netlab.netns_delete(ns)
        for ns in self.namespaces:
            netlab.netns_delete(ns)
        if getattr(self, 'logs', None):
            shutil.rmtree(self.logs, ignore_errors=True)


@contextlib.contextmanager
def lab(clusters=1):
    made = Lab(clusters)
    try:
        yield made
    finally:
        made.close()


def nat_ruleset(netns):
    return sh('ip', 'netns', 'exec', netns, 'nft', 'list', 'table', 'ip', 'srv6_nat',
              check=False).stdout


def snapshot(lab):
    """What a restart must leave alone: our routes, the addresses and the NAT
    of every router."""
    state = {}
    for ns in [lab.gw] + lab.router_namespaces():
        state[ns] = tuple(sh('ip', '-n', ns, family, 'route', 'show', 'table', 'all',
                             'proto', '83').stdout for family in ('-4', '-6')) + (
            sh('ip', '-n', ns, '-4', 'addr').stdout, nat_ruleset(ns))
    return state


def connections(netns, address):
    """How many of ``netns``'s conntrack entries ``address`` is the original
    destination (DNAT) or the reply destination (SNAT) of."""
    total = 0
    for flag in ('--orig-dst', '--reply-dst'):
        out = sh('ip', 'netns', 'exec', netns, 'conntrack', '-L', flag, address,
                 check=False).stdout
        total += sum(1 for line in out.splitlines() if line.strip())
    return total

