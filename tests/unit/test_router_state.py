"""What a network node holds for its routers, and what a compute host's
VRFs route toward them (no kernel needed)."""

import subprocess
from unittest import mock

import pytest

from srv6_ofapp.dataplane import host_state
from srv6_ofapp.dataplane import router_driver
from srv6_ofapp.dataplane import router_state
from srv6_ofapp.dataplane.host_state import UPLINK
from srv6_ofapp.dataplane.route_codec import Route, normalize
from srv6_ofapp.dataplane.router_state import DECAP_NEXTHOP, EXTERNAL
from tests import routerworld

ROUTER_SID = 'fd00::8:0:0:a9fe:9'     # gw1's prefix, vrf_ip 169.254.0.9
VRF_SID = 'fd00::1:0:0:a9fe:1'        # hv1's VRF of alpha's network


def test_a_router_on_its_network_node():
    world = routerworld.world(fips=[('203.0.113.20', '10.0.0.5')])
    state = router_state.routers_state(routerworld.replica(world), world['gw1'])
    router = state.routers[world['router']['id']]
    assert router == router_state.Router(
        world['router']['id'], ROUTER_SID,
        router_state.External('fa:16:3e:00:aa:01', ('203.0.113.10/24',), '203.0.113.1', True),
        (('203.0.113.20', '10.0.0.5'),), ('10.0.0.0/24',))
    assert state.routes[router.id] == frozenset({
        Route(ROUTER_SID + '/128', UPLINK, 'decap', nh4=DECAP_NEXTHOP),
        Route('10.0.0.5/32', UPLINK, 'encap', (VRF_SID,)),
        Route('0.0.0.0/0', EXTERNAL, 'dev', via='203.0.113.1'),
    })
    for route in state.routes[router.id]:
        assert normalize(route) == route


def test_other_hosts_hold_no_router():
    world = routerworld.world()
    view = routerworld.replica(world)
    assert router_state.routers_state(view, world['hv1']) == router_state.nothing()
    assert router_state.routers_state(view, None) == router_state.nothing()


@pytest.mark.parametrize('change', [
    lambda w: w['router'].update(host=None),              # not scheduled
    lambda w: w['router'].update(admin_state_up=False),   # administratively down
    lambda w: w['docs'].update(routerallocations=[]),     # no SID yet
])
def test_a_router_without_a_sid_is_not_built(change):
    world = routerworld.world()
    change(world)
    view = routerworld.replica(world)
    assert router_state.routers_state(view, world['gw1']).routers == {}
    # ... and the network's VRFs have no default route toward it.
    routes = host_state.host_state(view, world['hv1']).routes[world['vrf']]
    assert not [r for r in routes if r.dst == '0.0.0.0/0']


def test_without_gateway_no_external_port_no_nat():
    world = routerworld.world(fips=[('203.0.113.20', '10.0.0.5')])
    world['router']['external_gateway_info'] = None
    state = router_state.routers_state(routerworld.replica(world), world['gw1'])
    [router] = state.routers.values()
    assert router.external is None and router.floating_ips == ()
    assert router_state.nat_ruleset(router) == ''
    assert not [r for r in state.routes[router.id] if r.oif == EXTERNAL]


def test_only_bound_vms_of_attached_subnets_are_routed_back():
    world = routerworld.world(extra_ports=['10.0.0.6'])
    world['vms'][1]['binding:host_id'] = ''     # created, not bound yet
    state = router_state.routers_state(routerworld.replica(world), world['gw1'])
    dsts = {r.dst for r in state.routes[world['router']['id']]}
    assert '10.0.0.5/32' in dsts and '10.0.0.6/32' not in dsts
    # The interface port (the subnet's gateway IP) is no VM.
    assert '10.0.0.1/32' not in dsts


def test_compute_vrfs_send_outbound_traffic_to_the_router():
    world = routerworld.world()
    view = routerworld.replica(world)
    routes = host_state.host_state(view, world['hv1'],
                                   default_route_sid='fd00:0:0:ff::1').routes[world['vrf']]
    # The router wins over --default-route-sid, which stays for networks without one.
    assert Route('0.0.0.0/0', UPLINK, 'encap', (ROUTER_SID,)) in routes
    world['router']['interfaces'] = []
    view = routerworld.replica(world)
    routes = host_state.host_state(view, world['hv1'],
                                   default_route_sid='fd00:0:0:ff::1').routes[world['vrf']]
    assert Route('0.0.0.0/0', UPLINK, 'encap', ('fd00:0:0:ff::1',)) in routes


