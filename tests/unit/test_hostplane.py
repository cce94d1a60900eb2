"""The desired kernel state of a host, computed from the model."""

import uuid

from srv6_ofapp.dataplane import host_state as hostplane
from srv6_ofapp.replica import Replica
from topology import naming


def _id():
    return str(uuid.uuid4())


HV1 = {'id': _id(), 'name': 'hv1', 'segment_node_id': 'fd00:0:0:1::', 'datapath_id': '1'}
HV2 = {'id': _id(), 'name': 'hv2', 'segment_node_id': 'fd00:0:0:2::', 'datapath_id': '2'}


def world(encap_rules=()):
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
                  port('10.0.0.9', 'nowhere')],
        'vrfallocations': [
            {'host': 'hv1', 'network_id': net['id'], 'vrf_ip': '169.254.0.1', 'vrf': vrf},
            {'host': 'hv2', 'network_id': net['id'], 'vrf_ip': '169.254.0.7', 'vrf': vrf}],
        'srv6_encap_networks': [{'id': _id(), 'network_id': net['id'],
                                 'encap_rules': list(encap_rules)}],
    }
    return Replica.from_docs(docs), net, vrf


def test_a_vrf_per_network_with_local_ports():
    view, net, vrf = world()
    state = hostplane.host_state(view, HV1)
    assert state.vrfs == {vrf: hostplane.Vrf(vrf, net['id'], '169.254.0.1',
                                             'fd00::1:0:0:a9fe:1', ('10.0.0.1/24',))}
    # A host without ports of the network has no VRF for it.
    other = dict(HV1, name='hv3', segment_node_id='fd00:0:0:3::')
    assert hostplane.host_state(view, other) == hostplane.HostState({}, set())


def test_routes_local_remote_and_decap():
    view, net, vrf = world()
    hv2_sid = 'fd00::2:0:0:a9fe:7'
    assert hostplane.host_state(view, HV1).routes == {
        hostplane.Route(vrf, '10.0.0.2/32', 'gateway', ()),
        hostplane.Route(vrf, '10.0.0.3/32', 'encap', (hv2_sid,)),
        hostplane.Route(vrf, '10.0.0.4/32', 'encap', (hv2_sid,)),
        hostplane.Route(vrf, 'fd00::1:0:0:a9fe:1/128', 'decap', ()),
    }
    hv2 = hostplane.host_state(view, HV2).routes
    assert hostplane.Route(vrf, '10.0.0.2/32', 'encap', ('fd00::1:0:0:a9fe:1',)) in hv2
    assert hostplane.Route(vrf, '10.0.0.3/32', 'gateway', ()) in hv2


def test_encap_rules_and_default_route():
    view, net, vrf = world([{'destination': '10.200.0.0/24', 'nexthop': 'fd00:0:0:9::1'},
                            {'destination': '10.0.0.3/32', 'nexthop': 'fd00:0:0:9::2'}])
    routes = hostplane.host_state(view, HV1, default_route_sid='fd00:0:0:ff::1').routes
    assert hostplane.Route(vrf, '10.200.0.0/24', 'encap', ('fd00:0:0:9::1',)) in routes
    assert hostplane.Route(vrf, '0.0.0.0/0', 'encap', ('fd00:0:0:ff::1',)) in routes
    # A VM's own /32 wins over a rule for the same prefix.
    assert hostplane.Route(vrf, '10.0.0.3/32', 'encap', ('fd00::2:0:0:a9fe:7',)) in routes
    assert not any(r.segments == ('fd00:0:0:9::2',) for r in routes)
