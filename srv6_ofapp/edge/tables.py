"""The table contract of br-int: every table, its fixed id, the feature that
owns its flows, and what a frame carries from one table to the next.

Ids are fixed, with gaps, so that adding a table (security groups are next)
renumbers nothing: an upgrade leaves every existing flow where it is.  A
table's flows are built by its owner module only; another feature reaches
it by ``('goto', name)``, and only forward (OpenFlow: a higher id).

Packet order, and what each table may assume:

  ingress (0)   port_security.py.  Every frame starts here.  A frame from a
                VM port must carry the port's MAC and one of its IPs
                (allowed_address_pairs extend that; port_security_enabled
                false lifts it); the gateway port (the VRF's side) is
                trusted.  Admitted frames leave with the network tag in
                ``metadata`` (flows.network_tag) and go to arp, dhcp or l2;
                anything else is dropped.
  arp     (10)  arp.py.  ARP within the tagged network: requests answered in
                the datapath or turned into unicast to their owner (arp.answer),
                replies forwarded by l2, the rest to the controller (metered).
  dhcp    (20)  dhcp.py.  DHCP to a server port: to the controller, metered
                per VM port.
  sg_egress (30), sg_egress_rules (31), sg_egress_accept (32)
                security_groups.py.  IPv4 from a port with port security,
                its ofport in reg5: through conntrack (zone reg5), then its
                security groups' egress rules; what they allow goes on to l2.
                A port whose groups are stateless skips conntrack: its rules
                match without ct_state and send to l2 directly.
  33-49         free, between the firewall and forwarding.
  l2      (50)  l2.py.  Unicast by (network tag, destination MAC) to a local VM
                or to the network's gateway port.  Nothing is ever flooded:
                broadcast, multicast and unknown destinations are dropped.  A
                VM port with port security gets its frames through sg_ingress
                (reg5: its ofport).
  sg_ingress (60), sg_ingress_rules (61)
                security_groups.py.  IPv4 to a port with port security:
                through conntrack (zone reg5), then its groups' ingress rules;
                what they allow is output to the port (stateless: no
                conntrack, as in egress).
  62-79         free, after forwarding chose the port.

Every table ends in an explicit priority-0 drop (flows.base_flows), so that
dropped traffic shows in its counters.
"""

import collections

Table = collections.namedtuple('Table', 'name table_id owner')

TABLES = (
    Table('ingress', 0, 'port_security'),
    Table('arp', 10, 'arp'),
    Table('dhcp', 20, 'dhcp'),
    Table('sg_egress', 30, 'security_groups'),
    Table('sg_egress_rules', 31, 'security_groups'),
    Table('sg_egress_accept', 32, 'security_groups'),
    Table('l2', 50, 'l2'),
    Table('sg_ingress', 60, 'security_groups'),
    Table('sg_ingress_rules', 61, 'security_groups'),
)

# The register that carries the VM port a frame comes from (egress) or
# goes to (ingress); its low 16 bits are the port's conntrack zone.
PORT_REG = 'reg5'

TABLE_ID = {table.name: table.table_id for table in TABLES}
TABLE_NAME = {table.table_id: table.name for table in TABLES}
