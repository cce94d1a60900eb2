"""Security groups on the fake switch: the firewall flows, sent through the
wire and run with a played conntrack and conjunctive matches."""

import pytest

from srv6_ofapp.edge import security_groups as sg
from srv6_ofapp.model.security_groups import default_rules
from tests.unit.test_pipeline import GW_MAC, World, port, rule

WEB, CLIENTS, OTHERS = 'web-group', 'client-group', 'other-group'


def tcp(src, dst, dport, sport=40000, in_port=None, **over):
    """A TCP segment from port ``src`` to port ``dst`` (model documents)."""
    packet = {'in_port': in_port, 'eth_src': src['mac_address'],
              'eth_dst': dst['mac_address'], 'eth_type': 0x0800,
              'ipv4_src': src['fixed_ips'][0]['ip_address'],
              'ipv4_dst': dst['fixed_ips'][0]['ip_address'], 'ip_proto': 6,
              'tcp_src': sport, 'tcp_dst': dport}
    packet.update(over)
    return packet


def reply(packet, in_port):
    swapped = dict(packet, in_port=in_port)
    for a, b in (('eth_src', 'eth_dst'), ('ipv4_src', 'ipv4_dst'), ('tcp_src', 'tcp_dst')):
        swapped[a], swapped[b] = packet[b], packet[a]
    return swapped


def groups(*ids):
    return [{'id': i, 'tenant_id': 'p1', 'created_at': '2026-01-01T00:00:00Z'} for i in ids]


@pytest.fixture
def world():
    """a1 serves port 80 to anyone; a2 is a client that may only send."""
    world = World()
    world.a1['security_groups'] = [WEB]
    world.a2['security_groups'] = [CLIENTS]
    world.rules = [rule(WEB, 'ingress', protocol='tcp', port_range_min=80, port_range_max=80),
                   rule(WEB, 'egress'), rule(CLIENTS, 'egress')]
    return world


def table(world, *extra_ports, conntrack=None):
    view = world.view(*extra_ports, groups=groups(WEB, CLIENTS, OTHERS), rules=world.rules)
    return world.table(view=view, conntrack=conntrack)


def delivered(outputs):
    return [port for port, _ in outputs]


def test_allowed_connection_and_its_replies_pass(world):
    switch = table(world)
    syn = tcp(world.a2, world.a1, 80, in_port=2)
    assert delivered(switch.process(syn)) == [1]
    # The server answers: a reply of a connection the rules let through.
    assert delivered(switch.process(reply(syn, in_port=1))) == [2]
    assert delivered(switch.process(syn)) == [1]  # and the connection goes on


def test_denied_ports_protocols_and_directions_are_dropped(world):
    switch = table(world)
    assert switch.process(tcp(world.a2, world.a1, 22, in_port=2)) == []
    udp = dict(tcp(world.a2, world.a1, 80, in_port=2), ip_proto=17, udp_src=40000,
               udp_dst=80)
    del udp['tcp_src'], udp['tcp_dst']
    assert switch.process(udp) == []
    icmp = dict(tcp(world.a2, world.a1, 80, in_port=2), ip_proto=1, icmpv4_type=8,
                icmpv4_code=0)
    assert switch.process(icmp) == []
    # The client accepts no connection of its own (no ingress rule).
    assert switch.process(tcp(world.a1, world.a2, 80, in_port=1)) == []


def test_a_port_range_is_masked_exactly():
    assert sg.port_masks(80, 80) == [80]
    assert sg.port_masks(1, 65535) == [1, (2, 0xfffe), (4, 0xfffc), (8, 0xfff8),
                                       (16, 0xfff0), (32, 0xffe0), (64, 0xffc0),
                                       (128, 0xff80), (256, 0xff00), (512, 0xfe00),
                                       (1024, 0xfc00), (2048, 0xf800), (4096, 0xf000),
                                       (8192, 0xe000), (16384, 0xc000), (32768, 0x8000)]
    covered = set()
    for item in sg.port_masks(1000, 1999):
        value, mask = item if isinstance(item, tuple) else (item, 0xffff)
        covered |= {p for p in range(65536) if p & mask == value & mask}
    assert covered == set(range(1000, 2000))


