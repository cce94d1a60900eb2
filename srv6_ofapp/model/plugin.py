"""The model's entry points (Neutron's "core plugin"): create, list, get,
update and delete any resource, and the edge's port status reports.

Each request runs in one store transaction: the resource's hooks check
everything and raise a Neutron exception before writing, and the
transaction throws away whatever was written when anything raises, so a
refused request changes nothing.  Attribute types and defaults were already
checked by the REST layer's attribute map; the resource modules own the
rules that need the store.  This module owns what is the same for all of
them: policy and visibility checks in order, revision_number and updated_at,
and the views and filters of a listing.

A new resource is a module with a :class:`resource.Resource` subclass,
registered in RESOURCES.
"""

import collections
import copy
import random

from srv6_ofapp import exceptions as exc
from srv6_ofapp.model import agents
from srv6_ofapp.model import filters as filter_lib
from srv6_ofapp.model import floatingips
from srv6_ofapp.model import hosts
from srv6_ofapp.model import networks
from srv6_ofapp.model import ports
from srv6_ofapp.model import resource
from srv6_ofapp.model import routers
from srv6_ofapp.model import security_groups
from srv6_ofapp.model import srv6_encap_networks
from srv6_ofapp.model import subnets
from srv6_ofapp.model import tags as tag_lib
from srv6_ofapp.model.context import Context  # noqa: F401  (callers make one per request)
from srv6_ofapp.model.views import Views
from srv6_ofapp.store.base import time_limited

RESOURCES = (
    networks.Networks,
    subnets.Subnets,
    ports.Ports,
    hosts.Hosts,
    srv6_encap_networks.Srv6EncapNetworks,
    agents.Agents,
    security_groups.SecurityGroups,
    security_groups.SecurityGroupRules,
    routers.Routers,
    floatingips.FloatingIPs,
)

# Port statuses written per transaction (see set_port_statuses).
STATUS_BATCH = 25
# The longest a request's transaction may take, in seconds: it holds the
# store's write lock (sqlite), so every other write of every project waits
# behind it.  The largest request the API's limits let through (a bulk
# create of 1000 ports or security group rules) takes a second or a few.
REQUEST_TIME_LIMIT = 10.0

Settings = collections.namedtuple('Settings', 'base_mac default_mtu rng')
Settings.__doc__ = """The deployment's choices the rules depend on: the MAC prefix of
generated MACs, a network's default (and largest) MTU, the random source."""


