"""RouteTable's batching and backpressure without a kernel: the netlink
socket is replaced by a fake that answers like the kernel (errors for the
messages that fail, one ACK for the batch's last message)."""

import errno
import struct

import pytest

from srv6_ofapp.dataplane import route_codec, route_table
from srv6_ofapp.dataplane.route_codec import NLM_F_ACK, NLMSGHDR, Route, normalize


class FakeKernel:
    """Takes the messages of each send(); ``fail(seq, dst, attempt)`` says
    which errno (or 0) a message gets."""

    def __init__(self, fail):
        self.fail = fail
        self.sent = []          # [(dst, acked)] per message, in order
        self.batches = []       # messages per send()
        self.attempts = {}
        self.pending = []

    def send(self, data):
        offset, count = 0, 0
        while offset < len(data):
            length, kind, flags, seq, _ = NLMSGHDR.unpack_from(data, offset)
            route = route_codec.decode_route(data, offset, length, {})
            attempt = self.attempts[route.dst] = self.attempts.get(route.dst, 0) + 1
            code = self.fail(seq, route.dst, attempt)
            self.sent.append((route.dst, bool(flags & NLM_F_ACK)))
            if code or flags & NLM_F_ACK:
                # NLMSG_ERROR: header, error, the request's header (capped)
                body = struct.pack('=i', -code) + data[offset:offset + 16]
                self.pending.append(NLMSGHDR.pack(16 + len(body), 2, 0x100, seq, 0) + body)
            offset += length
            count += 1
        self.batches.append(count)
        return len(data)

    def recv_into(self, buf):
        reply = self.pending.pop(0)
        buf[:len(reply)] = reply
        return len(reply)

    def gettimeout(self):
        return 1.0


def table_with(kernel, batch_size=4):
    table = route_table.RouteTable.__new__(route_table.RouteTable)
    table.netns, table.batch_size, table.proto = None, batch_size, route_codec.RTPROT_SRV6
    table._encode, table._decode, table._split = route_codec.CODECS['struct']
    table._seq, table.enomem_retries, table._buf = 0, 0, bytearray(1 << 16)
    table.sock = kernel
    table._link_query = lambda names: {name: 7 for name in names}
    return table


def routes(n):
    return [normalize(Route('10.0.%d.%d/32' % divmod(i, 256), 'va', 'encap', ('fc00::%x' % i,)))
            for i in range(n)]


@pytest.fixture(autouse=True)
def short_pauses(monkeypatch):
    monkeypatch.setattr(route_table.RouteTable, 'RETRY_DELAYS', (0.001, 0.004))


def test_only_the_last_message_of_a_batch_asks_for_an_ack():
    kernel = FakeKernel(lambda seq, dst, attempt: 0)
    table_with(kernel).apply(routes(10))
    assert kernel.batches == [4, 4, 2]
    assert [acked for _, acked in kernel.sent] == [False, False, False, True] * 2 + [False, True]


def test_errors_of_unacknowledged_messages_are_found_by_their_sequence_number():
    kernel = FakeKernel(lambda seq, dst, attempt: errno.ENETUNREACH if dst == '10.0.0.5/32'
                        else 0)
    with pytest.raises(route_table.RouteError) as info:
        table_with(kernel).apply(routes(10))
    assert [(f.route.dst, f.errno) for f in info.value.failures] == \
        [('10.0.0.5/32', errno.ENETUNREACH)]


def test_enomem_is_backpressure_resent_in_smaller_batches_until_done():
    # Every other message fails with ENOMEM on its first three attempts.
    kernel = FakeKernel(lambda seq, dst, attempt: errno.ENOMEM
                        if int(dst.split('.')[3].split('/')[0]) % 2 and attempt <= 3 else 0)
    table = table_with(kernel, batch_size=64)
    table.MIN_RETRY_BATCH = 4
    table.apply(routes(200))
    assert table.enomem_retries == 300
    assert kernel.batches[:4] == [64, 64, 64, 8]     # the first round
    assert max(kernel.batches[4:]) <= 32              # then smaller batches
    assert all(attempts in (1, 4) for attempts in kernel.attempts.values())


def test_enomem_without_any_progress_fails_after_the_patience():
    kernel = FakeKernel(lambda seq, dst, attempt: errno.ENOMEM if dst == '10.0.0.3/32' else 0)
    table = table_with(kernel)
    table.ENOMEM_PATIENCE = 0.05
    with pytest.raises(route_table.RouteError) as info:
        table.apply(routes(6))
    assert [(f.route.dst, f.errno) for f in info.value.failures] == \
        [('10.0.0.3/32', errno.ENOMEM)]
    assert 'without progress' in str(info.value)


def test_a_canonical_route_is_normalized_by_a_lookup():
    route = Route('10.1.2.3', 'va', 'encap', ['FC00::0:1'])
    canonical = normalize(route)
    assert canonical == Route('10.1.2.3/32', 'va', 'encap', ('fc00::1',))
    assert normalize(canonical) is canonical
    assert normalize(tuple(canonical)) is canonical
    with pytest.raises(ValueError):
        normalize(Route('10.1.2.3/24', 'va'))
