"""Security group rules (the ``security-group`` extension), as Neutron
defines them (neutron/extensions/securitygroup.py): created and deleted,
never changed."""

from rest import validators as v
from rest.definitions import base

COLLECTION = 'security_group_rules'
PATH = 'security-group-rules'  # Neutron's URL
MEMBER = 'security_group_rule'
ACTIONS = ('index', 'show', 'create', 'delete')

_FILTER = {'is_visible': True, 'is_filter': True, 'is_sort_key': True}

ATTRIBUTES = dict(base.PROJECT_RESOURCE, **{
    'description': dict(base.DESCRIPTION, allow_put=False),
    'security_group_id': dict(_FILTER, allow_post=True, allow_put=False,
                              validate=v.uuid_str, required=True),
    'remote_group_id': dict(_FILTER, allow_post=True, allow_put=False,
                            validate=v.nullable(v.uuid_str), default=None),
    'remote_address_group_id': base.READ_ONLY,
    'direction': dict(_FILTER, allow_post=True, allow_put=False, required=True,
                      validate=v.one_of('ingress', 'egress')),
    'protocol': dict(_FILTER, allow_post=True, allow_put=False, default=None,
                     validate=v.nullable(v.protocol_text)),
    'port_range_min': dict(_FILTER, allow_post=True, allow_put=False, default=None,
                           validate=v.nullable(v.integer(0, 65535))),
    'port_range_max': dict(_FILTER, allow_post=True, allow_put=False, default=None,
                           validate=v.nullable(v.integer(0, 65535))),
    'ethertype': dict(_FILTER, allow_post=True, allow_put=False, default='IPv4',
                      validate=v.one_of('IPv4', 'IPv6')),
    'remote_ip_prefix': dict(_FILTER, allow_post=True, allow_put=False, default=None,
                             validate=v.nullable(v.ip_cidr)),
})

EXTENSIONS = ()
