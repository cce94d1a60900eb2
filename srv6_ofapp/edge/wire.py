"""Small helpers of the packet-in fast path: addresses as bytes and the
Internet checksum by arithmetic, for replies that are patched rather than
serialized (dhcp.py, arp.py).

The Internet checksum is the one's-complement sum of 16-bit words.  Since
2**16 == 1 (mod 0xffff), that sum is congruent to the whole buffer read as
one big integer, and to the plain sum of its parts read as integers (a 32-bit
field at an even offset counts as its value): a reply built from a template
needs the template's sum once and adds the fields it patches.
"""

import socket

BROADCAST_MAC = b'\xff' * 6
ZERO_IP = bytes(4)
BROADCAST_IP = b'\xff' * 4


def mac_bytes(text):
    """The 6 bytes of a MAC written 'aa:bb:cc:dd:ee:ff' (or with '-')."""
    raw = bytes.fromhex(text.replace(':', '').replace('-', ''))
    if len(raw) != 6:
        raise ValueError('not a MAC address: %r' % (text,))
    return raw


def ip_bytes(text):
    """The 4 bytes of a dotted IPv4 address."""
    return socket.inet_aton(text) if text.count('.') == 3 else _bad_ip(text)


def _bad_ip(text):
    raise ValueError('not a dotted IPv4 address: %r' % (text,))


def ip_text(raw):
    return socket.inet_ntoa(raw)


def word_sum(data):
    """The sum of ``data``'s 16-bit words modulo 0xffff (odd length: padded
    with a zero byte, as the checksum pads)."""
    if len(data) & 1:
        data = bytes(data) + b'\0'
    return int.from_bytes(data, 'big') % 0xffff


def checksum(total):
    """The Internet checksum of words summing to ``total`` (> 0): the
    complement of the folded sum, which lies in 1..0xffff."""
    return 0xffff - (1 + (total - 1) % 0xffff)
