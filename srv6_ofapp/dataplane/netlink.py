"""Fast, batched programming of our IPv4/IPv6 and SRv6 routes over netlink.

What it programs, in one network namespace (``netns=None``: the current one):

  * ``dev``:    a plain route, ``dst dev OIF [via GW]`` (IPv4 or IPv6);
  * ``encap``:  a seg6 encap route, ``dst encap seg6 mode encap segs S1,S2 dev OIF``
                (normally an IPv4 /32 toward a remote VRF's SID);
  * ``decap``:  a seg6local End.DX4 route, ``SID/128 encap seg6local action
                End.DX4 nh4 NH dev OIF`` (IPv6 dst only).

Every route we write carries our own routing protocol number, RTPROT_SRV6
(83; not in /etc/iproute2/rt_protos, nor among FRR's 11 and 186-198), so
``ip route show proto 83`` and :meth:`RouteTable.dump_ours` see only ours,
and a route someone else added (``ip route add``, proto boot) is never
reported, replaced by a delete, or deleted. A file
``/etc/iproute2/rt_protos.d/srv6_ofapp.conf`` holding ``83 srv6_ofapp``
would make iproute2 print the name.

Why it is fast (numbers: bench/routes.py):

  * **Batches.** :meth:`RouteTable.apply` packs ``batch_size`` (500)
    RTM_NEWROUTE/RTM_DELROUTE messages into one ``send()``; the kernel
    processes all of them before ``send()`` returns, queueing one ACK
    (NLMSG_ERROR, error 0 or -errno) per message, which are read afterwards
    and matched by sequence number. Every ACK is checked; a failed message
    does not stop the others (the kernel carries on with the next message of
    the buffer). The receive buffer is sized (SO_RCVBUFFORCE) to hold a full
    batch of ACKs, and NETLINK_CAP_ACK keeps error ACKs small.
  * **Encoding with struct, not pyroute2's message classes.** pyroute2
    0.9.7's ``rtmsg.encode()`` costs 150-200 us for one seg6 route message
    (nested NLA classes built per message), which caps batches near 6,000
    routes/s; the hand-packed encoder here costs about 4 us and
    produces byte-identical messages (tests/functional/test_routes.py checks
    this against ``rtmsg``). ``RouteTable(codec='pyroute2')`` switches
    encoding and dump decoding to pyroute2's ``rtmsg`` (the reference, for
    tests and the benchmark).
  * **No full dumps.** apply() never reads the routing table; the caller
    keeps what it applied. dump_ours() asks the kernel to filter by
    protocol (NETLINK_GET_STRICT_CHK + rtm_protocol in the dump request;
    kernel >= 4.20), so a table full of other routes costs only the
    kernel's walk; the protocol is checked again in Python anyway.

Netlink socket: a plain ``socket.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)``;
for another namespace, a short-lived thread setns()es and opens it there
(see _socket_in_netns for why not pyroute2.netns.create_socket). pyroute2's
IPRoute is not used: in 0.9.x it is an asyncio core with a sync wrapper that
owns its socket's reads, which does not mix with reading a batch of ACKs
ourselves. pyroute2 remains the reference codec (codec='pyroute2').

SID order. ``Route.segments`` is in travel order, as ``ip route ... segs
S1,S2`` takes and prints it (S1 is visited first). The SRH on the wire holds
them reversed (segments[0] is the last SID), which is also the order
pyroute2's ``segs`` uses; this module converts both ways.

Not thread-safe: one RouteTable per thread (or a lock around it).
"""

import collections
import ctypes
import errno as errno_mod
import functools
import os
import socket
import struct
import threading
import time

RTPROT_SRV6 = 83
"""Our routing protocol number (rtm_protocol) on every route we write."""

DEFAULT_BATCH = 500
MAIN_TABLE = 254

Route = collections.namedtuple('Route', 'dst oif action segments nh4 via table',
                               defaults=(None, 'dev', (), None, None, MAIN_TABLE))
Route.__doc__ = """One route we own.

dst:      'a.b.c.d/len' or 'v6addr/len' (normalize() canonicalizes '10.0.0.1'
          to '10.0.0.1/32', IPv6 to its compressed form).
oif:      interface name (or an int ifindex), required; dump_ours() returns names.
action:   'dev' (plain), 'encap' (seg6 encap), 'decap' (seg6local End.DX4).
          dump_ours() returns 'other' for a route of ours it cannot express
          (another lwtunnel type or seg6local action); apply() can delete it.
segments: tuple of IPv6 SIDs in travel order (first visited first), 'encap' only.
nh4:      the IPv4 next hop of End.DX4, 'decap' only.
via:      gateway address of a 'dev' route, or None.
table:    routing table id (254 = main).

Two routes with the same (family, table, dst) are the same kernel route:
adding one replaces the other."""

