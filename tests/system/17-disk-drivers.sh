#!/bin/bash
# The host's drive drivers, each on the emulator that has its controller:
# ATA (PIO, Bochs' PIIX IDE), AHCI (QEMU q35's ICH9 controller) and NVMe
# (QEMU's nvme device). [debug] disk_test = SERIAL makes ftvisor read
# sectors 64-127 (seeded here with random bytes: the SHA-256 it prints must
# be ours), write a pattern over the drive's last 2 MiB with many requests
# in flight, flush, read it back and compare (drivers/disk_test.c). After
# the emulator ends, the image file must hold that pattern, sector by
# sector: what the driver said it wrote really reached the drive.
. "$(dirname "$0")/lib.sh"

# mkdrive FILE MIB: a zeroed image with random bytes in sectors 64-127;
# prints their SHA-256.
mkdrive() {
    head -c $(($2 << 20)) /dev/zero > "$1"
    head -c 32768 /dev/urandom > "$1.seed"
    dd if="$1.seed" of="$1" bs=512 seek=64 conv=notrunc status=none
    sha256sum < "$1.seed" | cut -d' ' -f1
}

# pattern_ok IMAGE LBA SEED: sectors LBA..LBA+4095 hold disk_test's pattern.
pattern_ok() {
    python3 - "$1" "$2" "$3" <<'PY'
import struct, sys
path, first, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3], 16)
with open(path, 'rb') as f:
    f.seek(first * 512)
    data = f.read(4096 * 512)
if len(data) != 4096 * 512:
    print("short image"); sys.exit(1)
for i in range(4096):
    lba = first + i
    s = data[i * 512:(i + 1) * 512]
    want = struct.pack('<QQ', lba, seed) + bytes((lba * 7 + j) & 255 for j in range(16, 512))
    if s != want:
        print("sector %d differs" % lba); sys.exit(1)
print("ok")
PY
}

# drive_test NAME MODEL-REGEX SHA IMAGE: assert on the console of a disk_test run.
drive_test() {
    local name=$1 model=$2 sha=$3 img=$4
    expect "$name: the seeded sectors read back (SHA-256)" "disk test: [^:]+: sectors 64-127 have SHA-256 $sha"
    expect "$name: write, flush, read back and compare" "disk test: [^ ]+ \\(serial [A-Z0-9]+, $model\\): passed: [0-9]+ requests"
    expect_not "$name: no failure" 'disk test: .*FAILED'
    local lba seed verdict
    lba=$(value 'passed: [0-9]+ requests, 2048 KiB written at LBA ([0-9]+) ')
    seed=$(value 'read back, seed ([0-9a-f]+),')
    if [ -n "$lba" ] && [ -n "$seed" ]; then
        verdict=$(pattern_ok "$img" "$lba" "$seed")
        [ "$verdict" = ok ] && ok "$name: the image file holds the pattern at LBA $lba" \
            || notok "$name: the image file: $verdict"
    else
        notok "$name: no LBA and seed on the console"
    fi
}

conf() { # conf SERIAL
    cat <<CONF
[host alpha]
mac = 52:54:00:00:00:01
ip = 192.168.7.1
netmask = 255.255.0.0

[debug]
host = alpha
exit_port = 0xf4
uptime_ms = 200
disk_test = $1
CONF
}

# ATA in Bochs: the second disk of ata0 (serial BXHD00012).
sha=$(mkdrive "$WORK/drive-ata.img" 16)
conf BXHD00012 | image ata
boot bochs ata --timeout 120 --disk "$WORK/drive-ata.img"
expect "ATA: the driver finds the drive" 'disk: ata0-slave \(ATA PIO, LBA48\): "Generic 1234" serial "BXHD00012", 32768 sectors'
drive_test ATA 'ATA PIO, LBA48' "$sha" "$WORK/drive-ata.img"
expect_rc "ATA: clean power-off" 0

# A serial number no drive has stops the boot with the config line.
conf NOSUCHDRIVE | image missing
boot bochs missing --timeout 60
expect "a missing drive is a config error with its line" "ftvisor\\.conf:10: disk_test: no drive has the serial number 'NOSUCHDRIVE'"
