"""The subnet resource: an IPv4 CIDR of a network with its gateway, pools
and DHCP settings."""

from rest import validators as v
from rest.definitions import base

COLLECTION = 'subnets'
MEMBER = 'subnet'

_host_route = v.dict_of(required={'destination': v.ipv4_cidr, 'nexthop': v.ipv4_address})
_pool = v.dict_of(required={'start': v.ipv4_address, 'end': v.ipv4_address})

ATTRIBUTES = dict(base.PROJECT_RESOURCE, **{
    'name': base.NAME,
    'description': base.DESCRIPTION,
    'network_id': base.NETWORK_ID,
    'ip_version': {'allow_post': True, 'allow_put': False, 'validate': v.integer(4, 6),
                   'default': 4, 'is_visible': True, 'is_filter': True,
                   'is_sort_key': True},
    'cidr': {'allow_post': True, 'allow_put': False, 'validate': v.ipv4_cidr,
             'required': True, 'is_visible': True, 'is_filter': True,
             'is_sort_key': True},
    'gateway_ip': {'allow_post': True, 'allow_put': True,
                   'validate': v.nullable(v.ipv4_address), 'default': base.DEFERRED,
                   'is_visible': True, 'is_filter': True, 'is_sort_key': True},
    'allocation_pools': {'allow_post': True, 'allow_put': True,
                         'validate': v.list_of(_pool), 'default': base.DEFERRED,
                         'is_visible': True},
    'dns_nameservers': {'allow_post': True, 'allow_put': True,
                        'validate': v.list_of(v.ipv4_address, unique=True, max_items=5),
                        'default': [], 'is_visible': True},
    'host_routes': {'allow_post': True, 'allow_put': True,
                    'validate': v.list_of(_host_route, max_items=20),
                    'default': [], 'is_visible': True},
    'enable_dhcp': {'allow_post': True, 'allow_put': True, 'validate': v.boolean,
                    'default': True, 'is_visible': True, 'is_filter': True,
                    'is_sort_key': True},
    'ipv6_ra_mode': base.READ_ONLY,
    'ipv6_address_mode': base.READ_ONLY,
    'subnetpool_id': base.READ_ONLY,
    # Not here, so never shown: service_ip, the address a gateway-less
    # subnet keeps for the network's services (srv6_ofapp/model/subnets.py).
})

EXTENSIONS = ()