RouteFailure = collections.namedtuple('RouteFailure', 'op route errno message')
RouteFailure.__doc__ = """op: 'add' or 'delete'; errno: positive errno;
message: the kernel's extended ACK text, or ours, or ''."""


class RouteError(Exception):
    """Some route operations of an apply() failed; the others were done.

    ``failures``: list of RouteFailure: the ones found before sending (an
    unknown interface name) first, then the kernel's, in the order sent.
    ``failed_adds`` / ``failed_deletes``: sets of the Routes concerned, so the
    caller can keep its applied state exact:
    applied = (applied - (deleted - failed_deletes)) | (added - failed_adds).
    """

    def __init__(self, failures, total):
        self.failures = list(failures)
        self.total = total
        self.failed_adds = {f.route for f in self.failures if f.op == 'add'}
        self.failed_deletes = {f.route for f in self.failures if f.op == 'delete'}
        shown = '; '.join(_describe(f) for f in self.failures[:5])
        more = ' (and %d more)' % (len(self.failures) - 5) if len(self.failures) > 5 else ''
        super().__init__('%d of %d route operations failed: %s%s'
                         % (len(self.failures), total, shown, more))


def _describe(failure):
    name = errno_mod.errorcode.get(failure.errno, str(failure.errno))
    text = '%s %s: %s (%s)' % (failure.op, _route_text(failure.route), name,
                               os.strerror(failure.errno))
    if failure.message:
        text += ' [%s]' % failure.message
    return text


def _route_text(route):
    """A route the way `ip route` would write it."""
    parts = [route.dst]
    if route.action == 'encap':
        parts.append('encap seg6 mode encap segs ' + ','.join(route.segments))
    elif route.action == 'decap':
        parts.append('encap seg6local action End.DX4 nh4 %s' % route.nh4)
    if route.via:
        parts.append('via ' + route.via)
    if route.oif is not None:
        parts.append('dev %s' % (route.oif,))
    if route.table != MAIN_TABLE:
        parts.append('table %d' % route.table)
    return ' '.join(parts)


def _address(text, family=None):
    """(family, canonical text) of an address; inet_ntop's text, which is
    what dump_ours() decodes, so applied and dumped routes compare equal."""
    text = str(text)
    if family is None:
        family = socket.AF_INET6 if ':' in text else socket.AF_INET
    try:
        return family, socket.inet_ntop(family, socket.inet_pton(family, text))
    except OSError:
        raise ValueError('%r is not an IPv%d address' % (text, 6 if family == socket.AF_INET6
                                                          else 4)) from None


def _network(text):
    """Canonical 'addr/len' of a prefix; ValueError if host bits are set."""
    addr, sep, plen = str(text).partition('/')
    family, addr = _address(addr)
    bits = 128 if family == socket.AF_INET6 else 32
    plen = int(plen) if sep else bits
    if not 0 <= plen <= bits:
        raise ValueError('bad prefix length in %r' % (text,))
    if int.from_bytes(socket.inet_pton(family, addr), 'big') & ((1 << (bits - plen)) - 1):
        raise ValueError('%r has host bits set' % (text,))
    return family, '%s/%d' % (addr, plen)


@functools.lru_cache(maxsize=4096)
def _segments(segments):
    return tuple(_address(s, socket.AF_INET6)[1] for s in segments)


