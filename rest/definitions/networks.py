"""The network resource: a project's L2 domain, maybe shared."""

from rest import validators as v
from rest.definitions import base

COLLECTION = 'networks'
MEMBER = 'network'

ATTRIBUTES = dict(base.PROJECT_RESOURCE, **{
    'name': base.NAME,
    'description': base.DESCRIPTION,
    'admin_state_up': base.ADMIN_STATE_UP,
    'status': base.READ_ONLY_FILTER,
    'shared': {'allow_post': True, 'allow_put': True, 'validate': v.boolean,
               'default': False, 'is_visible': True, 'is_filter': True,
               'is_sort_key': True, 'admin_set_only': True},
    'subnets': base.READ_ONLY,
    'mtu': {'allow_post': True, 'allow_put': True, 'validate': v.integer(68, 65535),
            'default': base.DEFERRED, 'is_visible': True, 'is_filter': True,
            'is_sort_key': True},
    'port_security_enabled': {'allow_post': True, 'allow_put': True,
                              'validate': v.boolean, 'default': True,
                              'is_visible': True, 'is_filter': True},
    # external-net: seen by every project; routers will take their gateways there.
    'router:external': {'allow_post': True, 'allow_put': True, 'validate': v.boolean,
                        'default': False, 'is_visible': True, 'is_filter': True,
                        'admin_set_only': True},
})

EXTENSIONS = (
    base.Extension('net-mtu', 'Network MTU', 'Provides MTU attribute for a network '
                   'resource.'),
    base.Extension('net-mtu-writable', 'Network MTU (writable)', 'Provides a writable MTU '
                   'attribute for a network resource.'),
    base.PORT_SECURITY,
    base.Extension('external-net', 'Neutron external network', 'Adds external network '
                   'attribute to network resource.'),
)
