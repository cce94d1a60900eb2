"""Security groups: a stateful firewall on br-int, with OVS connection
tracking, in the manner of Neutron's native OVS firewall
(neutron/agent/linux/openvswitch_firewall).

Every VM port with port security is filtered, in both directions, by the
rules of its security groups (IPv4; the edge carries no tenant IPv6).  Its
frames carry its OpenFlow port number in reg5 (tables.PORT_REG), whose low
16 bits are its conntrack zone: one zone per port, so that two ports'
connections never mix.

  egress   port_security sends the port's admitted IPv4 to sg_egress, which
           tracks it (ct, zone reg5) and goes on in sg_egress_rules:
           established replies pass; a new connection, or a packet of an
           established one in its original direction, passes when a rule
           allows it; sg_egress_accept commits a new connection and hands the
           frame to l2.
  ingress  l2 hands a frame for the port to sg_ingress with reg5 set to it,
           which tracks it in the port's zone (after clearing what the
           sender's zone said) and goes on in sg_ingress_rules, where what a
           rule allows is committed when new and output to the port.

Rules are re-checked on every packet of an established connection in its
original direction, so a rule change takes effect on connections already
open: one that no rule allows any more is marked (ct_mark 1) and dropped
from then on, replies included -- Neutron's way.

A port whose groups are stateless (``stateful`` false; the API keeps a
port's groups all one kind) gets no conntrack, as Neutron's iptables
drivers give it NOTRACK and OVN allow-stateless ACLs: its frames go
through the same tables, its rules' flows are the same matches without
ct_state, and what one allows goes on (egress to l2, ingress to the port)
uncommitted.  Nothing else passes: no reply is implied, a rule must allow
it.

A rule with a remote_group_id becomes a conjunction: dimension 1 is the
group members' addresses (per network on this switch), dimension 2 the
rest of the rule (per port), so flows grow with members plus ports, not
their product.  A conjunction's id is a hash of what it stands for, so it
survives restarts and rule changes elsewhere.
"""

import collections
import functools
import zlib

import netaddr
from os_ken.lib.packet import ether_types

from srv6_ofapp.edge.flows import (COOKIE_NETWORK, COOKIE_PORT, COOKIE_SWITCH, cookie,
                                   make_flow, network_tag)
from srv6_ofapp.edge.tables import PORT_REG
from srv6_ofapp.sg_rules import ICMP_PROTOCOLS, is_stateful, protocol_number

# Connection tracking states (OVS's ct_state bits), as (value, mask): every
# mask but INVALID's says -inv, so that no two flows of one priority overlap.
TRK, NEW, EST, REL, RPL, INV = 0x20, 0x01, 0x02, 0x04, 0x08, 0x10
NEW_NOT_EST = (TRK | NEW, TRK | NEW | EST | INV)
EST_NOT_REL_RPL = (TRK | EST, TRK | EST | REL | RPL | INV)
EST_REPLY = (TRK | EST | RPL, TRK | EST | REL | RPL | INV)
REL_ONLY = (TRK | REL, TRK | NEW | EST | REL | INV)
NOT_EST = (TRK, TRK | EST | INV)
EST = (TRK | EST, TRK | EST | INV)
INVALID = (TRK | INV, TRK | INV)
STATES = (NEW_NOT_EST, EST_NOT_REL_RPL)
# A stateless port's rules match whatever the connection state: one flow.
UNTRACKED = (None,)
# What a stateless port's conjunction keys end with (their ids differ from
# a stateful port's, whose key is as before).
STATELESS = 'stateless'
# A connection no rule allows any more.
DENIED_MARK = 1

# Rule flows: 70 + an offset that keeps overlapping flows of one port apart
# (Neutron's flow_priority_offset): conjunctions 70-73, plain rules 74-77.
RULE_PRIORITY = 70
PROTOCOL_FIELDS = {6: 'tcp_dst', 17: 'udp_dst', 132: 'sctp_dst'}

IPV4 = ether_types.ETH_TYPE_IP


def filtered(port):
    """Whether the port's traffic goes through its security groups."""
    return bool(port['port_security_enabled'])


def tracked(replica, port):
    """Whether a filtered port's traffic goes through conntrack: unless all
    of its groups (one at least) are stateless."""
    groups = [replica.security_group(group_id)
              for group_id in port.get('security_groups') or ()]
    return not groups or any(group is None or is_stateful(group) for group in groups)


