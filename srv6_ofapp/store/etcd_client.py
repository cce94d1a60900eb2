"""The etcd connection of the etcd store: every endpoint, failover, errors.

Requests go through etcd3gw (the OpenStack-maintained client of etcd's v3
JSON gateway), one ``Etcd3Client`` per endpoint.  This module adds what the
store needs and etcd3gw leaves to its caller:

- **Failover.**  A request goes to the current endpoint; when it cannot be
  answered there (connection refused or reset, a timeout, "no leader", a
  member that lags behind the revision asked for) the next endpoint takes
  over, with a jittered backoff, until ``deadline`` seconds have passed;
  then :class:`~srv6_ofapp.exceptions.StoreUnavailable` (HTTP 503).
- **A short request timeout.**  A write that a follower forwarded to a
  leader which just died is only answered by etcd's own timeout (~7 s,
  "request timed out"); we give up on it after ``timeout`` seconds and send
  it again, to the next member.  Re-sending is only safe for idempotent
  requests: the store makes every commit idempotent (etcd.py).
- **Require a leader.**  Linearizable requests carry gRPC metadata
  ``hasleader``, so a member cut off from its quorum says "no leader" at
  once instead of holding the request.  Serializable reads go without it:
  they are the ones that may still be served without a quorum.
- **Bytes and revisions.**  Keys and values are UTF-8 bytes (etcd3gw's
  string encoding is latin-1), and range responses keep their header
  revision (``Etcd3Client.get`` drops it); we post the gateway's JSON
  ourselves through ``Etcd3Client.post``.
- **Watch streams** are read here too, line by line: etcd3gw's ``Watcher``
  ignores a cancelled watch (a compacted start revision), cannot hand
  errors to its caller and parses each HTTP chunk as one message.
"""

import base64
import itertools
import json
import logging
import random
import socket
import threading
import time

import etcd3gw
from etcd3gw import exceptions as etcd_exc
import requests

from srv6_ofapp import exceptions
from srv6_ofapp import metrics
from srv6_ofapp.store import base

LOG = logging.getLogger(__name__)

REQUIRE_LEADER = {'Grpc-Metadata-hasleader': 'true'}

# gRPC status codes, as the gateway reports them in an error body.
CANCELLED, UNKNOWN, DEADLINE_EXCEEDED, NOT_FOUND = 1, 2, 4, 5
RESOURCE_EXHAUSTED, OUT_OF_RANGE, INTERNAL, UNAVAILABLE = 8, 11, 13, 14
_TRANSIENT_CODES = {CANCELLED, UNKNOWN, DEADLINE_EXCEEDED, INTERNAL, UNAVAILABLE}


def encode(data):
    return base64.b64encode(data).decode('ascii')


def decode(text):
    return base64.b64decode(text) if text else b''


def prefix_end(key):
    """The end of the range of every key that starts with ``key``."""
    return key[:-1] + bytes([key[-1] + 1])


# -- requests of a txn (kv/txn's compare, success and failure lists) ----------

def put_request(key, value=b'', lease=None):
    request = {'key': encode(key), 'value': encode(value)}
    if lease:
        request['lease'] = lease
    return {'request_put': request}


def delete_request(key):
    return {'request_delete_range': {'key': encode(key)}}


def mod_revision_compare(key, result, revision, end=None):
    compare = {'key': encode(key), 'target': 'MOD', 'result': result,
               'mod_revision': revision}
    if end is not None:
        compare['range_end'] = encode(end)
    return compare


class LeaseNotFound(Exception):
    """A lease expired (or was revoked) before a write that used it."""


class _Transient(Exception):
    """This endpoint could not answer now; another one may."""


def _error_body(error):
    """(gRPC code or None, message) of an etcd3gw error: the gateway
    answers errors as JSON, a connection failure is text."""
    try:
        body = json.loads(error.detail_text or '')
    except (TypeError, ValueError):
        body = None
    if not isinstance(body, dict):
        return None, error.detail_text or str(error) or type(error).__name__
    if isinstance(body.get('error'), dict):  # a watch stream's error line
        body = body['error']
    return body.get('code'), body.get('message') or body.get('error') or str(body)