def test_a_remote_group_allows_its_members_and_follows_membership(world):
    world.rules.append(rule(WEB, 'ingress', protocol='tcp', port_range_min=22,
                            port_range_max=22, remote_group_id=OTHERS))
    a3 = port(world.net_a, world.sub_a, '10.0.0.14', 'fa:16:3e:00:00:14',
              security_groups=[CLIENTS])
    ofports = dict(world.ofports, **{'tap' + a3['id'][:11]: 4})
    view = world.view(a3, groups=groups(WEB, CLIENTS, OTHERS), rules=world.rules)
    switch = world.table(view=view, ofports=ofports)
    ssh = tcp(a3, world.a1, 22, in_port=4)
    assert switch.process(ssh) == []  # a3 is not in OTHERS
    a3['security_groups'] = [CLIENTS, OTHERS]
    view = world.view(a3, groups=groups(WEB, CLIENTS, OTHERS), rules=world.rules)
    switch = world.table(view=view, ofports=ofports)
    assert delivered(switch.process(ssh)) == [1]
    # Port 80 is still everyone's, port 23 nobody's.
    assert delivered(switch.process(tcp(a3, world.a1, 80, in_port=4))) == [1]
    assert switch.process(tcp(a3, world.a1, 23, in_port=4)) == []


def test_conjunctions_keep_flows_linear(world):
    """A remote-group rule costs flows per member plus per port, not both."""
    def count(members):
        extra = [port(world.net_a, world.sub_a, '10.0.1.%d' % n, 'fa:16:3e:00:01:%02x' % n,
                      security_groups=[OTHERS], **{'binding:host_id': 'hv9'})
                 for n in range(members)]
        rules = world.rules + [rule(WEB, 'ingress', remote_group_id=OTHERS)]
        view = world.view(*extra, groups=groups(WEB, CLIENTS, OTHERS), rules=rules)
        return len([f for f in world.flows(view=view) if f.table.startswith('sg_')])
    # Two flows a member (new and established connections), whatever the ports.
    assert count(20) - count(10) == count(30) - count(20) == 10 * 2


def test_the_default_group_lets_members_talk_and_keeps_others_out(world):
    world.a1['security_groups'] = world.a2['security_groups'] = ['default-p1']
    world.rules = [dict(rule('default-p1', r['direction']), **r)
                   for r in default_rules('default-p1')]
    a3 = port(world.net_a, world.sub_a, '10.0.0.14', 'fa:16:3e:00:00:14',
              security_groups=[CLIENTS])
    ofports = dict(world.ofports, **{'tap' + a3['id'][:11]: 4})
    view = world.view(a3, groups=groups('default-p1', CLIENTS), rules=world.rules +
                      [rule(CLIENTS, 'egress')])
    switch = world.table(view=view, ofports=ofports)
    assert delivered(switch.process(tcp(world.a2, world.a1, 5000, in_port=2))) == [1]
    assert switch.process(tcp(a3, world.a1, 5000, in_port=4)) == []
    # Members may open connections anywhere: out through the gateway, say.
    ofports['gw-' + world.net_a['id'][:11]] = 9
    switch = world.table(view=view, ofports=ofports)
    out = tcp(world.a1, world.a_remote, 443, in_port=1, eth_dst=GW_MAC)
    assert delivered(switch.process(out)) == [9]
    # Their replies come back in; a connection from outside does not.
    assert delivered(switch.process(reply(out, in_port=9))) == [1]
    assert switch.process(tcp(world.a_remote, world.a1, 22, in_port=9,
                              eth_dst=world.a1['mac_address'])) == []


