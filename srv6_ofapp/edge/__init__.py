"""The OpenFlow edge: each host's br-int, programmed from the model
(port security, ARP without broadcast, distributed DHCP, L2 forwarding)."""
