"""The packet-in responders as they were before the struct fast path (commit
5843006): DHCP and ARP replies parsed and built with os_ken.lib.packet and
netaddr, verbatim.  The product no longer imports them; the tests compare the
fast path with them byte for byte (tests/unit/test_fastpath.py), and they
stay an independent implementation of the same rules."""
