"""srv6_encap_networks: a project's extra encap rules (destination prefix ->
nexthop SID) for a network, e.g. services reachable only from it.  They go
with their network."""

import collections

from srv6_ofapp import exceptions as exc
from srv6_ofapp.model import networks
from srv6_ofapp.model import resource


class Srv6EncapNetworks(resource.Resource):

    collection = 'srv6_encap_networks'
    store_filters = ('network_id', 'tenant_id')

    def not_found(self, id_):
        return exc.Srv6EncapNetworkNotFound(srv6_encap_network_id=id_)

    def create(self, txn, ctx, attrs):
        network = networks.parent_network(txn, ctx, attrs['network_id'], self.collection,
                                          owner_only=True)
        project = self.project_of(ctx, attrs, default=network['tenant_id'])
        _check_encap_rules(attrs['encap_rules'])
        doc = self.new_doc(attrs, project)
        txn.put(self.collection, doc['id'], doc)
        return doc

    def update(self, txn, ctx, doc, changes):
        if 'encap_rules' in changes:
            _check_encap_rules(changes['encap_rules'])
        doc.update(changes)
        return doc


def _check_encap_rules(rules):
    counts = collections.Counter(r['destination'] for r in rules)
    repeated = sorted(d for d, count in counts.items() if count > 1)
    if repeated:
        raise exc.InvalidInput(error_message='encap_rules repeat destination %s'
                               % exc.shown(', '.join(repeated)))
