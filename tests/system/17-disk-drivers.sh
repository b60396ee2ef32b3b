#!/bin/bash
# The host's drive drivers, each on the emulator that has its controller:
# ATA (PIO, Bochs' PIIX IDE), AHCI (QEMU q35's ICH9 controller) and NVMe
# (QEMU's nvme device). [debug] disk_test = SERIAL makes ftvisor read
# sectors 64-127 (seeded here with random bytes: the SHA-256 it prints must
# be ours), write a pattern over the drive's last 2 MiB with many requests
# in flight, flush, read it back and compare (drivers/disk_test.c). After
# the emulator ends, the image file must hold that pattern, sector by
# sector: what the driver said it wrote really reached the drive. NVMe also
# runs with two controllers (one limited to 8 KiB per command, so requests
# are split and the queue fills), several namespaces (one of 4 KiB blocks,
# which the driver skips), and with QEMU's blkdebug failing reads or writes
# of a few sectors: the driver must report the error and go on.
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
    expect "$name: write, flush, read back and compare" "disk test: [^ ]+ \\(serial [A-Za-z0-9-]+, $model\\): passed: [0-9]+ requests"
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

# AHCI in QEMU: q35's ICH9 controller, the drive on port 0.
sha=$(mkdrive "$WORK/drive-ahci.img" 16)
conf FTVAHCI01 | image ahci
boot qemu ahci --timeout 120 --disk "$WORK/drive-ahci.img,ahci,FTVAHCI01"
expect "AHCI: the driver finds the controller" 'ahci: ahci0: 8086:2922 at 00:1f\.2, AHCI 1\.0, ports 0x0000003f, 32 command slots, NCQ, 64-bit'
expect "AHCI: the driver finds the drive" 'disk: ahci0-port0 \(AHCI, NCQ 32\): "QEMU HARDDISK" serial "FTVAHCI01", 32768 sectors'
expect_not "AHCI: the five empty ports say nothing" 'ahci0-port[1-5]|WARNING: ahci|ERROR: ahci'
drive_test AHCI 'AHCI[^)]*' "$sha" "$WORK/drive-ahci.img"
expect_rc "AHCI: clean power-off" 0

# Two drives, on ports 0 and 1: the test runs on the second, and the first
# keeps its zeros where the pattern went on the second.
mkdrive "$WORK/drive-ahci-p0.img" 16 > /dev/null
sha=$(mkdrive "$WORK/drive-ahci-p1.img" 16)
conf FTVAHCI03 | image ahci2
boot qemu ahci2 --timeout 120 --disk "$WORK/drive-ahci-p0.img,ahci,FTVAHCI02" --disk "$WORK/drive-ahci-p1.img,ahci,FTVAHCI03"
expect "AHCI, two drives: port 0" 'disk: ahci0-port0 \(AHCI, NCQ 32\): "QEMU HARDDISK" serial "FTVAHCI02", 32768 sectors'
expect "AHCI, two drives: port 1" 'disk: ahci0-port1 \(AHCI, NCQ 32\): "QEMU HARDDISK" serial "FTVAHCI03", 32768 sectors'
expect "AHCI, two drives: the test runs on port 1" 'disk test: ahci0-port1 \(serial FTVAHCI03, '
drive_test "AHCI port 1" 'AHCI[^)]*' "$sha" "$WORK/drive-ahci-p1.img"
if cmp -s -n $((2 << 20)) <(tail -c $((2 << 20)) "$WORK/drive-ahci-p0.img") /dev/zero; then
    ok "AHCI, two drives: port 0's image is untouched"
else
    notok "AHCI, two drives: port 0's image changed"
fi
expect_rc "AHCI, two drives: clean power-off" 0

# A drive error: QEMU's blkdebug fails every read of sector 29443, which
# disk_test's read-back pass reads in a small request queued with many
# others (NCQ). The request that holds the sector, and only that one, must
# fail with an I/O error (BLK_E_IO); the port must recover and the boot go
# on to a clean power-off.
bad=29443
cat > "$WORK/ahci-eio.rules" <<RULES
[inject-error]
event = "read_aio"
iotype = "read"
errno = "5"
sector = "$bad"
RULES
mkdrive "$WORK/drive-ahci-eio.img" 16 > /dev/null
conf FTVAHCIEIO | image ahcieio
boot qemu ahcieio --timeout 120 --disk "$WORK/drive-ahci-eio.img,ahci,FTVAHCIEIO,blkdebug=$WORK/ahci-eio.rules"
expect "AHCI error: the driver says which read failed" "WARNING: ahci: ahci0-port0: read of [0-9]+ sectors at LBA [0-9]+ failed: command 60h \\([0-9]+ sectors at LBA [0-9]+, slot [0-9]+\\), PxIS 0x[0-9a-f]+, PxTFD 0x[0-9a-f]+ \\(status 0x[0-9a-f]+, error 0x[0-9a-f]+\\), PxSERR"
expect "AHCI error: the port is reset and restarted" 'ahci: ahci0-port0: port restarted after a COMRESET'
expect "AHCI error: the request gets an I/O error" 'disk test: ahci0-port0 \(serial FTVAHCIEIO, AHCI, NCQ 32\) FAILED: read of [0-9]+ sectors at LBA [0-9]+: the driver reported an error'
count=$(value 'FAILED: read of ([0-9]+) sectors at LBA [0-9]+: the driver')
lba=$(value 'FAILED: read of [0-9]+ sectors at LBA ([0-9]+): the driver')
if [ -n "$lba" ] && [ "$lba" -le $bad ] && [ $bad -lt $((lba + count)) ]; then
    ok "AHCI error: the failed request ($count sectors at LBA $lba) is the one with sector $bad"
