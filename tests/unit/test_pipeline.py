"""The edge pipeline, run on a fake flow table: no switch needed."""

import uuid

import pytest

from srv6_ofapp.edge import flows as flows_lib
from srv6_ofapp.edge import pipeline
from srv6_ofapp.replica import Replica
from tests.fakeoftable import FakeOFTable
from topology import naming
from topology.switch_ports import LocalPort, SwitchPorts

GW_MAC = 'fa:16:3f:00:00:01'
CONFIG = pipeline.EdgeConfig(GW_MAC)
BCAST = 'ff:ff:ff:ff:ff:ff'


def _id():
    return str(uuid.uuid4())


def network(**extra):
    return dict({'id': _id(), 'tenant_id': 'p1', 'shared': False, 'mtu': 1436,
                 'admin_state_up': True, 'port_security_enabled': True,
                 'created_at': '2026-01-01T00:00:00Z'}, **extra)


def subnet(net, cidr='10.0.0.0/24', gateway='10.0.0.1'):
    return {'id': _id(), 'network_id': net['id'], 'cidr': cidr, 'gateway_ip': gateway,
            'enable_dhcp': True, 'dns_nameservers': [], 'host_routes': [],
            'created_at': '2026-01-01T00:00:00Z'}


# A security group that lets anything in and out (IPv4): these tests are
# about everything but security groups (tests/unit/test_security_groups.py).
OPEN_GROUP = 'open-group'


def rule(group, direction, **extra):
    return dict({'id': _id(), 'security_group_id': group, 'direction': direction,
                 'ethertype': 'IPv4', 'protocol': None, 'port_range_min': None,
                 'port_range_max': None, 'remote_ip_prefix': None, 'remote_group_id': None,
                 'created_at': '2026-01-01T00:00:00Z'}, **extra)


OPEN_RULES = [rule(OPEN_GROUP, 'ingress'), rule(OPEN_GROUP, 'egress')]


def port(net, sub, ip, mac, **extra):
    return dict({'id': _id(), 'network_id': net['id'], 'mac_address': mac,
                 'fixed_ips': [{'subnet_id': sub['id'], 'ip_address': ip}],
                 'admin_state_up': True, 'port_security_enabled': True,
                 'security_groups': [OPEN_GROUP],
                 'allowed_address_pairs': [], 'binding:host_id': 'hv1', 'name': '',
                 'extra_dhcp_opts': [], 'status': 'DOWN'}, **extra)


class World:
    """Two projects with the same CIDR on one host, plus a VM elsewhere."""

    def __init__(self):
        self.net_a, self.net_b = network(), network(tenant_id='p2')
        self.sub_a, self.sub_b = subnet(self.net_a), subnet(self.net_b)
        self.a1 = port(self.net_a, self.sub_a, '10.0.0.11', 'fa:16:3e:00:00:11')
        self.a2 = port(self.net_a, self.sub_a, '10.0.0.12', 'fa:16:3e:00:00:12')
        self.a_remote = port(self.net_a, self.sub_a, '10.0.0.13', 'fa:16:3e:00:00:13',
                             **{'binding:host_id': 'hv2'})
        self.b1 = port(self.net_b, self.sub_b, '10.0.0.11', 'fa:16:3e:00:00:b1')
        self.ofports = {naming.tap_name(self.a1['id']): 1, naming.tap_name(self.a2['id']): 2,
                        naming.tap_name(self.b1['id']): 3, 'br-int': 0xfffe}

    def view(self, *extra_ports, groups=(), rules=()):
        return Replica.from_docs({
            'networks': [self.net_a, self.net_b], 'subnets': [self.sub_a, self.sub_b],
            'ports': [self.a1, self.a2, self.a_remote, self.b1] + list(extra_ports),
            'hosts': [{'id': _id(), 'name': 'hv1', 'datapath_id': '0000000000000001'}],
            'security_groups': [{'id': OPEN_GROUP, 'tenant_id': 'p1',
                                 'created_at': '2026-01-01T00:00:00Z'}] + list(groups),
            'security_group_rules': OPEN_RULES + list(rules)})

    def switch(self, view=None, ofports=None, iface_ids=None, **config):
        return pipeline.Switch(view or self.view(), SwitchPorts(ofports or self.ofports, iface_ids),
                               CONFIG._replace(**config), True)

    def flows(self, **switch):
        return pipeline.switch_flows(self.switch(**switch))

    def table(self, conntrack=None, **switch):
        """The switch's flows, sent through the wire and read back, ready to
        run (with the connections of ``conntrack``, a table's conntrack)."""
        return FakeOFTable.through_the_wire(self.flows(**switch), conntrack)


