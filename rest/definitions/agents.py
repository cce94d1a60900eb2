"""The agent resource (admin only), as Neutron's agents extension defines
it: listed, shown, updated (admin_state_up, description) and deleted when
dead; agents register themselves, so there is no create."""

from rest import validators as v
from rest.definitions import base

COLLECTION = 'agents'
MEMBER = 'agent'
ACTIONS = ('index', 'show', 'update', 'delete')
# l3_agent_scheduler: GET /v2.0/agents/{id}/l3-routers, an L3 agent's routers;
# an admin adds one (POST, {"router_id": ...}) and removes one (DELETE
# .../l3-routers/{router_id}).
RELATED = {'l3-routers': 'routers'}
RELATED_CHANGES = {'l3-routers': 'router_id'}

ATTRIBUTES = dict({
    'id': base.ID,
    'agent_type': base.READ_ONLY_FILTER,
    'binary': base.READ_ONLY_FILTER,
    'topic': base.READ_ONLY_FILTER,
    'host': base.READ_ONLY_FILTER,
    'admin_state_up': {'allow_post': False, 'allow_put': True, 'validate': v.boolean,
                       'is_visible': True, 'is_filter': True, 'is_sort_key': True},
    'description': dict(base.DESCRIPTION, allow_post=False),
    'alive': dict(base.READ_ONLY, is_filter=True),
    'started_at': base.READ_ONLY,
    'heartbeat_timestamp': base.READ_ONLY,
    'configurations': base.READ_ONLY,
    'availability_zone': base.READ_ONLY_FILTER,
    'resources_synced': base.READ_ONLY,
}, **base.STANDARD_ATTRIBUTES)

EXTENSIONS = (
    base.Extension('agent', 'agent', 'The agent management extension.'),
)
