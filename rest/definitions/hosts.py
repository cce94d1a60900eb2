"""The host resource (admin only): a hypervisor or network node, its OVS
bridge and OVSDB, its SID prefix, underlay address and VRF address pool."""

from rest import validators as v
from rest.definitions import base

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
}, **base.STANDARD_ATTRIBUTES)

EXTENSIONS = (
    base.Extension('srv6-host', 'SRv6 hosts', 'Hypervisors: datapath id, segment_node_id, '
                   'underlay address, VRF address pool'),
)