def normalize(route):
    """The canonical form of ``route`` (a Route or a tuple of its fields), as
    dump_ours() returns it. ValueError when the route is not one we can write."""
    route = Route(*route)
    family, dst = _network(route.dst)
    action = route.action
    if action not in ('dev', 'encap', 'decap'):
        raise ValueError('unknown action %r in %r' % (action, route))
    segments = _segments(tuple(route.segments))
    if (action == 'encap') != bool(segments):
        raise ValueError('segments are for (and required by) encap routes: %r' % (route,))
    nh4 = None
    if action == 'decap':
        if family != socket.AF_INET6 or route.nh4 is None:
            raise ValueError('decap (End.DX4) needs an IPv6 dst and nh4: %r' % (route,))
        nh4 = _address(route.nh4, socket.AF_INET)[1]
    elif route.nh4 is not None:
        raise ValueError('nh4 is for decap routes: %r' % (route,))
    via = None
    if route.via is not None:
        if action != 'dev':
            raise ValueError('via is for dev routes: %r' % (route,))
        via = _address(route.via, family)[1]
    if route.oif is None:
        # also for 'dev ... via': the kernel would fill the oif in, and
        # dump_ours() would no longer return the route that was applied
        raise ValueError('every route needs an oif: %r' % (route,))
    table = int(route.table)
    if not 0 < table < 2 ** 32:
        raise ValueError('bad table in %r' % (route,))
    return Route(dst, route.oif, action, segments, nh4, via, table)


# --- wire format -----------------------------------------------------------------
# Constants from linux/netlink.h, rtnetlink.h, lwtunnel.h, seg6_iptunnel.h,
# seg6_local.h (cross-checked against pyroute2 0.9.7's tables).

NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 1, 2, 4
NLM_F_DUMP_INTR = 0x10
NLM_F_REPLACE, NLM_F_CREATE, NLM_F_DUMP = 0x100, 0x400, 0x300
NLM_F_ACK_TLVS = 0x200
NLMSGERR_ATTR_MSG = 1
RTM_NEWLINK, RTM_GETLINK = 16, 18
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = 1, 4, 5, 15
RTA_MULTIPATH = 9
RTA_ENCAP_TYPE, RTA_ENCAP = 21, 22
IFLA_IFNAME = 3
RTN_UNICAST = 1
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_NOWHERE = 0, 253, 255
RT_TABLE_COMPAT = 252
LWTUNNEL_ENCAP_SEG6, LWTUNNEL_ENCAP_SEG6_LOCAL = 5, 7
SEG6_IPTUNNEL_SRH = 1
SEG6_IPTUN_MODE_ENCAP = 1
SEG6_LOCAL_ACTION, SEG6_LOCAL_NH4 = 1, 4
SEG6_LOCAL_ACTION_END_DX4 = 6
IPV6_SRCRT_TYPE_4 = 4
SOL_NETLINK = 270
NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK = 10, 11, 12
NLA_TYPE_MASK = 0x3fff

_HDR = struct.Struct('=IHHII')          # nlmsghdr: len type flags seq pid
_RTMSG = struct.Struct('=BBBBBBBBI')    # family dst_len src_len tos table proto scope type flags
_IFINFO = struct.Struct('=BxHiII')      # family type index flags change
_NLA = struct.Struct('=HH')
_U32 = struct.Struct('=I')
_ERR = struct.Struct('=i')
_SRH = struct.Struct('=IBBBBBBH')       # mode; nexthdr hdrlen type segleft firstseg flags tag


def _nla(kind, payload):
    length = 4 + len(payload)
    return _NLA.pack(length, kind) + payload + b'\0' * (-length & 3)


def _family(dst):
    return socket.AF_INET6 if ':' in dst else socket.AF_INET


def _split(dst):
    addr, _, plen = dst.partition('/')
    return addr, int(plen)


