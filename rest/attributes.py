"""Resource attribute maps, in Neutron's format (neutron_lib.api.definitions).

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
"""

from rest import validators as v

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
STANDARD = {
    'id': ID,
    'tenant_id': PROJECT,
    'project_id': PROJECT,
    'created_at': READ_ONLY_FILTER,
    'updated_at': READ_ONLY_FILTER,
    'revision_number': READ_ONLY_FILTER,
}

_host_route = v.dict_of(required={'destination': v.ipv4_cidr, 'nexthop': v.ipv4_address})
_pool = v.dict_of(required={'start': v.ipv4_address, 'end': v.ipv4_address})
_fixed_ip = v.dict_of(optional={'subnet_id': v.uuid_str, 'ip_address': v.ipv4_address})
_address_pair = v.dict_of(required={'ip_address': v.ipv4_address_or_cidr},
                          optional={'mac_address': v.mac_address})
_dhcp_opt = v.dict_of(required={'opt_name': v.string(255)},
                      optional={'opt_value': v.nullable(v.string(255)),
                                'ip_version': v.integer(4, 4)})
_encap_rule = v.dict_of(required={'destination': v.ipv4_cidr, 'nexthop': v.ipv6_address})
# binding:profile is free-form, but the keys networking-sr defines are checked.
_binding_profile = v.dict_of(optional={'segment_node_id': v.ipv6_address,
                                       'vrf': v.ifname,
                                       'vrf_cidr': v.ipv4_cidr,
                                       'vrf_ip': v.ipv4_address},
                             allow_extra=True)

