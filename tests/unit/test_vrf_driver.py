"""Where each driver puts a host's routes (no kernel needed)."""

import subprocess

import pytest

from srv6_ofapp.dataplane import host_state
from srv6_ofapp.dataplane import kernel_routes
from srv6_ofapp.dataplane import linux
from srv6_ofapp.dataplane import route_codec as routes
from srv6_ofapp.dataplane import vrf_drivers
from srv6_ofapp.dataplane.host_state import GATEWAY, UPLINK
from topology import naming

NET = '0d1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9'
VRF = host_state.Vrf('vrfalpha0d1b2c', NET, '169.254.0.7', 'fd00::1:0:0:a9fe:7',
                     ('10.0.0.1/24',))
# What host_state makes for this VRF: device roles, the main table.
STATE = host_state.HostState({VRF.name: VRF}, {VRF.name: frozenset({
    routes.Route('169.254.0.7/32', GATEWAY),
    routes.Route('10.0.0.11/32', GATEWAY),
    routes.Route('10.0.0.12/32', UPLINK, 'encap', ('fd00::2:0:0:a9fe:1',)),
    routes.Route('fd00::1:0:0:a9fe:7/128', UPLINK, 'decap', nh4='169.254.0.7'),
})})
HOST = {'id': 'h', 'name': 'hv1', 'netns': 'hv1ns', 'bridge': 'br-int', 'ovsdb': None}


def flatten(desired):
    return {(ns, r.table, r.dst): r for ns, wanted in desired.items()
            for r in wanted.values()}


def test_netns_driver_routes_the_sid_into_the_vrf_namespace():
    driver = vrf_drivers.NetnsDriver(HOST, 'fa:16:3f:00:00:01')
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
    driver = vrf_drivers.VrfDeviceDriver(dict(HOST, netns=None), 'fa:16:3f:00:00:01')
    table = vrf_drivers.vrf_table(VRF)
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
    assert isinstance(vrf_drivers.make_driver('auto', HOST, 'fa:16:3f:00:00:01'),
                      vrf_drivers.NetnsDriver)
    assert type(vrf_drivers.make_driver('netns', HOST, 'm')) is vrf_drivers.NetnsDriver
    assert type(vrf_drivers.make_driver('vrf', HOST, 'm')) is vrf_drivers.VrfDeviceDriver


@pytest.mark.parametrize('name', [VRF.name, naming.vrf_link_name(VRF.name),
                                  naming.gateway_slave_name(NET)])
def test_device_names_fit_ifnamsiz(name):
    assert len(name) <= 15


class FakeTable:
    """A RouteTable that holds routes in memory."""

    def __init__(self, netns):
        self.routes = set()

    def dump_ours(self):
        return set(self.routes)

    def apply(self, add=(), delete=()):
        self.routes = (self.routes - set(delete)) | set(add)

    def close(self):
        pass


class FakeOvsdb:
    def __init__(self):
        self.ports = {}

    def put_port(self, bridge, port):
        self.ports[port] = bridge

    def delete_port(self, port):
        self.ports.pop(port, None)


def test_vrf_device_driver_requests(monkeypatch):
    """The commands the l3mdev driver runs (this kernel cannot run them)."""
    commands, tables = [], {}

    def run(args, check=True, input=None):
        assert all(isinstance(arg, str) for arg in args), args
        commands.append(args)
        return subprocess.CompletedProcess(args, 0, '', '')

    def table(netns):
        return tables.setdefault(netns, FakeTable(netns))
    monkeypatch.setattr(linux, 'run', run)
    monkeypatch.setattr(kernel_routes, 'RouteTable', table)
    driver = vrf_drivers.VrfDeviceDriver(dict(HOST, netns=None), 'fa:16:3f:00:00:01')
    driver.ovsdb = FakeOvsdb()
    driver.load()
    assert driver.apply(STATE) > 0
    slave = naming.gateway_slave_name(NET)
    gateway_port = naming.gateway_port_name(NET)
    assert ['ip', 'link', 'add', VRF.name, 'type', 'vrf', 'table', str(0xa9fe0007)] in commands
    assert ['ip', 'link', 'set', slave, 'master', VRF.name, 'address',
            'fa:16:3f:00:00:01'] in commands
    assert ['ip', 'addr', 'replace', '10.0.0.1/24', 'dev', slave] in commands
    assert driver.ovsdb.ports == {gateway_port: 'br-int'}
    assert tables[None].routes == set(flatten(driver._desired_routes(STATE)).values())
    # Nothing changed: nothing to do.
    del commands[:]
    assert driver.apply(STATE) == 0 and commands == []
    # No VRF wanted any more: the device and the gateway port go.
    assert driver.apply(host_state.nothing()) > 0
    assert ['ip', 'link', 'del', VRF.name] in commands
    assert ['ip', 'link', 'del', gateway_port] in commands
    assert driver.ovsdb.ports == {}
