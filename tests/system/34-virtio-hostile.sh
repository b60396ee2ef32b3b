#!/bin/bash
# A guest with hostile virtio rings (tests/guests/virtio_hostile.c): a
# looping chain, an available index a queue ahead, a descriptor table
# outside RAM and a descriptor index past the queue, on the virtio-blk disk
# and on the virtio-net NIC. Each is contained: the device needs a reset
# (and ftvisor says why, once per refusal), the hypervisor and the guest
# run on, and after a reset both devices serve correct requests.
. "$(dirname "$0")/lib.sh"
head -c 65536 /dev/zero > "$WORK/d.img"
image hostile "$ROOT/build/guests/virtio_hostile.bin" "$WORK/d.img" <<'CONF'
[host a]
mac = 52:54:00:00:34:01
ip = 10.0.0.1
netmask = 255.255.255.0
[guest]
kernel = virtio_hostile.bin
disk = d.img
nic_mac = 52:54:00:00:34:99
memory_mb = 32
[debug]
host = a
CONF
boot bochs hostile --timeout 120 --nic 52:54:00:00:34:01:$(( 12000 + ($$ % 500) * 4 ))
expect "guest: every check passed" 'guest: virtio_hostile: all [0-9]+ checks passed'
for d in blk net; do
    expect "virtio-$d: the looping chain is reported" "the guest's virtio-$d driver: a descriptor chain is longer than the device takes \(or loops\); the device stops until the driver resets it"
    expect "virtio-$d: the runaway index is reported" "the guest's virtio-$d driver: the driver made more buffers available than its queue holds"
    expect "virtio-$d: the table outside RAM is reported" "the guest's virtio-$d driver: its descriptor table is outside guest memory"
    expect "virtio-$d: the index past the queue is reported" "the guest's virtio-$d driver: a descriptor index is past the end of its queue"
done
expect_not "no guest check failed" 'guest: FAIL'
expect "the guest ends normally" 'vmm: guest exited: 0'
expect_last "the host powers off after the guest" '^ftvisor: power-off: guest exited$'
expect_rc "launcher: clean power-off" 0
