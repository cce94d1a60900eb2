"""Translation between Flows/Meters (flows.py) and OpenFlow 1.3 messages.

Both directions: flow-mods and meter-mods out, and flows read back from a
switch's flow and meter statistics, so that reconciliation compares like
with like.  A flow entry always reads back with its key (table, priority,
match), so that reconciliation replaces or deletes exactly that entry;
instructions that do not translate (someone else's flow, another version's)
read back as None.
"""

from os_ken.ofproto import nicira_ext

from srv6_ofapp.edge.flows import Flow, Meter
from srv6_ofapp.edge.tables import TABLE_ID, TABLE_NAME

ALL_ONES_64 = 0xffffffffffffffff
# NX ct(): no recirculation (a commit that carries on in the same table).
CT_NO_RECIRC = 0xff
CT_COMMIT = 1
# A ct() zone is a 16-bit field of a register.
ZONE_BITS = nicira_ext.ofs_nbits(0, 15)


def _action(parser, ofp, action):
    kind = action[0]
    if kind == 'output':
        return parser.OFPActionOutput(action[1])
    if kind == 'in_port':
        return parser.OFPActionOutput(ofp.OFPP_IN_PORT)
    if kind == 'controller':
        return parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)
    if kind == 'set':
        return parser.OFPActionSetField(**{action[1]: action[2]})
    if kind == 'move':
        return parser.NXActionRegMove(src_field=action[1], dst_field=action[2],
                                      n_bits=action[3])
    if kind == 'ct':
        _, commit, table, zone_field, mark = action
        return parser.NXActionCT(
            flags=CT_COMMIT if commit else 0, zone_src=zone_field,
            zone_ofs_nbits=ZONE_BITS, alg=0,
            recirc_table=CT_NO_RECIRC if table is None else TABLE_ID[table],
            actions=[] if mark is None else [parser.OFPActionSetField(ct_mark=mark)])
    if kind == 'ct_clear':
        return parser.NXActionCTClear()
    if kind == 'conjunction':
        _, conj_id, clause, n_clauses = action
        return parser.NXActionConjunction(clause=clause - 1, n_clauses=n_clauses,
                                          id_=conj_id)
    raise ValueError('unknown action %r' % (action,))


def instructions(parser, ofp, flow):
    result = []
    for instruction in flow.instructions:
        kind = instruction[0]
        if kind == 'meter':
            result.append(parser.OFPInstructionMeter(instruction[1]))
        elif kind == 'apply':
            result.append(parser.OFPInstructionActions(
                ofp.OFPIT_APPLY_ACTIONS, [_action(parser, ofp, a) for a in instruction[1]]))
        elif kind == 'write_metadata':
            result.append(parser.OFPInstructionWriteMetadata(instruction[1], ALL_ONES_64))
        elif kind == 'goto':
            result.append(parser.OFPInstructionGotoTable(TABLE_ID[instruction[1]]))
        else:
            raise ValueError('unknown instruction %r' % (instruction,))
    return result


def flow_mod(datapath, flow, command):
    """An OFPFlowMod that adds (replaces) or strictly deletes ``flow``; a
    delete needs only its key, so it also removes flows read back from
    tables we do not use or with instructions we cannot read."""
    ofp, parser = datapath.ofproto, datapath.ofproto_parser
    add = command == ofp.OFPFC_ADD
    return parser.OFPFlowMod(
        datapath, cookie=flow.cookie, table_id=TABLE_ID.get(flow.table, flow.table),
        command=command, priority=flow.priority, match=parser.OFPMatch(**dict(flow.match)),
        instructions=instructions(parser, ofp, flow) if add else [],
        out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY)


def meter_mod(datapath, meter, command):
    ofp, parser = datapath.ofproto, datapath.ofproto_parser
    bands = [parser.OFPMeterBandDrop(rate=meter.rate, burst_size=meter.burst)]
    return parser.OFPMeterMod(datapath, command=command,
                              flags=ofp.OFPMF_PKTPS | ofp.OFPMF_BURST,
                              meter_id=meter.meter_id, bands=bands)


def _action_back(ofp, action):
    name = type(action).__name__
    if name == 'OFPActionOutput':
        if action.port == ofp.OFPP_IN_PORT:
            return ('in_port',)
        if action.port == ofp.OFPP_CONTROLLER:
            return ('controller',)
        return ('output', action.port)
    if name == 'OFPActionSetField':
        return ('set', action.key, action.value)
    if name == 'NXActionRegMove' and action.src_ofs == 0 and action.dst_ofs == 0:
        # OVS reports fields that NXM also defines by their NXM names.
        return ('move', _oxm_name(action.src_field), _oxm_name(action.dst_field),
                action.n_bits)
    if name == 'NXActionCT':
        return _ct_back(action)
    if name == 'NXActionCTClear':
        return ('ct_clear',)
    if name == 'NXActionConjunction':
        return ('conjunction', action.id, action.clause + 1, action.n_clauses)
    return None


def _ct_back(action):
    marks = [a.value for a in action.actions
             if type(a).__name__ == 'OFPActionSetField' and a.key == 'ct_mark']
    if (action.alg or action.zone_ofs_nbits != ZONE_BITS or not action.zone_src or
            len(marks) != len(action.actions) or action.flags & ~CT_COMMIT):
        return None
    table = None if action.recirc_table == CT_NO_RECIRC else TABLE_NAME.get(
        action.recirc_table)
    if action.recirc_table != CT_NO_RECIRC and table is None:
        return None
    return ('ct', bool(action.flags & CT_COMMIT), table, _oxm_name(action.zone_src),
            marks[0] if marks else None)


def _oxm_name(field):
    return field[:-len('_nxm')] if field.endswith('_nxm') else field


def flow_from_stats(ofp, stat):
    """The Flow of one flow-stats entry: its table by name when it is one of
    ours (else its id), its instructions None when they do not translate."""
    match = tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                         for k, v in stat.match.items()))
    return Flow(TABLE_NAME.get(stat.table_id, stat.table_id), stat.priority, match,
                _instructions_back(ofp, stat.instructions), stat.cookie)


def _instructions_back(ofp, stat_instructions):
    result = []
    for instruction in stat_instructions:
        name = type(instruction).__name__
        if name == 'OFPInstructionMeter':
            result.append(('meter', instruction.meter_id))
        elif name == 'OFPInstructionActions' and instruction.type == ofp.OFPIT_APPLY_ACTIONS:
            actions = tuple(_action_back(ofp, a) for a in instruction.actions)
            if None in actions:
                return None
            result.append(('apply', actions))
        elif (name == 'OFPInstructionWriteMetadata' and
              instruction.metadata_mask == ALL_ONES_64):
            result.append(('write_metadata', instruction.metadata))
        elif name == 'OFPInstructionGotoTable' and instruction.table_id in TABLE_NAME:
            result.append(('goto', TABLE_NAME[instruction.table_id]))
        else:
            return None
    return tuple(result)


def meter_from_stats(ofp, config):
    """The Meter of one meter-config entry, or None if it is not one of ours."""
    if (len(config.bands) != 1 or type(config.bands[0]).__name__ != 'OFPMeterBandDrop' or
            config.flags != ofp.OFPMF_PKTPS | ofp.OFPMF_BURST):
        return None
    return Meter(config.meter_id, config.bands[0].rate, config.bands[0].burst_size)
