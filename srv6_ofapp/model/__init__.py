"""The model's rules (Neutron's "core plugin"): what creating, updating or
deleting a resource means, in one store transaction per request.

plugin      the entry points, over the resources registered in RESOURCES
resource    what every resource shares (visibility, ownership, project)
networks, subnets, ports, hosts, srv6_encap_networks, agents,
security_groups, routers (+ router_interfaces), floatingips
            one resource each
addresses   IP and MAC bookkeeping (ipallocations, macaddresses, ipamcursors)
binding     the (host, network) VRF a bound port needs (vrfallocations), and
            every vrf_ip of a host (its VRFs' and its routers')
scheduler   routers on network nodes (routerallocations)
l3_ports    the ports routers and floating IPs own
views       stored document -> API view
filters     Neutron's list filter semantics
context     who is asking
upgrades    bringing an older store's documents up to this release
"""
