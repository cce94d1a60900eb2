"""The OVSDB client against a stand-in ovs-vsctl that records its arguments."""

import json
import os
import stat

import pytest

from srv6_ofapp import ovsdb

FAKE = r'''#!/bin/sh
printf '%s\n' "$*" >> "$FAKE_VSCTL_LOG"
case "$*" in
  *port-to-br*)
    if [ -n "$FAKE_BRIDGE" ]; then echo "$FAKE_BRIDGE"; else echo "no port" >&2; exit 1; fi;;
  *"list Interface"*)
    cat "$FAKE_INTERFACES";;
  *add-port*|*del-port*)
    exit "${FAKE_WRITE_STATUS:-0}";;
esac
'''


@pytest.fixture
def vsctl(tmp_path, monkeypatch):
    script = tmp_path / 'ovs-vsctl'
    script.write_text(FAKE)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / 'calls'
    log.write_text('')
    monkeypatch.setenv('PATH', '%s:%s' % (tmp_path, os.environ['PATH']))
    monkeypatch.setenv('FAKE_VSCTL_LOG', str(log))
    monkeypatch.setenv('FAKE_INTERFACES', str(tmp_path / 'interfaces.json'))
    monkeypatch.delenv('FAKE_BRIDGE', raising=False)

    def calls():
        return log.read_text().splitlines()
    calls.interfaces = tmp_path / 'interfaces.json'
    return calls


def test_iface_ids_reads_the_interface_table(vsctl):
    vsctl.interfaces.write_text(json.dumps({
        'headings': ['name', 'external_ids'],
        'data': [['tapa1b2c3d4-e5', ['map', [['iface-id', 'port-a'], ['other', 'x']]]],
                 ['br-int', ['map', []]],
                 ['vm-eth0', ['map', [['iface-id', 'port-b']]]]]}))
    assert ovsdb.iface_ids('unix:/tmp/db.sock') == {'tapa1b2c3d4-e5': 'port-a',
                                                    'vm-eth0': 'port-b'}
    [call] = vsctl()
    assert call.startswith('--db=unix:/tmp/db.sock --timeout=5 ')


def test_iface_ids_is_none_when_the_database_cannot_be_read(vsctl):
    vsctl.interfaces.write_text('not json')
    assert ovsdb.iface_ids('unix:/tmp/db.sock') is None
    os.unlink(vsctl.interfaces)  # cat fails: ovs-vsctl exits non-zero
    assert ovsdb.iface_ids('unix:/tmp/db.sock') is None


def test_put_port_adds_or_moves_and_leaves_a_port_in_place(vsctl, monkeypatch):
    db = ovsdb.Ovsdb('unix:/x.sock')
    db.put_port('br-int', 'gw-0d1b2c3d-4e')  # on no bridge yet
    monkeypatch.setenv('FAKE_BRIDGE', 'br-old')
    db.put_port('br-int', 'gw-0d1b2c3d-4e')  # on another bridge: moved
    monkeypatch.setenv('FAKE_BRIDGE', 'br-int')
    db.put_port('br-int', 'gw-0d1b2c3d-4e')  # already there: nothing written
    prefix = '--db=unix:/x.sock --timeout=10 '
    move = prefix + '--if-exists del-port gw-0d1b2c3d-4e -- add-port br-int gw-0d1b2c3d-4e'
    check = prefix + 'port-to-br gw-0d1b2c3d-4e'
    assert vsctl() == [check, move, check, move, check]


def test_writes_that_fail_raise(vsctl, monkeypatch):
    monkeypatch.setenv('FAKE_WRITE_STATUS', '1')
    db = ovsdb.Ovsdb('unix:/x.sock')
    with pytest.raises(ovsdb.OvsdbError, match='del-port'):
        db.delete_port('gw-0d1b2c3d-4e')
    with pytest.raises(ovsdb.OvsdbError):
        db.put_port('br-int', 'gw-0d1b2c3d-4e')


def test_a_host_without_an_ovsdb_attribute_uses_the_local_database():
    assert ovsdb.Ovsdb.of_host({'ovsdb': None}).target == ovsdb.DEFAULT_TARGET
    assert ovsdb.Ovsdb.of_host({}).target == ovsdb.DEFAULT_TARGET
    assert ovsdb.Ovsdb.of_host({'ovsdb': 'tcp:10.0.0.1:6640'}).target == 'tcp:10.0.0.1:6640'
