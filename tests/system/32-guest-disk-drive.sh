#!/bin/bash
# The guest's disk on a host drive ([guest] disk_device = SERIAL[:PART]):
# Bochs' second ATA disk (serial BXHD00012), driven by drivers/ata.c in PIO
# mode; its completions reach the guest at event points (ft/guest_io.c).
# What the guest wrote must be on the host drive afterwards (read here with
# debugfs), a partition must confine the guest to its sectors, a recording
# must log the completions (DEVDATA/DEVDONE) and its replay take every disk
# read from the log, and a drive the config names wrongly stops the boot
# with the config line.
. "$(dirname "$0")/lib.sh"
G=$ROOT/build/guest
command -v debugfs > /dev/null || { notok "debugfs (e2fsprogs) is missing"; exit 0; }

# le32 FILE OFFSET VALUE: a little-endian u32 into FILE at OFFSET.
le32() {
    printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($3 & 255)) $(($3 >> 8 & 255)) $(($3 >> 16 & 255)) $(($3 >> 24 & 255)))" |
        dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# check_files IMAGE N: every /fI (I = 1..N) on the ext2 image holds what
# the guest's disk workload writes (seq I*1000 .. I*1000+I*50).
check_files() {
    local img=$1 n=$2 i good=0
    for i in $(seq 1 "$n"); do
        if cmp -s <(debugfs -R "cat /f$i" "$img" 2>/dev/null) <(seq $((i * 1000)) $((i * 1000 + i * 50))); then
            good=$((good + 1))
        fi
    done
    echo "$good"
}

# 1. The whole drive, live.
mkdir -p "$WORK/drive"
head -c $((8 << 20)) /dev/zero > "$WORK/drive/d.img"
printf 'FTVISOR-DISK-ATA' | dd of="$WORK/drive/d.img" conv=notrunc status=none
image drive "$G/bzImage" "$G/initrd.gz" <<'CONF'
[host a]
mac = 52:54:00:00:00:01
ip = 10.0.0.1
netmask = 255.255.255.0
[guest]
kernel = bzImage
initrd = initrd.gz
disk_device = BXHD00012
cmdline = console=ttyS0 quiet ftvisor.test=disk ftvisor.files=20
memory_mb = 64
[debug]
host = a
CONF
boot bochs drive --timeout 400 --disk "$WORK/drive/d.img"
expect "the ATA driver finds both drives" 'disk: ata0-slave \(ATA PIO, LBA48\): "Generic 1234" serial "BXHD00012", 16384 sectors \(8 MiB\)'
expect "the config names the drive" 'config: guest: .*disk the drive with serial BXHD00012,'
expect "the guest's disk is the whole drive" "disk: the guest's disk: all of ata0-slave \(serial BXHD00012\), 16384 sectors \(8 MiB\)"
expect "guest: sees the drive's label" "guest: guest: disk vda 16384 sectors, label 'FTVISOR-DISK-ATA'"
expect "guest: every file checks out after a remount" 'guest: guest: disk files 20 written, 20 verified'
expect_not "no guest error" 'guest: guest: error:'
expect_not "no disk error" 'ata: |virtio-blk driver:'
expect_rc "launcher: clean power-off" 0
n=$(check_files "$WORK/drive/d.img" 20)
if [ "$n" = 20 ]; then ok "host: all 20 files are on the drive, byte for byte"; else notok "host: $n of 20 files on the drive match"; fi