def encode_route(op, route, ifindex, seq, proto=RTPROT_SRV6):
    """One RTM_NEWROUTE (op 'add': create or replace) or RTM_DELROUTE (op
    'delete': matched by family, table, dst and our protocol) message for a
    normalized ``route``, ``ifindex`` its resolved oif (or None).

    The attribute layout is the one pyroute2's rtmsg produces for the same
    attrs list (see encode_route_pyroute2), so both codecs send the same bytes."""
    family = _family(route.dst)
    addr, plen = _split(route.dst)
    table = route.table
    attrs = [_nla(RTA_TABLE, _U32.pack(table)),
             _nla(RTA_DST, socket.inet_pton(family, addr))]
    if op == 'add':
        kind, flags = RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE
        scope = RT_SCOPE_UNIVERSE
        if family == socket.AF_INET and route.via is None:
            scope = RT_SCOPE_LINK  # as iproute2 sets it for a route without a gateway
        rtype = RTN_UNICAST
        if ifindex is not None:
            attrs.append(_nla(RTA_OIF, _U32.pack(ifindex)))
        if route.via is not None:
            attrs.append(_nla(RTA_GATEWAY, socket.inet_pton(family, route.via)))
        if route.action == 'encap':
            n = len(route.segments)
            srh = _SRH.pack(SEG6_IPTUN_MODE_ENCAP, 0, 2 * n, IPV6_SRCRT_TYPE_4, n - 1, n - 1, 0, 0)
            # on the wire segments[0] is the LAST SID: reverse the travel order
            srh += b''.join(socket.inet_pton(socket.AF_INET6, s) for s in reversed(route.segments))
            attrs.append(_nla(RTA_ENCAP_TYPE, struct.pack('=H', LWTUNNEL_ENCAP_SEG6)))
            attrs.append(_nla(RTA_ENCAP, _nla(SEG6_IPTUNNEL_SRH, srh)))
        elif route.action == 'decap':
            attrs.append(_nla(RTA_ENCAP_TYPE, struct.pack('=H', LWTUNNEL_ENCAP_SEG6_LOCAL)))
            attrs.append(_nla(RTA_ENCAP,
                              _nla(SEG6_LOCAL_ACTION, _U32.pack(SEG6_LOCAL_ACTION_END_DX4))
                              + _nla(SEG6_LOCAL_NH4, socket.inet_aton(route.nh4))))
    elif op == 'delete':
        kind, flags = RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK
        scope, rtype = RT_SCOPE_NOWHERE, 0  # as `ip route del`: any scope, any type
    else:
        raise ValueError('op must be add or delete, not %r' % (op,))
    body = _RTMSG.pack(family, plen, 0, 0, table if table < 256 else RT_TABLE_COMPAT,
                       proto, scope, rtype, 0) + b''.join(attrs)
    return _HDR.pack(16 + len(body), kind, flags, seq, 0) + body


def encode_route_pyroute2(op, route, ifindex, seq, proto=RTPROT_SRV6):
    """The same message built with pyroute2's rtmsg class (slow: ~200 us)."""
    from pyroute2.netlink.rtnl.rtmsg import rtmsg
    family = _family(route.dst)
    addr, plen = _split(route.dst)
    msg = rtmsg()
    msg['family'] = family
    msg['dst_len'] = plen
    msg['table'] = route.table if route.table < 256 else RT_TABLE_COMPAT
    msg['proto'] = proto
    attrs = [('RTA_TABLE', route.table), ('RTA_DST', addr)]
    if op == 'add':
        msg['header']['type'] = RTM_NEWROUTE
        msg['header']['flags'] = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE
        msg['scope'] = RT_SCOPE_LINK if family == socket.AF_INET and route.via is None \
            else RT_SCOPE_UNIVERSE
        msg['type'] = RTN_UNICAST
        if ifindex is not None:
            attrs.append(('RTA_OIF', ifindex))
        if route.via is not None:
            attrs.append(('RTA_GATEWAY', route.via))
        if route.action == 'encap':
            # pyroute2 writes 'segs' as given, i.e. in SRH order (last SID first)
            attrs.append(('RTA_ENCAP_TYPE', LWTUNNEL_ENCAP_SEG6))
            attrs.append(('RTA_ENCAP', {'attrs': [('SEG6_IPTUNNEL_SRH', {
                'mode': 'encap', 'segs': list(reversed(route.segments))})]}))
        elif route.action == 'decap':
            attrs.append(('RTA_ENCAP_TYPE', LWTUNNEL_ENCAP_SEG6_LOCAL))
            attrs.append(('RTA_ENCAP', {'attrs': [('SEG6_LOCAL_ACTION', {'value': 'End.DX4'}),
                                                  ('SEG6_LOCAL_NH4', route.nh4)]}))
    else:
        msg['header']['type'] = RTM_DELROUTE
        msg['header']['flags'] = NLM_F_REQUEST | NLM_F_ACK
        msg['scope'] = RT_SCOPE_NOWHERE
        msg['type'] = 0
    msg['attrs'] = attrs
    msg['header']['sequence_number'] = seq
    msg.encode()
    return bytes(msg.data)


def _attrs(data, start, end):
    """{type: (offset, length)} of the NLAs in data[start:end]."""
    out = {}
    while start + 4 <= end:
        length, kind = _NLA.unpack_from(data, start)
        if length < 4:
            break
        out[kind & NLA_TYPE_MASK] = (start + 4, length - 4)
        start += (length + 3) & ~3
    return out


