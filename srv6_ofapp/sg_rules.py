"""What a security group rule's protocol means, and whether a group is
stateful, for the model that checks rules and the edge that turns them
into flows alike."""

# IANA protocol numbers of the names Neutron accepts (neutron-lib's
# IP_PROTOCOL_MAP), and the names that mean any protocol.
PROTOCOLS = {'ah': 51, 'dccp': 33, 'egp': 8, 'esp': 50, 'gre': 47, 'hopopt': 0,
             'icmp': 1, 'igmp': 2, 'ipip': 4, 'ipv6-encap': 41, 'ipv6-frag': 44,
             'ipv6-icmp': 58, 'icmpv6': 58, 'ipv6-nonxt': 59, 'ipv6-opts': 60,
             'ipv6-route': 43, 'ospf': 89, 'pgm': 113, 'rsvp': 46, 'sctp': 132,
             'tcp': 6, 'udp': 17, 'udplite': 136, 'vrrp': 112}
ANY_PROTOCOL = (None, 'any')
# Protocols whose rules may name ports; ICMP's take type (min) and code (max).
PORT_PROTOCOLS = (6, 17, 33, 132, 136)
ICMP_PROTOCOLS = (1, 58)
ICMPV6 = 58


def known_protocol(protocol):
    """Whether ``protocol`` (a name, a number as text, or None) is one a
    rule may name."""
    return (protocol in ANY_PROTOCOL or protocol in PROTOCOLS or
            (str(protocol).isdigit() and int(protocol) <= 255))


def protocol_number(protocol):
    """The IANA number of a known protocol, or None for any protocol."""
    if protocol in ANY_PROTOCOL:
        return None
    return int(protocol) if str(protocol).isdigit() else PROTOCOLS[protocol]


def is_stateful(group):
    """Whether a security group is stateful: its ``stateful``, true for a
    group stored before the attribute was (Neutron's migration made every
    existing group stateful)."""
    return group.get('stateful', True)