@pytest.fixture
def world():
    return World()


def ip_frame(in_port, src_port, dst_mac, dst_ip, **over):
    frame = {'in_port': in_port, 'eth_src': src_port['mac_address'], 'eth_dst': dst_mac,
             'eth_type': 0x0800, 'ipv4_src': src_port['fixed_ips'][0]['ip_address'],
             'ipv4_dst': dst_ip, 'ip_proto': 1}
    frame.update(over)
    return frame


def arp_request(in_port, src_port, target_ip, **over):
    frame = {'in_port': in_port, 'eth_src': src_port['mac_address'], 'eth_dst': BCAST,
             'eth_type': 0x0806, 'arp_op': 1, 'arp_sha': src_port['mac_address'],
             'arp_spa': src_port['fixed_ips'][0]['ip_address'], 'arp_tha': '00:00:00:00:00:00',
             'arp_tpa': target_ip}
    frame.update(over)
    return frame


def test_unicast_between_vms_of_a_network(world):
    out = world.table().process(ip_frame(1, world.a1, world.a2['mac_address'], '10.0.0.12'))
    assert [port for port, _ in out] == [2]


def test_nothing_is_flooded(world):
    table = world.table()
    assert table.process(ip_frame(1, world.a1, BCAST, '10.0.0.255')) == []
    assert table.process(ip_frame(1, world.a1, '01:00:5e:00:00:01', '224.0.0.1')) == []
    assert table.process(ip_frame(1, world.a1, 'fa:16:3e:99:99:99', '10.0.0.99')) == []


def test_same_cidr_networks_are_isolated(world):
    table = world.table()
    # a1 and b1 even share an IP; a1 cannot reach b1 by MAC ...
    assert table.process(ip_frame(1, world.a1, world.b1['mac_address'], '10.0.0.11')) == []
    # ... and ARP for 10.0.0.12 from b1's network is not a2's business.
    assert table.process(arp_request(3, world.b1, '10.0.0.12')) == [
        ('controller', table.process(arp_request(3, world.b1, '10.0.0.12'))[0][1])]


def test_spoofed_source_is_dropped(world):
    table = world.table()
    assert table.process(ip_frame(1, world.a1, world.a2['mac_address'], '10.0.0.12',
                                  eth_src='fa:16:3e:66:66:66')) == []
    assert table.process(ip_frame(1, world.a1, world.a2['mac_address'], '10.0.0.12',
                                  ipv4_src='10.0.0.66')) == []
    assert table.process(arp_request(1, world.a1, '10.0.0.12', arp_spa='10.0.0.66')) == []
    assert table.process(arp_request(1, world.a1, '10.0.0.12',
                                     arp_sha='fa:16:3e:66:66:66')) == []
    # A VM on port 1 cannot use port 2's identity either.
    assert table.process(ip_frame(1, world.a2, world.a1['mac_address'], '10.0.0.11')) == []


def test_arp_for_a_local_vm_becomes_unicast_to_it_only(world):
    [(out_port, frame)] = world.table().process(arp_request(1, world.a1, '10.0.0.12'))
    assert out_port == 2
    assert frame['eth_dst'] == world.a2['mac_address'] and frame['arp_op'] == 1


