"""Durability of the sqlite store: a crash (kill -9) in the middle of a burst
of port creations, and a clean SIGTERM stop.

What must hold after the crash, wherever the kill lands: every write the
API acknowledged (201) is there unchanged; no write is half-done (a port
without its addresses, an address held by no port); addresses stay unique.
Writes that were in flight may or may not have committed, so the test only
bounds them: at most one port per interrupted request.
"""

import contextlib
import ipaddress
import itertools
import json
import sqlite3
import threading
import time

import pytest
import requests

from tests.conftest import Client
from tests.server import Server

WRITERS = 4
# Kill once this many creations were acknowledged (and while others run).
ACKED_BEFORE_KILL = 60
CIDR = '10.1.0.0/16'
HOST = {'name': 'compute1', 'datapath_id': '0000000000000001',
        'segment_node_id': 'fd00:0:0:1::', 'underlay_ip': 'fd00::1'}


@pytest.fixture
def servers():
    """Start servers on a given sqlite file; all stopped at teardown."""
    started = []

    def start(db_path):
        srv = Server(str(db_path))
        started.append(srv)
        return srv.start()
    yield start
    for srv in started:
        srv.stop(timeout=3)


def snapshot(client):
    """Every resource the API shows, by collection, ordered by id."""
    result = {}
    for collection in ('networks', 'subnets', 'ports', 'hosts'):
        response = client.get('/v2.0/' + collection)
        assert response.status_code == 200, response.text
        result[collection] = sorted(response.json()[collection], key=lambda r: r['id'])
    return result


def read_db(db_path, sql, *args):
    """Rows of one query on the sqlite file itself (beside the server)."""
    with contextlib.closing(sqlite3.connect(str(db_path))) as db:
        return db.execute(sql, args).fetchall()


def stored_owners(db_path, kind):
    """{key: port_id} of a bookkeeping kind (ipallocations, macaddresses), from
    the store's one table (see srv6_ofapp/store/sqlite.py and plugin.py)."""
    rows = read_db(db_path, 'SELECT key, doc FROM resources WHERE kind = ?', kind)
    return {key: json.loads(doc)['port_id'] for key, doc in rows}


