"""The host resource (admin only): a hypervisor or network node, its OVS
bridge and OVSDB, its SID prefix, underlay address and VRF address pool;
a network node (role ``network``) runs routers, and its
``external_interface`` faces the external segment."""

from rest import validators as v
from rest.definitions import base
from topology import roles

COLLECTION = 'hosts'
MEMBER = 'host'

ATTRIBUTES = dict({
    'id': base.ID,
    'name': dict(base.NAME, allow_put=False, required=True, validate=v.string(255, 1)),
    'description': base.DESCRIPTION,
    'datapath_id': {'allow_post': True, 'allow_put': True, 'validate': v.datapath_id,
                    'required': True, 'is_visible': True, 'is_filter': True,
                    'is_sort_key': True},
    'segment_node_id': {'allow_post': True, 'allow_put': True,
                        'validate': v.global_ipv6, 'required': True,
                        'is_visible': True, 'is_filter': True},
    'underlay_ip': {'allow_post': True, 'allow_put': True, 'validate': v.global_ipv6,
                    'required': True, 'is_visible': True, 'is_filter': True},
    'bridge': {'allow_post': True, 'allow_put': True, 'validate': v.ifname,
               'default': 'br-int', 'is_visible': True, 'is_filter': True},
    'netns': {'allow_post': True, 'allow_put': True, 'validate': v.nullable(v.netns_name),
              'default': None, 'is_visible': True, 'is_filter': True},
    'vrf_cidr': {'allow_post': True, 'allow_put': True, 'validate': v.ipv4_cidr,
                 'default': '169.254.0.0/16', 'is_visible': True, 'is_filter': True},
    # Where the host's OVSDB answers (unix:/var/run/openvswitch/db.sock,
    # tcp:IP:6640): for external_ids:iface-id and the gateway ports.
    'ovsdb': {'allow_post': True, 'allow_put': True,
              'validate': v.nullable(v.ovsdb_target), 'default': None,
              'is_visible': True},
    # compute: a hypervisor; network: a network node, where routers run.
    'role': {'allow_post': True, 'allow_put': True, 'validate': v.one_of(*roles.ROLES),
             'default': 'compute', 'is_visible': True, 'is_filter': True,
             'is_sort_key': True},
    # The device of the host's kernel facing the external segment (a
    # network node's routers reach the external networks through it).
    'external_interface': {'allow_post': True, 'allow_put': True,
                           'validate': v.nullable(v.ifname), 'default': None,
                           'is_visible': True, 'is_filter': True},
}, **base.STANDARD_ATTRIBUTES)

EXTENSIONS = (
    base.Extension('srv6-host', 'SRv6 hosts', 'Hypervisors: datapath id, segment_node_id, '
                   'underlay address, VRF address pool'),
)
