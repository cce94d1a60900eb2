"""Configuration options.

They live on OS-Ken's own ``CONF`` (oslo.config), beside the ``--ofp-*``
and logging options OS-Ken registers, so the command line reads like
ryu-manager's and every option has a config-file equivalent in
``[DEFAULT]`` (dashes become underscores: ``wsapi_port = 9696``).
"""

import socket

from oslo_config import cfg
# Importing these registers OS-Ken's options (--ofp-listen-host,
# --ofp-tcp-listen-port, --verbose, --log-file, ...) on OS-Ken's CONF.
import os_ken.base.app_manager  # noqa: F401  (first: it breaks an import cycle)
import os_ken.controller.controller  # noqa: F401
import os_ken.log  # noqa: F401

from os_ken.cfg import CONF  # noqa: E402  (OS-Ken's ConfigOpts, not oslo's global)

ROLES = ('all', 'api', 'agent', 'gateway')

LAUNCH_OPTS = [
    cfg.StrOpt('role', default='all', choices=ROLES,
               help='all: the REST API, the OpenFlow edge and the host dataplane in one '
                    'process (the embedded default). api: the REST API only; several API '
                    'servers on one etcd store are interchangeable. agent: one host\'s '
                    'OpenFlow controller and kernel dataplane (--host), fed from the store '
                    'directly; its REST port serves only /metrics. gateway: a network '
                    'node\'s routers (--host) in each cluster given by --cluster; its REST '
                    'port serves only /metrics.'),
    cfg.MultiStrOpt('cluster', default=[], metavar='NAME=STORE_URL',
                    help='role=gateway: a cluster this network node serves, by a short name '
                         '(lowercase, it prefixes the cluster\'s router namespaces) and its '
                         'store; repeat for each cluster.'),
    cfg.StrOpt('host', default=socket.gethostname(), sample_default='<hostname>',
               help='role=agent or gateway: the name of the host (its hosts resource) this '
                    'process serves.'),
    cfg.StrOpt('wsapi-host', default='127.0.0.1',
               help='Address the REST API listens on (ryu-manager\'s flag). The '
                    'default keeps the API local; with auth_strategy=noauth every '
                    'caller is admin, so open it wider only behind authentication.'),
    cfg.IntOpt('wsapi-port', default=9696,
               help='TCP port of the REST API (9696, Neutron\'s port).'),
    cfg.IntOpt('wsapi-threads', default=8, help='REST API worker threads.'),
    cfg.StrOpt('store', default=None,
               help='Where the model lives: sqlite:///PATH (default: sqlite:/// + '
                    'state.db under the user\'s data directory, e.g. '
                    '~/.local/share/srv6_ofapp/state.db), or '
                    'etcd://HOST:PORT[,HOST:PORT...]/PREFIX, shared by every process '
                    'of a distributed deployment (PREFIX names the cluster).'),
    cfg.ListOpt('app-lists', default=[],
                help='More OS-Ken applications to run beside srv6_ofapp.app.'),
    cfg.MultiStrOpt('app', positional=True, default=[],
                    help='More OS-Ken applications to run (as ryu-manager takes them).'),
    cfg.StrOpt('pid-file', default=None, help='Write the process id to this file.'),
]

API_OPTS = [
    cfg.StrOpt('auth-strategy', default='noauth',
               choices=['noauth', 'keystone', 'token'],
               help='noauth: every caller is admin. keystone: trust the X-Project-Id / '
                    'X-Roles headers keystonemiddleware auth_token sets. token: '
                    'X-Auth-Token must be admin_token or one of project_tokens.'),
    cfg.StrOpt('admin-token', default=None, secret=True,
               help='auth_strategy=token: the token that makes a caller admin.'),
    cfg.DictOpt('project-tokens', default={}, secret=True,
                help='auth_strategy=token: TOKEN:PROJECT_ID pairs for project members.'),
    cfg.StrOpt('default-project-id', default='admin',
               help='Project of resources an admin creates without naming one.'),
    cfg.StrOpt('base-mac', default='fa:16:3e:00:00:00',
               help='Generated port MACs keep the first three octets of this one.'),
    cfg.IntOpt('global-physnet-mtu', default=1500,
               help='MTU of the underlay. A network\'s default MTU is this minus the '
                    'SRv6 encapsulation overhead (64 bytes).'),
]

EDGE_OPTS = [
    cfg.StrOpt('gateway-mac', default='fa:16:3f:00:00:01',
               help='The distributed gateway MAC: the same on every host, answered '
                    'for the subnet gateway and for VMs on other hosts.'),
    cfg.StrOpt('dhcp-domain', default='openstacklocal',
               help='DHCP option 15, the domain name given to VMs.'),
    cfg.IntOpt('dhcp-lease-time', default=86400, min=60,
               help='DHCP option 51, lease time in seconds.'),
    cfg.BoolOpt('arp-responder', default=True,
                help='Answer ARP in the datapath with responder flows; when false '
                     'every ARP request is answered on packet-in.'),
    cfg.IntOpt('packet-in-rate', default=100, min=1,
               help='Per VM port, packet-ins (DHCP, unanswered ARP) per second '
                    'beyond which the datapath drops them (an OpenFlow meter).'),
    cfg.IntOpt('packet-in-burst', default=50, min=1,
               help='Burst size of that meter, in packets.'),
    cfg.BoolOpt('packet-in-fast-path', default=True,
                help='Answer packet-ins on the OpenFlow receive thread, below '
                     'OS-Ken\'s event queues, with overload shed there; false '
                     'takes OS-Ken\'s generic path (for comparison).'),
]

AGENT_OPTS = [
    cfg.IntOpt('report-interval', default=30, min=1,
               help='Seconds between an agent\'s state reports (its heartbeat in the '
                    'agents API), as Neutron\'s agents report.'),
    cfg.IntOpt('agent-down-time', default=75, min=2,
               help='Seconds without a report after which an agent is dead (the lease '
                    'its heartbeat lives on); more than twice report_interval.'),
]

DATAPLANE_OPTS = [
    cfg.ListOpt('dataplane-hosts', default=[],
                help='Hosts (by name) whose kernel this process programs (VRFs, SRv6 '
                     'routes): a hypervisor names itself. Hosts with a netns attribute '
                     '(simulated on this machine) are always programmed.'),
    cfg.StrOpt('vrf-driver', default='auto', choices=['auto', 'netns', 'vrf'],
               help='netns: a namespace per (host, network) plays the VRF (kernels '
                    'without CONFIG_NET_VRF); vrf: l3mdev VRF devices; auto: vrf where '
                    'the kernel has it.'),
    cfg.StrOpt('default-route-sid', default=None,
               help='If set, every VRF gets a default route encapsulated toward this '
                    'SID (a network node), as networking-sr does.'),
]


def register_opts(conf=CONF):
    # Registering twice is harmless (tests build several launchers).
    conf.register_cli_opts(LAUNCH_OPTS)
    conf.register_cli_opts(API_OPTS)
    conf.register_cli_opts(EDGE_OPTS)
    conf.register_cli_opts(AGENT_OPTS)
    conf.register_cli_opts(DATAPLANE_OPTS)