def _states(is_tracked):
    return STATES if is_tracked else UNTRACKED


def _state_match(state):
    return {} if state is None else {'ct_state': state}


def ct(table=None, commit=False, mark=None):
    return ('ct', commit, table, PORT_REG, mark)


# -- the switch's own flows ------------------------------------------------------

def switch_flows():
    """What every filtered frame shares: invalid packets and connections
    denied since are dropped; the commit of an accepted new connection."""
    switch_cookie = cookie(COOKIE_SWITCH)
    flows = [make_flow('sg_egress_accept', 100, switch_cookie,
                       [('apply', (ct(commit=True),)), ('goto', 'l2')],
                       eth_type=IPV4, ct_state=NEW_NOT_EST),
             make_flow('sg_egress_accept', 1, switch_cookie, [('goto', 'l2')])]
    for table in ('sg_egress_rules', 'sg_ingress_rules'):
        flows.append(make_flow(table, 50, switch_cookie, [], eth_type=IPV4,
                               ct_state=INVALID))
        flows.append(make_flow(table, 50, switch_cookie, [], eth_type=IPV4,
                               ct_mark=DENIED_MARK))
    return flows


# -- per port ----------------------------------------------------------------------

def port_flows(switch, lp):
    port, ofport = lp.port, lp.ofport
    if not filtered(port):
        return []
    port_cookie = cookie(COOKIE_PORT, port['id'])
    flows = []

    def add(table, priority, instructions, **match):
        flows.append(make_flow(table, priority, port_cookie, instructions,
                               **dict(match, **{PORT_REG: ofport})))

    is_tracked = tracked(switch.replica, port)
    states = _states(is_tracked)
    deliver = [('apply', (('output', ofport),))]
    add('sg_ingress', 90, deliver)  # ARP replies and the like: not for conntrack
    if is_tracked:
        egress_accept = [('goto', 'sg_egress_accept')]
        add('sg_egress', 100, [('apply', (ct('sg_egress_rules'),))], eth_type=IPV4)
        add('sg_ingress', 100, [('apply', (('ct_clear',), ct('sg_ingress_rules')))],
            eth_type=IPV4)
        _tracked_flows(add, egress_accept, deliver)
    else:
        # No conntrack (what the sender's zone said is cleared); no commit.
        egress_accept = [('goto', 'l2')]
        add('sg_egress', 100, [('goto', 'sg_egress_rules')], eth_type=IPV4)
        add('sg_ingress', 100, [('apply', (('ct_clear',),)), ('goto', 'sg_ingress_rules')],
            eth_type=IPV4)
    for direction, table, accept in (('egress', 'sg_egress_rules', egress_accept),
                                     ('ingress', 'sg_ingress_rules', deliver)):
        plain, joined = _port_rules(switch.replica, port, direction, is_tracked)
        for rule in plain:
            for match, priority in _rule_matches(rule, direction, conjunction=False):
                for state in states:
                    add(table, priority, _accept(accept, state, direction), eth_type=IPV4,
                        **_state_match(state), **match)
        for match, priority, conj_ids in _dimension_two(joined, direction):
            for step, state in enumerate(states):
                add(table, priority, [('apply', tuple(('conjunction', c + step, 2, 2)
                                                      for c in conj_ids))],
                    eth_type=IPV4, **_state_match(state), **match)
                for conj_id in conj_ids:
                    add(table, priority, _accept(accept, state, direction), eth_type=IPV4,
                        conj_id=conj_id + step, **_state_match(state))
    return flows


def _tracked_flows(add, egress_accept, deliver):
    """A stateful port's flows besides its rules: the replies of what they
    let through; what none lets through any more."""
    for table, accept in (('sg_egress_rules', egress_accept), ('sg_ingress_rules', deliver)):
        # Replies and related packets of connections the rules let through.
        add(table, 50, accept, eth_type=IPV4, ct_state=EST_REPLY, ct_mark=0)
        add(table, 50, accept, eth_type=IPV4, ct_state=REL_ONLY, ct_mark=0)
        # No rule allows it: a new connection is dropped, an established one
        # marked denied (and dropped from now on).
        add(table, 40, [], eth_type=IPV4, ct_state=NOT_EST)
        add(table, 40, [('apply', (ct(commit=True, mark=DENIED_MARK),))], eth_type=IPV4,
            ct_state=EST)


