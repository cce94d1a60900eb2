"""Our routes in the namespaces of one host: what was applied, and the
difference to what is wanted, sent with one RouteTable per namespace.

Kept by the drivers (VRFs, routers) so that they never dump a table to
learn what they put there: a restart reads back only our own routes (our
protocol number), once, and from then on the record is the truth.
"""

import logging

from srv6_ofapp.dataplane.route_codec import normalize
from srv6_ofapp.dataplane.route_table import RouteTable

LOG = logging.getLogger(__name__)


class KernelRoutes:

    def __init__(self):
        self.applied = {}   # namespace (None: the host's) -> {(table, dst): Route}
        self._tables = {}

    def _table(self, netns):
        if netns not in self._tables:
            self._tables[netns] = RouteTable(netns)
        return self._tables[netns]

    def load(self, netns):
        """Read our routes in ``netns`` back from the kernel."""
        self.applied[netns] = {(route.table, route.dst): route
                               for route in self._table(netns).dump_ours()}

    def apply(self, netns, wanted):
        """Make ``netns`` hold our routes ``wanted`` ({key: Route}); returns
        the number of routes written."""
        # The form dump_ours() reads back, so that equal means unchanged.
        wanted = {(r.table, r.dst): r for r in map(normalize, wanted.values())}
        have = self.applied.get(netns, {})
        adds = [r for key, r in wanted.items() if have.get(key) != r]
        deletes = [r for key, r in have.items() if key not in wanted]
        if adds or deletes:
            self._table(netns).apply(adds, deletes)
            LOG.info('%s: %d routes added or replaced, %d deleted',
                     netns or 'host', len(adds), len(deletes))
        self.applied[netns] = dict(wanted)
        return len(adds) + len(deletes)

    def forget(self, netns):
        """A namespace that went, and its routes with it."""
        self.applied.pop(netns, None)
        table = self._tables.pop(netns, None)
        if table is not None:
            table.close()

    def forget_where(self, netns, gone):
        """Routes of ``netns`` the kernel dropped itself (``gone(route)``:
        e.g. their device was deleted)."""
        routes = self.applied.get(netns, {})
        for key, route in list(routes.items()):
            if gone(route):
                del routes[key]

    def count(self):
        return sum(len(routes) for routes in self.applied.values())

    def close(self):
        for netns in list(self._tables):
            self._tables.pop(netns).close()
