"""What every resource of the model shares: who may see and change a
document, which project a new one belongs to, its not-found error, the
standard attributes of a new document, and what a listing asks the store.

A resource module subclasses :class:`Resource`, implements its hooks and is
registered in ``plugin.RESOURCES``; the plugin runs the hooks inside the
request's one transaction, so a hook that raises changes nothing.
"""

import time
import uuid

from srv6_ofapp import exceptions as exc
from srv6_ofapp.model import filters as filter_lib


def utcnow():
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())


def put_next_revision(txn, collection, old, new):
    """Store ``new`` as the next revision of ``old`` (Neutron's
    revision_number and updated_at)."""
    new['revision_number'] = old['revision_number'] + 1
    new['updated_at'] = utcnow()
    txn.put(collection, new['id'], new)


class Resource:

    #: The collection: its name in URLs and its kind in the store.
    collection = None
    #: Only admins may see or change it (the physical side).
    admin_only = False
    #: Fields stored exactly as shown and always a plain string: a filter
    #: wanting one value of such a field is an exact match the store may
    #: serve (with its own indexes) instead of the model reading every
    #: document.  A fact about the documents, whatever the backend.
    store_filters = ()
    #: A listing first runs on_list in a write transaction (e.g. to make a
    #: project's default security group on first use).
    ensures_on_list = False

    def __init__(self, settings):
        self.settings = settings

    # -- hooks: run inside the request's transaction ----------------------

    def not_found(self, id_):
        """The resource's own NotFound error."""
        raise NotImplementedError

    def create(self, txn, ctx, attrs):
        """Check ``attrs`` (validated by the REST layer), store the new
        document and return it."""
        raise NotImplementedError

    def update(self, txn, ctx, doc, changes):
        """Check ``changes`` and return the new document (a copy the hook
        may change); the plugin writes it with its next revision."""
        raise NotImplementedError

    def check_delete(self, txn, ctx, doc):
        """Refuse a deletion for who asks (ownership is checked already)."""

    def delete(self, txn, doc):
        """Refuse, or release what the document holds; the plugin then
        removes it."""

    def on_list(self, txn, ctx):
        """See ensures_on_list."""

    def act(self, txn, ctx, action, doc, body):
        """A member action (Neutron's ACTION_MAP, e.g. a router's
        add_router_interface) on ``doc`` (a copy the hook may change):
        returns (the new document, the response body).  The plugin writes
        the document with its next revision when it changed."""
        raise exc.HTTPNotFound()

    def related(self, txn, ctx, doc, name):
        """A listing of other resources a member names (e.g. a router's
        l3-agents): (their collection, their documents)."""
        raise exc.HTTPNotFound()

    def relate(self, txn, ctx, doc, name, other_id):
        """Add the resource ``other_id`` to the member's listing ``name``
        (e.g. a router to an L3 agent's l3-routers), writing what changes;
        nothing when it is there already."""
        raise exc.HTTPNotFound()

    def unrelate(self, txn, ctx, doc, name, other_id):
        """Take the resource ``other_id`` out of the member's listing
        ``name``, writing what changes; nothing when it is not there."""
        raise exc.HTTPNotFound()

    def view(self, views, doc):
        """The API view of a stored document."""
        return views.standard(doc)

    def candidates(self, txn, where, filters):
        """Documents that may match ``filters``: at least every one of the
        kind whose fields equal ``where``."""
        return txn.list(self.collection, where=where)

    # -- visibility and ownership -----------------------------------------

    def check_policy(self, ctx):
        if self.admin_only and not ctx.is_admin:
            raise exc.PolicyNotAuthorized(action=self.collection)

    def visible(self, txn, ctx, doc):
        return ctx.is_admin or doc.get('tenant_id') == ctx.project_id

    def caller_where(self, ctx):
        """What a listing may ask the store for, given that :meth:`visible`
        shows a caller only its own documents."""
        return {} if ctx.is_admin else {'tenant_id': ctx.project_id}

    def find(self, txn, ctx, filters):
        """The visible documents that may match ``filters`` (the plugin
        checks each view against them)."""
        where = dict(filter_lib.exact(filters, self.store_filters), **self.caller_where(ctx))
        return [doc for doc in self.candidates(txn, where, filters)
                if self.visible(txn, ctx, doc)]

    def get_visible(self, txn, ctx, id_):
        doc = txn.get(self.collection, id_)
        if doc is None or not self.visible(txn, ctx, doc):
            raise self.not_found(id_)
        return doc

    def check_owner(self, ctx, doc):
        """Visible is not enough to change: a shared network is not yours."""
        if not ctx.is_admin and doc.get('tenant_id') != ctx.project_id:
            raise exc.PolicyNotAuthorized(action='update_' + self.collection)

    def project_of(self, ctx, attrs, default=None):
        """The project a new document belongs to: the one asked for, else
        ``default`` (a child's network's project), else the caller's.
        Only an admin may create for another project."""
        project = attrs.pop('tenant_id', None)
        if project is None:
            # '' stays: the project of a router's gateway port (no project).
            project = default or ctx.project_id
        if project is None:
            raise exc.BadRequest(resource=self.collection, msg='tenant_id is required')
        if not ctx.is_admin and project != ctx.project_id:
            raise exc.PolicyNotAuthorized(action='create_%s:tenant_id' % self.collection)
        return project

    @staticmethod
    def new_doc(attrs, project=None):
        """``attrs`` with a new id and Neutron's standard attributes."""
        now = utcnow()
        doc = dict(attrs, id=str(uuid.uuid4()), created_at=now, updated_at=now,
                   revision_number=0)
        if project is not None:
            doc['tenant_id'] = project
        return doc
