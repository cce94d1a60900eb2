"""Our routes in the namespaces of one host: what was applied, and the
difference to what is wanted, sent with one RouteTable per namespace.

Kept by the drivers (VRFs, routers) so that they never dump a table to
learn what they put there: a restart reads back only our own routes (our
protocol number), once, and from then on the record is the truth.

A network node holds a namespace per router, so the netlink sockets kept
open are bounded (MAX_OPEN, least recently used closed first): a socket
costs a file descriptor, and reopening one about a millisecond.
"""

import collections
import logging

from srv6_ofapp.dataplane.route_codec import normalize
from srv6_ofapp.dataplane.route_table import RouteTable

LOG = logging.getLogger(__name__)


MAX_OPEN = 64


class KernelRoutes:

    def __init__(self, max_open=MAX_OPEN):
        self.applied = {}   # namespace (None: the host's) -> {(table, dst): Route}
        self._tables = collections.OrderedDict()
        self.max_open = max_open

    def _table(self, netns):
        table = self._tables.pop(netns, None)
        if table is None:
            while len(self._tables) >= self.max_open:
                self._tables.popitem(last=False)[1].close()
            table = RouteTable(netns)
        self._tables[netns] = table
        return table

    def load(self, netns, mine=None):
        """Read our routes in ``netns`` back from the kernel; ``mine(route)``,
        if given, tells the routes this record owns from those of another
        driver sharing the namespace (a network node's VRFs and routers)."""
        self.applied[netns] = {(route.table, route.dst): route
                               for route in self._table(netns).dump_ours()
                               if mine is None or mine(route)}

    def apply(self, netns, wanted):
        """Make ``netns`` hold our routes ``wanted`` ({key: Route}); returns
        the number of routes written."""
        have = self.applied.get(netns, {})
        # The form dump_ours() reads back, so that equal means unchanged; a
        # route equal to the one applied is in that form already.
        wanted = {(r.table, r.dst): r for r in (
            route if have.get((route.table, route.dst)) == route else normalize(route)
            for route in wanted.values())}
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