@pytest.mark.parametrize('target', ['10.0.0.1', '10.0.0.13'])
def test_arp_for_gateway_or_remote_vm_is_answered_with_the_gateway_mac(world, target):
    [(out_port, reply)] = world.table().process(arp_request(1, world.a1, target))
    assert out_port == 1
    assert reply['arp_op'] == 2
    assert (reply['eth_src'], reply['eth_dst']) == (GW_MAC, world.a1['mac_address'])
    assert (reply['arp_sha'], reply['arp_spa']) == (GW_MAC, target)
    assert (reply['arp_tha'], reply['arp_tpa']) == (world.a1['mac_address'], '10.0.0.11')


def test_probes_and_gratuitous_arp_are_never_answered(world):
    table = world.table()
    probe = arp_request(1, world.a1, '10.0.0.13', arp_spa='0.0.0.0')
    assert table.process(probe) == []
    # Its own address: the unicast conversion would send it back out of
    # its in_port, which OpenFlow does not do.
    assert table.process(arp_request(1, world.a1, '10.0.0.11')) == []


def test_unknown_arp_target_goes_to_the_controller_metered(world):
    table = world.table()
    [(out_port, _)] = table.process(arp_request(1, world.a1, '10.0.0.200'))
    assert out_port == 'controller' and table.meters_hit == [1]


def test_dhcp_goes_to_the_controller_metered(world):
    table = world.table()
    discover = {'in_port': 2, 'eth_src': world.a2['mac_address'], 'eth_dst': BCAST,
                'eth_type': 0x0800, 'ipv4_src': '0.0.0.0', 'ipv4_dst': '255.255.255.255',
                'ip_proto': 17, 'udp_src': 68, 'udp_dst': 67}
    assert [p for p, _ in table.process(discover)] == ['controller']
    renew = dict(discover, ipv4_src='10.0.0.12', ipv4_dst='10.0.0.1', eth_dst=GW_MAC)
    assert [p for p, _ in table.process(renew)] == ['controller']
    assert table.meters_hit == [2, 2]
    assert pipeline.meters(world.switch()) == {
        n: flows_lib.Meter(n, pipeline.PACKET_IN_RATE_PPS, pipeline.PACKET_IN_BURST)
        for n in (1, 2, 3)}


def test_port_security_disabled_lifts_the_checks(world):
    world.a1['port_security_enabled'] = False
    out = world.table().process(ip_frame(1, world.a1, world.a2['mac_address'], '10.0.0.12',
                                         eth_src='fa:16:3e:66:66:66', ipv4_src='1.2.3.4'))
    assert [p for p, _ in out] == [2]


def test_allowed_address_pairs_extend_port_security(world):
    world.a1['allowed_address_pairs'] = [{'ip_address': '192.168.5.0/24'},
                                         {'ip_address': '10.0.0.50',
                                          'mac_address': 'fa:16:3e:00:00:50'}]
    table = world.table()
    assert [p for p, _ in table.process(ip_frame(
        1, world.a1, world.a2['mac_address'], '10.0.0.12', ipv4_src='192.168.5.77'))] == [2]
    assert [p for p, _ in table.process(ip_frame(
        1, world.a1, world.a2['mac_address'], '10.0.0.12', ipv4_src='10.0.0.50',
        eth_src='fa:16:3e:00:00:50'))] == [2]
    assert table.process(ip_frame(1, world.a1, world.a2['mac_address'], '10.0.0.12',
                                  ipv4_src='192.168.6.1')) == []


def test_gateway_port_joins_the_network_to_its_vrf(world):
    ofports = dict(world.ofports, **{naming.gateway_port_name(world.net_a['id']): 9})
    table = world.table(ofports=ofports)
    out = table.process(ip_frame(1, world.a1, GW_MAC, '8.8.8.8'))
    assert [p for p, _ in out] == [9]
    from_vrf = {'in_port': 9, 'eth_src': GW_MAC, 'eth_dst': world.a2['mac_address'],
                'eth_type': 0x0800, 'ipv4_src': '10.0.0.13', 'ipv4_dst': '10.0.0.12'}
    assert [p for p, _ in table.process(from_vrf)] == [2]
    vrf_arp = {'in_port': 9, 'eth_src': GW_MAC, 'eth_dst': BCAST, 'eth_type': 0x0806,
               'arp_op': 1, 'arp_sha': GW_MAC, 'arp_spa': '10.0.0.1', 'arp_tpa': '10.0.0.12'}
    assert [p for p, _ in table.process(vrf_arp)] == [2]
    # Network b has no gateway port here: its traffic to the gateway MAC stops.
    assert table.process(ip_frame(3, world.b1, GW_MAC, '8.8.8.8')) == []


