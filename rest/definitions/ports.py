"""The port resource: a VM's NIC, its addresses, its binding to a host."""

from rest import validators as v
from rest.definitions import base

COLLECTION = 'ports'
MEMBER = 'port'

# How many of each a port may have.  Neutron's max_fixed_ips_per_port (5)
# and max_allowed_address_pair (10); Neutron has no limit of its own on
# extra_dhcp_opts and security groups per port: 50, as for tags, is more
# than a DHCP reply or a firewall wants.
MAX_FIXED_IPS = 5
MAX_ADDRESS_PAIRS = 10
MAX_DHCP_OPTS = 50
MAX_SECURITY_GROUPS = 50
# Neutron's ml2_port_bindings.profile column: 4095 characters of JSON.
MAX_PROFILE = 4095

_address_pair = v.dict_of(required={'ip_address': v.ipv4_address_or_cidr},
                          optional={'mac_address': v.mac_address})
# neutron_lib.api.definitions.extra_dhcp_opt: a name of 1-64 characters, a
# value of at most 255 that only 'router' and 'classless-static-route' may
# leave empty (to send none); null removes the option.
BLANK_DHCP_OPTS = ('router', 'classless-static-route')
_dhcp_opt_fields = v.dict_of(required={'opt_name': v.string(64, 1)},
                             optional={'opt_value': v.nullable(v.string(255)),
                                       'ip_version': v.integer(4, 4)})


def _dhcp_opt(value):
    opt = _dhcp_opt_fields(value)
    if opt.get('opt_value') == '' and opt['opt_name'] not in BLANK_DHCP_OPTS:
        raise ValueError("opt_value of '%s' is empty: only %s may be"
                         % (v.shown(opt['opt_name']), ', '.join(BLANK_DHCP_OPTS)))
    return opt


# neutron_lib.api.definitions.portbindings.VNIC_TYPES (what the model binds
# is srv6_ofapp/model/binding.py's)
VNIC_TYPES = ('normal', 'direct', 'macvtap', 'baremetal', 'direct-physical',
              'virtio-forwarder', 'smart-nic', 'vdpa', 'accelerator-direct',
              'accelerator-direct-physical', 'remote-managed')
# binding:profile is free-form, but the keys networking-sr defines are checked.
_binding_profile = v.dict_of(optional={'segment_node_id': v.global_ipv6,
                                       'vrf': v.ifname,
                                       'vrf_cidr': v.ipv4_cidr,
                                       'vrf_ip': v.ipv4_address},
                             allow_extra=True)

ATTRIBUTES = dict(base.PROJECT_RESOURCE, **{
    'name': base.NAME,
    'description': base.DESCRIPTION,
    'network_id': base.NETWORK_ID,
    'admin_state_up': base.ADMIN_STATE_UP,
    # Changed only while the port is unplugged (the model's rule).
    'mac_address': {'allow_post': True, 'allow_put': True, 'validate': v.mac_address,
                    'default': base.DEFERRED, 'is_visible': True, 'is_filter': True,
                    'is_sort_key': True, 'admin_put_only': True},
    'fixed_ips': {'allow_post': True, 'allow_put': True,
                  'validate': v.list_of(base.FIXED_IP, max_items=MAX_FIXED_IPS),
                  'default': base.DEFERRED,
                  'is_visible': True, 'is_filter': True},
    'device_id': {'allow_post': True, 'allow_put': True, 'validate': v.string(255),
                  'default': '', 'is_visible': True, 'is_filter': True,
                  'is_sort_key': True},
    'device_owner': {'allow_post': True, 'allow_put': True, 'validate': v.string(255),
                     'default': '', 'is_visible': True, 'is_filter': True,
                     'is_sort_key': True},
    'status': base.READ_ONLY_FILTER,
    # null unbinds (Nova on every server delete and interface detach).
    'binding:host_id': {'allow_post': True, 'allow_put': True,
                        'validate': v.none_clears(v.string(255), ''), 'default': '',
                        'is_visible': True, 'is_filter': True, 'admin_only': True},
    'binding:profile': {'allow_post': True, 'allow_put': True,
                        'validate': v.none_clears(v.json_size(_binding_profile, MAX_PROFILE),
                                                  {}),
                        'default': {},
                        'is_visible': True, 'admin_only': True},
    'binding:vnic_type': {'allow_post': True, 'allow_put': True,
                          'validate': v.one_of(*VNIC_TYPES), 'default': 'normal',
                          'is_visible': True, 'is_filter': True},
    'binding:vif_type': dict(base.READ_ONLY, admin_only=True),
    'binding:vif_details': dict(base.READ_ONLY, admin_only=True),
    'port_security_enabled': {'allow_post': True, 'allow_put': True,
                              'validate': v.boolean, 'default': base.DEFERRED,
                              'is_visible': True, 'is_filter': True},
    'allowed_address_pairs': {'allow_post': True, 'allow_put': True,
                              'validate': v.list_of(_address_pair,
                                                    max_items=MAX_ADDRESS_PAIRS),
                              'default': [], 'is_visible': True},
    'extra_dhcp_opts': {'allow_post': True, 'allow_put': True,
                        'validate': v.list_of(_dhcp_opt, max_items=MAX_DHCP_OPTS),
                        'default': [],
                        'is_visible': True},
    # Absent: the project's default group; null is [] (Neutron converts it).
    'security_groups': {'allow_post': True, 'allow_put': True,
                        'validate': v.none_clears(v.list_of(
                            v.uuid_str, unique=True, max_items=MAX_SECURITY_GROUPS), []),
                        'default': base.DEFERRED, 'is_visible': True, 'is_filter': True},
    'tags': base.TAGS_ON_CREATE,
})

EXTENSIONS = (
    base.Extension('binding', 'Port Binding', 'Expose port bindings of a virtual port to '
                   'external application (binding:host_id, binding:profile with the SRv6 '
                   'VRF of the host)'),
    base.Extension('extra_dhcp_opt', 'Neutron Extra DHCP options', 'Extra options '
                   'configuration for DHCP. For example PXE boot options to DHCP clients '
                   'can be specified'),
    base.Extension('allowed-address-pairs', 'Allowed Address Pairs', 'Provides allowed '
                   'address pairs'),
    base.PORT_SECURITY,
    base.Extension('tag-ports-during-bulk-creation', 'Tag Ports During Bulk Creation',
                   'Allow to tag ports during bulk creation'),
)
