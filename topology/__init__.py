"""The physical side of the model: hosts, their datapaths, and the per
(host, network) VRF, vrf_ip and SID that bind tenant networks to hosts."""