else
    notok "AHCI error: the failed request ('$count' sectors at LBA '$lba') does not hold sector $bad"
fi
expect_rc "AHCI error: no hang, clean power-off" 0

# NVMe in QEMU: one controller, one namespace.
sha=$(mkdrive "$WORK/drive-nvme.img" 16)
conf FTVNVME01 | image nvme
boot qemu nvme --timeout 120 --disk "$WORK/drive-nvme.img,nvme,FTVNVME01"
expect "NVMe: the driver finds the controller" 'nvme: nvme0: [0-9a-f:.]+, NVMe [0-9.]+, "QEMU NVMe Ctrl" serial "FTVNVME01": 1 usable namespace, 512 KiB per command'
expect "NVMe: the namespace is a drive" 'disk: nvme0n1 \(NVMe, queue 64\): "QEMU NVMe Ctrl" serial "FTVNVME01", 32768 sectors'
drive_test NVMe 'NVMe[^)]*' "$sha" "$WORK/drive-nvme.img"
expect_rc "NVMe: clean power-off" 0

# Two controllers: the first with namespaces 1, 2 (4 KiB blocks: skipped)
# and 3; the second with MDTS 1 (8 KiB per command). The test runs on the
# second, then on namespace 3 of the first.
mkdrive "$WORK/drive-nvme-n1.img" 16 > /dev/null
head -c $((16 << 20)) /dev/zero > "$WORK/drive-nvme-4k.img"
sha3=$(mkdrive "$WORK/drive-nvme-n3.img" 16)
sha2=$(mkdrive "$WORK/drive-nvme2.img" 16)
nvme_disks=(--disk "$WORK/drive-nvme-n1.img,nvme,FTVNVME01"
            --disk "$WORK/drive-nvme-4k.img,nvme-ns,,logical_block_size=4096,physical_block_size=4096"
            --disk "$WORK/drive-nvme-n3.img,nvme-ns,"
            --disk "$WORK/drive-nvme2.img,nvme,FTVNVME02,mdts=1")
conf FTVNVME02 | image nvme2
boot qemu nvme2 --timeout 120 "${nvme_disks[@]}"
expect "NVMe x2: a 4 KiB-block namespace is reported and skipped" 'WARNING: nvme: nvme0: namespace 2: 4096-byte logical blocks: skipped'
expect "NVMe x2: the first controller's namespaces" 'disk: nvme0n3 \(NVMe, queue 64\): "QEMU NVMe Ctrl" serial "FTVNVME01-n3", 32768 sectors'
expect "NVMe x2: the second controller, 8 KiB per command" 'nvme: nvme1: .* serial "FTVNVME02": 1 usable namespace, 8 KiB per command'
expect "NVMe x2: the second controller's drive" 'disk: nvme1n1 \(NVMe, queue 64\): "QEMU NVMe Ctrl" serial "FTVNVME02", 32768 sectors'
drive_test "NVMe x2 (8 KiB commands)" 'NVMe[^)]*' "$sha2" "$WORK/drive-nvme2.img"
expect_rc "NVMe x2: clean power-off" 0

conf FTVNVME01-n3 | image nvme-n3
boot qemu nvme-n3 --timeout 120 "${nvme_disks[@]}"
drive_test "NVMe namespace 3" 'NVMe[^)]*' "$sha3" "$WORK/drive-nvme-n3.img"
lba=$(value 'passed: [0-9]+ requests, 2048 KiB written at LBA ([0-9]+) ')
if [ -n "$lba" ] && cmp -s -n 2097152 -i $((lba * 512)):0 "$WORK/drive-nvme-n1.img" /dev/zero; then
    ok "NVMe namespace 3: namespace 1's image is untouched"
else
    notok "NVMe namespace 3: namespace 1's image changed at LBA $lba"
fi
expect_rc "NVMe namespace 3: clean power-off" 0

# I/O errors: QEMU's blkdebug fails reads, then writes, of sector 30000
# (in disk_test's region); the NVMe device reports them as media errors.
for io in read write; do
    case $io in read) what='unrecovered read error' ;; write) what='write fault' ;; esac
    cat > "$WORK/nvme-$io-error.conf" <<BLKDEBUG
[inject-error]
event = "${io}_aio"
iotype = "$io"
errno = "5"
sector = "30000"
once = "off"
BLKDEBUG
    mkdrive "$WORK/drive-nvme-bad.img" 16 > /dev/null
    conf FTVNVMEBAD | image "nvme-$io-error"
    boot qemu "nvme-$io-error" --timeout 120 --disk "$WORK/drive-nvme-bad.img,nvme,FTVNVMEBAD,blkdebug=$WORK/nvme-$io-error.conf"
    expect "NVMe $io error: a readable warning" "WARNING: nvme: nvme0n1: $io of [0-9]+ sectors at LBA [0-9]+ failed: media error: $what \\(SCT 2, SC 0x8[01]\\)"
    expect "NVMe $io error: disk_test fails with the request" "disk test: nvme0n1 \\(serial FTVNVMEBAD, NVMe, queue 64\\) FAILED: $io of [0-9]+ sectors at LBA [0-9]+: the driver reported an error"
    expect_rc "NVMe $io error: the hypervisor goes on to a clean power-off" 0
done
