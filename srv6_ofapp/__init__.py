"""srv6_ofapp: an OS-Ken controller for SRv6-routed multi-tenant clouds on OVS edges."""

__version__ = '0.1.0'
