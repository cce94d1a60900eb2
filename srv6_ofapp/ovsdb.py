"""The little the controller reads from a host's OVSDB: which interface
carries which Neutron port (external_ids:iface-id).  ovs-vsctl is the
client: it is on every OVS host, and this is read on connects and port
additions only, never per packet."""

import json
import logging
import subprocess

LOG = logging.getLogger(__name__)


def iface_ids(target, timeout=5):
    """{interface name: iface-id} of every Interface in the OVSDB at ``target``,
    or None (logged) when the database cannot be read: the caller keeps what
    it knew rather than forgetting every port it found by iface-id.
    """
    try:
        result = subprocess.run(
            ['ovs-vsctl', '--db=' + target, '--timeout=%d' % timeout, '--format=json',
             '--columns=name,external_ids', 'list', 'Interface'],
            capture_output=True, text=True, timeout=timeout + 5, check=True)
        table = json.loads(result.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        LOG.warning('cannot read interfaces from OVSDB %s: %s', target, error)
        return None
    names = table['headings'].index('name')
    external_ids = table['headings'].index('external_ids')
    found = {}
    for row in table['data']:
        pairs = dict(row[external_ids][1]) if row[external_ids][0] == 'map' else {}
        if pairs.get('iface-id'):
            found[row[names]] = pairs['iface-id']
    return found