class EtcdClient:
    """Requests to one etcd cluster through any of its endpoints.
    Thread-safe: a requests session per endpoint with a connection pool
    as large as the REST server's thread pool needs."""

    def __init__(self, url, endpoints, timeout, deadline, pool_size=32):
        self.url = url
        self.timeout = timeout
        self.deadline = deadline
        self._clients = []
        for host, port in endpoints:
            session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(pool_connections=1,
                                                    pool_maxsize=pool_size)
            session.mount('http://', adapter)
            # (connect, read): a dead host must not hold a request for long.
            self._clients.append(etcd3gw.Etcd3Client(
                host=host, port=port, timeout=(min(1.0, timeout), timeout),
                api_path='/v3/', session=session))
        self._current = 0
        self._lock = threading.Lock()
        self._closed = False

    def close(self):
        self._closed = True
        for client in self._clients:
            client.session.close()

    # -- unary requests ----------------------------------------------------

    def call(self, path, body, linearizable=True, deadline=None):
        """POST ``body`` to ``/v3/<path>`` on the first endpoint that can
        answer it; the decoded JSON response."""
        deadline = time.monotonic() + (self.deadline if deadline is None else deadline)
        headers = REQUIRE_LEADER if linearizable else None
        for attempt in itertools.count(1):
            index, client = self._endpoint()
            try:
                return self._post(client, path, body, headers)
            except _Transient as error:
                self._fail_over(index)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    raise exceptions.StoreUnavailable(
                        url=self.url, reason='no etcd endpoint could answer: %s' % error)
                LOG.debug('etcd %s on %s: %s; trying the next endpoint', path,
                          client.base_url, error)
                # Every endpoint once at once, then back off: an election
                # takes a second or two.
                if attempt >= len(self._clients):
                    time.sleep(min(remaining, random.uniform(0.5, 1.0) * min(
                        0.05 * 2 ** (attempt - len(self._clients)), 0.5)))

    def _post(self, client, path, body, headers):
        try:
            return client.post(client.get_url(path), json=body, headers=headers)
        except (etcd_exc.ConnectionFailedError, etcd_exc.ConnectionTimeoutError,
                etcd_exc.InternalServerError) as error:
            raise _Transient(_error_body(error)[1])
        except etcd_exc.Etcd3Exception as error:
            code, message = _error_body(error)
            raise self._error(code, message)
        except requests.RequestException as error:  # e.g. a dropped connection
            raise _Transient(str(error))

    def _error(self, code, message):
        """The exception for an etcd error answer that is not a connection
        problem."""
        if code in _TRANSIENT_CODES or (code == RESOURCE_EXHAUSTED and
                                        'too many requests' in message):
            return _Transient(message)
        if code == OUT_OF_RANGE and 'future revision' in message:
            return _Transient(message)  # a member behind the others: ask another one
        if code == OUT_OF_RANGE and 'compacted' in message:
            return base.Compacted(message)
        if code == NOT_FOUND and 'lease' in message:
            return LeaseNotFound(message)
        if 'too many operations' in message:
            message += " (raise etcd's --max-txn-ops)"
        return exceptions.StoreUnavailable(url=self.url, reason='etcd refused: ' + message)

    def _endpoint(self):
        with self._lock:
            return self._current, self._clients[self._current]

    def _fail_over(self, index):
        with self._lock:
            # Only the first of several threads that saw one endpoint fail
            # moves on; the others must not skip a good endpoint.
            if self._current == index:
                self._current = (index + 1) % len(self._clients)
                metrics.count('etcd_endpoint_failover')

    # -- the requests the store makes -------------------------------------

    def range(self, key, end=None, revision=None, linearizable=True, keys_only=False,
              deadline=None):
        """(header revision, [(key, value, mod_revision, create_revision)])."""
        body = {'key': encode(key)}
        if end is not None:
            body['range_end'] = encode(end)
        if revision:
            body['revision'] = revision
        if not linearizable:
            body['serializable'] = True
        if keys_only:
            body['keys_only'] = True
        response = self.call('kv/range', body, linearizable, deadline)
        return int(response['header']['revision']), [
            (decode(kv['key']), decode(kv.get('value')), int(kv['mod_revision']),
             int(kv['create_revision'])) for kv in response.get('kvs', ())]

    def txn(self, compare, success, failure=()):
        return self.call('kv/txn', {'compare': compare, 'success': success,
                                    'failure': list(failure)})

    def grant_lease(self, ttl):
        return int(self.call('lease/grant', {'TTL': ttl, 'ID': 0})['ID'])

    # -- watch streams --------------------------------------------------------

    def watch(self, key, end, start_revision, read_timeout=None):
        """A :class:`WatchStream` of the changes in [key, end) from
        ``start_revision`` on, with each change's previous value."""
        create = {'create_request': {
            'key': encode(key), 'range_end': encode(end),
            'start_revision': start_revision, 'prev_kv': True}}
        index, client = self._endpoint()
        try:
            response = client.session.post(
                client.get_url('watch'), json=create, headers=REQUIRE_LEADER,
                stream=True, timeout=(min(1.0, self.timeout), read_timeout))
        except requests.RequestException as error:
            self._fail_over(index)
            raise exceptions.StoreUnavailable(url=self.url, reason=str(error))
        if response.status_code != 200:
            response.close()
            self._fail_over(index)
            raise exceptions.StoreUnavailable(
                url=self.url, reason='watch refused: %s' % response.text[:200])
        return WatchStream(response, self, index)


