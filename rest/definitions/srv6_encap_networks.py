"""The srv6_encap_network resource: a project's extra encap rules
(destination prefix -> nexthop SID) for a network."""

from rest import validators as v
from rest.definitions import base

COLLECTION = 'srv6_encap_networks'
MEMBER = 'srv6_encap_network'

# Rules per srv6_encap_network (networking-sr has no limit): each is a
# route in the network's VRF on every host, checked once per request.
MAX_ENCAP_RULES = 1000

_encap_rule = v.dict_of(required={'destination': v.ipv4_cidr, 'nexthop': v.global_ipv6})

ATTRIBUTES = dict(base.PROJECT_RESOURCE, **{
    'name': base.NAME,
    'network_id': base.NETWORK_ID,
    'encap_rules': {'allow_post': True, 'allow_put': True,
                    'validate': v.list_of(_encap_rule, max_items=MAX_ENCAP_RULES),
                    'default': [],
                    'is_visible': True},
})

EXTENSIONS = (
    base.Extension('srv6-encap-network', 'SRv6 encap network', 'Per-project SRv6 encap '
                   'rules (destination -> nexthop SID) for a network'),
)