RESOURCE_ATTRIBUTE_MAP = {
    'networks': dict(STANDARD, **{
        'name': NAME,
        'description': DESCRIPTION,
        'admin_state_up': ADMIN_STATE_UP,
        'status': READ_ONLY_FILTER,
        'shared': {'allow_post': True, 'allow_put': True, 'validate': v.boolean,
                   'default': False, 'is_visible': True, 'is_filter': True,
                   'is_sort_key': True, 'admin_set_only': True},
        'subnets': READ_ONLY,
        'mtu': {'allow_post': True, 'allow_put': True, 'validate': v.integer(68, 65535),
                'default': DEFERRED, 'is_visible': True, 'is_filter': True,
                'is_sort_key': True},
        'port_security_enabled': {'allow_post': True, 'allow_put': True,
                                  'validate': v.boolean, 'default': True,
                                  'is_visible': True, 'is_filter': True},
    }),
    'subnets': dict(STANDARD, **{
        'name': NAME,
        'description': DESCRIPTION,
        'network_id': {'allow_post': True, 'allow_put': False, 'validate': v.uuid_str,
                       'required': True, 'is_visible': True, 'is_filter': True,
                       'is_sort_key': True},
        'ip_version': {'allow_post': True, 'allow_put': False, 'validate': v.integer(4, 6),
                       'default': 4, 'is_visible': True, 'is_filter': True,
                       'is_sort_key': True},
        'cidr': {'allow_post': True, 'allow_put': False, 'validate': v.ipv4_cidr,
                 'required': True, 'is_visible': True, 'is_filter': True,
                 'is_sort_key': True},
        'gateway_ip': {'allow_post': True, 'allow_put': True,
                       'validate': v.nullable(v.ipv4_address), 'default': DEFERRED,
                       'is_visible': True, 'is_filter': True, 'is_sort_key': True},
        'allocation_pools': {'allow_post': True, 'allow_put': True,
                             'validate': v.list_of(_pool), 'default': DEFERRED,
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
        'ipv6_ra_mode': READ_ONLY,
        'ipv6_address_mode': READ_ONLY,
        'subnetpool_id': READ_ONLY,
    }),
    'ports': dict(STANDARD, **{
        'name': NAME,
        'description': DESCRIPTION,
        'network_id': {'allow_post': True, 'allow_put': False, 'validate': v.uuid_str,
                       'required': True, 'is_visible': True, 'is_filter': True,
                       'is_sort_key': True},
        'admin_state_up': ADMIN_STATE_UP,
        'mac_address': {'allow_post': True, 'allow_put': False, 'validate': v.mac_address,
                        'default': DEFERRED, 'is_visible': True, 'is_filter': True,
                        'is_sort_key': True},
        'fixed_ips': {'allow_post': True, 'allow_put': True,
                      'validate': v.list_of(_fixed_ip), 'default': DEFERRED,
                      'is_visible': True, 'is_filter': True},
        'device_id': {'allow_post': True, 'allow_put': True, 'validate': v.string(255),
                      'default': '', 'is_visible': True, 'is_filter': True,
                      'is_sort_key': True},
        'device_owner': {'allow_post': True, 'allow_put': True, 'validate': v.string(255),
                         'default': '', 'is_visible': True, 'is_filter': True,
                         'is_sort_key': True},
        'status': READ_ONLY_FILTER,
        'binding:host_id': {'allow_post': True, 'allow_put': True,
                            'validate': v.string(255), 'default': '', 'is_visible': True,
                            'is_filter': True, 'admin_only': True},
        'binding:profile': {'allow_post': True, 'allow_put': True,
                            'validate': _binding_profile, 'default': {},
                            'is_visible': True, 'admin_only': True},
        'binding:vnic_type': {'allow_post': True, 'allow_put': True,
                              'validate': v.string(64), 'default': 'normal',
                              'is_visible': True, 'is_filter': True},
        'binding:vif_type': dict(READ_ONLY, admin_only=True),
        'binding:vif_details': dict(READ_ONLY, admin_only=True),
        'port_security_enabled': {'allow_post': True, 'allow_put': True,
                                  'validate': v.boolean, 'default': DEFERRED,
                                  'is_visible': True, 'is_filter': True},
        'allowed_address_pairs': {'allow_post': True, 'allow_put': True,
                                  'validate': v.list_of(_address_pair, max_items=10),
                                  'default': [], 'is_visible': True},
        'extra_dhcp_opts': {'allow_post': True, 'allow_put': True,
                            'validate': v.list_of(_dhcp_opt), 'default': [],
                            'is_visible': True},
        # Clients send security_groups=[]; security groups themselves are not
        # implemented (port security is MAC/IP anti-spoofing), so only [] is valid.
        'security_groups': {'allow_post': True, 'allow_put': True,
                            'validate': v.empty_list('security groups are not supported'),
                            'default': [], 'is_visible': True},
    }),
    'hosts': {
        'id': ID,
        'name': dict(NAME, allow_put=False, required=True, validate=v.string(255, 1)),
        'description': DESCRIPTION,
        'datapath_id': {'allow_post': True, 'allow_put': True, 'validate': v.datapath_id,
                        'required': True, 'is_visible': True, 'is_filter': True,
                        'is_sort_key': True},
        'segment_node_id': {'allow_post': True, 'allow_put': True,
                            'validate': v.ipv6_address, 'required': True,
                            'is_visible': True, 'is_filter': True},
        'underlay_ip': {'allow_post': True, 'allow_put': True, 'validate': v.ipv6_address,
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
        'created_at': READ_ONLY_FILTER,
        'updated_at': READ_ONLY_FILTER,
        'revision_number': READ_ONLY_FILTER,
    },
    'srv6_encap_networks': dict(STANDARD, **{
        'name': NAME,
        'network_id': {'allow_post': True, 'allow_put': False, 'validate': v.uuid_str,
                       'required': True, 'is_visible': True, 'is_filter': True,
                       'is_sort_key': True},
        'encap_rules': {'allow_post': True, 'allow_put': True,
                        'validate': v.list_of(_encap_rule), 'default': [],
                        'is_visible': True},
    }),
}

# collection -> member name, as in the JSON body ({"port": ...} / {"ports": [...]})
MEMBERS = {
    'networks': 'network',
    'subnets': 'subnet',
    'ports': 'port',
    'hosts': 'host',
    'srv6_encap_networks': 'srv6_encap_network',
}

# Resources only an admin may see or change: the physical side.
ADMIN_ONLY_RESOURCES = {'hosts'}
