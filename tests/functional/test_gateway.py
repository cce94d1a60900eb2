"""The gateway role on the real kernel: one ``srv6-ofapp --role gateway``
process serving the routers of two clusters (two stores) whose projects
use identical addresses, through one external bridge.  The documents are
written to the stores as the API would leave them (tests/routerworld.py);
the API's side is tested in test_l3.py."""

import os
import re
import time

import pytest

from srv6_ofapp import store as store_lib
from srv6_ofapp.model import agents
from tests import netlab
from tests import routerworld
from tests.routerlab import TOOLS, lab, snapshot
from tests.server import Server

pytestmark = pytest.mark.skipif(netlab.unavailable_reason(TOOLS) is not None,
                                reason=str(netlab.unavailable_reason(TOOLS)))

CLUSTERS = ('east', 'west')


def gateway(tmp_path, stores, extra=()):
    clusters = []
    for name in CLUSTERS:
        clusters += ['--cluster', '%s=%s' % (name, stores[name].url)]
    return Server(str(tmp_path / 'gateway'), ['--role', 'gateway', '--host', 'gw1',
                                              '--report-interval', '1'] + clusters + list(extra))


def test_one_gateway_serves_two_clusters(tmp_path):
    with lab(clusters=2) as net:
        worlds, stores = {}, {}
        try:
            for n, name in enumerate(CLUSTERS):
                worlds[name] = net.world(n)
                stores[name] = store_lib.open_store('sqlite:///%s' % (tmp_path / name))
                routerworld.write(stores[name], worlds[name])
            # A third cluster whose store is out of reach holds nobody up.
            server = gateway(tmp_path, stores,
                             ['--cluster', 'south=etcd://127.0.0.1:9/south'])
            server.start()
            try:
                netlab._wait(lambda: len(net.router_namespaces()) == 2, 30, 'two routers',
                             on_timeout=server.log)
                # <host's netns>-<cluster>-rtr<router id[:11]>
                assert [ns[len(net.gw) + 1:].split('-')[0]
                        for ns in net.router_namespaces()] == ['east', 'west']
                # The same VM address in both, each out through its own router.
                netlab._wait(lambda: net.sources_seen_outside(0) == {'203.0.113.10'}, 10,
                             'east out through SNAT')
                assert net.sources_seen_outside(1) == {'203.0.113.11'}
                netlab._wait(lambda: 'cluster south: cannot serve yet' in server.log(), 30,
                             'south given up for now', on_timeout=server.log)

                # Each cluster's agents API shows the network node, alive.
                def reported():
                    for name in CLUSTERS:
                        [agent] = stores[name].read(lambda txn: txn.list('agents'))
                        heartbeat = stores[name].read(
                            lambda txn: txn.get(agents.HEARTBEATS, agent['id']))
                        if not (agent['host'] == 'gw1' and heartbeat and
                                heartbeat['configurations'].get('cluster') == name and
                                heartbeat['configurations'].get('routers') == 1):
                            return False
                    return True
                netlab._wait(reported, 20, 'agents reported', on_timeout=server.log)

                # A restart with nothing changed: no loss, and no write.
                before = snapshot(net)
                ping = net.spawn_ping(0, 'gateway-restart-ping.log', count=60)
                size = server.log_size()
                server.kill()
                server.start()
                netlab._wait(lambda: server.log_since(size).count('serving host gw1') == 2, 30,
                             'gateway back', on_timeout=server.log)
                time.sleep(1)  # time to (not) act
                assert ping.wait(30) == 0
                assert ' 0% packet loss' in net.ping_log('gateway-restart-ping.log')
                assert snapshot(net) == before
                assert not re.search(r'creating router|routes added|deleting router',
                                     server.log_since(size))

                # A floating IP in east touches east's router only.
                fip = net.world(0, fips=[('203.0.113.20', '10.0.0.5')],
                                router_id=worlds['east']['router']['id'])
                worlds['east']['docs']['floatingips'] = fip['docs']['floatingips']
                for doc in fip['docs']['floatingips']:
                    doc['port_id'] = worlds['east']['vms'][0]['id']
                routerworld.write(stores['east'], worlds['east'])
                netlab._wait(lambda: net.ping_in('203.0.113.20', count=1, timeout=1), 20,
                             'floating IP reachable', on_timeout=server.log)
                after = snapshot(net)
                west_ns = [ns for ns in net.router_namespaces() if '-west-' in ns]
                assert [after[ns] for ns in west_ns] == [before[ns] for ns in west_ns]
            finally:
                server.stop()
        finally:
            for store in stores.values():
                store.close()
