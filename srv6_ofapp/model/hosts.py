"""Hosts: the hypervisors and network nodes, admin only.

Their name, datapath id and SID prefix are unique; the SID prefix leaves
its low 32 bits to each VRF's (and router's) vrf_ip; the VRF pool cannot
change under bound ports or routers, nor can a host with bound ports go.
A host whose ``role`` is ``network`` is a network node (scheduler): routers
run there, and it cannot go or stop being one while they do.
"""

import netaddr

from srv6_ofapp import exceptions as exc
from srv6_ofapp.model import binding
from srv6_ofapp.model import resource
from srv6_ofapp.model import scheduler
from topology import roles

UNIQUE = ('name', 'datapath_id', 'segment_node_id')


class Hosts(resource.Resource):

    collection = 'hosts'
    admin_only = True

    def not_found(self, id_):
        return exc.HostNotFound(host_id=id_)

    def create(self, txn, ctx, attrs):
        _check_host(txn, attrs, None)
        doc = self.new_doc(attrs)
        txn.put(self.collection, doc['id'], doc)
        # Ports bound to this name before the host was known bind now.
        binding.bind_waiting_ports(txn, doc['name'])
        if roles.is_network_node(doc):
            scheduler.schedule_waiting(txn)
        return doc

    def update(self, txn, ctx, doc, changes):
        new = dict(doc, **changes)
        _check_host(txn, new, doc['id'])
        if new['vrf_cidr'] != doc['vrf_cidr'] and binding.host_has_vrfs(txn, doc['name']):
            raise exc.HostInUse(host_id=doc['id'], reason='vrf_cidr cannot change while '
                                'ports are bound to it or routers run on it')
        if roles.is_network_node(doc) != roles.is_network_node(new):
            if scheduler.routers_on(txn, doc['name']):
                raise exc.HostInUse(host_id=doc['id'], reason='routers run on it: it stays a '
                                    'network node')
            if roles.is_network_node(new):
                txn.put(self.collection, new['id'], new)  # what the scheduler reads
                scheduler.schedule_waiting(txn)
        return new

    def delete(self, txn, doc):
        if txn.list('ports', where={'binding:host_id': doc['name']}):
            raise exc.HostInUse(host_id=doc['id'], reason='ports are bound to it')
        if scheduler.routers_on(txn, doc['name']):
            raise exc.HostInUse(host_id=doc['id'], reason='routers run on it')


def _check_host(txn, host, own_id):
    if netaddr.IPAddress(host['segment_node_id']).value & 0xffffffff:
        raise exc.InvalidInput(
            error_message='segment_node_id %s must leave its low 32 bits zero: they '
                          'carry the vrf_ip of each SID' % host['segment_node_id'])
    for other in txn.list('hosts'):
        if other['id'] == own_id:
            continue
        for attr in UNIQUE:
            if other[attr] == host[attr]:
                raise exc.HostNameInUse(attr=attr, value=host[attr])
