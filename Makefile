# The two commands of the README: `make demo` and `make test`.
# Both install what they need (system packages, then a virtualenv in .venv)
# and can be run again; the install step is skipped when nothing changed.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SYSTEM_STAMP := $(VENV)/.system-packages
# Debian packages: Open vSwitch (userspace datapath), etcd (the distributed
# store's tests start real members; apt does not start a service here) and
# the real clients and tools the integration tests and benchmarks drive
# (kea-admin: ISC's perfdhcp, bench/perfdhcp.py; iperf3: bench/firewall.py;
# nftables and conntrack: a network node's routers).
APT_PACKAGES ?= python3-venv openvswitch-switch etcd-server udhcpc isc-dhcp-client \
	dnsmasq-base arping tcpdump ethtool iproute2 iputils-ping mininet socat nftables kea-admin \
	iperf3 conntrack
DEMO_ARGS ?=
SERVE_ARGS ?=
# Debian's mininet is pure Python: the venv sees it through one symlink
# (not PYTHONPATH, which would shadow the venv's own packages).
MININET_PKG := /usr/lib/python3/dist-packages/mininet

.PHONY: demo serve test stress bench install clean

install: $(STAMP)

# apt only when a package is missing (a second run installs nothing);
# Debian's own python3 needs python3-venv before it can make a virtualenv.
$(SYSTEM_STAMP): Makefile
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi
	$(PYTHON) -m venv $(VENV)
	touch $@

$(STAMP): $(SYSTEM_STAMP) setup.py
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	if [ -d $(MININET_PKG) ]; then ln -sfn $(MININET_PKG) \
	    "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/mininet"; fi
	touch $@

# The two-host mininet demo, end to end, in a sandbox (its own mount, PID and
# network namespaces, /run, /tmp and OVS): nothing of the machine's is touched.
# Exits non-zero when a lease or a ping is not as expected.
# DEMO_ARGS='--hosts 4 --vms 3' for a larger one, '--cli' for the mininet CLI,
# '--distributed' for etcd, two API servers and an agent in every hypervisor.
demo: $(STAMP)
	mininet/sandbox.sh $(PY) mininet/demo.py $(DEMO_ARGS)

# The controller alone, on the embedded sqlite store, until Ctrl-C.
serve: $(STAMP)
	@echo "srv6-ofapp: REST API on http://127.0.0.1:9696/ (Neutron v2.0), OpenFlow on :6653,"
	@echo "store: sqlite under ~/.local/share/srv6_ofapp/. Try: curl http://127.0.0.1:9696/v2.0/networks"
	@echo "Ctrl-C stops it. README.md has a REST tour."
	$(VENV)/bin/srv6-ofapp $(SERVE_ARGS)

test: $(STAMP)
	$(PY) -m pytest -q tests

# The long runs `make test` leaves out (marked `stress`): 300 start / write
# under load / SIGTERM cycles, 1,000,000 mutated DHCP and ARP frames through
# the packet-in path, 5,000 generated requests per REST fuzz test.  About
# 15 minutes on 2 cores.  SRV6_STRESS_CYCLES, SRV6_FUZZ_FRAMES and
# SRV6_FUZZ_EXAMPLES change the sizes.
stress: $(STAMP)
	$(PY) -m pytest -q -s -m stress tests
	SRV6_FUZZ_EXAMPLES=$${SRV6_FUZZ_EXAMPLES:-5000} $(PY) -m pytest -q tests/functional/test_fuzz_api.py

bench: $(STAMP)
	$(PY) bench/rest_ports.py
	$(PY) bench/packet_in.py
	$(PY) bench/dhcp.py
	$(PY) bench/perfdhcp.py
	$(PY) bench/arp.py
	$(PY) bench/routes.py
	$(PY) bench/distributed.py
	$(PY) bench/port_views.py
	$(PY) bench/firewall.py
	$(PY) bench/routers.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
