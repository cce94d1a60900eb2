"""The host dataplane: per-network VRFs and SRv6 routes in each host's
kernel, programmed from the model."""