def _accept(accept, state, direction):
    """What a rule's match does: ingress commits a new connection before
    delivering it; egress commits in sg_egress_accept."""
    if direction == 'ingress' and state == NEW_NOT_EST:
        return [('apply', (ct(commit=True),) + accept[0][1])]
    return accept


def _port_rules(replica, port, direction, is_tracked):
    """The IPv4 rules of ``direction`` of the port's groups: (plain rules,
    {conjunction key: rules with a remote group})."""
    plain, joined = [], collections.defaultdict(list)
    for group_id in port.get('security_groups') or ():
        for rule in replica.rules_of(group_id):
            if rule['direction'] != direction or rule['ethertype'] != 'IPv4':
                continue
            if rule['remote_group_id']:
                joined[_conj_key(rule, is_tracked)].append(rule)
            else:
                plain.append(rule)
    return plain, joined


def _conj_key(rule, is_tracked):
    """What one conjunction stands for: Neutron's (remote group, group,
    direction, ethertype, priority offset), and STATELESS for ports
    without conntrack."""
    key = (rule['remote_group_id'], rule['security_group_id'], rule['direction'],
           rule['ethertype'], _offset(rule, conjunction=True))
    return key if is_tracked else key + (STATELESS,)


def _key_tracked(key):
    return key[5:] != (STATELESS,)


def conj_id(key):
    """A conjunction's id: even (its 'established' twin is id + 1), stable."""
    return (zlib.crc32(repr(key).encode()) & 0x7ffffffe)


def _offset(rule, conjunction):
    number = protocol_number(rule['protocol'])
    base = 0 if conjunction else 4
    if number is None:
        return base
    if number in ICMP_PROTOCOLS:
        if rule['port_range_min'] is None:
            return base + 1
        if rule['port_range_max'] is None:
            return base + 2
    return base + 3


def _rule_matches(rule, direction, conjunction):
    """[(match, priority)] of one rule, without its remote group: its
    protocol, ports (as masked matches) or ICMP type and code, and its
    remote prefix."""
    priority = RULE_PRIORITY + _offset(rule, conjunction)
    match = {}
    number = protocol_number(rule['protocol'])
    if number is not None:
        match['ip_proto'] = number
    prefix = rule['remote_ip_prefix']
    if prefix and _network(prefix).prefixlen:
        match['ipv4_src' if direction == 'ingress' else 'ipv4_dst'] = _ip_match(prefix)
    if number in ICMP_PROTOCOLS:
        if rule['port_range_min'] is not None:
            match['icmpv4_type'] = rule['port_range_min']
        if rule['port_range_max'] is not None:
            match['icmpv4_code'] = rule['port_range_max']
        return [(match, priority)]
    field = PROTOCOL_FIELDS.get(number)
    if field is None or rule['port_range_min'] is None:
        return [(match, priority)]
    return [(dict(match, **{field: masked}), priority)
            for masked in port_masks(rule['port_range_min'], rule['port_range_max'])]


@functools.lru_cache(maxsize=1 << 16)
def _network(prefix):
    """netaddr's parse of a prefix (the same ones, asked for per port and on
    every reconciliation)."""
    return netaddr.IPNetwork(prefix)


@functools.lru_cache(maxsize=1 << 16)
def _ip_match(prefix):
    """An address's match, or a prefix's (value, mask): every member address
    is one, on every reconciliation, so each is worked out once."""
    net = _network(prefix)
    return str(net.ip) if net.prefixlen == 32 else (str(net.network), str(net.netmask))


def port_masks(low, high):
    """The (value, mask) matches, or plain values, covering ports low..high."""
    result = []
    while low <= high:
        size = 1
        while low % (size * 2) == 0 and low + size * 2 - 1 <= high:
            size *= 2
        result.append(low if size == 1 else (low, 0xffff & ~(size - 1)))
        low += size
    return result


