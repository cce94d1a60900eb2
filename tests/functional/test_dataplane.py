"""Two hosts, SRv6 between them, on the real kernel.

Each host is a private Open vSwitch whose namespace plays the host's kernel
(its ``netns`` attribute), with an IPv6 underlay between the two and a
third node offering a service reachable over SRv6. Two projects use the same
CIDR. One srv6-ofapp process drives both bridges (OpenFlow) and both
kernels (VRF namespaces, SRv6 routes); everything is registered over REST.
"""

import json
import os
import re
import time

import pytest

from srv6_ofapp.dataplane import vrf_drivers
from tests import netlab
from tests.twohosts import SERVICE_IP, V, AllInOne, TwoHosts, make_tenants, sh
from topology import vrf as vrf_lib

pytestmark = pytest.mark.skipif(netlab.unavailable_reason() is not None,
                                reason=str(netlab.unavailable_reason()))


@pytest.fixture(scope='module')
def hosts(tmp_path_factory):
    world = TwoHosts(AllInOne(tmp_path_factory.mktemp('dataplane')))
    yield world
    world.close()


@pytest.fixture(scope='module')
def tenants(hosts):
    return make_tenants(hosts)


def test_vms_reach_each_other_across_hosts_over_srv6(hosts, tenants):
    vms, alpha = tenants['vms'], tenants['alpha']
    a2_profile = hosts.api.get(V + '/ports/' + vms['a2'].port['id']).json()['port'][
        'binding:profile']
    a2_sid = vrf_lib.sid(a2_profile['segment_node_id'], a2_profile['vrf_ip'])
    underlay = netlab.Capture('u1', 'ip6', netns=hosts.ovs[1].netns).start()
    assert vms['a1'].ping(vms['a2'].ip, count=3, timeout=10)
    lines = underlay.stop()
    # IPv6 with a segment routing header toward alpha's VRF SID on hv2.
    toward = [line for line in lines if 'RT6' in line and a2_sid in line]
    assert toward, lines
    assert any('10.0.0.11 > 10.0.0.12' in line for line in toward)
    # The encap route on hv1 names that SID.
    route = [r for r in hosts.our_routes(hosts.vrf_ns(1, alpha)) if r['dst'] == '10.0.0.12']
    assert route and a2_sid in json.dumps(route)


def test_the_other_project_with_the_same_address_is_not_reached(hosts, tenants):
    vms = tenants['vms']
    watching = vms['b2'].capture('icmp', extra_args=['-Q', 'in'])
    assert vms['a1'].ping('10.0.0.12', count=2, timeout=6)   # alpha's own .12
    assert watching.stop() == []                             # beta's .12 saw nothing
    assert vms['b1'].ping('10.0.0.12', count=2, timeout=6)   # beta reaches its own


def test_encap_network_reaches_the_service_for_its_project_only(hosts, tenants):
    vms = tenants['vms']
    assert vms['a1'].ping(SERVICE_IP, count=3, timeout=10)
    assert not vms['b1'].ping(SERVICE_IP, count=2, timeout=3)


def test_restart_leaves_routes_untouched(hosts, tenants):
    vms, alpha = tenants['vms'], tenants['alpha']
    ns = hosts.vrf_ns(1, alpha)
    before = hosts.our_routes(ns)
    host_before = hosts.our_routes(hosts.ovs[1].netns)
    ping = vms['a1'].spawn(['ping', '-n', '-i', '0.05', '-c', '120', '-W', '1', vms['a2'].ip],
                           'dataplane-restart-ping.log')
    time.sleep(0.5)
    log_size = hosts.controllers.server.restart(ready='synced')
    assert ping.wait(30) == 0
    summary = open(os.path.join(vms['a1'].dir, 'dataplane-restart-ping.log')).read()
    assert ' 0% packet loss' in summary, summary
    time.sleep(1)  # give the agent time to (not) act
    assert hosts.our_routes(ns) == before
    assert hosts.our_routes(hosts.ovs[1].netns) == host_before
    assert not re.search(r'routes added or replaced|creating VRF|deleting VRF',
                         hosts.controllers.server.log_since(log_size))


def test_deleting_the_encap_network_removes_its_route(hosts, tenants):
    alpha, vms = tenants['alpha'], tenants['vms']
    [encap] = hosts.api.get(V + '/srv6_encap_networks',
                            params={'network_id': alpha['id']}).json()['srv6_encap_networks']
    assert hosts.api.delete(V + '/srv6_encap_networks/' + encap['id']).status_code == 204
    hosts.wait_for_route(hosts.vrf_ns(1, alpha), SERVICE_IP + '/32', present=False)
    assert not vms['a1'].ping(SERVICE_IP, count=1, timeout=2)


