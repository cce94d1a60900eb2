"""The API's resources, one definition module each, and the registry that
assembles them: the attribute maps, member names and extensions the REST
layer serves.

A definition module has COLLECTION, MEMBER (the JSON body's singular key,
``{"port": ...}`` beside ``{"ports": [...]}``), ATTRIBUTES (its attribute
map, format in base), EXTENSIONS (those it brings) and, when they are not
the defaults, PATH (its URL segment; the collection name by default),
ACTIONS (of index, show, create, update, delete), MEMBER_ACTIONS (PUT
.../{id}/<action>: the model's Resource.act), RELATED ({name: the
collection it lists}: GET .../{id}/<name>, the model's Resource.related)
and RELATED_CHANGES ({name: the body's key naming the other resource}:
POST .../{id}/<name> {key: its id} and DELETE .../{id}/<name>/<its id>,
the model's Resource.relate and unrelate).
A new resource is a module listed in RESOURCES, beside its model module in
srv6_ofapp/model/plugin.py.
"""

from rest.definitions import agents
from rest.definitions import base
from rest.definitions import floatingips
from rest.definitions import hosts
from rest.definitions import networks
from rest.definitions import ports
from rest.definitions import routers
from rest.definitions import security_group_rules
from rest.definitions import security_groups
from rest.definitions import srv6_encap_networks
from rest.definitions import subnets

DEFERRED = base.DEFERRED

RESOURCES = (networks, subnets, ports, hosts, srv6_encap_networks, agents, security_groups,
             security_group_rules, routers, floatingips)

RESOURCE_ATTRIBUTE_MAP = {r.COLLECTION: r.ATTRIBUTES for r in RESOURCES}
MEMBERS = {r.COLLECTION: r.MEMBER for r in RESOURCES}
ALL_ACTIONS = ('index', 'show', 'create', 'update', 'delete')
ACTIONS = {r.COLLECTION: getattr(r, 'ACTIONS', ALL_ACTIONS) for r in RESOURCES}
PATHS = {r.COLLECTION: getattr(r, 'PATH', r.COLLECTION) for r in RESOURCES}
MEMBER_ACTIONS = {r.COLLECTION: getattr(r, 'MEMBER_ACTIONS', ()) for r in RESOURCES}
RELATED = {r.COLLECTION: getattr(r, 'RELATED', {}) for r in RESOURCES}
RELATED_CHANGES = {r.COLLECTION: getattr(r, 'RELATED_CHANGES', {}) for r in RESOURCES}


def _extensions():
    """Every extension once (several resources may bring one): the
    resources', in their order, then the API's own."""
    found = {}
    for extension in [e for r in RESOURCES for e in r.EXTENSIONS] + list(base.API_EXTENSIONS):
        found.setdefault(extension.alias, extension)
    return tuple(found.values())


EXTENSIONS = _extensions()