def _dimension_two(joined, direction):
    """[(match, priority, conj ids)] of the port's remote-group rules.

    Rules whose matches would overlap at one priority are merged first
    (Neutron's merge_port_ranges): each port range is cut where another
    begins or ends, and carries every conjunction that covers it."""
    by_shape = collections.defaultdict(list)
    for key, rules in joined.items():
        for rule in rules:
            shape = (protocol_number(rule['protocol']),
                     _offset(rule, conjunction=True),
                     None if protocol_number(rule['protocol']) in PROTOCOL_FIELDS
                     else (rule['port_range_min'], rule['port_range_max']))
            by_shape[shape].append((rule, conj_id(key)))
    result = collections.defaultdict(set)
    for (number, offset, fixed), rules in sorted(by_shape.items(), key=repr):
        for rule, ids in _split_ranges(rules, number):
            for match, priority in _rule_matches(rule, direction, conjunction=True):
                result[(tuple(sorted(match.items())), priority)] |= ids
    return [(dict(match), priority, sorted(ids))
            for (match, priority), ids in sorted(result.items(), key=repr)]


def _split_ranges(rules, number):
    """[(rule, {conj ids})] with disjoint port ranges, for rules of one
    protocol with ports; other rules grouped by what they match."""
    template = rules[0][0]
    if number not in PROTOCOL_FIELDS:
        grouped = collections.defaultdict(set)
        for rule, conj in rules:
            grouped[(rule['port_range_min'], rule['port_range_max'])].add(conj)
        return [(dict(template, port_range_min=low, port_range_max=high), ids)
                for (low, high), ids in sorted(grouped.items(), key=repr)]
    spans = [(rule['port_range_min'] or 1, rule['port_range_max'] or 65535, conj)
             for rule, conj in rules]
    edges = sorted({low for low, _, _ in spans} | {high + 1 for _, high, _ in spans})
    pieces = []
    for low, following in zip(edges, edges[1:]):
        ids = {conj for first, last, conj in spans if first <= low <= last}
        if ids:
            pieces.append((low, following - 1, ids))
    if len(pieces) == 1 and pieces[0][:2] == (1, 65535):
        pieces = [(None, None, pieces[0][2])]  # every port: no port match at all
    return [(dict(template, port_range_min=low, port_range_max=high), ids)
            for low, high, ids in pieces]


# -- per network: the remote groups' addresses (conjunctions' dimension 1) -------------

def network_flows(switch, network_id, members):
    """For each conjunction the network's local ports use, the addresses of
    the remote group's members, as packets of this network show them; an
    address in several remote groups gets one flow with all their ids."""
    # The conjunctions the ports use, each once: most ports share theirs (a
    # group's rules), and a remote group's addresses are the same for every
    # port, so walking members per port would cost ports x members.
    keys = set()
    for lp in members:
        if not filtered(lp.port):
            continue
        is_tracked = tracked(switch.replica, lp.port)
        for direction in ('egress', 'ingress'):
            keys.update((direction, key) for key in
                        _port_rules(switch.replica, lp.port, direction, is_tracked)[1])
    addresses = {}  # remote group -> its members' addresses
    # (direction, offset, tracked, address) -> ids
    wanted = collections.defaultdict(set)
    for direction, key in keys:
        if key[0] not in addresses:
            addresses[key[0]] = _member_addresses(switch.replica, key[0])
        for address in addresses[key[0]]:
            wanted[(direction, key[4], _key_tracked(key), address)].add(conj_id(key))
    net_cookie = cookie(COOKIE_NETWORK, network_id)
    tag = network_tag(network_id)
    flows = []
    for (direction, offset, is_tracked, address), ids in sorted(wanted.items(), key=repr):
        table = 'sg_egress_rules' if direction == 'egress' else 'sg_ingress_rules'
        field = 'ipv4_dst' if direction == 'egress' else 'ipv4_src'
        for step, state in enumerate(_states(is_tracked)):
            flows.append(make_flow(
                table, RULE_PRIORITY + offset, net_cookie,
                [('apply', tuple(('conjunction', c + step, 1, 2) for c in sorted(ids)))],
                metadata=tag, eth_type=IPV4, **_state_match(state),
                **{field: _ip_match(address)}))
    return flows


def _member_addresses(replica, group_id):
    """The IPv4 addresses (and address-pair prefixes) of the group's members."""
    found = set()
    for port in replica.members_of(group_id):
        found.update(f['ip_address'] + '/32' for f in port['fixed_ips'])
        for pair in port.get('allowed_address_pairs') or ():
            found.add(str(_network(pair['ip_address']).cidr))
    return found
