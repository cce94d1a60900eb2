"""Upgrades of the model's documents in an existing store, whatever its
backend: a release whose rules keep more in the store than the last one
brings a step that fills it in for documents written before.

The store's ``model/version`` document says how many steps it has had.
:func:`upgrade` runs the missing ones and records the new version in one
transaction, so it is idempotent and safe for several processes starting
at once.  (A backend's own schema, e.g. sqlite's tables and indexes, is
the backend's business: srv6_ofapp/store.)
"""

import logging

from srv6_ofapp import exceptions as exc
from srv6_ofapp.model import security_groups
from srv6_ofapp.model import subnets

LOG = logging.getLogger(__name__)

VERSION_KIND = 'model'
VERSION_KEY = 'version'


def _reserve_service_ips(txn):
    """Gateway-less DHCP subnets get the service_ip they now hold (see
    subnets); an address a port holds is never taken."""
    for subnet in txn.list('subnets'):
        before = subnet.get('service_ip')
        try:
            subnets.keep_service_ip(txn, subnet)
        except exc.ServiceAddressGenerationFailure as error:
            # Served as before: no DHCP without an address to serve from.
            LOG.warning('subnet %s gets no service_ip: %s', subnet['id'], error)
            continue
        if subnet.get('service_ip') != before:
            txn.put('subnets', subnet['id'], subnet)


def _default_security_groups(txn):
    """Ports from before security groups (whose only possible value was [])
    join their project's default group, as a port created now would: with
    port security and no group, a port would pass no traffic at all."""
    for port in txn.list('ports'):
        if port['port_security_enabled'] and not port.get('security_groups'):
            port['security_groups'] = [security_groups.ensure_default(txn,
                                                                      port['tenant_id'])]
            txn.put('ports', port['id'], port)


def _host_roles(txn):
    """Hosts from before network nodes are compute hosts without an
    external interface, as a host registered now without them is."""
    for host in txn.list('hosts'):
        if 'role' not in host:
            host.update(role='compute', external_interface=None)
            txn.put('hosts', host['id'], host)


# STEPS[n] takes a store at model version n to n + 1.
STEPS = (_reserve_service_ips, _default_security_groups, _host_roles)
VERSION = len(STEPS)


def version_of(txn):
    doc = txn.get(VERSION_KIND, VERSION_KEY)
    return doc['version'] if doc else 0


def upgrade(store):
    """Bring the store's documents to this release's model; returns the
    version it was at."""
    if store.read(version_of) == VERSION:
        return VERSION  # the usual start: no write, no transaction

    def txn_fn(txn):
        found = version_of(txn)
        if found > VERSION:
            raise exc.StoreUnavailable(url=store.url, reason='its model version %d is '
                                       'newer than this release (%d)' % (found, VERSION))
        for step in STEPS[found:]:
            LOG.info('model upgrade: %s', step.__doc__.split('\n')[0])
            step(txn)
        if found < VERSION:
            txn.put(VERSION_KIND, VERSION_KEY, {'version': VERSION})
        return found
    return store.transact(txn_fn)
