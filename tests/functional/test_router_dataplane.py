"""A network node's routers on the real kernel, driven from a replica of
the model (router_state -> router_driver), without the API: north-south
through SNAT and floating IPs, restarts that write nothing, changes that
touch only their own router, and the routers of two clusters side by side.

The lab, in namespaces: a compute host's VRF for 10.0.0.0/24 reduced to
what matters here (the VM's address, a default route encapsulated toward
the router's SID, the VRF's End.DX4 SID), an IPv6 underlay to the network
node gw1, whose external interface ext0 faces the "internet" host
203.0.113.1/24.
"""

import contextlib
import os
import re

import pytest

from srv6_ofapp.dataplane import router_state
from srv6_ofapp.dataplane.router_driver import RouterDriver
from tests import netlab
from tests import routerworld

pytestmark = pytest.mark.skipif(netlab.unavailable_reason(('nft', 'tcpdump')) is not None,
                                reason=str(netlab.unavailable_reason(('nft', 'tcpdump'))))

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


@contextlib.contextmanager
def lab(clusters=1):
    made = Lab(clusters)
    try:
        yield made
    finally:
        made.close()


def apply(world, cluster='', driver=None):
    """A fresh driver (as after a restart) unless given; returns (driver, changes)."""
    replica = routerworld.replica(world)
    if driver is None:
        driver = RouterDriver(world['gw1'], cluster)
        driver.load()
    changes = driver.apply(router_state.routers_state(replica, world['gw1']))
    return driver, changes


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


def test_snat_floating_ip_restart_and_removal():
    with lab() as net:
        world = net.world()
        driver, changes = apply(world)
        assert changes > 0
        # Out through SNAT: the internet sees the router's external address.
        assert net.ping_out()
        assert net.sources_seen_outside() == {'203.0.113.10'}
        # From outside, the VM is out of reach (no floating IP yet).
        assert not net.ping_in(VM, count=1, timeout=1)

        # A floating IP: reachable from outside, and the VM's source outbound.
        fip = net.world(fips=[('203.0.113.20', VM)], router_id=world['router']['id'])
        before = snapshot(net)
        driver, changes = apply(fip, driver=driver)
        assert changes == 1          # the router's NAT and addresses, no route
        assert net.ping_in('203.0.113.20')
        assert net.sources_seen_outside() == {'203.0.113.20'}
        after = snapshot(net)
        assert after[net.gw] == before[net.gw]   # the host's routes untouched

        # A restart with nothing changed writes nothing.
        driver.close()
        driver, changes = apply(fip)
        assert changes == 0
        assert snapshot(net) == after
        assert net.ping_in('203.0.113.20') and net.ping_out()

        # Disassociating the floating IP: back to SNAT.
        driver, changes = apply(world, driver=driver)
        assert not net.ping_in('203.0.113.20', count=1, timeout=1)
        assert net.sources_seen_outside() == {'203.0.113.10'}

        # Removing the gateway cuts the path; removing the router takes it all.
        world['router']['external_gateway_info'] = None
        driver, _ = apply(world, driver=driver)
        assert not net.ping_out(count=1, timeout=1)
        [router_ns] = net.router_namespaces()
        assert nat_ruleset(router_ns) == ''
        world['docs']['routers'] = []
        driver, _ = apply(world, driver=driver)
        assert net.router_namespaces() == []
        assert ROUTER_SID not in sh('ip', '-n', net.gw, '-6', 'route').stdout
        driver.close()


def test_interface_removal_cuts_the_path_back():
    with lab() as net:
        world = net.world()
        driver, _ = apply(world)
        assert net.ping_out()
        world['router']['interfaces'] = []
        driver, _ = apply(world, driver=driver)
        # No route back to the VM, and its subnet no longer SNATed.
        assert not net.ping_out(count=1, timeout=1)
        driver.close()


def test_without_snat_the_subnet_is_routed_as_it_is():
    with lab() as net:
        world = net.world(enable_snat=False)
        driver, _ = apply(world)
        sh('ip', '-n', net.inet, 'route', 'add', '10.0.0.0/24', 'via', '203.0.113.10')
        assert net.sources_seen_outside() == {VM}
        assert net.ping_in(VM)
        driver.close()


def test_two_clusters_with_identical_addresses_share_one_gateway():
    with lab(clusters=2) as net:
        east, west = net.world(0), net.world(1)
        east_driver, _ = apply(east, 'east')
        west_driver, _ = apply(west, 'west')
        assert len(net.router_namespaces()) == 2
        # The same VM address in both clusters, each out through its own router.
        assert net.sources_seen_outside(0) == {'203.0.113.10'}
        assert net.sources_seen_outside(1) == {'203.0.113.11'}
        # A restart of one cluster's driver neither sees nor touches the other's.
        west_driver.close()
        before = snapshot(net)
        west_driver, changes = apply(west, 'west')
        assert changes == 0 and snapshot(net) == before
        west['docs']['routers'] = []
        west_driver, _ = apply(west, 'west', driver=west_driver)
        [left] = net.router_namespaces()
        assert left.startswith(net.gw + '-east-')
        assert net.ping_out(0) and not net.ping_out(1, count=1, timeout=1)
        east_driver.close()
        west_driver.close()
