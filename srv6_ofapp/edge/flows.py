"""Flows and meters as plain values, and the difference between two sets.

Flows are hashable tuples with tables referred to by name, so features can
build them as pure functions of the model, tests can run them without a
switch (tests/fakeoftable.py), and reconciliation is a set difference.
ofmsg.py translates them to and from OpenFlow messages.
"""

import collections

from srv6_ofapp.edge.tables import TABLE_ID, TABLES

Flow = collections.namedtuple('Flow', 'table priority match instructions cookie')
Flow.__doc__ = """One flow entry.

table: a table name (tables.py); a flow read back from a switch in a table
    we do not use has its table id (an int) instead.
match: tuple of sorted (OXM field name, value) pairs, as OS-Ken names them.
instructions: tuple, in OpenFlow execution order, of
    ('meter', meter_id) | ('apply', actions) | ('write_metadata', value) |
    ('goto', table name); with actions a tuple of
    ('output', port number) | ('in_port',) | ('controller',) |
    ('set', field, value) | ('move', src field, dst field, n_bits).
    An empty tuple drops.  None: a flow read back from a switch whose
    instructions do not translate (not ours, or written by another version):
    it never equals a desired flow, so it is replaced or deleted."""

Meter = collections.namedtuple('Meter', 'meter_id rate burst')

# Cookies say which resource a flow belongs to: a kind in the top byte and
# 56 bits of the resource's UUID below it.
COOKIE_SWITCH = 1
COOKIE_NETWORK = 2
COOKIE_PORT = 3


# OpenFlow's execution order of instructions, which switches report them in.
INSTRUCTION_ORDER = {'meter': 0, 'apply': 1, 'write_metadata': 2, 'goto': 3}


def make_flow(table, priority, cookie, instructions=(), **match):
    """A Flow; its instructions in OpenFlow's execution order, whatever the
    order given, so that a flow equals itself as a switch reports it."""
    instructions = tuple(instructions)
    if len(instructions) > 1:  # most flows have one: a sort per flow shows at 20,000 flows
        instructions = tuple(sorted(instructions, key=_instruction_order))
    return Flow(table, priority, tuple(sorted(match.items())), instructions, cookie)


def _instruction_order(instruction):
    return INSTRUCTION_ORDER[instruction[0]]


def cookie(kind, resource_id=None):
    low = int(resource_id.replace('-', '')[:14], 16) if resource_id else 0
    return (kind << 56) | low


def network_tag(network_id):
    """The metadata value that marks a frame as belonging to a network:
    64 bits of its UUID (UUID4 ids make a clash vanishingly unlikely)."""
    return int(network_id.replace('-', '')[:16], 16)


def to_controller(ofport, metered):
    """Instructions that send a frame to the controller: through the packet-in
    meter of the VM port it came from, when the switch has meters."""
    return ([('meter', ofport)] if metered else []) + [('apply', (('controller',),))]


def base_flows():
    """Explicit lowest-priority drops, so dropped traffic shows in counters;
    all an unknown switch gets."""
    switch_cookie = cookie(COOKIE_SWITCH)
    return [make_flow(table.name, 0, switch_cookie) for table in TABLES]


def flow_key(flow):
    """What identifies a flow entry in a switch: adding a flow with the same
    key replaces it."""
    return (flow.table, flow.priority, flow.match)


def _table_id(flow):
    return TABLE_ID.get(flow.table, flow.table)


def flow_changes(desired, actual):
    """(flows to add or replace, flows to delete) to turn ``actual`` into
    ``desired``.

    A changed flow is replaced in place by an add with the same key, never
    deleted and re-added, so traffic that matches it sees no gap; this
    includes flows whose instructions could not be read back.  Adds come
    downstream first (highest table id first), so that a flow never sends
    traffic on to a table whose flows are not there yet (an upgrade that
    moves a table works in one pass); deletes come upstream first, so that
    nothing reaches a flow after the one feeding it is gone.
    """
    have = {flow_key(f): f for f in actual}
    want = {flow_key(f): f for f in desired}
    adds = sorted((f for k, f in want.items() if have.get(k) != f),
                  key=lambda f: (-_table_id(f), -f.priority, repr(f.match)))
    deletes = sorted((f for k, f in have.items() if k not in want),
                     key=lambda f: (_table_id(f), -f.priority, repr(f.match)))
    return adds, deletes


def meter_changes(desired, actual):
    """(meters to add, meters to modify, meter ids to delete).  ``actual``
    maps meter ids to Meters, or to None for meters that are not ours."""
    adds = [m for i, m in sorted(desired.items()) if i not in actual]
    modifies = [m for i, m in sorted(desired.items()) if i in actual and actual[i] != m]
    deletes = sorted(i for i in actual if i not in desired)
    return adds, modifies, deletes
