"""srv6_ofapp.dataplane.route_table and route_codec against the real kernel:
batched netlink route programming in a private network namespace, checked
with iproute2.

Each kernel test gets a fresh namespace ``srv6t-routes-<pid>`` holding a veth
pair (dummy links do not exist on this kernel), deleted by the fixture's
finalizer whatever happens. The codec tests need neither root nor a kernel.
"""

import errno
import json
import os
import shutil
import socket
import subprocess

import pytest

from srv6_ofapp.dataplane import route_codec
from srv6_ofapp.dataplane.route_codec import RTPROT_SRV6, Route, normalize
from srv6_ofapp.dataplane.route_table import RouteError, RouteTable

NETNS = 'srv6t-routes-%d' % os.getpid()

needs_root = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which('ip'),
                                reason='needs root and iproute2')


def ip(*args, check=True):
    return subprocess.run(['ip', '-n', NETNS] + list(args), check=check, capture_output=True,
                          text=True)


def ip_json(*args):
    return json.loads(ip('-j', *args).stdout or '[]')


@pytest.fixture
def netns():
    subprocess.run(['ip', 'netns', 'add', NETNS], check=True, capture_output=True)
    try:
        for cmd in (['link', 'add', 'va0', 'type', 'veth', 'peer', 'name', 'vb0'],
                    ['link', 'set', 'va0', 'up'], ['link', 'set', 'vb0', 'up'],
                    ['addr', 'add', '192.0.2.1/24', 'dev', 'va0'],
                    ['-6', 'addr', 'add', 'fc00::1/64', 'dev', 'va0', 'nodad']):
            ip(*cmd)
        yield NETNS
    finally:
        subprocess.run(['ip', 'netns', 'del', NETNS], capture_output=True)


@pytest.fixture
def table(netns):
    with RouteTable(netns) as t:
        yield t


def encap(i, segs=('fc00:2::a',), dev='va0', table=254):
    return Route('10.%d.%d.%d/32' % (i >> 16 & 255, i >> 8 & 255, i & 255), dev, 'encap',
                 segs, table=table)


TWO_SIDS = ('fc00:2::a', 'fc00:3::b')  # travel order: fc00:2::a first


def sample_routes():
    out = [encap(i) for i in range(1000)]
    out[7] = encap(7, TWO_SIDS)
    out += [Route('10.250.0.0/24', 'va0'),                                   # plain IPv4 dev
            Route('10.251.0.0/16', 'va0', via='192.0.2.254'),                # IPv4 via
            Route('10.252.0.0/24', 'vb0', table=100),                        # another table
            Route('10.253.0.0/24', 'va0', table=1000),                       # table > 255
            Route('fc00:9::/64', 'va0', via='fc00::2'),                      # IPv6 via
            Route('fc00:8::/64', 'vb0'),                                     # IPv6 dev
            Route('fc00:1::1/128', 'va0', 'decap', nh4='192.0.2.77')]        # End.DX4
    return [normalize(r) for r in out]


# --- codecs, no kernel needed -----------------------------------------------------

def test_struct_codec_is_byte_identical_to_pyroute2_rtmsg():
    for route in sample_routes()[5:]:
        for op in ('add', 'delete'):
            for ack in (True, False):
                ours = route_codec.encode_route(op, route, 5, 42, ack=ack)
                theirs = route_codec.encode_route_pyroute2(op, route, 5, 42, ack=ack)
                assert ours == theirs, (op, route, ack)
        data = route_codec.encode_route('add', route, 5, 42)
        names = {5: route.oif}
        assert route_codec.decode_route(data, 0, len(data), names) == route
        assert route_codec.decode_route_pyroute2(data, 0, len(data), names) == route


def test_srh_on_the_wire_holds_the_sids_reversed():
    data = route_codec.encode_route('add', normalize(encap(7, TWO_SIDS)), 5, 1)
    first, second = (socket.inet_pton(socket.AF_INET6, s) for s in TWO_SIDS)
    assert data.endswith(second + first)  # segments[0] is the last SID


