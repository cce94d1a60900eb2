"""Where each driver puts a host's routes (no kernel needed)."""

import pytest

from srv6_ofapp.dataplane import host_state as hostplane
from srv6_ofapp.dataplane import route_codec as routes
from srv6_ofapp.dataplane import vrf_drivers as vrf_driver

NET = '0d1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9'
VRF = hostplane.Vrf('vrfalpha0d1b2c', NET, '169.254.0.7', 'fd00::1:0:0:a9fe:7',
                    ('10.0.0.1/24',))
STATE = hostplane.HostState({VRF.name: VRF}, {
    hostplane.Route(VRF.name, '10.0.0.11/32', 'gateway', ()),
    hostplane.Route(VRF.name, '10.0.0.12/32', 'encap', ('fd00::2:0:0:a9fe:1',)),
    hostplane.Route(VRF.name, 'fd00::1:0:0:a9fe:7/128', 'decap', ()),
})
HOST = {'id': 'h', 'name': 'hv1', 'netns': 'hv1ns', 'bridge': 'br-int', 'ovsdb': None}


def flatten(desired):
    return {(ns, r.table, r.dst): r for ns, wanted in desired.items()
            for r in wanted.values()}


def test_netns_driver_routes_the_sid_into_the_vrf_namespace():
    driver = vrf_driver.NetnsDriver(HOST, 'fa:16:3f:00:00:01')
    got = flatten(driver._desired_routes(STATE))
    ns = 'hv1ns-vrfalpha0d1b2c'
    assert got == {
        ('hv1ns', 254, 'fd00::1:0:0:a9fe:7/128'): routes.Route(
            'fd00::1:0:0:a9fe:7/128', 'vr-alpha0d1b2c', 'dev', via='fe80::2'),
        (ns, 254, '::/0'): routes.Route('::/0', 'uplink', 'dev', via='fe80::1'),
        (ns, 254, '169.254.0.7/32'): routes.Route('169.254.0.7/32', 'gw', 'dev'),
        (ns, 254, '10.0.0.11/32'): routes.Route('10.0.0.11/32', 'gw', 'dev'),
        (ns, 254, '10.0.0.12/32'): routes.Route('10.0.0.12/32', 'uplink', 'encap',
                                                ('fd00::2:0:0:a9fe:1',)),
        (ns, 254, 'fd00::1:0:0:a9fe:7/128'): routes.Route(
            'fd00::1:0:0:a9fe:7/128', 'uplink', 'decap', nh4='169.254.0.7'),
    }
    # Every one is a route the netlink layer accepts.
    for route in got.values():
        routes.normalize(route)


def test_vrf_device_driver_uses_the_vrf_table():
    driver = vrf_driver.VrfDeviceDriver(dict(HOST, netns=None), 'fa:16:3f:00:00:01')
    table = vrf_driver.vrf_table(VRF)
    assert table == 0xa9fe0007
    got = flatten(driver._desired_routes(STATE))
    assert got == {
        (None, table, '169.254.0.7/32'): routes.Route('169.254.0.7/32', 'gv-0d1b2c3d-4e',
                                                      'dev', table=table),
        (None, table, '10.0.0.11/32'): routes.Route('10.0.0.11/32', 'gv-0d1b2c3d-4e', 'dev',
                                                    table=table),
        (None, table, '10.0.0.12/32'): routes.Route('10.0.0.12/32', VRF.name, 'encap',
                                                    ('fd00::2:0:0:a9fe:1',), table=table),
        (None, 254, 'fd00::1:0:0:a9fe:7/128'): routes.Route(
            'fd00::1:0:0:a9fe:7/128', VRF.name, 'decap', nh4='169.254.0.7'),
    }
    for route in got.values():
        routes.normalize(route)


def test_auto_picks_netns_for_simulated_hosts_and_where_vrf_is_missing():
    assert isinstance(vrf_driver.make_driver('auto', HOST, 'fa:16:3f:00:00:01'),
                      vrf_driver.NetnsDriver)
    assert type(vrf_driver.make_driver('netns', HOST, 'm')) is vrf_driver.NetnsDriver
    assert type(vrf_driver.make_driver('vrf', HOST, 'm')) is vrf_driver.VrfDeviceDriver


@pytest.mark.parametrize('name', [VRF.name, vrf_driver.vrf_link_name(VRF.name),
                                  vrf_driver.gateway_slave_name(NET)])
def test_device_names_fit_ifnamsiz(name):
    assert len(name) <= 15