def test_nat_ruleset():
    world = routerworld.world(fips=[('203.0.113.21', '10.0.0.6'), ('203.0.113.20', '10.0.0.5')],
                              extra_ports=['10.0.0.6'])
    [router] = router_state.routers_state(routerworld.replica(world),
                                          world['gw1']).routers.values()
    ruleset = router_state.nat_ruleset(router)
    assert 'elements = { 203.0.113.20 : 10.0.0.5, 203.0.113.21 : 10.0.0.6 }' in ruleset
    assert 'elements = { 10.0.0.5 : 203.0.113.20, 10.0.0.6 : 203.0.113.21 }' in ruleset
    assert 'oifname "qg" ip saddr @internal snat to 203.0.113.10' in ruleset
    assert 'iifname "qg" drop' in ruleset
    # No SNAT: the attached subnets are routed as they are, in both directions.
    no_snat = router._replace(external=router.external._replace(enable_snat=False))
    ruleset = router_state.nat_ruleset(no_snat)
    assert 'snat to 203.0.113.10' not in ruleset
    assert 'iifname "qg" ip daddr @internal accept' in ruleset


def test_the_floating_ips_a_node_makes_work_are_reported_active():
    world = routerworld.world(fips=[('203.0.113.20', '10.0.0.5')])
    [fip] = world['docs']['floatingips']
    replica = routerworld.replica(world)
    state = router_state.routers_state(replica, world['gw1'])
    router_id = world['router']['id']
    assert router_state.floating_ips_to_activate(replica, state) == {
        fip['id']: (router_id, '203.0.113.20', '10.0.0.5')}
    # Already ACTIVE: nothing to say.
    fip['status'] = 'ACTIVE'
    assert router_state.floating_ips_to_activate(routerworld.replica(world), state) == {}
    # Not what the node applied (moved since): not its to say.
    fip.update(status='DOWN', fixed_ip_address='10.0.0.6')
    assert router_state.floating_ips_to_activate(routerworld.replica(world), state) == {}


def test_floating_ips_gone_are_those_whose_mapping_went():
    a, b = ('203.0.113.20', '10.0.0.5'), ('203.0.113.21', '10.0.0.6')
    world = routerworld.world(fips=[a, b], extra_ports=['10.0.0.6'])
    [router] = router_state.routers_state(routerworld.replica(world),
                                          world['gw1']).routers.values()
    gone = router_state.floating_ips_gone
    assert gone(router, router) == []
    assert gone(router, router._replace(floating_ips=(b,))) == ['203.0.113.20']
    # Moved to another VM: the old connections go too.
    moved = router._replace(floating_ips=(('203.0.113.20', '10.0.0.6'), b))
    assert gone(router, moved) == ['203.0.113.20']
    # Without a gateway no floating IP is mapped; pairs read from the kernel.
    assert gone([a, b], router._replace(external=None)) == ['203.0.113.20', '203.0.113.21']
    assert gone([], router) == []


@pytest.mark.skipif(subprocess.run(['which', 'nft'], capture_output=True).returncode != 0,
                    reason='nft is not installed')
@pytest.mark.parametrize('fips', [(), (('203.0.113.20', '10.0.0.5'),)])
def test_nft_accepts_the_ruleset(fips):
    world = routerworld.world(fips=fips)
    [router] = router_state.routers_state(routerworld.replica(world),
                                          world['gw1']).routers.values()
    # --check parses and validates without touching the kernel's ruleset.
    text = 'table ip srv6_nat\ndelete table ip srv6_nat\n' + router_state.nat_ruleset(router)
    result = subprocess.run(['nft', '--check', '-f', '-'], input=text, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr


def test_digest_follows_everything_but_routes():
    world = routerworld.world()
    [router] = router_state.routers_state(routerworld.replica(world),
                                          world['gw1']).routers.values()
    assert router_state.digest(router) == router_state.digest(router._replace())
    assert router_state.digest(router) != router_state.digest(
        router._replace(floating_ips=(('203.0.113.20', '10.0.0.5'),)))
    # Rules written by another release: rewritten on the first start.
    old_rules = router_state.nat_ruleset(router).replace('chain from_external', 'chain old')
    with mock.patch.object(router_state, 'nat_ruleset', return_value=old_rules):
        old_digest = router_state.digest(router)
    assert old_digest != router_state.digest(router)


def test_router_namespaces_of_clusters_and_simulated_hosts_do_not_meet():
    host = {'name': 'gw1'}
    assert router_driver.netns_prefix(host) == ''
    assert router_driver.netns_prefix(host, 'east') == 'east-'
    assert router_driver.netns_prefix(dict(host, netns='gwns'), 'east') == 'gwns-east-'
    driver = router_driver.RouterDriver(dict(host, netns='gwns'), 'east')
    netns = driver.router_netns('0123456789ab-cdef')
    assert netns == 'gwns-east-rtr0123456789a'
    assert driver._name.match(netns)
    assert not router_driver.RouterDriver(dict(host, netns='gwns'), 'west')._name.match(netns)
    assert not router_driver.RouterDriver(dict(host, netns='gwns'))._name.match(netns)
    assert driver._link_of(netns) == 'rr-0123456789a'
    assert driver._external_link_of(netns) == 'qg-0123456789a'
