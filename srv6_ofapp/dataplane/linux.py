"""The few commands the drivers run on a host's kernel besides netlink
routes: ``ip`` for devices, addresses and namespaces, sysctl, nft.

They run only when a VRF or a router changes, never per route or packet.
"""

import json
import os
import subprocess

NETNS_DIR = '/var/run/netns'


def run(args, check=True, input=None):
    result = subprocess.run(args, capture_output=True, text=True, timeout=30, input=input)
    if check and result.returncode != 0:
        raise RuntimeError('%s failed: %s' % (' '.join(args), result.stderr.strip()))
    return result


def in_netns(netns, args):
    """``args`` to run in ``netns`` (None: the current namespace)."""
    return (['ip', 'netns', 'exec', netns] if netns else []) + list(args)


def ip(netns, *args, check=True):
    """``ip`` in ``netns`` (None: the current namespace)."""
    return run(['ip'] + (['-n', netns] if netns else []) + list(args), check=check)


def ip_batch(netns, commands):
    """Several ``ip`` commands in ``netns`` in one process (``ip -batch``),
    stopping at the first that fails."""
    if commands:
        run(['ip'] + (['-n', netns] if netns else []) + ['-batch', '-'],
            input=''.join(command + '\n' for command in commands))


def ip_json(netns, *args, check=True):
    return json.loads(ip(netns, '-j', *args, check=check).stdout or '[]')


def links(netns):
    """The names of the devices in ``netns``."""
    return {link['ifname'] for link in ip_json(netns, 'link', 'show')}


def addresses(netns, dev, family='-4'):
    """The 'ip/prefixlen's on ``dev``."""
    out = ip(netns, family, '-o', 'addr', 'show', 'dev', dev).stdout
    return {line.split()[3] for line in out.splitlines()}


def namespaces():
    try:
        return set(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return set()


def sysctl(netns, key, value, *more):
    """Set ``key`` to ``value`` (and more key, value pairs) in one process."""
    pairs = (key, value) + more
    run(in_netns(netns, ['sysctl', '-qw'] + ['%s=%s' % (pairs[i], pairs[i + 1])
                                             for i in range(0, len(pairs), 2)]))


def nft(netns, ruleset):
    """Load ``ruleset`` (nft syntax) into ``netns`` as one transaction."""
    run(in_netns(netns, ['nft', '-f', '-']), input=ruleset)


def nft_json(netns, *args):
    """``nft -j ARGS`` in ``netns``, its ``nftables`` list ([] when the
    object is not there)."""
    result = run(in_netns(netns, ['nft', '-j'] + list(args)), check=False)
    if result.returncode != 0:
        return []
    return json.loads(result.stdout or '{}').get('nftables', [])


def forget_connections(netns, address):
    """Delete the connections of ``netns``'s conntrack table that were NATed
    to or from ``address``: those it was the original destination of
    (DNAT) and those it answers as (SNAT).  conntrack exits 1 when it found
    none, which is no error."""
    for flag in ('--orig-dst', '--reply-dst'):
        result = run(in_netns(netns, ['conntrack', '-D', flag, address]), check=False)
        if result.returncode != 0 and 'flow entries have been deleted' not in result.stderr:
            raise RuntimeError('conntrack -D %s %s failed: %s'
                               % (flag, address, result.stderr.strip()))
