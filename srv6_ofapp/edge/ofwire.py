"""OpenFlow 1.3 packet-in and packet-out on the wire, with struct: the two
messages of the packet-in fast path, which bypasses os_ken's message classes
(tens of microseconds each way) but encodes what they encode, byte for byte
(tests/unit/test_fastpath.py checks against os_ken's parser and serializer).
"""

import struct

OFP_VERSION = 4
OFPT_PACKET_IN = 10
OFPT_PACKET_OUT = 13
OFP_NO_BUFFER = 0xffffffff
OFPP_CONTROLLER = 0xfffffffd
OFPCML_MAX = 0xffe5

HEADER = struct.Struct('!BBHI')
_PACKET_IN_MATCH = 24          # header, buffer_id, total_len, reason, table_id, cookie
_MATCH_HEADER = struct.Struct('!HH')
_U32 = struct.Struct('!I')
_OXM_IN_PORT = 0x80000004      # OFPXMC_OPENFLOW_BASIC, OFPXMT_OFB_IN_PORT, no mask, 4 bytes
# header, buffer_id, in_port, actions_len, pad; one output action (type 0,
# length 16, port, max_len, pad)
_PACKET_OUT = struct.Struct('!BBHIIIH6xHHIH6x')
_PACKET_OUT_LEN = _PACKET_OUT.size


class BadMessage(ValueError):
    """Not a packet-in this parser can read."""


def parse_packet_in(buf):
    """(in_port, frame) of an OpenFlow 1.3 packet-in, ``buf`` the whole
    message; the frame is a memoryview-free bytes copy.  Raises BadMessage."""
    length = len(buf)
    if length < _PACKET_IN_MATCH + 4:
        raise BadMessage('short packet-in')
    match_type, match_len = _MATCH_HEADER.unpack_from(buf, _PACKET_IN_MATCH)
    match_end = _PACKET_IN_MATCH + match_len
    if match_type != 1 or match_len < 4 or match_end > length:
        raise BadMessage('bad match')
    in_port = None
    at = _PACKET_IN_MATCH + 4
    while at + 4 <= match_end:
        header = _U32.unpack_from(buf, at)[0]
        if header == _OXM_IN_PORT and at + 8 <= match_end:
            in_port = _U32.unpack_from(buf, at + 4)[0]
            break
        at += 4 + (header & 0xff)
    if in_port is None:
        raise BadMessage('no in_port in the match')
    data_at = _PACKET_IN_MATCH + ((match_len + 7) & ~7) + 2
    if data_at > length:
        raise BadMessage('truncated packet-in')
    return in_port, bytes(buf[data_at:])


def packet_out(xid, out_port, frame):
    """An OFPT_PACKET_OUT sending ``frame`` (no buffer, in_port CONTROLLER)
    out of ``out_port``, as os_ken's OFPPacketOut serializes it."""
    return _PACKET_OUT.pack(OFP_VERSION, OFPT_PACKET_OUT, _PACKET_OUT_LEN + len(frame), xid,
                            OFP_NO_BUFFER, OFPP_CONTROLLER, 16, 0, 16, out_port,
                            OFPCML_MAX) + frame


def packet_in(in_port, frame, table_id=0, xid=0, cookie=0, reason=1):
    """An OFPT_PACKET_IN as OVS sends it (for tests and benchmarks)."""
    match = struct.pack('!HHIIxxxx', 1, 12, _OXM_IN_PORT, in_port)
    body = struct.pack('!IHBBQ', OFP_NO_BUFFER, len(frame), reason, table_id, cookie) + \
        match + b'\0\0' + frame
    return HEADER.pack(OFP_VERSION, OFPT_PACKET_IN, 8 + len(body), xid) + body