def test_normalize():
    assert normalize(('10.0.0.1', 'x', 'encap', ['FC00::0:A'])) == \
        Route('10.0.0.1/32', 'x', 'encap', ('fc00::a',), None, None, 254)
    assert normalize(Route('fc00:0:0::1/128', 'x', 'decap', nh4='10.0.0.1')).dst == 'fc00::1/128'
    for bad in (Route('10.0.0.1/24', 'x'),                      # host bits
                Route('10.0.0.0/24', None),                     # no oif
                Route('10.0.0.0/24', 'x', 'encap'),             # no segments
                Route('10.0.0.0/24', 'x', 'decap', nh4='1.2.3.4'),  # decap needs IPv6 dst
                Route('10.0.0.0/24', 'x', via='fc00::1'),       # family mismatch
                Route('10.0.0.0/24', 'x', 'tunnel')):
        with pytest.raises(ValueError):
            normalize(bad)


# --- the kernel -------------------------------------------------------------------

@needs_root
def test_apply_dump_delete_reapply(table):
    ip('route', 'add', '10.200.0.0/24', 'dev', 'va0')  # not ours (proto boot)
    ip('route', 'add', '10.200.1.0/24', 'dev', 'va0', 'proto', 'static')
    wanted = sample_routes()
    table.apply(wanted)

    v4 = [r for r in ip_json('-4', 'route', 'show', 'table', 'all') if r.get('protocol') == '83']
    v6 = [r for r in ip_json('-6', 'route', 'show', 'table', 'all')
          if r.get('protocol') == '83']
    assert len(v4) + len(v6) == len(wanted)
    by_dst = {r['dst']: r for r in v4 + v6}
    assert by_dst['10.0.0.7']['segs'] == list(TWO_SIDS)  # iproute2 prints travel order
    assert by_dst['10.0.0.7']['encap'] == 'seg6' and by_dst['10.0.0.7']['mode'] == 'encap'
    assert by_dst['10.0.0.8']['segs'] == ['fc00:2::a']
    assert by_dst['fc00:1::1']['encap'] == 'seg6local'
    assert (by_dst['fc00:1::1']['action'], by_dst['fc00:1::1']['nh4']) == ('End.DX4', '192.0.2.77')
    assert by_dst['10.251.0.0/16']['gateway'] == '192.0.2.254'
    assert by_dst['10.253.0.0/24']['table'] == '1000'
    assert 'segs fc00:2::a,fc00:3::b' not in ip('route').stdout  # (text form below)
    assert '10.0.0.7  encap seg6 mode encap segs 2 [ fc00:2::a fc00:3::b ]' in \
        ip('route', 'show', 'proto', str(RTPROT_SRV6)).stdout

    assert table.dump_ours() == set(wanted)  # not 10.200.x: other protocols

    table.apply(delete=wanted[::2])
    rest = set(wanted[1::2])
    assert table.dump_ours() == rest
    assert len(ip_json('route', 'show', 'proto', str(RTPROT_SRV6))) == \
        len([r for r in rest if ':' not in r.dst and r.table == 254])

    table.apply(wanted)  # idempotent: replace semantics, no EEXIST
    table.apply(wanted)
    assert table.dump_ours() == set(wanted)
    with RouteTable(NETNS, codec='pyroute2') as reference:
        assert reference.dump_ours() == set(wanted)

    table.apply(delete=wanted)
    assert table.dump_ours() == set()
    others = {r['dst'] for r in ip_json('route')}
    assert {'10.200.0.0/24', '10.200.1.0/24'} <= others  # never touched


