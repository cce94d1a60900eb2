"""Our routes in one network namespace, programmed over netlink in batches:
RouteTable opens the socket (in another namespace if asked), resolves
interface names, sends route_codec messages in batches, reads and checks
every ACK, and dumps back only our own routes (RTPROT_SRV6).

Why it is fast (numbers: bench/routes.py; faster than `ip -batch`, which
waits for one ACK per route):

  * **Batches.** :meth:`RouteTable.apply` packs ``batch_size`` (500)
    RTM_NEWROUTE/RTM_DELROUTE messages into one ``send()``; the kernel
    processes all of them before ``send()`` returns. Only the batch's last
    message asks for an ACK: a failed message is reported anyway (an
    NLMSG_ERROR with its sequence number, read and matched afterwards), and
    a failure does not stop the others (the kernel carries on with the next
    message of the buffer). The receive buffer is sized (SO_RCVBUFFORCE) to
    hold a full batch of errors, and NETLINK_CAP_ACK keeps them small.
  * **Encoding with struct** (route_codec.py): a couple of microseconds a
    message (pyroute2 rtmsg: 150-200 us), the seg6 attributes packed once
    per SID list (a few hundred remote VRFs, not one per route), and routes
    already in canonical form not normalized again.
    ``RouteTable(codec='pyroute2')`` switches encoding and dump decoding to
    pyroute2's ``rtmsg`` (the reference, for tests and the benchmark).
  * **Backpressure, not giving up.** A burst of thousands of distinct seg6
    routes makes the kernel answer ENOMEM for some (``ip -batch`` too);
    those are sent again in smaller batches after a growing pause, as long
    as rounds make progress.
  * **No full dumps.** apply() never reads the routing table; the caller
    keeps what it applied. dump_ours() asks the kernel to filter by
    protocol (NETLINK_GET_STRICT_CHK + rtm_protocol in the dump request;
    kernel >= 4.20), so a table full of other routes costs only the
    kernel's walk; the protocol is checked again in Python anyway.

Netlink socket: a plain ``socket.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)``;
for another namespace, a short-lived thread setns()es and opens it there
(srv6_ofapp.netns says why not pyroute2.netns.create_socket). pyroute2's
IPRoute is not used: in 0.9.x it is an asyncio core with a sync wrapper that
owns its socket's reads, which does not mix with reading a batch of ACKs
ourselves. pyroute2 remains the reference codec (codec='pyroute2').

Not thread-safe: one RouteTable per thread (or a lock around it).
"""

import collections
import errno as errno_mod
import os
import socket
import struct
import time

from srv6_ofapp import netns as netns_lib
from srv6_ofapp.dataplane.route_codec import (
    CODECS, NLM_F_REQUEST, NLMSGHDR, RTM_NEWROUTE, RTMSG, RTPROT_SRV6, Route,
    known_canonical, normalize, normalize_key, pack_nla, parse_nlas, route_text)

DEFAULT_BATCH = 500

# linux/netlink.h, rtnetlink.h: what the socket, dumps, link queries and
# ACKs need beyond route messages.
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP = 0x300
NLM_F_ACK_TLVS = 0x200
NLM_F_CAPPED = 0x100
NLMSGERR_ATTR_MSG = 1
RTM_NEWLINK, RTM_GETLINK = 16, 18
RTM_GETROUTE = 26
IFLA_IFNAME = 3
SOL_NETLINK = 270
NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK = 10, 11, 12

