"""What the resource definitions share: the attribute specs every resource
uses, the extensions that are the API's rather than one resource's, and the
format of both.

An attribute map is in Neutron's format (neutron_lib.api.definitions).
Per attribute:
  allow_post / allow_put  may a client set it on create / update
  validate                normalises the value or raises ValueError(reason)
  default                 used when absent on create; DEFERRED: the model
                          computes it (e.g. gateway_ip, mac_address)
  required                must be given on create
  is_visible              shown in responses
  is_filter / is_sort_key usable as a list filter / a sort key
  admin_only              neither shown to nor settable by non-admins
                          (Neutron's policy for binding:*)
  admin_set_only          shown to all, settable by admins only (shared)
  admin_put_only          settable on create by its owner, changed by admins
                          only (a port's mac_address)
"""

import collections

from rest import validators as v
from srv6_ofapp.model import tags

Extension = collections.namedtuple('Extension', 'alias name description')
Extension.__doc__ = """An API extension as GET /v2.0/extensions lists it."""

# The model computes the default (it depends on other attributes or config).
DEFERRED = object()

NAME = {'allow_post': True, 'allow_put': True, 'validate': v.string(255), 'default': '',
        'is_visible': True, 'is_filter': True, 'is_sort_key': True}
DESCRIPTION = {'allow_post': True, 'allow_put': True, 'validate': v.string(255),
               'default': '', 'is_visible': True, 'is_filter': True}
ID = {'allow_post': False, 'allow_put': False, 'is_visible': True, 'is_filter': True,
      'is_sort_key': True}
# tenant_id and project_id are two names of one field; the model keeps tenant_id.
PROJECT = {'allow_post': True, 'allow_put': False, 'validate': v.string(255),
           'default': DEFERRED, 'is_visible': True, 'is_filter': True, 'is_sort_key': True}
READ_ONLY = {'allow_post': False, 'allow_put': False, 'is_visible': True}
READ_ONLY_FILTER = dict(READ_ONLY, is_filter=True, is_sort_key=True)
ADMIN_STATE_UP = {'allow_post': True, 'allow_put': True, 'validate': v.boolean,
                  'default': True, 'is_visible': True, 'is_filter': True, 'is_sort_key': True}
# The network a subnet, port or encap network belongs to, for good.
NETWORK_ID = {'allow_post': True, 'allow_put': False, 'validate': v.uuid_str,
              'required': True, 'is_visible': True, 'is_filter': True, 'is_sort_key': True}
# A fixed_ips entry as a request gives it: a subnet, an address or both.
FIXED_IP = v.dict_of(optional={'subnet_id': v.uuid_str, 'ip_address': v.ipv4_address})
# Neutron's standard attributes: timestamps and revisions.
STANDARD_ATTRIBUTES = {
    'created_at': READ_ONLY_FILTER,
    'updated_at': READ_ONLY_FILTER,
    'revision_number': READ_ONLY_FILTER,
}
# standard-attr-tag: a resource's tags change through its tags sub-resource
# (rest/tags.py); the attribute shows them and the filters find them.
TAG_LIST = v.list_of(v.string(tags.MAX_LEN), unique=True)
TAGS = dict(READ_ONLY, is_filter=True)
TAGGED = dict({'tags': TAGS}, **{name: {'allow_post': False, 'allow_put': False,
                                       'is_visible': False, 'is_filter': True}
                                for name in tags.FILTERS if name != 'tags'})
# tag-ports-during-bulk-creation: a port's POST may bring its tags.
TAGS_ON_CREATE = dict(TAGS, allow_post=True, validate=TAG_LIST, default=[])
# What every resource a project owns starts with.
PROJECT_RESOURCE = dict({'id': ID, 'tenant_id': PROJECT, 'project_id': PROJECT},
                        **STANDARD_ATTRIBUTES, **TAGGED)

# Brought by networks and ports both (port_security_enabled).
PORT_SECURITY = Extension('port-security', 'Port Security', 'Provides port security')

# The API's own, whatever the resource.
API_EXTENSIONS = (
    Extension('project-id', 'project_id field enabled', 'Extension that indicates that '
              'project_id field is enabled.'),
    Extension('standard-attr-timestamp', 'Resource timestamps', 'Adds created_at and '
              'updated_at fields to all Neutron resources that have Neutron standard '
              'attributes.'),
    Extension('standard-attr-revisions', 'Resource revision numbers', 'This extension '
              'will display the revision number of neutron resources.'),
    Extension('standard-attr-description', 'standard-attr-description', 'Extension to add '
              'descriptions to standard attributes'),
    Extension('standard-attr-tag', 'Tag support for resources with standard attribute',
              'Enables to set tag on resources with standard attribute.'),
    Extension('tag-creation', 'Tag creation extension', 'Allow to create multiple tags '
              'for a resource'),
    Extension('revision-if-match', 'If-Match constraints based on revision_number',
              'Extension indicating that If-Match based on revision_number is supported.'),
    Extension('filter-validation', 'Filter parameters validation', 'Provides validation '
              'on filter parameters.'),
    Extension('sorting', 'Sorting support', 'Enables sorting support.'),
    Extension('pagination', 'Pagination support', 'Enables pagination support.'),
)
