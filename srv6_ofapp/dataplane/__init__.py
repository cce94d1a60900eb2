"""The host dataplane: per-network VRFs and SRv6 routes in each host's
kernel, programmed from the model.

  host_state   what a host should hold (pure: VRFs, routes on device roles)
  vrf_drivers  places it on a host's devices and applies the difference
  route_codec  the Route type and its netlink messages (pure)
  route_table  our routes in one namespace over netlink, in batches
  agent        the OS-Ken app that runs it for the hosts this process owns
"""
