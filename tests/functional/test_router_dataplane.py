"""A network node's routers on the real kernel, driven from a replica of
the model (router_state -> router_driver), without the API: north-south
through SNAT and floating IPs, restarts that write nothing, changes that
touch only their own router, and the routers of two clusters side by side
(the lab: tests/routerlab.py).
"""

import time

import pytest

from srv6_ofapp.dataplane import router_state
from srv6_ofapp.dataplane.router_driver import RouterDriver
from tests import netlab
from tests import routerworld
from tests.routerlab import (INTERNET, ROUTER_SID, SOURCE, TOOLS, VM, connections, lab,
                             nat_ruleset, sh, snapshot)

pytestmark = pytest.mark.skipif(netlab.unavailable_reason(TOOLS) is not None,
                                reason=str(netlab.unavailable_reason(TOOLS)))


def apply(world, cluster='', driver=None):
    """A fresh driver (as after a restart) unless given; returns (driver, changes)."""
    replica = routerworld.replica(world)
    if driver is None:
        driver = RouterDriver(world['gw1'], cluster)
        driver.load()
    changes = driver.apply(router_state.routers_state(replica, world['gw1']))
    return driver, changes


def test_snat_floating_ip_restart_and_removal():
    with lab() as net:
        world = net.world()
        driver, changes = apply(world)
        assert changes > 0
        # Out through SNAT: the internet sees the router's external address.
        assert net.ping_out()
        assert net.sources_seen_outside() == {'203.0.113.10'}
        # From outside, the VM is out of reach (no floating IP yet), even
        # for a neighbour routing the subnet to the router: what it sends
        # is routed into an SRv6 encap route, whose packets the kernel hands
        # to the tunnel before the forward hook (the filter is at prerouting).
        sh('ip', '-n', net.inet, 'route', 'add', '10.0.0.0/24', 'via', '203.0.113.10')
        assert not net.ping_in(VM, count=1, timeout=1)
        assert net.ping_out()

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


def test_a_disassociated_floating_ip_ends_its_connections():
    """conntrack remembers a connection's NAT: without forgetting it, a VM's
    connection that went out as its floating IP would go on doing so (and
    be answered through it) after the floating IP was disassociated.  The
    same after a restart, when the driver learns the old mappings from the
    kernel's map.  (What comes in to a floating IP is not confirmed in the
    router's conntrack: it leaves through a seg6 encap route on input, so
    the VM's answer is what conntrack keeps.)"""
    fip = '203.0.113.20'
    with lab() as net:
        plain = net.world()
        floating = net.world(fips=[(fip, VM)], router_id=plain['router']['id'])
        driver, _ = apply(floating)
        [router_ns] = net.router_namespaces()
        pinging = net.spawn_ping(0, 'out', count=400, interval=0.02)
        try:
            wait_until(lambda: net.ping_log('out').count('bytes from') >= 5)
            assert connections(router_ns, fip) == 1
            driver, _ = apply(plain, driver=driver)
            assert connections(router_ns, fip) == 0
            # The same ping goes on, now as the router's address.
            with netlab.Capture('eth0', 'icmp and dst host %s' % INTERNET,
                                netns=net.inet) as capture:
                time.sleep(0.5)
            seen = {m.group(1) for m in map(SOURCE.search, capture.stop()) if m}
            assert seen == {'203.0.113.10'}
        finally:
            pinging.kill()
            pinging.wait()

        # Again, with the driver restarted in between.
        driver, _ = apply(floating, driver=driver)
        assert net.ping_out() and connections(router_ns, fip) == 1
        driver.close()
        driver, changes = apply(plain)
        assert changes >= 1 and connections(router_ns, fip) == 0
        driver.close()


def wait_until(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, 'timed out'
        time.sleep(0.05)


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
