"""Where routers run: Neutron's L3 scheduling onto network nodes.

A network node is a host whose ``role`` is ``network``; its
``external_interface`` names the device of its kernel that faces the
external segment.  A router needs a network node while it has an interface
or a gateway: it then gets the network node with the fewest routers (ties
by name; not one whose L3 agent an admin has disabled), and keeps it until it has neither (or goes).  A router that needs
one while there is none waits, unscheduled (``host`` None), until a network
node is registered (or a host becomes one).

An admin may also place a router by hand (l3_agent_scheduler's POST
/agents/{id}/l3-routers, agents.Agents.relate: schedule_on) or take it off
its node (DELETE .../l3-routers/{router_id}: unschedule).  As in Neutron
(remove_router_from_l3_agent), a router taken off is unscheduled until an
admin adds it again or the automatic scheduler places it as any waiting
router: at its next interface or gateway change, or when a network node
comes.  A router placed by hand without interface or gateway keeps its node
until such a change leaves it with neither.

On its network node a router holds a vrf_ip, the low 32 bits of its SID
there, from the host's vrf_cidr like a VRF's (binding.allocate_vrf_ip: the
two never share an address):

  routerallocations  <host name>/<router_id>  -> {host, router_id, vrf_ip}

A network node with routers can neither go nor stop being one (hosts).
"""

from srv6_ofapp.model import binding
from srv6_ofapp.model import l3_ports
from topology import roles
from topology import vrf as vrf_lib
from topology.roles import is_network_node
from topology.vrf import router_allocation_key as allocation_key

def needs_host(router):
    return bool(router['interfaces'] or router['gw_port_id'])


def routers_on(txn, host_name):
    """The router allocations of a host."""
    return txn.list(binding.ROUTERALLOCATIONS, prefix=vrf_lib.host_prefix(host_name))


def place(txn, router):
    """Schedule ``router`` (a document the caller stores) when it needs a
    network node and has none, or release its node when it needs none."""
    if needs_host(router) and router['host'] is None:
        nodes = [h for h in txn.list('hosts') if is_network_node(h) and _takes_routers(txn, h)]
        if nodes:
            host = min(nodes, key=lambda h: (len(routers_on(txn, h['name'])), h['name']))
            schedule_on(txn, router, host)
    elif not needs_host(router) and router['host'] is not None:
        unschedule(txn, router)


def _takes_routers(txn, host):
    """Whether the automatic scheduler may use a network node: not when an
    admin has set its L3 agent's admin_state_up false (Neutron's
    schedulers skip disabled agents, and so does placing by hand:
    InvalidL3Agent).  A node whose agent has not reported yet takes them."""
    record = txn.get('agents', roles.agent_id(roles.L3_AGENT, host['name']))
    return record is None or record['admin_state_up']


def unschedule(txn, router):
    """Release the router's network node and its vrf_ip there; its
    floating IPs are DOWN until a node has them again."""
    if router['host'] is not None:
        txn.delete(binding.ROUTERALLOCATIONS, allocation_key(router['host'], router['id']))
        router['host'] = None
        l3_ports.router_floating_ips_down(txn, router['id'])


def schedule_waiting(txn):
    """A network node has come: the routers waiting for one get theirs."""
    for router in sorted(txn.list('routers'), key=lambda r: (r['created_at'], r['id'])):
        if router['host'] is None and needs_host(router):
            place(txn, router)
            txn.put('routers', router['id'], router)


def schedule_on(txn, router, host):
    """Put ``router`` (unscheduled; a document the caller stores) on the
    network node ``host`` (a hosts document), with a vrf_ip there."""
    vrf_ip = binding.allocate_vrf_ip(txn, host)
    txn.put(binding.ROUTERALLOCATIONS, allocation_key(host['name'], router['id']),
            {'host': host['name'], 'router_id': router['id'], 'vrf_ip': vrf_ip})
    router['host'] = host['name']