def decode_route(data, offset, length, names):
    """The Route of an RTM_NEWROUTE message at data[offset:offset+length]
    (header included), ``names`` mapping ifindex -> name (missing: the int)."""
    family, plen, _, _, table, _, _, _, _ = _RTMSG.unpack_from(data, offset + 16)
    attrs = _attrs(data, offset + 16 + _RTMSG.size, offset + length)
    if RTA_TABLE in attrs:
        table = _U32.unpack_from(data, attrs[RTA_TABLE][0])[0]
    if RTA_DST in attrs:
        start, size = attrs[RTA_DST]
        addr = socket.inet_ntop(family, bytes(data[start:start + size]))
    else:
        addr = '0.0.0.0' if family == socket.AF_INET else '::'
    oif = via = nh4 = None
    if RTA_OIF in attrs:
        index = _U32.unpack_from(data, attrs[RTA_OIF][0])[0]
        oif = names.get(index, index)
    if RTA_GATEWAY in attrs:
        start, size = attrs[RTA_GATEWAY]
        via = socket.inet_ntop(family, bytes(data[start:start + size]))
    action, segments = 'dev', ()
    if RTA_MULTIPATH in attrs:
        action = 'other'
    if RTA_ENCAP_TYPE in attrs:
        encap_type = struct.unpack_from('=H', data, attrs[RTA_ENCAP_TYPE][0])[0]
        start, size = attrs.get(RTA_ENCAP, (0, 0))
        inner = _attrs(data, start, start + size)
        action = 'other'
        if encap_type == LWTUNNEL_ENCAP_SEG6 and SEG6_IPTUNNEL_SRH in inner:
            at, _ = inner[SEG6_IPTUNNEL_SRH]
            mode, _, _, _, _, first, _, _ = _SRH.unpack_from(data, at)
            if mode == SEG6_IPTUN_MODE_ENCAP:
                at += _SRH.size
                sids = [socket.inet_ntop(socket.AF_INET6, bytes(data[at + 16 * i:at + 16 * i + 16]))
                        for i in range(first + 1)]
                action, segments = 'encap', tuple(reversed(sids))
        elif encap_type == LWTUNNEL_ENCAP_SEG6_LOCAL and SEG6_LOCAL_ACTION in inner:
            act = _U32.unpack_from(data, inner[SEG6_LOCAL_ACTION][0])[0]
            if act == SEG6_LOCAL_ACTION_END_DX4 and SEG6_LOCAL_NH4 in inner:
                at, _ = inner[SEG6_LOCAL_NH4]
                action, nh4 = 'decap', socket.inet_ntoa(bytes(data[at:at + 4]))
    return Route('%s/%d' % (addr, plen), oif, action, segments, nh4, via, table)


def decode_route_pyroute2(data, offset, length, names):
    """decode_route() with pyroute2's rtmsg class (the reference; ~45 us)."""
    from pyroute2.netlink.rtnl.rtmsg import rtmsg
    msg = rtmsg(bytes(data[offset:offset + length]))
    msg.decode()
    family = msg['family']
    addr = msg.get_attr('RTA_DST') or ('0.0.0.0' if family == socket.AF_INET else '::')
    table = msg.get_attr('RTA_TABLE') or msg['table']
    index = msg.get_attr('RTA_OIF')
    oif = names.get(index, index) if index is not None else None
    via = msg.get_attr('RTA_GATEWAY')
    action, segments, nh4 = 'dev', (), None
    if msg.get_attr('RTA_MULTIPATH') is not None:
        action = 'other'
    encap_type = msg.get_attr('RTA_ENCAP_TYPE')
    if encap_type is not None:
        action = 'other'
        encap = msg.get_attr('RTA_ENCAP')
        if encap_type == LWTUNNEL_ENCAP_SEG6:
            srh = encap.get_attr('SEG6_IPTUNNEL_SRH')
            if srh is not None and srh['mode'] == 'encap':
                # pyroute2 decodes segs in SRH order: last SID first
                action, segments = 'encap', tuple(reversed(srh['segs']))
        elif encap_type == LWTUNNEL_ENCAP_SEG6_LOCAL:
            # decoded seg6local actions are integers (End.DX4 == 6)
            if encap.get_attr('SEG6_LOCAL_ACTION') == SEG6_LOCAL_ACTION_END_DX4:
                nh4 = encap.get_attr('SEG6_LOCAL_NH4')
                action = 'decap' if nh4 else 'other'
    return Route('%s/%d' % (addr, msg['dst_len']), oif, action, segments, nh4, via, table)


CODECS = {'struct': (encode_route, decode_route),
          'pyroute2': (encode_route_pyroute2, decode_route_pyroute2)}


