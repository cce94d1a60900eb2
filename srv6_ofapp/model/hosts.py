"""Hosts: the hypervisors and network nodes, admin only.

Their name, datapath id and SID prefix are unique; the SID prefix leaves
its low 32 bits to each VRF's vrf_ip; the VRF pool cannot change under
bound ports, nor can a host with bound ports go.
"""

import netaddr

from srv6_ofapp import exceptions as exc
from srv6_ofapp.model import binding
from srv6_ofapp.model import resource

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
        return doc

    def update(self, txn, ctx, doc, changes):
        new = dict(doc, **changes)
        _check_host(txn, new, doc['id'])
        if new['vrf_cidr'] != doc['vrf_cidr'] and binding.host_has_vrfs(txn, doc['name']):
            raise exc.HostInUse(host_id=doc['id'],
                                reason='vrf_cidr cannot change while ports are bound to it')
        return new

    def delete(self, txn, doc):
        if txn.list('ports', where={'binding:host_id': doc['name']}):
            raise exc.HostInUse(host_id=doc['id'], reason='ports are bound to it')


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