# 2. Partition 2 of an MBR disk, recorded and replayed (selfcheck): the
# guest sees only the partition; partition 1 and the MBR stay untouched.
mkdir -p "$WORK/part"
P=$WORK/part/d.img
head -c $((16 << 20)) /dev/zero > "$P"
printf '\x55\xaa' | dd of="$P" bs=1 seek=510 conv=notrunc status=none
printf '\x83' | dd of="$P" bs=1 seek=$((446 + 4)) conv=notrunc status=none
le32 "$P" $((446 + 8)) 2048
le32 "$P" $((446 + 12)) 4096
printf '\x83' | dd of="$P" bs=1 seek=$((462 + 4)) conv=notrunc status=none
le32 "$P" $((462 + 8)) 8192
le32 "$P" $((462 + 12)) 16384
printf 'PARTITION-ONE-01' | dd of="$P" bs=512 seek=2048 conv=notrunc status=none
printf 'FTVISOR-PART-TWO' | dd of="$P" bs=512 seek=8192 conv=notrunc status=none
head -c 1048576 "$P" | sha256sum > "$WORK/part/before"
dd if="$P" bs=512 skip=2048 count=4096 status=none | sha256sum >> "$WORK/part/before"
image part "$G/bzImage" "$G/initrd.gz" <<'CONF'
[host a]
mac = 52:54:00:00:00:01
ip = 10.0.0.1
netmask = 255.255.255.0
[guest]
kernel = bzImage
initrd = initrd.gz
disk_device = BXHD00012:2
cmdline = console=ttyS0 quiet ftvisor.test=disk ftvisor.files=5
memory_mb = 64
[record]
mode = selfcheck
landmark = emulator
digest_every = 500
[debug]
host = a
CONF
boot bochs part --timeout 600 --disk "$P"
expect "part: the partition is found" "disk: the guest's disk: partition 2 of ata0-slave \(serial BXHD00012\), sectors 8192-24575 \(8 MiB\)"
expect "part: guest sees the partition and its label" "guest: guest: disk vda 16384 sectors, label 'FTVISOR-PART-TWO'"
expect "part: every file checks out" 'guest: guest: disk files 5 written, 5 verified'
expect "part: the recording logged disk completions with their data" 'record: [1-9][0-9]* host device completions \(DEVDONE\), [1-9][0-9]* bytes of their data \(DEVDATA\)'
expect "part: the replay took them from the log" 'replay: [1-9][0-9]* host device completions \(DEVDONE\), [1-9][0-9]* bytes of their data \(DEVDATA\)'
rec=$(grep -aoE 'record: [0-9]+ host device completions \(DEVDONE\), [0-9]+ bytes' "$SERIAL" | grep -oE '[0-9]+' | tr '\n' ' ')
rep=$(grep -aoE 'replay: [0-9]+ host device completions \(DEVDONE\), [0-9]+ bytes' "$SERIAL" | grep -oE '[0-9]+' | tr '\n' ' ')
if [ -n "$rec" ] && [ "$rec" = "$rep" ]; then ok "part: the replay delivered the same completions and bytes ($rec)"; else notok "part: recorded '$rec', replayed '$rep'"; fi
expect "part: replay identical" 'replay: identical \([0-9]+ events, [0-9]+ instructions\): [1-9][0-9]* state digests and the final RAM digest match'
expect_not "part: no divergence" 'DIVERGED'
expect_rc "part: launcher: clean power-off" 0
head -c 1048576 "$P" | sha256sum > "$WORK/part/after"
dd if="$P" bs=512 skip=2048 count=4096 status=none | sha256sum >> "$WORK/part/after"
if cmp -s "$WORK/part/before" "$WORK/part/after"; then ok "part: the MBR and partition 1 are untouched"; else notok "part: the guest wrote outside its partition"; fi
dd if="$P" of="$WORK/part/p2.img" bs=512 skip=8192 count=16384 status=none
n=$(check_files "$WORK/part/p2.img" 5)
if [ "$n" = 5 ]; then ok "part: all 5 files are in partition 2, byte for byte"; else notok "part: $n of 5 files in partition 2 match"; fi

# 3. A drive the config names wrongly stops the boot at its line.
sed -i 's/^disk_device = BXHD00012:2$/disk_device = NOSUCHDRIVE/; /^\[record\]/,/^digest_every/d' "$WORK/part/ftvisor.conf"
"$ROOT/tools/mkimage" --conf "$WORK/part/ftvisor.conf" --out "$WORK/nodrive.img" > /dev/null
boot bochs nodrive --timeout 120 --disk "$P"
expect "no such drive: file:line and the drives there are" "ftvisor.conf:8: disk_device: no drive has the serial number 'NOSUCHDRIVE' \(drives: BXHD00011 \(ata0-master\), BXHD00012 \(ata0-slave\)\)"
expect_not "no such drive: the guest never starts" 'guest: guest:'
expect_rc "no such drive: launcher: clean power-off" 0
sed -i 's/^disk_device = NOSUCHDRIVE$/disk_device = BXHD00012:3/' "$WORK/part/ftvisor.conf"
"$ROOT/tools/mkimage" --conf "$WORK/part/ftvisor.conf" --out "$WORK/nopart.img" > /dev/null
boot bochs nopart --timeout 120 --disk "$P"
expect "empty partition: file:line and why" 'ftvisor.conf:8: disk_device: BXHD00012 \(ata0-slave\): MBR partition 3 is empty'
expect_rc "empty partition: launcher: clean power-off" 0
