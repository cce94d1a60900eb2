#!/bin/sh
# sandbox.sh CMD...   (root)
# Runs CMD in its own mount, PID and network namespaces with private /run,
# /tmp and Open vSwitch directories, so mininet (whose cleanup deletes every
# OVS bridge, kills processes by name and removes /tmp/*.log) touches nothing
# of the host's. Everything inside dies with it: to stop it from outside,
# SIGKILL the unshare process (it ignores SIGINT and SIGTERM while it waits).
if [ "$SANDBOX_INNER" != 1 ]; then
  exec unshare --mount --pid --fork --kill-child --mount-proc --net --propagation private \
       env SANDBOX_INNER=1 "$0" "$@"
fi
set -e
here=$(pwd -P)
# /run first, and -n: no /run/mount (libmount's utab) on the host.
mount -n -t tmpfs -o mode=0755 tmpfs /run
# A checkout under /tmp must stay visible once /tmp is private.
case "$here/" in
  /tmp/*) mkdir -p /run/sandbox-cwd && mount -n --bind "$here" /run/sandbox-cwd ;;
esac
for d in /tmp /var/log/openvswitch /etc/openvswitch /var/lib/openvswitch; do
  mkdir -p "$d"
  mount -n -t tmpfs -o mode=0755 tmpfs "$d"
done
case "$here/" in
  /tmp/*) mkdir -p "$here" && mount -n --bind /run/sandbox-cwd "$here" && cd "$here" ;;
esac
chmod 1777 /tmp; mount -n -t sysfs sysfs /sys; ip link set lo up
mkdir -p /run/openvswitch /run/netns /run/lock
# A sandbox-wide OVS for topologies that use stock OVSSwitch (ours bring their own).
/usr/share/openvswitch/scripts/ovs-ctl start --system-id=random >/tmp/ovs-ctl.out 2>&1 \
  || echo "sandbox: ovs-ctl start failed (see /tmp/ovs-ctl.out); continuing" >&2
"$@"
