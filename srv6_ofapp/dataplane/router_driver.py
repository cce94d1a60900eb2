"""The routers of one network node, in the kernel: a namespace per router,
sending only the difference from what is there (router_state.py says what
a router holds and why).

Per router R, in namespace P + ``rtr`` + id[:11] (P: the host's ``netns``
attribute and the cluster's name, each followed by '-', so that the routers
of several clusters served by one gateway never meet):

    host: rr-<id[:11]> ==veth== uplink :R   fe80::1 / fe80::2
    host: qg-<id[:11]> ==veth== qg     :R   gateway port MAC, external
                                            address, floating IPs
          (qg-... is a port of the Linux bridge br-ex, which holds the
          host's external_interface: shared by every router and cluster)
    R:    dx0 ==veth== dx1                  the decapsulation loop
    host: SID/128 via fe80::2 dev rr-...    (the SID goes into R)
    R:    ::/0 via fe80::1 dev uplink, sr tunsrc = SID
    R:    169.254.254.1/32 via 169.254.255.2 dev dx0 (End.DX4's next hop)
    R:    the router's routes; table ip srv6_nat (nftables)

No device of ours takes an automatic IPv6 link-local address
(addrgenmode none): the veths' ends hold only the addresses above, and a
node creating hundreds of routers runs no duplicate address detection.

A Linux bridge rather than an OVS br-ex: the external segment needs
nothing but L2 forwarding between the routers' ports and the wire, and the
kernel bridge does that with no extra daemon in the path.  Namespaces
rather than VRF devices: each router gets its own conntrack and NAT
state, as Neutron's qrouter namespaces do.

Restarts: what a router holds besides its routes is fingerprinted
(router_state.digest) into the alias of its rr- link, written last; on
start one ``ip link`` in the host's namespace reads them all, so a router
whose fingerprint matches is not touched, and its routes are read back like
a VRF's.  The host's namespace is shared with the VRF driver and with
other clusters' routers: this driver owns only the routes through its own
routers' links.
"""

import logging
import re

from srv6_ofapp.dataplane import linux
from srv6_ofapp.dataplane import router_state
from srv6_ofapp.dataplane.kernel_routes import KernelRoutes
from srv6_ofapp.dataplane.route_codec import Route
from srv6_ofapp.dataplane.router_state import (
    DECAP_NEXTHOP, EXTERNAL, LOOP_IN, LOOP_IN_ADDRESS, LOOP_OUT, LOOP_OUT_ADDRESS, NAT_TABLE,
    UPLINK)
from topology import naming

LOG = logging.getLogger(__name__)

HOST_LL = 'fe80::1'
ROUTER_LL = 'fe80::2'

# Forwarding, and the loop: packets come back in on LOOP_IN from VMs whose
# addresses route out of UPLINK (no reverse-path check) with a source that
# LOOP_OUT holds (accept_local).
ROUTER_SYSCTLS = (
    'net.ipv4.ip_forward', 1,
    'net.ipv6.conf.all.forwarding', 1,
    'net.ipv4.conf.all.rp_filter', 0,
    'net.ipv4.conf.default.rp_filter', 0,
    'net.ipv4.conf.%s.rp_filter' % LOOP_IN, 0,
    'net.ipv4.conf.%s.accept_local' % LOOP_OUT, 1,
    'net.ipv4.conf.%s.accept_local' % LOOP_IN, 1,
)

_UNKNOWN = object()


def netns_prefix(host, cluster=''):
    """The prefix of the router namespaces of ``host`` for ``cluster``."""
    parts = [part for part in (host.get('netns'), cluster) if part]
    return ''.join(part + '-' for part in parts)