class Plugin:

    def __init__(self, store, base_mac='fa:16:3e:00:00:00', global_physnet_mtu=1500,
                 rng=None, request_time_limit=REQUEST_TIME_LIMIT):
        self.store = store
        self.request_time_limit = request_time_limit
        settings = Settings(base_mac=base_mac,
                            default_mtu=global_physnet_mtu - networks.SRV6_ENCAP_OVERHEAD,
                            rng=rng or random.SystemRandom())
        self.resources = {cls.collection: cls(settings) for cls in RESOURCES}

    def _transact(self, fn):
        """A request's one transaction, within REQUEST_TIME_LIMIT."""
        return self.store.transact(time_limited(fn, self.request_time_limit))

    def _resource(self, ctx, collection):
        handler = self.resources[collection]
        handler.check_policy(ctx)
        return handler

    def create(self, ctx, collection, items):
        """Create every item or none; returns their views."""
        handler = self._resource(ctx, collection)

        def txn_fn(txn):
            # Tags are a standard attribute: every new document has them
            # (a port's POST may bring some).
            docs = [handler.create(txn, ctx, dict(item, tags=tag_lib.stored(
                collection, item.get('tags', ())))) for item in items]
            views = Views(txn)
            return [handler.view(views, doc) for doc in docs]
        return self._transact(txn_fn)

    def list(self, ctx, collection, filters=None):
        """Views of the visible documents that match ``filters``
        ({field: [value, ...]}, as in a query string; see filters)."""
        handler = self._resource(ctx, collection)
        filters = filters or {}
        filter_lib.check(filters)
        if handler.ensures_on_list:
            self._transact(lambda txn: handler.on_list(txn, ctx))

        matches = filter_lib.compile_filters(filters)

        def txn_fn(txn):
            views = Views(txn)
            found = (handler.view(views, doc) for doc in handler.find(txn, ctx, filters))
            return [view for view in found if matches(view)]
        return self.store.read(txn_fn)

    def get(self, ctx, collection, id_):
        handler = self._resource(ctx, collection)

        def txn_fn(txn):
            return handler.view(Views(txn), handler.get_visible(txn, ctx, id_))
        return self.store.read(txn_fn)

    def update(self, ctx, collection, id_, changes, if_revision=None):
        """Apply ``changes``; with ``if_revision``, only to that revision
        (Neutron's If-Match: revision_number=N)."""
        handler = self._resource(ctx, collection)
        return self._write(ctx, handler, id_, if_revision,
                           lambda txn, doc: handler.update(txn, ctx, copy.deepcopy(doc),
                                                           changes))

    def delete(self, ctx, collection, id_, if_revision=None):
        handler = self._resource(ctx, collection)

        def txn_fn(txn):
            doc = self._changeable(txn, ctx, handler, id_, if_revision)
            handler.check_delete(txn, ctx, doc)
            handler.delete(txn, doc)
            txn.delete(collection, id_)
        self._transact(txn_fn)

    def act(self, ctx, collection, id_, action, body):
        """A member action (a router's add_router_interface ...): its
        response body."""
        handler = self._resource(ctx, collection)

        def txn_fn(txn):
            doc = self._changeable(txn, ctx, handler, id_, None)
            new, response = handler.act(txn, ctx, action, copy.deepcopy(doc), body)
            if new != doc:
                resource.put_next_revision(txn, collection, doc, new)
            return response
        return self.store.transact(txn_fn)

    def related(self, ctx, collection, id_, name):
        """What a member's sub-collection ``name`` lists (a router's
        l3-agents ...): (their collection, their views)."""
        handler = self._resource(ctx, collection)

        def txn_fn(txn):
            other, docs = handler.related(txn, ctx, handler.get_visible(txn, ctx, id_), name)
            other_handler = self._resource(ctx, other)
            views = Views(txn)
            return other, [other_handler.view(views, doc) for doc in docs]
        return self.store.read(txn_fn)

    def relate(self, ctx, collection, id_, name, other_id, add=True):
        """Add ``other_id`` to (or, ``add`` false, take it out of) a
        member's listing ``name`` (an L3 agent's l3-routers ...), in one
        transaction."""
        handler = self._resource(ctx, collection)

        def txn_fn(txn):
            doc = handler.get_visible(txn, ctx, id_)
            handler.check_owner(ctx, doc)
            change = handler.relate if add else handler.unrelate
            change(txn, ctx, doc, name, other_id)
        self._transact(txn_fn)

    def get_tags(self, ctx, collection, id_):
        return self.get(ctx, collection, id_)['tags']

    def change_tags(self, ctx, collection, id_, change, if_revision=None):
        """Give the resource the tags ``change(its tags)`` (a tags.* change),
        as its next revision when they differ; returns them."""
        handler = self._resource(ctx, collection)

        def new_doc(txn, doc):
            new = tag_lib.stored(collection, change(tag_lib.of(doc)))
            return doc if new == tag_lib.of(doc) else dict(doc, tags=new)
        return self._write(ctx, handler, id_, if_revision, new_doc)['tags']

    def _write(self, ctx, handler, id_, if_revision, new_doc):
        """Store ``new_doc(txn, doc)`` as the next revision of the document
        when it differs; returns its view."""
        def txn_fn(txn):
            doc = self._changeable(txn, ctx, handler, id_, if_revision)
            new = new_doc(txn, doc)
            if new != doc:
                resource.put_next_revision(txn, handler.collection, doc, new)
            return handler.view(Views(txn), new)
        return self._transact(txn_fn)

    @staticmethod
    def _changeable(txn, ctx, handler, id_, if_revision):
        """The document the caller may change, at ``if_revision`` if given."""
        doc = handler.get_visible(txn, ctx, id_)
        handler.check_owner(ctx, doc)
        if if_revision is not None and doc['revision_number'] != if_revision:
            raise exc.RevisionNumberConstraintFailed(expected=if_revision,
                                                     current=doc['revision_number'])
        return doc

    def report_agent(self, host, configurations, started_at, lease):
        """An agent's periodic report: alive (on ``lease``), with these
        configurations, running since ``started_at``."""
        self.store.transact(lambda txn: agents.report(txn, host, configurations,
                                                      started_at, lease))

    def activate_floating_ips(self, host, working):
        """The network node ``host`` has applied these floating IPs ({id:
        (router id, floating IP, fixed IP)}): ACTIVE, unless their
        association changed or their router left the node meanwhile.  One
        transaction per STATUS_BATCH; returns the ids written."""
        items = sorted(working.items())
        written = []
        for start in range(0, len(items), STATUS_BATCH):
            batch = dict(items[start:start + STATUS_BATCH])
            written += self.store.transact(lambda txn: floatingips.activate(txn, host, batch))
        return written

    def set_port_statuses(self, statuses):
        """The edge reports whether it sees ports (ACTIVE) or not (DOWN),
        {port id: status}; returns the ids whose status changed.  A switch
        reports all its ports at once: one transaction per STATUS_BATCH ports
        (each status stands alone, and a store transaction has a size limit:
        etcd's default is 128 operations)."""
        def batch_fn(batch):
            def txn_fn(txn):
                changed = []
                for port_id, status in batch:
                    doc = txn.get('ports', port_id)
                    if doc is not None and doc['status'] != status:
                        resource.put_next_revision(txn, 'ports', doc,
                                                   dict(doc, status=status))
                        changed.append(port_id)
                return changed
            return txn_fn
        items = sorted(statuses.items())
        changed = []
        for start in range(0, len(items), STATUS_BATCH):
            changed += self.store.transact(batch_fn(items[start:start + STATUS_BATCH]))
        return changed

