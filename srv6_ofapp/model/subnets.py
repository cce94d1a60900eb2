"""Subnets: an IPv4 CIDR of a network, its gateway, pools and DHCP settings.

The services address.  The edge answers ARP for, and sends DHCP replies
from, one address per subnet that stands for the network's services
(ipam.service_address): the gateway.  A subnet without gateway_ip that runs
DHCP still needs one, so it holds a ``service_ip``: kept on the subnet
document (internal: the API's attribute map does not show it) and in the
address bookkeeping for no port, so that IPAM never hands it out and a port
asking for it gets 409 like one asking for the gateway.  :func:`keep_service_ip`
is the one rule for when it exists and which address it is.
"""

import netaddr

from srv6_ofapp import exceptions as exc
from srv6_ofapp import ipam
from srv6_ofapp.model import addresses
from srv6_ofapp.model import networks
from srv6_ofapp.model import resource


def keep_service_ip(txn, subnet, preferred=None):
    """Hold a service_ip exactly while ``subnet`` has no gateway_ip and runs
    DHCP.  A new one is ``preferred`` when free (the gateway an update just
    removed: clients already renew their leases there), else the lowest
    free host address; it goes when a gateway is set (even the service_ip
    itself) or DHCP is disabled."""
    needed = subnet['gateway_ip'] is None and subnet['enable_dhcp']
    current = subnet.get('service_ip')
    if needed and not current:
        subnet['service_ip'] = addresses.reserve_service_ip(txn, subnet, preferred)
    elif current and not needed:
        del subnet['service_ip']
        addresses.release_ips(txn, [{'subnet_id': subnet['id'], 'ip_address': current}])


class Subnets(resource.Resource):

    collection = 'subnets'
    store_filters = ('network_id', 'tenant_id')

    def not_found(self, id_):
        return exc.SubnetNotFound(subnet_id=id_)

    def visible(self, txn, ctx, doc):
        if super().visible(txn, ctx, doc):
            return True
        network = txn.get('networks', doc['network_id'])
        return bool(network and networks.seen_by_all(network))

    def caller_where(self, ctx):
        return {}  # the subnets of other projects' shared or external networks too

    def create(self, txn, ctx, attrs):
        network = networks.parent_network(txn, ctx, attrs['network_id'], self.collection,
                                          owner_only=True)
        # A subnet an admin adds to a tenant's network is the tenant's.
        project = self.project_of(ctx, attrs, default=network['tenant_id'])
        if attrs['ip_version'] != 4:
            raise exc.InvalidInput(error_message='only IPv4 subnets are supported '
                                   '(ip_version 4); the IPv6 side is the SRv6 underlay')
        requested = netaddr.IPSet([attrs['cidr']])
        for other in txn.list(self.collection, where={'network_id': network['id']}):
            if requested & netaddr.IPSet([other['cidr']]):
                raise exc.InvalidInput(
                    error_message='Requested subnet with cidr: %s for network: %s overlaps '
                                  'with another subnet' % (attrs['cidr'], network['id']))
        if 'gateway_ip' not in attrs:
            attrs['gateway_ip'] = ipam.default_gateway(attrs['cidr'])
        _check_gateway(attrs['cidr'], attrs['gateway_ip'])
        if 'allocation_pools' not in attrs:
            attrs['allocation_pools'] = ipam.default_pools(attrs['cidr'], attrs['gateway_ip'])
        _check_pools(attrs)
        attrs.update(ipv6_ra_mode=None, ipv6_address_mode=None, subnetpool_id=None)
        doc = self.new_doc(attrs, project)
        keep_service_ip(txn, doc)
        txn.put(self.collection, doc['id'], doc)
        return doc

    def update(self, txn, ctx, doc, changes):
        new = dict(doc, **changes)
        if 'gateway_ip' in changes:
            gateway = new['gateway_ip']
            _check_gateway(new['cidr'], gateway)
            # A router's interface holds the gateway (Neutron's rule).
            port_id = doc['gateway_ip'] and addresses.holder(txn, doc['id'], doc['gateway_ip'])
            if port_id and gateway != doc['gateway_ip']:
                raise exc.GatewayIpInUse(ip_address=doc['gateway_ip'], port_id=port_id)
            # The service_ip may become the gateway: keep_service_ip frees it.
            if (gateway and gateway != doc.get('service_ip') and
                    addresses.is_allocated(txn, doc['id'], gateway)):
                raise exc.IpAddressAlreadyAllocated(ip=gateway, subnet_id=doc['id'])
        if 'gateway_ip' in changes or 'allocation_pools' in changes:
            _check_pools(new)
        if 'allocation_pools' in changes:
            addresses.forget_cursor(txn, doc['id'])
        if 'gateway_ip' in changes or 'enable_dhcp' in changes:
            # Only these decide whether a service_ip is needed: a rename of a
            # subnet an upgrade found full must not fail for want of one.
            keep_service_ip(txn, new, preferred=doc['gateway_ip'])
        return new

    def delete(self, txn, doc):
        if addresses.held_by_ports(txn, doc['id']):
            raise exc.SubnetInUse(subnet_id=doc['id'])
        addresses.forget_subnet(txn, doc['id'])


def _check_gateway(cidr, gateway_ip):
    if gateway_ip is not None and not ipam.is_host_address(cidr, gateway_ip):
        raise exc.InvalidInput(error_message='Gateway IP %s is not a host address of '
                               'subnet %s' % (gateway_ip, cidr))


def _check_pools(subnet):
    error = ipam.pool_errors(subnet['cidr'], subnet['allocation_pools'],
                             subnet['gateway_ip'])
    if error:
        raise exc.InvalidInput(error_message=error)