def test_deleting_a_port_removes_its_routes_everywhere(hosts, tenants):
    vms, alpha = tenants['vms'], tenants['alpha']
    a2 = vms['a2']
    hosts.api.delete(V + '/ports/' + a2.port['id'])
    # hv1 forgets the route to it, and hv2, which has no alpha port left,
    # loses alpha's VRF altogether.
    hosts.wait_for_route(hosts.vrf_ns(1, alpha), a2.ip, present=False)
    netlab._wait(lambda: not os.path.exists('/var/run/netns/' + hosts.vrf_ns(2, alpha)), 20,
                 'alpha VRF gone from hv2')
    assert not vms['a1'].ping(a2.ip, count=1, timeout=2)



@pytest.mark.skipif(not vrf_drivers.vrf_device_supported(),
                    reason='this kernel has no CONFIG_NET_VRF (ip link add type vrf '
                           'fails): the l3mdev driver runs on production kernels only')
def test_vrf_device_driver_on_a_real_kernel():
    from srv6_ofapp.dataplane import host_state
    from srv6_ofapp.dataplane.host_state import GATEWAY, UPLINK
    from srv6_ofapp.dataplane.route_codec import Route
    lab = netlab.Lab()
    try:
        ovs = lab.ovs
        bridge = ovs.add_bridge()
        host = {'id': 'h', 'name': 'hv', 'netns': ovs.netns, 'bridge': bridge,
                'ovsdb': 'unix:' + ovs.db_sock}
        net = '0d1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9'
        vrf = host_state.Vrf('vrfalpha0d1b2c', net, '169.254.0.7', 'fd00::1:0:0:a9fe:7',
                             ('10.0.0.1/24',))
        state = host_state.HostState({vrf.name: vrf}, {vrf.name: frozenset({
            Route('169.254.0.7/32', GATEWAY),
            Route('10.0.0.11/32', GATEWAY),
            Route('10.0.0.12/32', UPLINK, 'encap', ('fd00::2:0:0:a9fe:1',)),
            Route('fd00::1:0:0:a9fe:7/128', UPLINK, 'decap', nh4='169.254.0.7')})})
        driver = vrf_drivers.VrfDeviceDriver(host, 'fa:16:3f:00:00:01')
        driver.load()
        assert driver.apply(state) > 0
        table = str(vrf_drivers.vrf_table(vrf))
        links = sh('ip', '-n', ovs.netns, '-d', 'link', 'show', vrf.name).stdout
        assert 'vrf table ' + table in links
        in_table = sh('ip', '-n', ovs.netns, 'route', 'show', 'table', table).stdout
        assert '10.0.0.11' in in_table and 'seg6' in in_table
        # A second driver reads it all back: nothing more to do.
        again = vrf_drivers.VrfDeviceDriver(host, 'fa:16:3f:00:00:01')
        again.load()
        again.vrfs[vrf.name] = vrf
        assert again.apply(state) == 0
        assert driver.apply(host_state.nothing()) > 0
        assert vrf.name not in sh('ip', '-n', ovs.netns, 'link', 'show').stdout
        driver.close()
        again.close()
    finally:
        lab.close()


def test_a_vrf_emptied_while_the_controller_was_down_is_removed_on_start(hosts, tenants):
    """The store is the truth: a port deleted while nothing ran (here through
    the model directly) takes its VRF and gateway port with it at start."""
    from srv6_ofapp.model import plugin as plugin_lib
    from srv6_ofapp import store as store_lib
    from topology import naming
    beta, b1 = tenants['beta'], tenants['vms']['b1']
    ns = hosts.vrf_ns(1, beta)
    gateway_port = naming.gateway_port_name(beta['id'])
    assert os.path.exists('/var/run/netns/' + ns)
    assert gateway_port in hosts.ovs[1].vsctl('list-ports', hosts.bridges[1]).split()
    assert hosts.controllers.server.stop() == 0
    store = store_lib.open_store('sqlite:///' + hosts.controllers.server.store_path)
    try:
        plugin_lib.Plugin(store).delete(plugin_lib.Context('admin', is_admin=True), 'ports',
                                        b1.port['id'])
    finally:
        store.close()
    hosts.controllers.server.start()
    netlab._wait(lambda: not os.path.exists('/var/run/netns/' + ns), 20, 'beta VRF gone')
    assert gateway_port not in hosts.ovs[1].vsctl('list-ports', hosts.bridges[1]).split()