CLONE_NEWNET = 0x40000000


def _socket_in_netns(path):
    """A NETLINK_ROUTE socket opened inside the namespace at ``path``, by a
    short-lived thread that setns()es (a namespace change is per thread and
    ends with it; a socket keeps the namespace it was created in).

    Not pyroute2.netns.create_socket(): that forks a child which the parent
    stops with SIGTERM, and a child still in Python code then runs the
    parent's SIGTERM handler, e.g. a cleanup that deletes the parent's
    namespaces (seen with bench/routes.py; tests/netlab.py's handler would do
    the same). No fork here, and 1 ms instead of ~10-180 ms."""
    result = {}

    def target():
        try:
            with open(path, 'rb') as nsfile:
                if hasattr(os, 'setns'):  # Python >= 3.12
                    os.setns(nsfile.fileno(), CLONE_NEWNET)
                else:
                    libc = ctypes.CDLL(None, use_errno=True)
                    if libc.setns(nsfile.fileno(), CLONE_NEWNET) != 0:
                        code = ctypes.get_errno()
                        raise OSError(code, 'setns(%s): %s' % (path, os.strerror(code)))
            result['sock'] = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
        except BaseException as exc:  # handed to the caller
            result['error'] = exc

    thread = threading.Thread(target=target, name='srv6-routes-setns', daemon=True)
    thread.start()
    thread.join()
    if 'error' in result:
        raise result['error']
    return result['sock']


# --- the table -------------------------------------------------------------------