def test_a_rule_change_cuts_a_connection_it_no_longer_allows(world):
    switch = table(world)
    syn = tcp(world.a2, world.a1, 80, in_port=2)
    assert delivered(switch.process(syn)) == [1]
    assert delivered(switch.process(reply(syn, in_port=1))) == [2]
    world.rules[0] = rule(WEB, 'ingress', protocol='tcp', port_range_min=8080,
                          port_range_max=8080)
    switch = table(world, conntrack=switch.conntrack)
    assert switch.process(syn) == []                      # marked denied ...
    assert switch.process(reply(syn, in_port=1)) == []    # ... both ways
    # A connection the new rule allows opens as before.
    assert delivered(switch.process(tcp(world.a2, world.a1, 8080, in_port=2))) == [1]


def test_an_established_connection_the_new_rules_still_allow_keeps_flowing(world):
    switch = table(world)
    syn = tcp(world.a2, world.a1, 80, in_port=2)
    switch.process(syn)
    world.rules.append(rule(WEB, 'ingress', protocol='tcp', port_range_min=443,
                            port_range_max=443))
    switch = table(world, conntrack=switch.conntrack)
    assert delivered(switch.process(syn)) == [1]
    assert delivered(switch.process(reply(syn, in_port=1))) == [2]


def test_port_security_off_means_no_security_group_flows(world):
    world.a1['port_security_enabled'] = False
    flows = world.flows(view=world.view(groups=groups(WEB, CLIENTS), rules=world.rules))
    assert not [f for f in flows if ('reg5', 1) in f.match]
    switch = table(world)
    assert delivered(switch.process(tcp(world.a2, world.a1, 22, in_port=2))) == [1]


def test_arp_still_reaches_a_filtered_port(world):
    switch = table(world)
    arp = {'in_port': 2, 'eth_src': world.a2['mac_address'], 'eth_dst': 'ff:ff:ff:ff:ff:ff',
           'eth_type': 0x0806, 'arp_op': 1, 'arp_sha': world.a2['mac_address'],
           'arp_spa': '10.0.0.12', 'arp_tha': '00:00:00:00:00:00', 'arp_tpa': '10.0.0.11'}
    assert delivered(switch.process(arp)) == [1]


# -- stateless groups: no conntrack, no implied replies --------------------------------

NOTRACK = 'notrack-group'


def icmp(src, dst, icmp_type, in_port):
    return {'in_port': in_port, 'eth_src': src['mac_address'], 'eth_dst': dst['mac_address'],
            'eth_type': 0x0800, 'ipv4_src': src['fixed_ips'][0]['ip_address'],
            'ipv4_dst': dst['fixed_ips'][0]['ip_address'], 'ip_proto': 1,
            'icmpv4_type': icmp_type, 'icmpv4_code': 0}


def stateless_groups(*ids):
    return [dict(group, stateful=False) for group in groups(*ids)]


def uses_conntrack(flow):
    actions = [a for i in flow.instructions if i[0] == 'apply' for a in i[1]]
    return 'ct_state' in dict(flow.match) or any(a[0] == 'ct' for a in actions)


@pytest.fixture
def stateless():
    """a1 and a2 in a stateless group that lets echo requests in and
    anything out."""
    world = World()
    world.a1['security_groups'] = world.a2['security_groups'] = [NOTRACK]
    world.rules = [rule(NOTRACK, 'ingress', protocol='icmp', port_range_min=8),
                   rule(NOTRACK, 'egress')]
    return world


def stateless_table(world, *extra_ports, conntrack=None, **switch):
    view = world.view(*extra_ports, groups=groups(WEB) + stateless_groups(NOTRACK),
                      rules=world.rules)
    return world.table(view=view, conntrack=conntrack, **switch)


def test_a_stateless_ports_flows_use_no_conntrack(stateless):
    view = stateless.view(groups=stateless_groups(NOTRACK), rules=stateless.rules)
    flows = [f for f in stateless.flows(view=view) if ('reg5', 1) in f.match]
    assert flows and not [f for f in flows if uses_conntrack(f)]
    # Its rules go in the stateful path's tables, with the same matches.
    assert {f.table for f in flows} == {'sg_egress', 'sg_egress_rules', 'sg_ingress',
                                        'sg_ingress_rules'}
    tracked = World()
    tracked.a1['security_groups'] = [NOTRACK]
    tracked_flows = tracked.flows(view=tracked.view(groups=groups(NOTRACK),
                                                    rules=stateless.rules))
    rule_matches = {(f.table, f.priority, tuple(kv for kv in f.match if kv[0] != 'ct_state'))
                    for f in tracked_flows if f.table.endswith('_rules') and
                    ('reg5', 1) in f.match and f.priority >= sg.RULE_PRIORITY}
    assert rule_matches == {(f.table, f.priority, f.match) for f in flows
                            if f.table.endswith('_rules')}