@needs_root
def test_sid_order_matches_iproute2_both_ways(table):
    ip('route', 'add', '10.9.0.1/32', 'encap', 'seg6', 'mode', 'encap', 'segs',
       'fc00:2::a,fc00:3::b,fc00:4::c', 'dev', 'va0', 'proto', str(RTPROT_SRV6))
    three = Route('10.9.0.1/32', 'va0', 'encap', ('fc00:2::a', 'fc00:3::b', 'fc00:4::c'))
    assert table.dump_ours() == {normalize(three)}
    with RouteTable(NETNS, codec='pyroute2') as reference:
        assert reference.dump_ours() == {normalize(three)}
    written_by_ip = ip('route', 'show', '10.9.0.1/32').stdout
    ip('route', 'del', '10.9.0.1/32')
    table.apply([three])
    assert ip('route', 'show', '10.9.0.1/32').stdout == written_by_ip
    for codec in ('struct', 'pyroute2'):
        with RouteTable(NETNS, codec=codec) as t:
            t.apply([encap(1, TWO_SIDS)])
        assert ip_json('route', 'show', '10.0.0.1/32')[0]['segs'] == list(TWO_SIDS), codec


@needs_root
def test_errors_name_the_route_and_the_rest_is_applied(netns):
    good = [encap(i) for i in range(20)]
    kernel_bad = Route('10.99.0.1/32', 99999, 'encap', ('fc00:2::a',))   # no such ifindex
    local_bad = Route('10.99.0.2/32', 'nosuchdev', 'encap', ('fc00:2::a',))
    gw_bad = Route('10.99.0.3/32', 'va0', via='198.51.100.1')           # gateway off-link
    batch = good[:5] + [kernel_bad] + good[5:12] + [gw_bad, local_bad] + good[12:]
    with RouteTable(netns, batch_size=7) as t:  # failures in different batches
        with pytest.raises(RouteError) as info:
            t.apply(batch)
        error = info.value
        assert {(f.route.dst, f.errno) for f in error.failures} == {
            ('10.99.0.1/32', errno.ENODEV), ('10.99.0.2/32', errno.ENODEV),
            ('10.99.0.3/32', errno.ENETUNREACH)}
        assert error.failed_adds == {normalize(r) for r in (kernel_bad, local_bad, gw_bad)}
        assert '10.99.0.1/32' in str(error) and 'ENODEV' in str(error)
        assert '3 of 23 route operations failed' in str(error)
        gw_failure = [f for f in error.failures if f.errno == errno.ENETUNREACH][0]
        assert gw_failure.message  # the kernel's extended ACK text
        # every ACK was read: the socket is in step for the next call
        assert t.dump_ours() == {normalize(r) for r in good}
        t.apply(delete=good[:3])
        assert t.dump_ours() == {normalize(r) for r in good[3:]}


@needs_root
def test_deletes_touch_only_our_protocol(table):
    ip('route', 'add', '10.200.0.0/24', 'dev', 'va0')
    table.apply(delete=[Route('10.200.0.0/24', 'va0')])  # ESRCH, ignored
    assert ip_json('route', 'show', '10.200.0.0/24')
    with pytest.raises(RouteError) as info:
        table.apply(delete=[Route('10.200.0.0/24', 'va0')], ignore_missing=False)
    assert [f.errno for f in info.value.failures] == [errno.ESRCH]


@needs_root
def test_changing_a_route_replaces_it_in_place(table):
    old = normalize(encap(1, ('fc00:2::a',)))
    new = normalize(encap(1, TWO_SIDS))
    table.apply([old])
    table.apply(add=[new], delete=[old])  # the delete is dropped: same dst, replaced
    assert table.dump_ours() == {new}
    moved = new._replace(table=100)
    table.apply(add=[moved], delete=[new])  # another table: a real delete
    assert table.dump_ours() == {moved}
    # the replacement fails: the old route is still deleted, as asked
    broken = moved._replace(oif='nosuchdev')
    with pytest.raises(RouteError) as info:
        table.apply(add=[broken], delete=[moved])
    assert info.value.failed_adds == {broken} and not info.value.failed_deletes
    assert table.dump_ours() == set()


@needs_root
def test_missing_namespace_is_not_created():
    name = NETNS + '-absent'
    with pytest.raises(FileNotFoundError):
        RouteTable(name)
    assert not os.path.exists('/var/run/netns/' + name)