class WatchStream:
    """The responses of one etcd watch, as lists of events:
    (revision, key, value or None for a deletion, previous value or None).

    Iterating raises :class:`base.Compacted` when the start revision was
    compacted, and StoreUnavailable when the stream breaks.  ``close()``
    may be called from another thread; it ends the iteration."""

    def __init__(self, response, client, index):
        self._response = response
        self._client = client
        self._index = index
        self._closed = False

    def __iter__(self):
        try:
            for line in self._lines():
                message = json.loads(line)
                result = message.get('result')
                if result is None:
                    code, text = _error_body(etcd_exc.Etcd3Exception(line.decode()))
                    raise self._client._error(code, text)
                if int(result.get('compact_revision', 0)):
                    raise base.Compacted(int(result['compact_revision']))
                if result.get('canceled'):
                    raise _Transient(result.get('cancel_reason') or 'watch cancelled')
                events = result.get('events')
                if events:
                    yield [self._event(event) for event in events]
        except (_Transient, requests.RequestException, ValueError) as error:
            if self._closed:
                return
            self._client._fail_over(self._index)
            raise exceptions.StoreUnavailable(url=self._client.url,
                                              reason='watch stream broke: %s' % error)
        finally:
            self.close()

    @staticmethod
    def _event(event):
        kv = event['kv']
        value = None if event.get('type') == 'DELETE' else decode(kv.get('value'))
        previous = event.get('prev_kv')
        return (int(kv['mod_revision']), decode(kv['key']), value,
                None if previous is None else decode(previous.get('value')))

    def _lines(self):
        # One JSON message per line; an HTTP chunk may hold part of a line
        # or several lines.
        pending = b''
        for chunk in self._response.iter_content(chunk_size=None):
            pending += chunk
            *lines, pending = pending.split(b'\n')
            for line in lines:
                if line.strip():
                    yield line
        if not self._closed:
            raise _Transient('etcd closed the watch stream')

    def close(self):
        """Stop the stream; a thread blocked reading it wakes up."""
        if self._closed:
            return
        self._closed = True
        try:
            # Closing the response alone does not wake a thread blocked in
            # recv(); shutting the socket down does.
            fd = self._response.raw._fp.fileno()
            with socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.shutdown(socket.SHUT_RDWR)
        except (AttributeError, OSError, ValueError):
            pass  # already closed
        self._response.close()
