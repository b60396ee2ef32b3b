#!/bin/bash
# The guest's disk: a virtio-blk device (virtio 1.x over PCI) on the
# guest's PCI bus, backed by the [guest] disk file from the boot volume.
# Linux finds the PCI root bridge in the DSDT, binds virtio-pci and
# virtio-blk, formats the disk with ext2, writes files, syncs, remounts
# with its page cache dropped and checks every file's SHA-256.
. "$(dirname "$0")/lib.sh"
G=$ROOT/build/guest
mkdir -p "$WORK/disk"
# 8 MiB with a label in the first 16 bytes.
head -c $((8 << 20)) /dev/zero > "$WORK/disk/disk.img"
printf 'FTVISOR-DISK-T01' | dd of="$WORK/disk/disk.img" conv=notrunc status=none
image disk "$G/bzImage" "$G/initrd.gz" "$WORK/disk/disk.img" <<'CONF'
[host a]
mac = 52:54:00:00:00:01
ip = 10.0.0.1
netmask = 255.255.255.0
[guest]
kernel = bzImage
initrd = initrd.gz
disk = disk.img
cmdline = console=ttyS0 quiet ftvisor.test=disk ftvisor.files=20
memory_mb = 64
[debug]
host = a
CONF
boot bochs disk --timeout 400
expect "hypervisor: the disk is attached" 'vmm: guest disk: disk\.img, 16384 sectors of 512 bytes, held in host memory; virtio-blk at PCI 00:03\.0'
expect "guest: sees the disk and its label" "guest: guest: disk vda 16384 sectors, label 'FTVISOR-DISK-T01'"
expect "guest: every file checks out after a remount" 'guest: guest: disk files 20 written, 20 verified'
expect "guest: workload finished" 'guest: guest: workload disk finished'
expect_not "no guest error" 'guest: guest: error:'
expect_not "the device never needed a reset" 'virtio-blk driver:'
expect_not "no guest stopped by ftvisor" 'guest stopped: (unhandled|VM entry failed|cannot emulate)'
expect_last "host powers off after the guest" '^ftvisor: power-off: guest exited$'
expect_rc "launcher: clean power-off" 0

# The PCI view from inside: the devices workload lists the bus.
sed -i 's/ftvisor.test=disk ftvisor.files=20/ftvisor.test=devices/' "$WORK/disk/ftvisor.conf"
"$ROOT/tools/mkimage" --conf "$WORK/disk/ftvisor.conf" --out "$WORK/disk-pci.img" > /dev/null
boot bochs disk-pci --timeout 300
expect "pci: the host bridge" 'guest: guest: pci 0000:00:00\.0 0x8086:0x1237 class 0x060000'
expect "pci: virtio-blk bound to virtio-pci" 'guest: guest: pci 0000:00:03\.0 0x1af4:0x1042 class 0x010000 driver virtio-pci'
expect "block device vda" 'guest: guest: block vda 16384 sectors'
expect_rc "pci: launcher: clean power-off" 0

# Record and replay with the disk, on one host ([record] mode = selfcheck):
# the replay boots the guest again with the disk as the recording found
# it, and the guest's disk reads (completed during its own exits, from the
# same data) need no log records: the replay must match to the last byte.
sed -i 's/ftvisor.test=devices/ftvisor.test=disk ftvisor.files=5/' "$WORK/disk/ftvisor.conf"
printf '[record]\nmode = selfcheck\nlandmark = emulator\ndigest_every = 500\n' >> "$WORK/disk/ftvisor.conf"
"$ROOT/tools/mkimage" --conf "$WORK/disk/ftvisor.conf" --out "$WORK/disk-rr.img" > /dev/null
boot bochs disk-rr --timeout 600
expect "rr: the recording ran the disk workload" 'guest: guest: disk files 5 written, 5 verified'
expect "rr: the disk is restored for the replay" 'selfcheck: the guest.s disk is back as it started \([1-9][0-9]* blocks of 4 KiB restored\)'
expect "rr: replay identical" 'replay: identical \([0-9]+ events, [0-9]+ instructions\): [1-9][0-9]* state digests and the final RAM digest match'
expect_rc "rr: launcher: clean power-off" 0
