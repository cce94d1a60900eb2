"""Every event a metric (as faucet does): Prometheus counters, served by the
REST server at /metrics."""

import prometheus_client

EVENTS = prometheus_client.Counter(
    'srv6_ofapp_events', 'Edge events: packet-ins by outcome (DHCP offer/ack/nak, '
    'ARP reply/unicast/ignored, malformed...), flow-mods, switch connections.',
    ['event'])
SWITCHES = prometheus_client.Gauge('srv6_ofapp_switches_connected',
                                   'OpenFlow switches connected now.')


def register(events):
    """Make ``events`` show in the exposition at 0 before they first happen."""
    for event in events:
        EVENTS.labels(event)


def count(event, amount=1):
    if amount:
        EVENTS.labels(event).inc(amount)


def counters(events):
    """{event: increment()} for ``events``, bound once: the hot path's way
    to count (a label lookup per event costs more than the event)."""
    return {event: EVENTS.labels(event).inc for event in events}


def value(event):
    """The current count of ``event`` (for tests and logs)."""
    return EVENTS.labels(event)._value.get()


def exposition():
    """(body, content type) of the Prometheus text format."""
    return prometheus_client.generate_latest(), prometheus_client.CONTENT_TYPE_LATEST