def test_a_stateless_rule_allows_packets_not_their_replies(stateless):
    switch = stateless_table(stateless)
    assert delivered(switch.process(icmp(stateless.a2, stateless.a1, 8, in_port=2))) == [1]
    # The echo reply leaves a1 (egress: anything) but no rule lets it into a2.
    assert switch.process(icmp(stateless.a1, stateless.a2, 0, in_port=1)) == []
    assert switch.conntrack.connections == {}   # nothing was tracked, nothing committed
    # Nor anything else that no rule allows.
    assert switch.process(tcp(stateless.a2, stateless.a1, 22, in_port=2)) == []
    # A rule for the replies lets them in.
    stateless.rules.append(rule(NOTRACK, 'ingress', protocol='icmp', port_range_min=0))
    switch = stateless_table(stateless)
    assert delivered(switch.process(icmp(stateless.a1, stateless.a2, 0, in_port=1))) == [2]
    assert switch.conntrack.connections == {}


def test_a_stateless_port_talks_to_a_stateful_one(stateless):
    """a1 stateful (serves port 80), a2 stateless: a2's replies need a rule
    of its own, a1's conntrack works as before."""
    stateless.a1['security_groups'] = [WEB]
    stateless.rules += [rule(WEB, 'ingress', protocol='tcp', port_range_min=80,
                             port_range_max=80), rule(WEB, 'egress')]
    switch = stateless_table(stateless)
    syn = tcp(stateless.a2, stateless.a1, 80, in_port=2)
    assert delivered(switch.process(syn)) == [1]
    assert switch.process(reply(syn, in_port=1)) == []  # a2 has no rule for it
    stateless.rules.append(rule(NOTRACK, 'ingress', protocol='tcp'))
    switch = stateless_table(stateless, conntrack=switch.conntrack)
    assert delivered(switch.process(reply(syn, in_port=1))) == [2]


def test_a_stateless_remote_group_is_a_conjunction_without_conntrack(stateless):
    stateless.rules.append(rule(NOTRACK, 'ingress', protocol='tcp', port_range_min=22,
                                port_range_max=22, remote_group_id=NOTRACK))
    a3 = port(stateless.net_a, stateless.sub_a, '10.0.0.14', 'fa:16:3e:00:00:14',
              security_groups=[WEB])
    ofports = dict(stateless.ofports, **{'tap' + a3['id'][:11]: 4})
    stateless.rules.append(rule(WEB, 'egress'))
    view = stateless.view(a3, groups=groups(WEB) + stateless_groups(NOTRACK),
                          rules=stateless.rules)
    flows = stateless.flows(view=view, ofports=ofports)
    conjunctive = [f for f in flows if f.table == 'sg_ingress_rules' and
                   f.priority < sg.RULE_PRIORITY + 4 and f.priority >= sg.RULE_PRIORITY]
    assert conjunctive and not [f for f in conjunctive if uses_conntrack(f)]
    switch = stateless.table(view=view, ofports=ofports)
    assert delivered(switch.process(tcp(stateless.a2, stateless.a1, 22, in_port=2))) == [1]
    assert switch.process(tcp(a3, stateless.a1, 22, in_port=4)) == []  # not a member


def test_port_security_off_means_no_stateless_flows_either(stateless):
    stateless.a1['port_security_enabled'] = False
    view = stateless.view(groups=stateless_groups(NOTRACK), rules=stateless.rules)
    assert not [f for f in stateless.flows(view=view) if ('reg5', 1) in f.match]
