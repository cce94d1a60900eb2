"""Agents, as Neutron's agents API shows them: one per host a process
serves (an agent process serves its own host; the all-in-one process
every host), admin only.  A network node's agent is an ``L3 agent``
(its routers are its l3-routers), any other host's an ``SRv6 OpenFlow
agent``: the host's role decides at each report.  An admin places a
router on an L3 agent's node by hand, or takes it off (l3-routers: relate,
unrelate; scheduler).

Two documents per agent:
  agents/<id>            the record: it stays, alive or dead, until an admin
                         deletes it (as in Neutron); written when an agent
                         starts
  agent_heartbeats/<id>  the heartbeat: rewritten at every report with the
                         agent's configurations, on a store lease the agent
                         keeps alive.  An agent is alive exactly while its
                         heartbeat exists: a dead agent's lease expires and
                         the store deletes it.

An agent's id is a function of its type and host, so a restarted agent is
the same agent; a host that changes role has a new agent, and the other
one is dead.
"""

from srv6_ofapp import exceptions as exc
from srv6_ofapp.model import binding
from srv6_ofapp.model import resource
from srv6_ofapp.model import scheduler
from topology import roles
from topology.roles import (  # noqa: F401 (the agents' names, also used through here)
    AGENT_TYPES, L3_AGENT, OPENFLOW_AGENT, agent_id, agent_type_of)

HEARTBEATS = 'agent_heartbeats'
BINARY = 'srv6-ofapp'
TOPIC = 'N/A'


def report(txn, host, configurations, started_at, lease):
    """Record that the agent of ``host`` is alive, with its configurations:
    its heartbeat on ``lease``, and its record when it is new or restarted."""
    agent_type = agent_type_of(binding.host_by_name(txn, host))
    id_ = agent_id(agent_type, host)
    for other in AGENT_TYPES:
        if other != agent_type:  # the host's role changed: that agent is dead
            txn.delete(HEARTBEATS, agent_id(other, host))
    now = resource.utcnow()
    record = txn.get('agents', id_)
    if record is None or record['started_at'] != started_at:
        record = dict(record or {
            'id': id_, 'agent_type': agent_type, 'binary': BINARY, 'topic': TOPIC,
            'host': host, 'admin_state_up': True, 'description': '',
            'availability_zone': None, 'created_at': now, 'updated_at': now,
            'revision_number': 0}, started_at=started_at, configurations=configurations,
            heartbeat_timestamp=now)
        txn.put('agents', id_, record)
    txn.put(HEARTBEATS, id_, {'id': id_, 'heartbeat_timestamp': now,
                              'configurations': configurations}, lease=lease)


class Agents(resource.Resource):

    collection = 'agents'
    admin_only = True
    store_filters = ('host', 'agent_type', 'binary')

    def not_found(self, id_):
        return exc.AgentNotFound(id=id_)

    def create(self, txn, ctx, attrs):
        raise exc.BadRequest(resource='agent', msg='agents register themselves')

    def update(self, txn, ctx, doc, changes):
        enabled = changes.get('admin_state_up') and not doc['admin_state_up']
        doc.update(changes)
        if enabled and doc['agent_type'] == L3_AGENT:
            # Enabled again: the routers waiting for a node may take its
            # (the scheduler reads the agent's record, stored first).
            txn.put('agents', doc['id'], doc)
            scheduler.schedule_waiting(txn)
        return doc

    def delete(self, txn, doc):
        if txn.get(HEARTBEATS, doc['id']) is not None:
            raise exc.AgentInUse(id=doc['id'], host=doc['host'])
        # Its heartbeat, should one come again, makes a new record.

    def related(self, txn, ctx, doc, name):
        """l3-routers: the routers on an L3 agent's network node."""
        if name != 'l3-routers':
            return super().related(txn, ctx, doc, name)
        if doc['agent_type'] != L3_AGENT:
            return 'routers', []
        return 'routers', txn.list('routers', where={'host': doc['host']})

    def relate(self, txn, ctx, doc, name, router_id):
        """l3-routers: an admin places a router on this L3 agent's network
        node (Neutron's add_router_to_l3_agent): the agent enabled, the
        router on no other node; already there, nothing changes."""
        if name != 'l3-routers':
            return super().relate(txn, ctx, doc, name, router_id)
        router = _router(txn, router_id)
        host = binding.host_by_name(txn, doc['host'])
        if doc['agent_type'] != L3_AGENT or not doc['admin_state_up'] or \
                host is None or not roles.is_network_node(host):
            raise exc.InvalidL3Agent(id=doc['id'])
        if router['host'] == host['name']:
            return
        if router['host'] is not None:
            raise exc.RouterHostedByL3Agent(router_id=router_id,
                                            agent_id=agent_id(L3_AGENT, router['host']))
        scheduler.schedule_on(txn, router, host)
        txn.put('routers', router['id'], router)

    def unrelate(self, txn, ctx, doc, name, router_id):
        """l3-routers: an admin takes a router off this agent's network node
        (Neutron's remove_router_from_l3_agent); it is unscheduled
        (scheduler).  A router the agent does not host: nothing changes."""
        if name != 'l3-routers':
            return super().unrelate(txn, ctx, doc, name, router_id)
        router = _router(txn, router_id)
        if doc['agent_type'] == L3_AGENT and router['host'] == doc['host']:
            scheduler.unschedule(txn, router)
            txn.put('routers', router['id'], router)

    def view(self, views, doc):
        heartbeat = views.heartbeat(doc['id'])
        view = dict(doc, alive=heartbeat is not None, resources_synced=None)
        if heartbeat is not None:
            view.update(heartbeat_timestamp=heartbeat['heartbeat_timestamp'],
                        configurations=heartbeat['configurations'])
        return view


def _router(txn, router_id):
    router = txn.get('routers', router_id)
    if router is None:
        raise exc.RouterNotFound(router_id=router_id)
    return router
