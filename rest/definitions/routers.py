"""The router resource (Neutron's ``router``, ``ext-gw-mode`` and
``l3_agent_scheduler`` extensions): a project's router, its gateway on an
external network, its interfaces (member actions) and the L3 agent of the
network node it runs on."""

from rest import validators as v
from rest.definitions import base

COLLECTION = 'routers'
MEMBER = 'router'
# PUT /v2.0/routers/{id}/<action>, the body as the model takes it.
MEMBER_ACTIONS = ('add_router_interface', 'remove_router_interface')
# GET /v2.0/routers/{id}/<name>: a listing of another collection.
RELATED = {'l3-agents': 'agents'}

_gateway = v.dict_of(required={'network_id': v.uuid_str},
                     optional={'enable_snat': v.boolean,
                               'external_fixed_ips': v.list_of(base.FIXED_IP)})


def _gateway_info(value):
    """Neutron's dict_or_nodata: null or {} is no gateway."""
    return None if value in (None, {}) else _gateway(value)


def _centralized(value):
    """distributed and ha: this backend's routers are neither."""
    if v.boolean(value):
        raise ValueError('a router runs on one network node: neither distributed nor HA')
    return False


ATTRIBUTES = dict(base.PROJECT_RESOURCE, **{
    'name': base.NAME,
    'description': base.DESCRIPTION,
    'admin_state_up': base.ADMIN_STATE_UP,
    'status': base.READ_ONLY_FILTER,
    'external_gateway_info': {'allow_post': True, 'allow_put': True,
                              'validate': _gateway_info, 'default': None,
                              'is_visible': True},
    # dvr and l3-ha: admins see them (Neutron's policy).
    'distributed': {'allow_post': True, 'allow_put': True, 'validate': _centralized,
                    'default': False, 'is_visible': True, 'admin_only': True},
    'ha': {'allow_post': True, 'allow_put': True, 'validate': _centralized,
           'default': False, 'is_visible': True, 'admin_only': True},
    # Not here, so never shown: host, interfaces, gw_port_id
    # (srv6_ofapp/model/routers.py).
})

EXTENSIONS = (
    base.Extension('router', 'Neutron L3 Router', 'Router abstraction for basic L3 '
                   'forwarding between L2 Neutron networks and access to external networks '
                   'via a NAT gateway.'),
    base.Extension('ext-gw-mode', 'Neutron L3 Configurable external gateway mode',
                   'Extension of the router abstraction for specifying whether SNAT should '
                   'occur on the external gateway'),
    base.Extension('l3_agent_scheduler', 'L3 Agent Scheduler', 'Schedule routers among L3 '
                   'agents (the network nodes)'),
)