class RouterDriver:
    """The routers of the network node ``host`` (a hosts document) for one
    cluster (its name, '' when the process serves one)."""

    def __init__(self, host, cluster=''):
        self.host = host
        self.host_netns = host.get('netns')
        self.prefix = netns_prefix(host, cluster)
        self._name = re.compile('^%s%s[0-9a-f-]{11}$' % (re.escape(self.prefix),
                                                         naming.ROUTER_PREFIX))
        self.routers = {}   # namespace -> Router as applied (_UNKNOWN: found on start)
        self.digests = {}   # namespace -> fingerprint found on start
        self.routes = KernelRoutes()
        self._host_ready = False

    def router_netns(self, router_id):
        return self.prefix + naming.router_name(router_id)

    def _link_of(self, netns):
        return naming.ROUTER_LINK_PREFIX + netns[len(self.prefix) + len(naming.ROUTER_PREFIX):]

    def _external_link_of(self, netns):
        return naming.EXTERNAL_PORT_PREFIX + netns[len(self.prefix) + len(naming.ROUTER_PREFIX):]

    def close(self):
        self.routes.close()

    def route_count(self):
        return self.routes.count()

    # -- reading what is there ------------------------------------------------

    def load(self):
        """Find our routers, their fingerprints and their routes (on start)."""
        found = sorted(name for name in linux.namespaces() if self._name.match(name))
        aliases = {link['ifname']: link.get('ifalias')
                   for link in linux.ip_json(self.host_netns, 'link', 'show')}
        self.routers = {netns: _UNKNOWN for netns in found}
        self.digests = {netns: aliases.get(self._link_of(netns)) for netns in found}
        links = {self._link_of(netns) for netns in found}
        self.routes.load(self.host_netns, mine=lambda route: route.oif in links)
        for netns in found:
            self.routes.load(netns)

    # -- applying ----------------------------------------------------------------

    def apply(self, state):
        """Make the kernel hold ``state`` (a router_state.RouterState); returns
        the number of changes made."""
        changes = 0
        wanted = {self.router_netns(router_id): router
                  for router_id, router in state.routers.items()}
        for netns in sorted(set(self.routers) - set(wanted)):
            self._delete(netns)
            changes += 1
        for netns, router in sorted(wanted.items()):
            before = self.routers.get(netns)
            if before is _UNKNOWN and self.digests.get(netns) == router_state.digest(router):
                self.routers[netns] = router  # as the last run left it
            elif before != router:
                self._ensure(netns, router, before)
                changes += 1
        host_routes = {}
        for netns, router in wanted.items():
            sid = Route(router.sid + '/128', self._link_of(netns), 'dev', via=ROUTER_LL)
            host_routes[sid.table, sid.dst] = sid
        changes += self.routes.apply(self.host_netns, host_routes)
        for netns, router in sorted(wanted.items()):
            changes += self.routes.apply(netns, self._routes(router, state.routes[router.id]))
        return changes

    @staticmethod
    def _routes(router, routes):
        plumbing = (Route('::/0', UPLINK, 'dev', via=HOST_LL),
                    Route(DECAP_NEXTHOP + '/32', LOOP_OUT, 'dev',
                          via=LOOP_IN_ADDRESS.split('/')[0]))
        return {(route.table, route.dst): route for route in plumbing + tuple(routes)}

    def _ensure(self, netns, router, before):
        if before is None:
            if netns in linux.namespaces():
                before = _UNKNOWN  # a half-made router of an earlier try
            else:
                self._create(netns)
                before = router_state.Router(router.id, None, None, (), ())
        # What changes inside the router: one ``ip -batch``.
        commands = []
        if before is _UNKNOWN or before.sid != router.sid:
            commands.append('sr tunsrc set %s' % router.sid)
        commands += self._ensure_external(netns, router, before)
        linux.ip_batch(netns, commands)
        ruleset = router_state.nat_ruleset(router)
        if before is _UNKNOWN or router_state.nat_ruleset(before) != ruleset:
            mapped = _mapped_floating_ips(netns) if before is _UNKNOWN else before
            gone = router_state.floating_ips_gone(mapped, router)
            # Their connections are forgotten before the rules change (a
            # crash right after the change leaves a map that no longer
            # names them) and again after (what the old rules let start
            # in between).
            for fip in gone:
                linux.forget_connections(netns, fip)
            # One transaction: the old table goes and the new one comes at once.
            linux.nft(netns, 'table ip {0}\ndelete table ip {0}\n'.format(NAT_TABLE) + ruleset)
            for fip in gone:
                linux.forget_connections(netns, fip)
        linux.ip(self.host_netns, 'link', 'set', self._link_of(netns),
                 'alias', router_state.digest(router))
        self.routers[netns] = router
        self.digests.pop(netns, None)

    def _create(self, netns):
        LOG.info('creating router namespace %s', netns)
        self._ensure_host()
        link = self._link_of(netns)
        linux.run(['ip', 'netns', 'add', netns])
        try:
            linux.ip_batch(self.host_netns, [
                'link add %s type veth peer name %s netns %s' % (link, UPLINK, netns),
                'link set %s addrgenmode none' % link,
                'addr add %s/64 dev %s nodad' % (HOST_LL, link),
                'link set %s up' % link])
            linux.ip_batch(netns, [
                'link set lo up',
                'link add %s type veth peer name %s' % (LOOP_OUT, LOOP_IN)] + [
                'link set %s addrgenmode none' % dev for dev in (UPLINK, LOOP_OUT, LOOP_IN)] + [
                'addr add %s dev %s' % (LOOP_OUT_ADDRESS, LOOP_OUT),
                'addr add %s dev %s' % (LOOP_IN_ADDRESS, LOOP_IN),
                'addr add %s/64 dev %s nodad' % (ROUTER_LL, UPLINK),
                'link set %s up' % LOOP_OUT,
                'link set %s up' % LOOP_IN,
                'link set %s up' % UPLINK])
            linux.sysctl(netns, *ROUTER_SYSCTLS)
        except Exception:
            # Half a router would be taken for a whole one on the next try.
            linux.run(['ip', 'netns', 'del', netns], check=False)
            raise
        self.routes.applied.setdefault(netns, {})

    def _ensure_host(self):
        """Forwarding on the host, and the external bridge with the host's
        external interface in it (once per driver)."""
        if self._host_ready:
            return
        linux.sysctl(self.host_netns, 'net.ipv6.conf.all.forwarding', 1)
        links = {link['ifname']: link for link in
                 linux.ip_json(self.host_netns, 'link', 'show')}
        if naming.EXTERNAL_BRIDGE not in links:
            LOG.info('creating the external bridge %s', naming.EXTERNAL_BRIDGE)
            # Another cluster's driver may be making it at the same moment.
            linux.ip(self.host_netns, 'link', 'add', naming.EXTERNAL_BRIDGE, 'type', 'bridge',
                     check=False)
        commands = ['link set %s up' % naming.EXTERNAL_BRIDGE]
        interface = self.host.get('external_interface')
        if interface:
            if interface not in links:
                raise RuntimeError('host %s: its external_interface %s does not exist'
                                   % (self.host['name'], interface))
            if links[interface].get('master') != naming.EXTERNAL_BRIDGE:
                LOG.info('adding %s to %s', interface, naming.EXTERNAL_BRIDGE)
                commands.append('link set %s master %s' % (interface, naming.EXTERNAL_BRIDGE))
            commands.append('link set %s up' % interface)
        linux.ip_batch(self.host_netns, commands)
        self._host_ready = True

    def _ensure_external(self, netns, router, before):
        """Make or remove the external port (from the host's side); returns
        the commands that configure it inside the router."""
        wanted = router.external
        if before is _UNKNOWN:
            present = EXTERNAL in linux.links(netns)
            addresses = linux.addresses(netns, EXTERNAL) if present else set()
            mac = None
        else:
            present = before.external is not None
            addresses = set(_external_addresses(before))
            mac = before.external.mac if present else None
        if wanted is None:
            if present:
                LOG.info('%s: removing the external port', netns)
                linux.ip(self.host_netns, 'link', 'del', self._external_link_of(netns))
                self.routes.forget_where(netns, lambda route: route.oif == EXTERNAL)
            return []
        commands = []
        if not present:
            self._ensure_host()
            external_link = self._external_link_of(netns)
            linux.ip_batch(self.host_netns, [
                'link add %s type veth peer name %s netns %s' % (external_link, EXTERNAL, netns),
                'link set %s addrgenmode none' % external_link,
                'link set %s master %s up' % (external_link, naming.EXTERNAL_BRIDGE)])
            commands.append('link set %s addrgenmode none' % EXTERNAL)
        if wanted.mac and wanted.mac != mac:
            commands.append('link set %s address %s' % (EXTERNAL, wanted.mac))
        if not present or before is _UNKNOWN:
            commands.append('link set %s up' % EXTERNAL)
        want = set(_external_addresses(router))
        commands += ['addr add %s dev %s' % (a, EXTERNAL) for a in sorted(want - addresses)]
        commands += ['addr del %s dev %s' % (a, EXTERNAL) for a in sorted(addresses - want)]
        return commands

    def _delete(self, netns):
        LOG.info('deleting router namespace %s', netns)
        # The veths (and the host's SID route with them) would go with the
        # namespace, but only once the kernel gets round to destroying it.
        link = self._link_of(netns)
        for device in (link, self._external_link_of(netns)):
            linux.ip(self.host_netns, 'link', 'del', device, check=False)
        linux.run(['ip', 'netns', 'del', netns], check=False)
        self.routes.forget(netns)
        self.routes.forget_where(self.host_netns, lambda route: route.oif == link)
        self.routers.pop(netns, None)
        self.digests.pop(netns, None)


def _mapped_floating_ips(netns):
    """The (floating IP, fixed IP) pairs of the floating_dnat map in
    ``netns``'s NAT table, as an earlier run left it."""
    pairs = []
    for item in linux.nft_json(netns, 'list', 'map', 'ip', NAT_TABLE, 'floating_dnat'):
        for fip, fixed in item.get('map', {}).get('elem', ()):
            pairs.append((fip, fixed))
    return pairs


def _external_addresses(router):
    """The addresses of a router's external port: its gateway's, then one
    /32 per floating IP (the kernel answers ARP for each)."""
    if router.external is None:
        return ()
    return router.external.addresses + tuple(fip + '/32' for fip, _ in router.floating_ips)