_IFINFO = struct.Struct('=BxHiII')      # family type index flags change
_ERR = struct.Struct('=i')

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
    text = '%s %s: %s (%s)' % (failure.op, route_text(failure.route), name,
                               os.strerror(failure.errno))
    if failure.message:
        text += ' [%s]' % failure.message
    return text


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

    # Backpressure on ENOMEM: the first and the longest pause before sending
    # again what failed, the smallest batch it is sent in, and how long
    # rounds may make no progress at all before those operations fail.
    RETRY_DELAYS = (0.02, 0.5)
    MIN_RETRY_BATCH = 16
    ENOMEM_PATIENCE = 20.0

    def __init__(self, netns=None, batch_size=DEFAULT_BATCH, codec='struct', timeout=30.0,
                 proto=RTPROT_SRV6):
        if batch_size < 1:
            raise ValueError('batch_size must be positive')
        self.netns = netns
        self.batch_size = batch_size
        self.proto = proto
        self._encode, self._decode, self._split = CODECS[codec]
        self._seq = 0
        self.enomem_retries = 0  # operations sent again after ENOMEM (since opened)
        self._buf = bytearray(1 << 20)
        self.sock = self._open(netns)
        self.sock.settimeout(timeout)

    @staticmethod
    def _open(netns):
        if netns is None:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)  # NETLINK_ROUTE
        else:
            path = netns_lib.path_of(netns)
            if not os.path.exists(path):
                raise FileNotFoundError(errno_mod.ENOENT, 'no such network namespace', path)
            sock = netns_lib.call_in(path, lambda: socket.socket(socket.AF_NETLINK,
                                                                 socket.SOCK_RAW, 0))
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
                length, kind, flags, seq, _ = NLMSGHDR.unpack_from(self._buf, offset)
                if length < 16 or offset + length > size:
                    break
                yield kind, flags, seq, offset, length
                offset += (length + 3) & ~3

    def _error(self, offset, length, flags):
        """(errno, extended ACK message) of the NLMSG_ERROR at offset."""
        code = -_ERR.unpack_from(self._buf, offset + 16)[0]
        message = ''
        if flags & NLM_F_ACK_TLVS:
            inner_len = NLMSGHDR.unpack_from(self._buf, offset + 20)[0]
            start = offset + 20 + (16 if flags & NLM_F_CAPPED else (inner_len + 3) & ~3)
            found = parse_nlas(self._buf, start, offset + length).get(NLMSGERR_ATTR_MSG)
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
            except OSError as exc:
                raise self._receive_error(exc, len(batch)) from None
        return replies

    def _dump(self, kind, body):
        """All messages (bytes) of one dump request; retried if interrupted."""
        for _ in range(5):
            seq = self._next_seq()
            self.sock.send(NLMSGHDR.pack(16 + len(body), kind, NLM_F_REQUEST | NLM_F_DUMP, seq, 0)
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
                    pack_nla(IFLA_IFNAME, key.encode() + b'\0')
            else:
                body = _IFINFO.pack(socket.AF_UNSPEC, 0, key, 0, 0)
            requests.append((seq, NLMSGHDR.pack(16 + len(body), RTM_GETLINK, NLM_F_REQUEST, seq, 0)
                             + body))
            by_seq[seq] = key
        found = {}
        for seq, (code, _, payload) in self._transact(requests).items():
            if code or payload is None or NLMSGHDR.unpack_from(payload)[1] != RTM_NEWLINK:
                continue
            key = by_seq[seq]
            if isinstance(key, str):
                found[key] = _IFINFO.unpack_from(payload, 16)[2]
            else:
                attr = parse_nlas(payload, 16 + _IFINFO.size, len(payload)).get(IFLA_IFNAME)
                if attr:
                    found[key] = payload[attr[0]:attr[0] + attr[1]].rstrip(b'\0').decode()
        return found

    # -- the API --

    def dump_ours(self):
        """The set of our routes (protocol RTPROT_SRV6) in every table, IPv4
        and IPv6, as normalized Routes with interface names. The kernel
        filters by protocol (strict dump checking), so only ours cross the
        socket; its cost is decoding them (about 1-2 us each with codec
        'struct': only their dst, and each distinct rest once)."""
        raw = []
        for family in (socket.AF_INET, socket.AF_INET6):
            # strict checking wants every other header field zero; table 0: all tables
            body = RTMSG.pack(family, 0, 0, 0, 0, self.proto, 0, 0, 0)
            raw.extend(self._dump(RTM_GETROUTE, body))
        # One message per shape (all but the dst) is decoded in full, with
        # interface indexes; then the few distinct indexes are named in one
        # batched query, and every route is its dst and its shape's rest.
        shapes, routes, whole = {}, [], []
        split = self._split
        for data in raw:
            if data[16 + 5] != self.proto or NLMSGHDR.unpack_from(data)[1] != RTM_NEWROUTE:
                continue  # kernel without strict checking: filter here
            found = split(data, 0, len(data)) if split else None
            if found is None:
                whole.append(self._decode(data, 0, len(data), {}))
                continue
            shape, dst = found
            if shape not in shapes:
                shapes[shape] = self._decode(data, 0, len(data), {})[1:]
            routes.append((dst, shape))
        indexes = {rest[0] for rest in shapes.values() if rest[0].__class__ is int}
        indexes.update(r.oif for r in whole if r.oif.__class__ is int)
        names = self._link_query(sorted(indexes)) if indexes else {}
        for shape, rest in shapes.items():
            shapes[shape] = (names.get(rest[0], rest[0]),) + rest[1:]
        new = Route.__new__
        routes = {new(Route, dst, *shapes[shape]) for dst, shape in routes}
        routes.update(r._replace(oif=names.get(r.oif, r.oif)) for r in whole)
        known_canonical(routes)  # the kernel's form is the canonical one
        return routes

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
        ENOMEM is backpressure, not a failure: those operations are sent
        again (see _run) until they pass or rounds stop making progress.
        ValueError, before anything is sent, if a route is malformed."""
        add = [normalize(r) for r in add]
        delete = [normalize_key(r) for r in delete]
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
        the failures.

        Only the last message of a batch asks for an acknowledgement: the
        kernel reports a failed message whether or not it was asked to, and
        handles a batch's messages in order, so once that last ACK is in,
        every error of the batch is too (one ACK per batch instead of one
        per route to read, match and check).

        Backpressure: the operations that got ENOMEM (the kernel runs out
        of room for seg6 state in a burst, e.g. 20,000 distinct SID lists)
        are sent again, after a pause that grows while they keep failing,
        in smaller batches; they fail for good only when a round makes no
        progress for ENOMEM_PATIENCE seconds."""
        failures = []
        batch_size = self.batch_size
        delay = self.RETRY_DELAYS[0]
        stalled_since = None
        while todo:
            retry = []
            for start in range(0, len(todo), batch_size):
                batch = todo[start:start + batch_size]
                for code, message, (op, route, index) in self._send_batch(batch):
                    if op == 'delete' and code == errno_mod.ESRCH and ignore_missing:
                        continue
                    if code == errno_mod.ENOMEM:
                        retry.append((op, route, index))
                    else:
                        failures.append(RouteFailure(op, route, code, message))
            if not retry:
                break
            now = time.monotonic()
            if len(retry) < len(todo):
                stalled_since = None  # some went through: the kernel is draining
                delay = self.RETRY_DELAYS[0]
            elif stalled_since is None:
                stalled_since = now
            elif now - stalled_since > self.ENOMEM_PATIENCE:
                failures += [RouteFailure(op, route, errno_mod.ENOMEM, 'gave up after %.0f s '
                                          'without progress' % self.ENOMEM_PATIENCE)
                             for op, route, index in retry]
                break
            self.enomem_retries += len(retry)
            time.sleep(delay)
            delay = min(delay * 2, self.RETRY_DELAYS[-1])
            batch_size = max(self.MIN_RETRY_BATCH, batch_size // 2)
            todo = retry
        return failures

    def _send_batch(self, batch):
        """Send ``batch`` ((op, route, ifindex) each) in one send(); return
        [(errno, message, operation)] of the operations that failed."""
        encode, proto = self._encode, self.proto
        first = self._seq + 1
        last = first + len(batch) - 1
        if last > 0xffffffff:
            first, last = 1, len(batch)
        self._seq = last
        self.sock.send(b''.join([encode(op, route, index, first + i, proto, False)
                                 for i, (op, route, index) in enumerate(batch[:-1])] +
                                [encode(*batch[-1], last, proto, True)]))
        failed = []
        try:
            for kind, flags, seq, offset, length in self._messages():
                if kind != NLMSG_ERROR or not first <= seq <= last:
                    continue  # a reply to an earlier, abandoned request
                code, message = self._error(offset, length, flags)
                if code:
                    failed.append((code, message, batch[seq - first]))
                if seq == last:
                    break
        except OSError as exc:
            raise self._receive_error(exc, len(batch)) from None
        return failed

    def _receive_error(self, exc, sent):
        """What a failed read of the replies to ``sent`` messages means to
        the caller: a timeout (the operations may or may not be done), an
        overflowed receive buffer (a smaller batch_size), or itself."""
        if isinstance(exc, socket.timeout):
            return TimeoutError('netlink replies to %d messages missing after %ss; their '
                                'operations may or may not be done'
                                % (sent, self.sock.gettimeout()))
        if exc.errno == errno_mod.ENOBUFS:
            return OSError(errno_mod.ENOBUFS, 'netlink receive buffer overflowed; '
                           'lower batch_size (%d)' % self.batch_size)
        return exc
