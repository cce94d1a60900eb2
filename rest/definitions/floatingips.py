"""The floating IP resource (Neutron's ``router`` extension): an address
of an external network, associated with a port's fixed IP through a
router."""

from rest import validators as v
from rest.definitions import base

COLLECTION = 'floatingips'
MEMBER = 'floatingip'

_FILTER = {'is_visible': True, 'is_filter': True, 'is_sort_key': True}

ATTRIBUTES = dict(base.PROJECT_RESOURCE, **{
    'description': base.DESCRIPTION,
    'floating_network_id': dict(_FILTER, allow_post=True, allow_put=False,
                                validate=v.uuid_str, required=True),
    # Allocated, or asked for by an admin (Neutron's policy).
    'floating_ip_address': dict(_FILTER, allow_post=True, allow_put=False,
                                validate=v.nullable(v.ipv4_address), default=None,
                                admin_set_only=True),
    # Input only: the external subnet to take the address from.
    'subnet_id': {'allow_post': True, 'allow_put': False,
                  'validate': v.nullable(v.uuid_str), 'default': None, 'is_visible': False},
    # null disassociates.
    'port_id': dict(_FILTER, allow_post=True, allow_put=True,
                    validate=v.nullable(v.uuid_str), default=None),
    'fixed_ip_address': dict(_FILTER, allow_post=True, allow_put=True,
                             validate=v.nullable(v.ipv4_address), default=None),
    'router_id': base.READ_ONLY_FILTER,
    'status': base.READ_ONLY_FILTER,
    # Not here, so never shown: floating_port_id (srv6_ofapp/model/floatingips.py).
})

EXTENSIONS = ()
