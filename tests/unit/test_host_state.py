"""The desired kernel state of a host, computed from the model."""

import uuid

from srv6_ofapp.dataplane import host_state
from srv6_ofapp.dataplane.host_state import GATEWAY, UPLINK
from srv6_ofapp.dataplane.route_codec import Route, normalize
from srv6_ofapp.replica import Replica
from topology import naming


def _id():
    return str(uuid.uuid4())


HV1 = {'id': _id(), 'name': 'hv1', 'segment_node_id': 'fd00:0:0:1::', 'datapath_id': '1'}
HV2 = {'id': _id(), 'name': 'hv2', 'segment_node_id': 'fd00:0:0:2::', 'datapath_id': '2'}


def world(encap_rules=(), more_ports=()):
    net = {'id': _id(), 'tenant_id': 'projecta'}
    subnet = {'id': _id(), 'network_id': net['id'], 'cidr': '10.0.0.0/24',
              'gateway_ip': '10.0.0.1', 'created_at': 't'}

    def port(ip, host):
        return {'id': _id(), 'network_id': net['id'], 'binding:host_id': host,
                'fixed_ips': [{'subnet_id': subnet['id'], 'ip_address': ip}]}
    vrf = naming.vrf_name(net['tenant_id'], net['id'])
    docs = {
        'hosts': [HV1, HV2],
        'networks': [net],
        'subnets': [subnet],
        'ports': [port('10.0.0.2', 'hv1'), port('10.0.0.3', 'hv2'), port('10.0.0.4', 'hv2'),
                  port('10.0.0.9', 'nowhere')] + [port(ip, host) for ip, host in more_ports],
        'vrfallocations': [
            {'host': 'hv1', 'network_id': net['id'], 'vrf_ip': '169.254.0.1', 'vrf': vrf},
            {'host': 'hv2', 'network_id': net['id'], 'vrf_ip': '169.254.0.7', 'vrf': vrf}],
        'srv6_encap_networks': [{'id': _id(), 'network_id': net['id'],
                                 'encap_rules': list(encap_rules)}],
    }
    return Replica.from_docs(docs), net, vrf


def test_a_vrf_per_network_with_local_ports():
    view, net, vrf = world()
    state = host_state.host_state(view, HV1)
    assert state.vrfs == {vrf: host_state.Vrf(vrf, net['id'], '169.254.0.1',
                                              'fd00::1:0:0:a9fe:1', ('10.0.0.1/24',))}
    # A host without ports of the network has no VRF for it.
    other = dict(HV1, name='hv3', segment_node_id='fd00:0:0:3::')
    assert host_state.host_state(view, other) == host_state.HostState({}, {})
    assert host_state.host_state(view, None) == host_state.nothing()


def test_routes_local_remote_and_decap():
    view, net, vrf = world()
    hv2_sid = 'fd00::2:0:0:a9fe:7'
    routes = host_state.host_state(view, HV1).routes
    assert routes == {vrf: frozenset({
        # End.DX4 toward nh4 = vrf_ip resolves the inner destination on the gateway port
        Route('169.254.0.1/32', GATEWAY),
        Route('10.0.0.2/32', GATEWAY),
        Route('10.0.0.3/32', UPLINK, 'encap', (hv2_sid,)),
        Route('10.0.0.4/32', UPLINK, 'encap', (hv2_sid,)),
        Route('fd00::1:0:0:a9fe:1/128', UPLINK, 'decap', nh4='169.254.0.1'),
    })}
    hv2 = host_state.host_state(view, HV2).routes[vrf]
    assert Route('10.0.0.2/32', UPLINK, 'encap', ('fd00::1:0:0:a9fe:1',)) in hv2
    assert Route('10.0.0.3/32', GATEWAY) in hv2
    assert Route('fd00::2:0:0:a9fe:7/128', UPLINK, 'decap', nh4='169.254.0.7') in hv2
    # Every one is a route the netlink layer accepts, already in its canonical form.
    for route in routes[vrf] | hv2:
        assert normalize(route) == route


def test_encap_rules_and_default_route():
    view, net, vrf = world([{'destination': '10.200.0.0/24', 'nexthop': 'fd00:0:0:9::1'},
                            {'destination': '10.0.0.3/32', 'nexthop': 'fd00:0:0:9::2'}])
    routes = host_state.host_state(view, HV1, default_route_sid='fd00:0:0:ff::1').routes[vrf]
    assert Route('10.200.0.0/24', UPLINK, 'encap', ('fd00:0:0:9::1',)) in routes
    assert Route('0.0.0.0/0', UPLINK, 'encap', ('fd00:0:0:ff::1',)) in routes
    # A VM's own /32 wins over a rule for the same prefix.
    assert Route('10.0.0.3/32', UPLINK, 'encap', ('fd00::2:0:0:a9fe:7',)) in routes
    assert not any(r.segments == ('fd00:0:0:9::2',) for r in routes)


def test_a_local_vm_wins_over_a_remote_one():
    # (the model gives an address to one port; a replica may briefly hold both)
    view, net, vrf = world(more_ports=[('10.0.0.3', 'hv1')])
    routes = host_state.host_state(view, HV1).routes[vrf]
    assert Route('10.0.0.3/32', GATEWAY) in routes
    assert [r.dst for r in routes].count('10.0.0.3/32') == 1