class PortBurst:
    """Threads that create ports back to back until a request fails."""

    def __init__(self, url, network_id, writers):
        self.url = url
        self.network_id = network_id
        self.acked = {}          # port id -> the port the 201 returned
        self.unexpected = []     # (status, body) of any answer but 201 or a refusal
        self.refused = 0         # 503 ServiceUnavailable: the server is stopping
        self.failed_started = []  # start times of requests that got no answer
        self.in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._write, args=(n,), daemon=True)
                         for n in range(writers)]

    def start(self):
        for thread in self._threads:
            thread.start()

    def _write(self, writer):
        session = requests.Session()
        for i in itertools.count():
            if self._stop.is_set():
                break
            body = {'port': {'network_id': self.network_id,
                             'name': 'burst-%d-%d' % (writer, i)}}
            with self._lock:
                self.in_flight += 1
            started = time.monotonic()
            try:
                response = session.post(self.url + '/v2.0/ports', json=body, timeout=30)
            except requests.RequestException:
                with self._lock:
                    self.failed_started.append(started)
                break
            finally:
                with self._lock:
                    self.in_flight -= 1
            with self._lock:
                if response.status_code == 201:
                    port = response.json()['port']
                    self.acked[port['id']] = port
                elif response.status_code == 503 and \
                        response.json()['NeutronError']['type'] == 'ServiceUnavailable':
                    self.refused += 1
                    break
                else:
                    self.unexpected.append((response.status_code, response.text))
        session.close()

    def wait_for(self, acked, in_flight, timeout):
        """Until ``acked`` creations were acknowledged and ``in_flight`` are running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.acked) >= acked and self.in_flight >= in_flight:
                    return
            time.sleep(0.001)
        raise AssertionError('burst too slow: %d acknowledged in %ss'
                             % (len(self.acked), timeout))

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
            assert not thread.is_alive()


def test_acknowledged_writes_survive_kill_9(servers, tmp_path):
    db = tmp_path / 'state.db'
    server = servers(db)
    client = Client(server.url)
    network = client.create('network', name='durable')
    subnet = client.create('subnet', network_id=network['id'], cidr=CIDR, ip_version=4)
    reference = client.create('port', network_id=network['id'], name='before-the-burst')

    burst = PortBurst(server.url, network['id'], WRITERS)
    burst.start()
    try:
        burst.wait_for(acked=ACKED_BEFORE_KILL, in_flight=2, timeout=60)
        killed_at = time.monotonic()
        server.kill()
    finally:
        burst.stop()

    assert burst.unexpected == [], 'creations refused before the crash'
    interrupted = [t for t in burst.failed_started if t < killed_at]
    assert interrupted, 'the kill landed while no request was in flight'
    assert len(burst.acked) >= ACKED_BEFORE_KILL

    client = Client(servers(db).url)
    response = client.get('/v2.0/ports', params={'network_id': network['id']})
    assert response.status_code == 200, response.text
    ports = response.json()['ports']
    by_id = {port['id']: port for port in ports}

    # Every acknowledged port is there, unchanged (same IP, same MAC, ...).
    missing = sorted(set(burst.acked) - set(by_id))
    assert missing == [], 'acknowledged ports lost in the crash'
    for port_id, acked in burst.acked.items():
        assert by_id[port_id] == acked
    assert by_id[reference['id']] == reference
    # Unacknowledged creations may have committed: at most one per request
    # the kill interrupted.
    unacknowledged = set(by_id) - set(burst.acked) - {reference['id']}
    assert len(unacknowledged) <= len(interrupted)

    # Every port is complete; addresses are unique.
    for port in ports:
        assert set(port) == set(reference), port
        assert port['network_id'] == network['id']
        assert port['tenant_id'] == port['project_id'] == network['tenant_id']
        assert port['status'] == 'DOWN'
        [fixed_ip] = port['fixed_ips']
        assert fixed_ip['subnet_id'] == subnet['id']
        assert ipaddress.ip_address(fixed_ip['ip_address']) in ipaddress.ip_network(CIDR)
    ips = [port['fixed_ips'][0]['ip_address'] for port in ports]
    macs = [port['mac_address'] for port in ports]
    assert len(set(ips)) == len(ports)
    assert len(set(macs)) == len(ports)

    # The address bookkeeping agrees with the ports: no address is
    # allocatable again, and a new port gets a fresh one.
    for port in ports:
        ip = port['fixed_ips'][0]['ip_address']
        response = client.post('/v2.0/ports', {'port': {
            'network_id': network['id'], 'fixed_ips': [{'ip_address': ip}]}})
        assert response.status_code == 409, response.text
        assert response.json()['NeutronError']['type'] == 'IpAddressAlreadyAllocated'
    fresh = client.create('port', network_id=network['id'])
    assert fresh['fixed_ips'][0]['ip_address'] not in ips
    assert fresh['mac_address'] not in macs

    # The file itself: sound, and its allocation tables hold exactly the
    # addresses of the ports (nothing leaked by a half-done transaction).
    assert read_db(db, 'PRAGMA integrity_check') == [('ok',)]
    ports.append(fresh)
    assert stored_owners(db, 'ipallocations') == {
        '%s/%s' % (p['fixed_ips'][0]['subnet_id'], p['fixed_ips'][0]['ip_address']): p['id']
        for p in ports}
    assert stored_owners(db, 'macaddresses') == {
        '%s/%s' % (p['network_id'], p['mac_address']): p['id'] for p in ports}


@pytest.fixture(scope='module')
def clean_stop(tmp_path_factory):
    """Fill a server, SIGTERM it, restart it on the same file.

    Returns (exit code, seconds the stop took, API state before, after).
    """
    db = tmp_path_factory.mktemp('clean-stop') / 'state.db'
    first, second = Server(str(db)), Server(str(db))
    try:
        client = Client(first.start().url)
        client.create('host', **HOST)
        network = client.create('network', name='kept', mtu=1400)
        subnet = client.create('subnet', network_id=network['id'], cidr='10.2.0.0/24',
                               ip_version=4, dns_nameservers=['10.2.0.53'])
        ports = [client.create('port', network_id=network['id'], name='p%d' % i,
                               **{'binding:host_id': HOST['name']}) for i in range(5)]
        client.create('port', network_id=network['id'],
                      fixed_ips=[{'subnet_id': subnet['id'], 'ip_address': '10.2.0.100'}])
        response = client.put('/v2.0/ports/' + ports[0]['id'], {'port': {'name': 'renamed'}})
        assert response.status_code == 200, response.text
        assert client.delete('/v2.0/ports/' + ports[1]['id']).status_code == 204
        before = snapshot(client)

        started = time.monotonic()
        exit_code = first.stop()
        took = time.monotonic() - started

        after = snapshot(Client(second.start().url))
        yield exit_code, took, before, after
    finally:
        first.stop(timeout=3)
        second.stop(timeout=3)


def test_clean_stop_keeps_everything(clean_stop):
    _, _, before, after = clean_stop
    assert len(before['ports']) == 5
    bound = [p for p in before['ports'] if p['binding:host_id']]
    assert len(bound) == 4 and all('vrf_ip' in p['binding:profile'] for p in bound)
    assert after == before


def test_clean_stop_exits_0(clean_stop):
    exit_code, took, _, _ = clean_stop
    assert exit_code == 0, 'SIGTERM did not end the process in %.1fs' % took


def test_sigterm_during_a_burst_keeps_every_acknowledged_write(servers, tmp_path):
    db = tmp_path / 'state.db'
    server = servers(db)
    client = Client(server.url)
    network = client.create('network', name='busy')
    client.create('subnet', network_id=network['id'], cidr=CIDR, ip_version=4)

    burst = PortBurst(server.url, network['id'], WRITERS)
    burst.start()
    try:
        burst.wait_for(acked=ACKED_BEFORE_KILL, in_flight=2, timeout=60)
        exit_code = server.stop()
    finally:
        burst.stop()
    assert exit_code == 0
    assert burst.unexpected == []

    client = Client(servers(db).url)
    ports = {p['id']: p for p in
             client.get('/v2.0/ports', params={'network_id': network['id']}).json()['ports']}
    assert {id_: ports.get(id_) for id_ in burst.acked} == burst.acked
    assert len(ports) <= len(burst.acked) + len(burst.failed_started)
    assert read_db(db, 'PRAGMA integrity_check') == [('ok',)]
