"""The address bookkeeping: which port holds each IP address of a subnet
(or, for its ``service_ip``, the network's services), which port holds each
MAC address of a network, and where a subnet's search for a free address
may start.  The rules for choosing addresses are srv6_ofapp.ipam's pure
functions; this module keeps their results in the store.

Store kinds, whose keys make uniqueness a point read:
  ipallocations  <subnet_id>/<ip>    -> {subnet_id, ip_address, port_id};
                                        port_id None: held for the network's
                                        services, by no port
  macaddresses   <network_id>/<mac>  -> {port_id}
  ipamcursors    <subnet_id>         -> {next: IP}: every pool address below
                                        IP is allocated, so finding a free
                                        address takes a few point reads
                                        instead of a subnet scan
"""

import netaddr

from srv6_ofapp import exceptions as exc
from srv6_ofapp import ipam

IPALLOCATIONS = 'ipallocations'
MACADDRESSES = 'macaddresses'
IPAMCURSORS = 'ipamcursors'

# Random MACs drawn before giving up on a network whose MACs collide.
MAC_ATTEMPTS = 16


def allocation_key(subnet_id, ip):
    return '%s/%s' % (subnet_id, ip)


def _mac_key(network_id, mac):
    return '%s/%s' % (network_id, mac)


# -- IP addresses ---------------------------------------------------------

def is_allocated(txn, subnet_id, ip):
    return txn.get(IPALLOCATIONS, allocation_key(subnet_id, ip)) is not None


def holder(txn, subnet_id, ip):
    """The id of the port holding ``ip`` of the subnet, or None."""
    allocation = txn.get(IPALLOCATIONS, allocation_key(subnet_id, ip))
    return allocation and allocation['port_id']


def claim_ip(txn, subnet, ip, port_id):
    """Give ``ip`` of ``subnet`` to ``port_id`` (None: to the network's
    services); returns the port's fixed_ips entry."""
    if not ipam.is_host_address(subnet['cidr'], ip):
        raise exc.InvalidIpForSubnet(ip_address=ip)
    if is_allocated(txn, subnet['id'], ip):
        raise exc.IpAddressAlreadyAllocated(ip=ip, subnet_id=subnet['id'])
    txn.put(IPALLOCATIONS, allocation_key(subnet['id'], ip),
            {'port_id': port_id, 'subnet_id': subnet['id'], 'ip_address': ip})
    return {'subnet_id': subnet['id'], 'ip_address': ip}


def release_ips(txn, fixed_ips):
    for allocated in fixed_ips:
        txn.delete(IPALLOCATIONS, allocation_key(allocated['subnet_id'],
                                                 allocated['ip_address']))
        _lower_cursor(txn, allocated['subnet_id'], allocated['ip_address'])


def _lower_cursor(txn, subnet_id, freed_ip):
    cursor = txn.get(IPAMCURSORS, subnet_id)
    if cursor and netaddr.IPAddress(cursor['next']) > netaddr.IPAddress(freed_ip):
        txn.put(IPAMCURSORS, subnet_id, {'next': freed_ip})


def next_free_ip(txn, subnet):
    """The lowest free pool address, or None; the caller claims it in this
    transaction (the cursor already moved past it)."""
    cursor = txn.get(IPAMCURSORS, subnet['id'])
    ip = ipam.first_free_ip(subnet['allocation_pools'],
                            lambda ip: is_allocated(txn, subnet['id'], ip),
                            start=cursor and cursor['next'])
    if ip:
        following = min(int(netaddr.IPAddress(ip)) + 1, 2 ** 32 - 1)
        txn.put(IPAMCURSORS, subnet['id'],
                {'next': str(netaddr.IPAddress(following, version=4))})
    return ip


def reserve_service_ip(txn, subnet, preferred=None):
    """Hold an address of ``subnet`` for the network's services, for no
    port: ``preferred`` when it is free, else the lowest free host address
    (pools do not matter: ports only ask for it to be refused)."""
    def taken(ip):
        return is_allocated(txn, subnet['id'], ip)
    ip = preferred if preferred and not taken(preferred) else \
        ipam.first_free_host(subnet['cidr'], taken)
    if ip is None:
        raise exc.ServiceAddressGenerationFailure(cidr=subnet['cidr'])
    return claim_ip(txn, subnet, ip, None)['ip_address']


def ports_holding(txn, ip):
    """Ids of the ports holding ``ip`` on any subnet, from the bookkeeping
    (no port is read)."""
    return sorted({a['port_id'] for a in txn.list(IPALLOCATIONS, where={'ip_address': ip})
                   if a['port_id']})


def held_by_ports(txn, subnet_id):
    """Whether a port holds an address of the subnet (its service_ip does
    not count: it goes with the subnet)."""
    return any(a['port_id'] for a in txn.list(IPALLOCATIONS, prefix=subnet_id + '/'))


def forget_subnet(txn, subnet_id):
    """Drop the bookkeeping of a subnet that goes; no port may hold any of
    its addresses any more."""
    for allocation in txn.list(IPALLOCATIONS, prefix=subnet_id + '/'):
        txn.delete(IPALLOCATIONS, allocation_key(subnet_id, allocation['ip_address']))
    txn.delete(IPAMCURSORS, subnet_id)


def forget_cursor(txn, subnet_id):
    """The subnet's pools changed: search from their start again."""
    txn.delete(IPAMCURSORS, subnet_id)


# -- MAC addresses --------------------------------------------------------

def claim_mac(txn, network_id, mac, port_id, base_mac, rng):
    """Give ``mac`` (None: a random one under ``base_mac``) of the network to
    ``port_id``; returns it."""
    if mac is not None:
        if txn.get(MACADDRESSES, _mac_key(network_id, mac)):
            raise exc.MacAddressInUse(net_id=network_id, mac=mac)
    else:
        for _ in range(MAC_ATTEMPTS):
            mac = ipam.generate_mac(base_mac, rng)
            if not txn.get(MACADDRESSES, _mac_key(network_id, mac)):
                break
        else:
            raise exc.MacAddressGenerationFailure(net_id=network_id)
    txn.put(MACADDRESSES, _mac_key(network_id, mac), {'port_id': port_id})
    return mac


def release_mac(txn, network_id, mac):
    txn.delete(MACADDRESSES, _mac_key(network_id, mac))
