"""Stores: where the model lives.  ``open_store(url)`` picks the backend:
``sqlite:///PATH`` (embedded, the default) or
``etcd://HOST:PORT[,HOST:PORT...]/PREFIX`` (shared by a distributed deployment)."""

import os
import urllib.parse

from srv6_ofapp import exceptions
from srv6_ofapp.store.base import (  # noqa: F401
    Change, Compacted, LeaseExpired, Store, Txn, Watch)

DEFAULT_FILENAME = 'state.db'


def default_url():
    """``sqlite:///`` + a state file under the user's data directory."""
    import platformdirs
    return 'sqlite:///' + os.path.join(
        platformdirs.user_data_dir('srv6_ofapp'), DEFAULT_FILENAME)


def open_store(url=None):
    """Open the store named by ``url``; StoreUnavailable if it cannot be used."""
    url = url or default_url()
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == 'sqlite':
        # sqlite:///relative/or/absolute/path, as SQLAlchemy spells it:
        # 'sqlite:////tmp/x.db' is absolute, 'sqlite:///x.db' relative.
        path = url[len('sqlite:///'):] if url.startswith('sqlite:///') else ''
        if not path:
            raise exceptions.StoreUnavailable(url=url, reason='no file path in the URL')
        if path == ':memory:' or path.startswith('file:'):
            # Each thread has its own connection, so each would see its own
            # empty in-memory database.
            raise exceptions.StoreUnavailable(
                url=url, reason='an in-memory database is private to one connection; '
                                'give a file path')
        from srv6_ofapp.store.sqlite import SqliteStore
        return SqliteStore(url, path)
    if parsed.scheme == 'etcd':
        # etcd://HOST:PORT[,HOST:PORT...]/PREFIX: see store/etcd.py.
        from srv6_ofapp.store.etcd import EtcdStore
        return EtcdStore(url)
    raise exceptions.StoreUnavailable(
        url=url, reason="unsupported scheme %r (supported: sqlite, etcd)" % parsed.scheme)