class RouteTable:
    """Our routes in one network namespace.

    ``netns``: a name under /var/run/netns (or a path), None for the current
    namespace. ``batch_size``: messages per send(). ``codec``: 'struct'
    (default) or 'pyroute2' (reference; 40x slower encoding). ``timeout``:
    seconds to wait for the kernel's replies before giving up.

        with RouteTable('ns1') as table:
            table.apply(add=[Route('10.0.0.5/32', 'veth0', 'encap', ('fc00:2::a',))])
            assert table.dump_ours() == {Route('10.0.0.5/32', 'veth0', 'encap', ('fc00:2::a',))}
    """

    # Sleeps before resending the operations the kernel failed with ENOMEM.
    RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4)

    def __init__(self, netns=None, batch_size=DEFAULT_BATCH, codec='struct', timeout=30.0,
                 proto=RTPROT_SRV6):
        if batch_size < 1:
            raise ValueError('batch_size must be positive')
        self.netns = netns
        self.batch_size = batch_size
        self.proto = proto
        self._encode, self._decode = CODECS[codec]
        self._seq = 0
        self._buf = bytearray(1 << 20)
        self.sock = self._open(netns)
        self.sock.settimeout(timeout)

    @staticmethod
    def _open(netns):
        if netns is None:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)  # NETLINK_ROUTE
        else:
            path = netns if '/' in netns else os.path.join('/var/run/netns', netns)
            if not os.path.exists(path):
                raise FileNotFoundError(errno_mod.ENOENT, 'no such network namespace', path)
            sock = _socket_in_netns(path)
        try:
            sock.bind((0, 0))
            for option in (NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK):
                try:
                    sock.setsockopt(SOL_NETLINK, option, 1)
                except OSError:
                    pass  # older kernel: bigger ACKs / no messages / Python-side filter
            for opt_force, opt, size in ((33, socket.SO_RCVBUF, 32 << 20),   # SO_RCVBUFFORCE
                                         (32, socket.SO_SNDBUF, 8 << 20)):    # SO_SNDBUFFORCE
                try:
                    sock.setsockopt(socket.SOL_SOCKET, opt_force, size)
                except OSError:
                    sock.setsockopt(socket.SOL_SOCKET, opt, size)
        except BaseException:
            sock.close()
            raise
        return sock

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _next_seq(self):
        self._seq = (self._seq + 1) & 0xffffffff or 1
        return self._seq

    # -- receiving --

    def _messages(self):
        """Yield (type, flags, seq, offset, length) of every message received,
        one datagram at a time; the buffer is reused by the next datagram."""
        while True:
            size = self.sock.recv_into(self._buf)
            offset = 0
            while offset + 16 <= size:
                length, kind, flags, seq, _ = _HDR.unpack_from(self._buf, offset)
                if length < 16 or offset + length > size:
                    break
                yield kind, flags, seq, offset, length
                offset += (length + 3) & ~3

    def _error(self, offset, length, flags):
        """(errno, extended ACK message) of the NLMSG_ERROR at offset."""
        code = -_ERR.unpack_from(self._buf, offset + 16)[0]
        message = ''
        if flags & NLM_F_ACK_TLVS:
            inner_len = _HDR.unpack_from(self._buf, offset + 20)[0]
            start = offset + 20 + (16 if flags & 0x100 else (inner_len + 3) & ~3)  # NLM_F_CAPPED
            found = _attrs(self._buf, start, offset + length).get(NLMSGERR_ATTR_MSG)
            if found:
                message = bytes(self._buf[found[0]:found[0] + found[1]]).rstrip(b'\0').decode(
                    'utf-8', 'replace')
        return code, message

    def _transact(self, requests):
        """Send ``requests`` (list of (seq, bytes)) in batches; return
        {seq: (errno, message, payload)}: errno 0 and payload None for an ACK,
        errno 0 and the reply bytes for a GET answered with data."""
        replies = {}
        for start in range(0, len(requests), self.batch_size):
            batch = requests[start:start + self.batch_size]
            pending = {seq for seq, _ in batch}
            self.sock.send(b''.join(data for _, data in batch))
            try:
                for kind, flags, seq, offset, length in self._messages():
                    if seq not in pending:
                        continue  # a reply to an earlier, abandoned request
                    if kind == NLMSG_ERROR:
                        code, message = self._error(offset, length, flags)
                        replies[seq] = (code, message, None)
                    else:
                        replies[seq] = (0, '', bytes(self._buf[offset:offset + length]))
                    pending.discard(seq)
                    if not pending:
                        break
            except socket.timeout:
                raise TimeoutError('%d of %d netlink replies missing after %ss; their '
                                   'operations may or may not be done'
                                   % (len(pending), len(batch), self.sock.gettimeout())) from None
            except OSError as exc:
                if exc.errno == errno_mod.ENOBUFS:
                    raise OSError(errno_mod.ENOBUFS, 'netlink receive buffer overflowed; '
                                  'lower batch_size (%d)' % self.batch_size) from exc
                raise
        return replies

    def _dump(self, kind, body):
        """All messages (bytes) of one dump request; retried if interrupted."""
        for _ in range(5):
            seq = self._next_seq()
            self.sock.send(_HDR.pack(16 + len(body), kind, NLM_F_REQUEST | NLM_F_DUMP, seq, 0)
                           + body)
            out, interrupted = [], False
            for mkind, flags, mseq, offset, length in self._messages():
                if mseq != seq:
                    continue
                interrupted |= bool(flags & NLM_F_DUMP_INTR)
                if mkind == NLMSG_DONE:
                    break
                if mkind == NLMSG_ERROR:
                    code, message = self._error(offset, length, flags)
                    raise OSError(code, 'dump failed: %s %s' % (os.strerror(code), message))
                out.append(bytes(self._buf[offset:offset + length]))
            if not interrupted:
                return out
        raise OSError(errno_mod.EINTR, 'route dump kept being interrupted by changes')

    # -- links --

    def _link_query(self, keys):
        """{key: ifindex or name} for names (str) and ifindexes (int), one
        RTM_GETLINK each, all in one batch; missing links are left out."""
        requests, by_seq = [], {}
        for key in keys:
            seq = self._next_seq()
            if isinstance(key, str):
                body = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + \
                    _nla(IFLA_IFNAME, key.encode() + b'\0')
            else:
                body = _IFINFO.pack(socket.AF_UNSPEC, 0, key, 0, 0)
            requests.append((seq, _HDR.pack(16 + len(body), RTM_GETLINK, NLM_F_REQUEST, seq, 0)
                             + body))
            by_seq[seq] = key
        found = {}
        for seq, (code, _, payload) in self._transact(requests).items():
            if code or payload is None or _HDR.unpack_from(payload)[1] != RTM_NEWLINK:
                continue
            key = by_seq[seq]
            if isinstance(key, str):
                found[key] = _IFINFO.unpack_from(payload, 16)[2]
            else:
                attr = _attrs(payload, 16 + _IFINFO.size, len(payload)).get(IFLA_IFNAME)
                if attr:
                    found[key] = payload[attr[0]:attr[0] + attr[1]].rstrip(b'\0').decode()
        return found

    # -- the API --

    def dump_ours(self):
        """The set of our routes (protocol RTPROT_SRV6) in every table, IPv4
        and IPv6, as normalized Routes with interface names. The kernel
        filters by protocol (strict dump checking), so only ours cross the
        socket; its cost is decoding them (~5 us each with codec 'struct')."""
        raw = []
        for family in (socket.AF_INET, socket.AF_INET6):
            # strict checking wants every other header field zero; table 0: all tables
            body = _RTMSG.pack(family, 0, 0, 0, 0, self.proto, 0, 0, 0)
            raw.extend(self._dump(RTM_GETROUTE, body))
        mine = []
        for data in raw:
            if data[16 + 5] != self.proto or _HDR.unpack_from(data)[1] != RTM_NEWROUTE:
                continue  # kernel without strict checking: filter here
            mine.append(data)
        indexes = set()
        for data in mine:
            oif = _attrs(data, 16 + _RTMSG.size, len(data)).get(RTA_OIF)
            if oif:
                indexes.add(_U32.unpack_from(data, oif[0])[0])
        names = self._link_query(sorted(indexes)) if indexes else {}
        return {self._decode(data, 0, len(data), names) for data in mine}

    def apply(self, add=(), delete=(), ignore_missing=True):
        """Add (create or replace) the routes ``add`` and delete ``delete``.

        Adds are sent before deletes, in the same batches. A delete whose
        (family, table, dst) is also added is not sent: the add replaces the
        route in place, without a gap (if that add fails, the delete is sent
        afterwards, as asked). Deletes match family, table, dst and our
        protocol only (never someone else's route; an interface that vanished
        does not matter); deleting a route that is not there counts as done
        if ``ignore_missing``. Interface names are resolved once per call
        (one RTM_GETLINK per distinct name, batched).

        Every operation is attempted; if any failed, RouteError lists them
        (after all replies were read), with the routes normalized. A kernel
        ENOMEM is retried after RETRY_DELAYS sleeps: a burst of thousands of
        seg6 routes occasionally gets it, transiently (ip -batch too; most
        likely the atomic per-CPU allocation of each route's dst cache).
        ValueError, before anything is sent, if a route is malformed."""
        add = [normalize(r) for r in add]
        delete = [Route(*r) for r in delete]
        delete = [r._replace(dst=_network(r.dst)[1], table=int(r.table)) for r in delete]
        total = len(add) + len(delete)
        keys = {(r.dst, r.table) for r in add}  # the dst text tells the family
        replaced = collections.defaultdict(list)
        for route in delete:
            if (route.dst, route.table) in keys:
                replaced[route.dst, route.table].append(route)
        delete = [r for r in delete if (r.dst, r.table) not in keys]
        names = sorted({r.oif for r in add if isinstance(r.oif, str)})
        ifindex = self._link_query(names) if names else {}
        failures, todo = [], []
        for route in add:
            index = ifindex.get(route.oif) if isinstance(route.oif, str) else route.oif
            if index is None:
                failures.append(RouteFailure('add', route, errno_mod.ENODEV,
                                             'no interface %r' % (route.oif,)))
            else:
                todo.append(('add', route, index))
        todo.extend(('delete', route, None) for route in delete)
        failures += self._run(todo, ignore_missing)
        late = [('delete', old, None) for f in failures if f.op == 'add'
                for old in replaced.pop((f.route.dst, f.route.table), ())]
        if late:
            failures += self._run(late, ignore_missing)
        if failures:
            raise RouteError(failures, total)

    def _run(self, todo, ignore_missing):
        """Send the operations ``todo`` ((op, route, ifindex) each); return
        the failures, after retrying those that got ENOMEM."""
        failures = []
        for attempt in range(len(self.RETRY_DELAYS) + 1):
            if attempt:
                time.sleep(self.RETRY_DELAYS[attempt - 1])
            requests, ops = [], {}
            for op, route, index in todo:
                seq = self._next_seq()
                requests.append((seq, self._encode(op, route, index, seq, self.proto)))
                ops[seq] = (op, route, index)
            replies = self._transact(requests)
            todo = []
            for seq, _ in requests:
                code, message, _ = replies[seq]
                op, route, index = ops[seq]
                if not code or (op == 'delete' and code == errno_mod.ESRCH and ignore_missing):
                    continue
                if code == errno_mod.ENOMEM and attempt < len(self.RETRY_DELAYS):
                    todo.append((op, route, index))
                else:
                    failures.append(RouteFailure(op, route, code, message))
            if not todo:
                break
        return failures