def test_admin_down_port_gets_no_flows(world):
    world.a2['admin_state_up'] = False
    table = world.table()
    assert table.process(ip_frame(1, world.a1, world.a2['mac_address'], '10.0.0.12')) == []
    assert table.process(ip_frame(2, world.a2, world.a1['mac_address'], '10.0.0.11')) == []


def test_every_flow_has_a_cookie_naming_its_resource(world):
    flows = world.flows()
    kinds = {f.cookie >> 56 for f in flows}
    assert kinds == {flows_lib.COOKIE_SWITCH, flows_lib.COOKIE_NETWORK, flows_lib.COOKIE_PORT}
    a1_cookie = flows_lib.cookie(flows_lib.COOKIE_PORT, world.a1['id'])
    assert any(f.cookie == a1_cookie and ('in_port', 1) in f.match for f in flows)


def test_unknown_switch_holds_only_drops():
    flows = flows_lib.base_flows()
    assert all(f.instructions == () for f in flows)
    assert FakeOFTable.through_the_wire(flows).process({'in_port': 1, 'eth_type': 0x0800}) == []


def test_no_change_means_no_messages(world):
    flows = world.flows()
    assert flows_lib.flow_changes(flows, list(flows)) == ([], [])


def test_a_change_is_an_in_place_replace_or_a_delete(world):
    before = world.flows()
    world.a2['fixed_ips'][0]['ip_address'] = '10.0.0.22'
    after = world.flows()
    adds, deletes = flows_lib.flow_changes(after, list(before))
    assert adds and deletes
    assert all(f in after for f in adds) and all(f in before for f in deletes)
    # Nothing that stays the same is touched.
    assert not set(adds) & before and not set(deletes) & after
    removed_port = dict(world.ofports)
    del removed_port[naming.tap_name(world.a2['id'])]
    gone = world.flows(ofports=removed_port)
    adds, deletes = flows_lib.flow_changes(gone, list(after))
    a2_cookie = flows_lib.cookie(flows_lib.COOKIE_PORT, world.a2['id'])
    assert any(f.cookie == a2_cookie for f in deletes)
    assert not any(f.cookie == a2_cookie for f in gone)


def test_meter_changes():
    m1, m2 = flows_lib.Meter(1, 100, 50), flows_lib.Meter(2, 100, 50)
    assert flows_lib.meter_changes({1: m1}, {1: m1}) == ([], [], [])
    assert flows_lib.meter_changes({1: m1, 2: m2}, {1: flows_lib.Meter(1, 5, 5), 7: None}) == (
        [m2], [m1], [7])


def test_without_responder_flows_every_arp_request_is_a_packet_in(world):
    table = world.table(arp_responder=False)
    for target in ('10.0.0.1', '10.0.0.12', '10.0.0.13'):
        assert [p for p, _ in table.process(arp_request(1, world.a1, target))] == \
            ['controller']
    # Probes are still dropped in the datapath.
    assert table.process(arp_request(1, world.a1, '10.0.0.13', arp_spa='0.0.0.0')) == []


def test_a_port_is_also_found_by_its_iface_id(world):
    ofports = {'vm-a1-eth0': 7}
    assert SwitchPorts(ofports).local_ports(world.view()) == []
    ports = SwitchPorts(ofports, {'vm-a1-eth0': world.a1['id']})
    assert ports.local_ports(world.view()) == [LocalPort(world.a1, 7)]
    assert ports.ofport_of(world.a1['id']) == 7
    assert ports.port_at(world.view(), 7) == world.a1
    table = world.table(ofports=ofports, iface_ids={'vm-a1-eth0': world.a1['id']})
    assert [p for p, _ in table.process(arp_request(7, world.a1, '10.0.0.1'))] == [7]
