"""One collection's HTTP semantics, Neutron v2.0 style (neutron.api.v2.base).

Turns request bodies into validated attribute dicts using the attribute
map, and list queries into filters (checked by name here, given meaning by
the model), sorting, pagination and field selection; the plugin does the
rest.
"""

import copy
import urllib.parse

from rest import definitions
from rest import request as request_lib
from srv6_ofapp import exceptions as exc
from srv6_ofapp.exceptions import shown

LIST_CONTROLS = ('fields', 'sort_key', 'sort_dir', 'limit', 'marker', 'page_reverse')


class Controller:

    def __init__(self, plugin, collection):
        self.plugin = plugin
        self.collection = collection
        self.member = definitions.MEMBERS[collection]
        self.attrs = definitions.RESOURCE_ATTRIBUTE_MAP[collection]

    # -- verbs -------------------------------------------------------------

    def index(self, ctx, params, url):
        items = self.plugin.list(ctx, self.collection, self._filters(ctx, params))
        items = self._sorted(items, params)
        items, next_marker = self._page(items, params)
        fields = set(params.getall('fields'))
        body = {self.collection: [self._view(ctx, item, fields) for item in items]}
        if next_marker:
            query = [(k, v) for k, v in params.items() if k != 'marker']
            query.append(('marker', next_marker))
            body[self.collection + '_links'] = [
                {'rel': 'next', 'href': url + '?' + urllib.parse.urlencode(query)}]
        return 200, body

    def show(self, ctx, params, id_):
        item = self.plugin.get(ctx, self.collection, id_)
        return 200, {self.member: self._view(ctx, item, set(params.getall('fields')))}

    def create(self, ctx, body):
        if isinstance(body, dict) and self.collection in body:
            items = body[self.collection]
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise exc.BadRequest(resource=self.collection,
                                     msg='%s must be a list of objects' % self.collection)
            request_lib.bulk_items(self.collection, items)
            prepared = [self._prepare_create(ctx, item) for item in items]
            created = self.plugin.create(ctx, self.collection, prepared)
            return 201, {self.collection: [self._view(ctx, c) for c in created]}
        item = self._member_body(body)
        created = self.plugin.create(ctx, self.collection, [self._prepare_create(ctx, item)])
        return 201, {self.member: self._view(ctx, created[0])}

    def update(self, ctx, body, id_, if_revision=None):
        changes = self._prepare_update(ctx, self._member_body(body))
        updated = self.plugin.update(ctx, self.collection, id_, changes, if_revision)
        return 200, {self.member: self._view(ctx, updated)}

    def delete(self, ctx, id_, if_revision=None):
        self.plugin.delete(ctx, self.collection, id_, if_revision)
        return 204, None

    def member_action(self, ctx, id_, name, body):
        """PUT .../{id}/<name> (a router's add_router_interface): the
        model reads the body and answers."""
        return 200, self.plugin.act(ctx, self.collection, id_, name, body)

    def related(self, ctx, id_, name, params):
        """GET .../{id}/<name> (a router's l3-agents): other resources, in
        their collection's view."""
        other, items = self.plugin.related(ctx, self.collection, id_, name)
        fields = params.getall('fields')
        return 200, {other: [Controller(self.plugin, other)._view(ctx, item, fields)
                             for item in items]}

    def relate(self, ctx, id_, name, body):
        """POST .../{id}/<name> {key: other id} (an L3 agent's l3-routers):
        Neutron answers 201 and ``null``."""
        key = definitions.RELATED_CHANGES[self.collection][name]
        if not isinstance(body, dict) or not isinstance(body.get(key), str):
            raise exc.BadRequest(resource=name, msg="Unable to find '%s' in request body "
                                 "as a string" % key)
        self.plugin.relate(ctx, self.collection, id_, name, body[key])
        return 201, None

    def unrelate(self, ctx, id_, name, other_id):
        """DELETE .../{id}/<name>/<other id>."""
        self.plugin.relate(ctx, self.collection, id_, name, other_id, add=False)
        return 204, None

    # -- bodies ------------------------------------------------------------

    def _member_body(self, body):
        if not isinstance(body, dict) or not isinstance(body.get(self.member), dict):
            raise exc.BadRequest(resource=self.member,
                                 msg="Unable to find '%s' in request body" % self.member)
        return body[self.member]

    def _check_names(self, ctx, item, allow):
        unknown = sorted(n for n in item if n not in self.attrs)
        if unknown:
            raise exc.HTTPBadRequest(
                message="Unrecognized attribute(s) '%s'" % shown(', '.join(unknown)))
        for name in item:
            spec = self.attrs[name]
            if not spec.get(allow):
                if allow == 'allow_post':
                    raise exc.HTTPBadRequest(
                        message="Attribute '%s' not allowed in POST" % name)
                raise exc.HTTPBadRequest(
                    message='Cannot update read-only attribute %s' % name)
            admin_set = (spec.get('admin_set_only') or spec.get('admin_only') or
                         (allow == 'allow_put' and spec.get('admin_put_only')))
            if admin_set and not ctx.is_admin:
                raise exc.PolicyNotAuthorized(action='%s:%s' % (self.member, name))

    def _validate(self, name, value):
        check = self.attrs[name].get('validate')
        if check is None:
            return value
        try:
            return check(value)
        except ValueError as error:
            raise exc.HTTPBadRequest(attr=name, reason=error)

    def _prepare_create(self, ctx, item):
        self._check_names(ctx, item, 'allow_post')
        result = {}
        for name, spec in self.attrs.items():
            if name in item:
                result[name] = self._validate(name, item[name])
            elif spec.get('required'):
                raise exc.HTTPBadRequest(
                    message="Failed to parse request. Required attribute '%s' not "
                            "specified" % name)
            elif spec.get('allow_post') and spec.get('default', definitions.DEFERRED) \
                    is not definitions.DEFERRED:
                result[name] = copy.deepcopy(spec['default'])
        self._merge_project(result)
        return result

    def _prepare_update(self, ctx, item):
        self._check_names(ctx, item, 'allow_put')
        return {name: self._validate(name, value) for name, value in item.items()}

    def _merge_project(self, attrs):
        """tenant_id and project_id are one field under two names."""
        if 'project_id' not in self.attrs:
            return
        project = attrs.pop('project_id', None)
        tenant = attrs.pop('tenant_id', None)
        if project and tenant and project != tenant:
            raise exc.HTTPBadRequest(message='tenant_id and project_id do not match')
        if project or tenant:
            attrs['tenant_id'] = project or tenant

    # -- lists -------------------------------------------------------------

    def _filters(self, ctx, params):
        """{field: [value, ...]} of the query's filters, in one pass over it."""
        filters = {}
        for name, value in params.items():
            if name in LIST_CONTROLS:
                continue
            spec = self.attrs.get(name)
            if (spec is None or not spec.get('is_filter') or
                    (spec.get('admin_only') and not ctx.is_admin)):
                raise exc.HTTPBadRequest(message="'%s' is not a valid filter for %s"
                                         % (shown(name), self.collection))
            filters.setdefault('tenant_id' if name == 'project_id' else name, []).append(value)
        return filters

    def _sorted(self, items, params):
        keys = params.getall('sort_key')
        dirs = params.getall('sort_dir')
        if dirs and len(dirs) != len(keys):
            raise exc.HTTPBadRequest(message='The number of sort_keys and sort_dirs must '
                                             'be same')
        for key in keys:
            if not self.attrs.get(key, {}).get('is_sort_key'):
                raise exc.HTTPBadRequest(message='%s is an invalid attribute for sort_key'
                                                 % shown(key))
        for direction in dirs:
            if direction not in ('asc', 'desc'):
                raise exc.HTTPBadRequest(message="%s is an invalid value for sort_dir, "
                                                 "valid value is 'asc' and 'desc'"
                                                 % shown(direction))
        # Stable sorts from the last key to the first give a multi-key sort;
        # (created_at, id) is the default and the final tie-breaker.  A key
        # named again decides nothing more: one sort per attribute at most.
        order = {}
        for key, direction in zip(keys, dirs or ['asc'] * len(keys)):
            order.setdefault('tenant_id' if key == 'project_id' else key, direction)
        items = sorted(items, key=lambda i: (i.get('created_at') or '', i['id']))
        for name, direction in reversed(list(order.items())):
            items.sort(key=lambda i: _sort_value(i.get(name)), reverse=direction == 'desc')
        return items

    def _page(self, items, params):
        marker = params.get('marker')
        if marker:
            ids = [i['id'] for i in items]
            if marker not in ids:
                raise exc.HTTPBadRequest(message='marker %s not found' % shown(marker))
            items = items[ids.index(marker) + 1:]
        limit = params.get('limit')
        if limit in (None, ''):
            return items, None
        try:
            limit = int(limit)
            if limit < 0:
                raise ValueError
        except ValueError:
            raise exc.HTTPBadRequest(message="Invalid limit '%s': must be a non-negative "
                                             "integer" % shown(limit))
        if limit == 0 or len(items) <= limit:
            return items, None
        return items[:limit], items[limit - 1]['id']

    def _view(self, ctx, item, fields=()):
        view = {name: value for name, value in item.items()
                if name in self.attrs and self.attrs[name].get('is_visible') and
                (ctx.is_admin or not self.attrs[name].get('admin_only'))}
        if fields:
            view = {name: value for name, value in view.items() if name in fields}
        return view


def _sort_value(value):
    return (value is not None, value if value is not None else '')

