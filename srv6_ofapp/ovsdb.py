"""The one client of a host's OVSDB: the edge reads which interface carries
which Neutron port (external_ids:iface-id), and the VRF drivers put each
network's gateway port on the host's bridge and take it off again.

ovs-vsctl is the client: it is on every OVS host, and this runs on
connects, port additions and VRF changes only, never per packet.  Every
call is bounded twice: ``--timeout`` for ovs-vsctl's wait on the database,
and a few seconds more for the process itself.
"""

import json
import logging
import subprocess

LOG = logging.getLogger(__name__)

# Where Open vSwitch's own database listens when a host names none.
DEFAULT_TARGET = 'unix:/var/run/openvswitch/db.sock'


class OvsdbError(RuntimeError):
    """ovs-vsctl could not be run, timed out, or refused the request."""


class Ovsdb:
    """The OVSDB at ``target`` (an ovs-vsctl --db string)."""

    def __init__(self, target=DEFAULT_TARGET, timeout=10):
        self.target = target
        self.timeout = timeout

    @classmethod
    def of_host(cls, host, timeout=10):
        """The OVSDB of a host document: its ``ovsdb`` attribute, else the
        default socket of the machine the caller runs on."""
        return cls(host.get('ovsdb') or DEFAULT_TARGET, timeout)

    def _vsctl(self, *args, check=True):
        try:
            result = subprocess.run(
                ['ovs-vsctl', '--db=' + self.target, '--timeout=%d' % self.timeout] +
                list(args), capture_output=True, text=True, timeout=self.timeout + 5)
        except (OSError, subprocess.SubprocessError) as error:
            raise OvsdbError('ovs-vsctl %s on %s: %s' % (' '.join(args), self.target,
                                                         error)) from error
        if check and result.returncode != 0:
            raise OvsdbError('ovs-vsctl %s on %s failed: %s' % (
                ' '.join(args), self.target, result.stderr.strip()))
        return result

    def iface_ids(self):
        """{interface name: iface-id} of every Interface that has one."""
        out = self._vsctl('--format=json', '--columns=name,external_ids',
                          'list', 'Interface').stdout
        try:
            table = json.loads(out)
            names = table['headings'].index('name')
            external_ids = table['headings'].index('external_ids')
        except (ValueError, KeyError) as error:
            raise OvsdbError('unreadable Interface table from %s: %s'
                             % (self.target, error)) from error
        found = {}
        for row in table['data']:
            pairs = dict(row[external_ids][1]) if row[external_ids][0] == 'map' else {}
            if pairs.get('iface-id'):
                found[row[names]] = pairs['iface-id']
        return found

    def bridge_of(self, port):
        """The bridge holding ``port``, or None (no such port, or no answer)."""
        result = self._vsctl('port-to-br', port, check=False)
        if result.returncode != 0:
            return None
        return result.stdout.strip() or None

    def put_port(self, bridge, port):
        """Make ``port`` a port of ``bridge``, moving it from any other
        bridge, in one transaction; nothing when it is there already."""
        if self.bridge_of(port) == bridge:
            return
        self._vsctl('--if-exists', 'del-port', port, '--', 'add-port', bridge, port)

    def delete_port(self, port):
        """Remove ``port`` from whichever bridge holds it, if any."""
        self._vsctl('--if-exists', 'del-port', port)


def iface_ids(target, timeout=5):
    """{interface name: iface-id} of every Interface in the OVSDB at ``target``,
    or None (logged) when the database cannot be read: the caller keeps what
    it knew rather than forgetting every port it found by iface-id.
    """
    try:
        return Ovsdb(target, timeout).iface_ids()
    except OvsdbError as error:
        LOG.warning('cannot read interfaces from OVSDB %s: %s', target, error)
        return None
