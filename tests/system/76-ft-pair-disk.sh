#!/bin/bash
# The fault-tolerant pair with the guest's disk on drives, in two Bochs
# hosts (clock sync=slowdown) on tools/ftlink. The Linux guest formats
# ext2, writes 20 files with checksums, syncs every fourth one, remounts
# with its caches dropped and checks all 20. The primary (alpha) is
# SIGKILLed in the middle; the backup (beta) goes live and the guest
# finishes there: every file must check out inside the guest and, read
# here with debugfs, on the drive the surviving host writes.
#
#  - shared: one disk image both Bochs open (through two hard links, so
#    Bochs' per-path lock files allow it): a shared drive. The primary's
#    writes obey the output rule; its reads reach the backup in the log;
#    at go-live the backup issues the requests the log left in flight.
#  - privclone: each host has its own copy (disk_mode = private): the
#    backup carries out the guest's writes on its copy as it replays.
#    Alpha is killed at file 8 and boots again
#    with a drive full of junk: beta, live, clones the guest to it with
#    its private drive (every block, read while the guest runs on, then
#    the blocks written meanwhile; issue 8), and the guest finishes on beta
#    with alpha replaying to the end: the two drives end byte for byte
#    equal, and alpha's holds all 160 files.
#  - migdirty: Linux prints numbered lines, streams numbers over TCP and
#    rewrites 256 KiB of an 8 MiB tmpfs file every 10 ms, all at once;
#    tools/ftmigrate moves the guest alpha -> beta, then back: the lines
#    on the two consoles run 1..N with no gap, the stream arrives intact
#    over the one connection, each clone back copies the pages written.
#  - inflight: as shared, but alpha halts dead ([debug] fault_test =
#    die_in_io) while the output rule holds guest disk writes: beta issues
#    them itself at go-live.
#  - ftio: as shared, with the guest also streaming numbers over TCP
#    (virtio-net bridged onto the host NIC) to a peer on this machine; the
#    stream must arrive intact over the one connection.
#  - arbiter: as shared, with [pair] arbiter = disk:SERIAL:2 (a partition
#    of the shared drive as the test-and-set sector): beta claims it.
#  - ok: no failure; the replay is identical to the end.
#  - reads: as ok, with disk_reads = backup and read_ahead = off: beta
#    reads the shared drive itself when its replay gets to each read, and
#    the log carries only each read's CRC (DEVCHECK).
#  - readskill: as shared, with disk_reads = backup (and read-ahead: beta
#    reads as alpha's READ_HINTs come).
#  - readsdiffer: disk_reads = backup, but the two hosts' "shared" drives
#    are different files: beta's reads give other data than alpha's, the
#    replay must say so (a clone cannot repair that) and alpha carry on
#    unprotected.
#  - migrate: as ftio, but at file 8 tools/ftmigrate asks alpha to hand
#    the guest over (issue 8): beta goes live without a failure and clones
#    it back to alpha (memory and the virtio disk and NIC state; the drive
#    is shared), the guest finishes on beta protected by alpha, whose
#    replay is identical to the end; the stream arrives intact over the
#    one connection.
# FT_SCENARIOS="ok reads readskill readsdiffer shared inflight ftio migrate arbiter privclone migdirty"
# runs some. Needs root (TAP).
# run: alone
. "$(dirname "$0")/lib.sh"
command -v debugfs > /dev/null || { notok "debugfs (e2fsprogs) is missing"; exit 0; }
P=$(( 29000 + ($$ % 250) * 4 ))
NET=10.76.$(( $$ % 200 + 20 ))
TAP=ftvd$$
KEY=ft-pair-disk-test-key-0123456789
ftlink_start --bochs $P --bochs $((P + 2)) --tap "$TAP:$NET.254/24"
# The TCP peer on this machine: each connection on NET.254:7700 is saved
# to conn.K (K = 1, 2, ...).
python3 - "$NET.254" "$WORK" > "$WORK/peer.out" 2>&1 <<'PY' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 7700))
s.listen(4)
print("peer: listening", flush=True)
k = 0
while True:
    c, a = s.accept()
    k += 1
    n = 0
    with open("%s/conn.%d" % (sys.argv[2], k), "wb") as f:
        while True:
            d = c.recv(65536)
            if not d:
                break
            f.write(d)
            n += len(d)
    c.close()
    print("peer: connection %d from %s: %d bytes" % (k, a[0], n), flush=True)
PY
PEER=$!
cleanup() {
    local p
    for p in $(pgrep -x bochs); do grep -qs "$WORK/" /proc/$p/cwd/bochsrc && kill -KILL "$p"; done
    kill "$PEER" 2>/dev/null
    ftlink_stop
}
trap cleanup EXIT
wait_for "$WORK/peer.out" 'peer: listening' 10 || { notok "the peer did not start: $(cat "$WORK/peer.out")"; exit 1; }
want() { [ -z "${FT_SCENARIOS:-}" ] || [[ " $FT_SCENARIOS " == *" $1 "* ]]; }

# disk_image NAME MODE [DEBUG-LINE [GUEST-LINES [WORKLOAD]]]: both hosts' config.
disk_image() {
    image "$1" "$ROOT/build/guest/bzImage" "$ROOT/build/guest/initrd.gz" <<CONF
[host alpha]
mac = 52:54:00:00:76:01
ip = $NET.1
netmask = 255.255.255.0

[host beta]
mac = 52:54:00:00:76:02
ip = $NET.2
netmask = 255.255.255.0

[pair]
key = $KEY
heartbeat_ms = 100
failover_timeout_ms = 5000
max_lag_ms = 500
arbiter = ${ARBITER:-none}

[guest]
kernel = bzImage
initrd = initrd.gz
cmdline = console=ttyS0 quiet ftvisor.test=${5:-disk} ftvisor.files=${FILES:-20}
memory_mb = 64
disk_device = ${DISKDEV:-BXHD00012}
disk_mode = $2
${4:-}

[debug]
uptime_ms = 400000
${3:-}
CONF
}

# boot_pair T ALPHA-DISK BETA-DISK: both hosts of image T in the background.
boot_pair() {
    boot_bg bochs "$1" "$WORK/$1.alpha.serial" --timeout 500 --sync slowdown --nic 52:54:00:00:76:01:$P \
        --disk "$2" --log "$WORK/$1.alpha.bochs.log"
    boot_bg bochs "$1" "$WORK/$1.beta.serial" --timeout 500 --sync slowdown --nic 52:54:00:00:76:02:$((P + 2)) \
        --disk "$3" --log "$WORK/$1.beta.bochs.log"
}


# check_files IMAGE N: how many /fI (I = 1..N) on the ext2 image hold what
# the guest's disk workload writes.
check_files() {
    local img=$1 n=$2 i good=0
    for i in $(seq 1 "$n"); do
        cmp -s <(debugfs -R "cat /f$i" "$img" 2>/dev/null) <(seq $((i * 1000)) $((i * 1000 + i * 50))) && good=$((good + 1))
    done
    echo "$good"
}

# stream_intact TAG: since the scenario removed the peer's files, it got
# seq 1..60000 over one connection (the peer numbers connections on).
stream_intact() {
    sleep 1
    local conns=("$WORK"/conn.*)
    if [ ${#conns[@]} = 1 ] && [ -e "${conns[0]}" ] && cmp -s "${conns[0]}" <(seq 1 60000); then
        ok "$1: the peer received the whole stream intact over one connection ($(stat -c %s "${conns[0]}") bytes)"
    else
        notok "$1: peer: $(cat "$WORK/peer.out"); ${#conns[@]} connection files; $(cmp "${conns[0]}" <(seq 1 60000) 2>&1 | head -1)"
    fi
}

# disk_kill TAG MODE ALPHA-DISK BETA-DISK AT [DEBUG-LINE [GUEST-LINES
# [WORKLOAD]]]: start the pair, kill alpha when its console shows AT, check
# beta finishes and the drive it wrote.
disk_kill() {
    local t=$1 mode=$2 da=$3 db=$4 at=$5
    disk_image "$t" "$mode" "${6:-}" "${7:-}" "${8:-}"
    boot_pair "$t" "$da" "$db"
    if ! wait_for_any "$at|guest: disk files" 400 "$WORK/$t.alpha.serial"; then
        notok "$t: alpha never showed /$at/"
        wait_boots
        return
    fi
    kill -KILL "$(bochs_pid "$WORK/$t.alpha.serial")" 2>/dev/null
    wait_boots
    on "$WORK/$t.alpha.serial"
    expect "$t: alpha was protected with the disk on the drive" "pair: protected: the guest runs and its log streams to beta"
    expect "$t: alpha's guest was writing when killed" "$at"
    expect_not "$t: alpha never finished" 'guest: disk files'
    on "$WORK/$t.beta.serial"
    expect "$t: beta finds the drive" "disk: the guest's disk: (all|partition [0-9]+) of ata0-slave \(serial BXHD00012\)"
    expect "$t (killed at /$at/): beta notices" 'pair: primary alpha lost'
    expect "$t: beta goes live" 'pair: LIVE: this host runs the guest now, from virtual time'
    expect "$t: the guest finishes on beta, every file checks out" 'guest: guest: disk files 20 written, 20 verified'
    expect_not "$t: no guest error" 'guest: guest: error:'
    expect_not "$t: no divergence" 'DIVERGED'
    expect_not "$t: no disk error" 'ata: |virtio-blk driver:'
    expect_clean_poweroff "$t.beta"
    local n
    local img=$db
    if [ -n "${PART_START:-}" ]; then
        img=$WORK/$t.part.img
        dd if="$db" of="$img" bs=512 skip="$PART_START" count="$PART_COUNT" status=none
    fi
    n=$(check_files "$img" 20)
    if [ "$n" = 20 ]; then ok "$t: host: all 20 files are on beta's drive, byte for byte"; else notok "$t: host: $n of 20 files on beta's drive match"; fi
}

# ok: no failure. The backup replays to the end identically, with every
# disk completion from the log; the primary's writes waited for the
# backup's acknowledgements (the output rule on a shared disk).
if want ok; then
    head -c $((8 << 20)) /dev/zero > "$WORK/ok-a.img"
    ln "$WORK/ok-a.img" "$WORK/ok-b.img"
    disk_image ok shared
    boot_pair ok "$WORK/ok-a.img" "$WORK/ok-b.img"
    wait_boots
    on "$WORK/ok.alpha.serial"
    expect "ok: alpha protected" 'pair: protected: the guest runs and its log streams to beta'
    expect "ok: the guest's files check out on alpha" 'guest: guest: disk files 20 written, 20 verified'
    expect "ok: alpha released everything once beta had the log" 'pair: the guest ended; beta has the whole log and every output is released'
    expect "ok: alpha's writes waited for beta's acknowledgements" 'pair: disk: [0-9]+ requests \([0-9]+ reads, [0-9]+ KiB; [1-9][0-9]* writes, [0-9]+ KiB; [0-9]+ flushes\), [1-9][0-9]* held by the output rule, 0 issued again at go-live, 0 errors'
    expect_not "ok: alpha never unprotected" 'UNPROTECTED'
    on "$WORK/ok.beta.serial"
    expect "ok: beta's replay is identical to the end" 'pair: the guest ended on the primary and here identically'
    expect "ok: the log delivered the disk completions" 'pair: the log delivered [1-9][0-9]* disk completions with [1-9][0-9]* bytes of read data'
    expect "ok: beta never touched the shared drive" 'pair: disk: [0-9]+ requests .*, 0 issued again at go-live, 0 errors'
    expect_not "ok: beta shows none of the guest's output" 'guest: guest:'
    expect_not "ok: beta never went live" 'LIVE'
    expect_clean_poweroff ok.alpha ok.beta
    n=$(check_files "$WORK/ok-a.img" 20)
    [ "$n" = 20 ] && ok "ok: host: all 20 files are on the shared drive" || notok "ok: host: $n of 20 files match"
fi

blank() { head -c $((8 << 20)) /dev/zero > "$1"; printf 'FTVISOR-PAIR-DSK' | dd of="$1" conv=notrunc status=none; }

# reads: no failure, disk_reads = backup. The replay is identical to the
# end with no read data in the log: beta read it all itself and checked it.
if want reads; then
    head -c $((8 << 20)) /dev/zero > "$WORK/reads-a.img"
    ln "$WORK/reads-a.img" "$WORK/reads-b.img"
    disk_image reads shared 'read_ahead = off' 'disk_reads = backup'
    boot_pair reads "$WORK/reads-a.img" "$WORK/reads-b.img"
    wait_boots
    on "$WORK/reads.alpha.serial"
    expect "reads: alpha protected" 'pair: protected: the guest runs and its log streams to beta'
    expect "reads: the guest's files check out on alpha" 'guest: guest: disk files 20 written, 20 verified'
    expect "reads: alpha released everything once beta had the log" 'pair: the guest ended; beta has the whole log and every output is released'
    expect "reads: alpha's writes waited for beta (acknowledgements, and its reads of the same sectors)" \
        'pair: disk reads on the backup: 0 performed here, 0 checked against the log; [1-9][0-9]* writes waited for the backup to read their sectors first'
    expect_not "reads: alpha never unprotected" 'UNPROTECTED'
    on "$WORK/reads.beta.serial"
    expect "reads: beta's replay is identical to the end" 'pair: the guest ended on the primary and here identically'
    expect "reads: the log carried no read data, beta read and checked it" \
        'pair: the log delivered [1-9][0-9]* disk completions with 0 bytes of read data \([1-9][0-9]* bytes read here and checked\)'
    r=$(value 'pair: disk: [0-9]+ requests \(([0-9]+) reads')
    expect "reads: beta performed every read itself and each matched" "pair: disk reads on the backup: $r performed here, $r checked against the log"
    expect "reads: read_ahead = off: beta read each when its replay got there" 'waited for the backup to read their sectors first; 0 read ahead of the replay'
    expect "reads: alpha's READ_HINTs went unused" 'pair: disk reads on the backup: .* 0 read ahead of the replay \(0 not, read-ahead full\)' 
    expect_not "reads: beta never went live" 'LIVE'
    expect_clean_poweroff reads.alpha reads.beta
    n=$(check_files "$WORK/reads-a.img" 20)
    [ "$n" = 20 ] && ok "reads: host: all 20 files are on the shared drive" || notok "reads: host: $n of 20 files match"
fi
if want readskill; then
    blank "$WORK/readskill-a.img"
    ln "$WORK/readskill-a.img" "$WORK/readskill-b.img"
    disk_kill readskill shared "$WORK/readskill-a.img" "$WORK/readskill-b.img" 'guest: disk file 8 written' '' \
        'disk_reads = backup'
    on "$WORK/readskill.beta.serial"
    expect "readskill: beta had read the disk itself before going live" 'pair: disk reads on the backup: [1-9][0-9]* performed here, [1-9][0-9]* checked'
    expect "readskill: beta read ahead of its replay as alpha's READ_HINTs came (read_ahead = on)" \
        'pair: disk reads on the backup: .*; [1-9][0-9]* read ahead of the replay'
fi
# Two different drives called shared: alpha's guest formats and writes
# its own; beta (which never writes a shared drive) reads zeros where
# alpha read the file system. Beta must catch it at the first such read.
if want readsdiffer; then
    blank "$WORK/readsdiffer-a.img"
    blank "$WORK/readsdiffer-b.img"
    disk_image readsdiffer shared '' 'disk_reads = backup'
    boot_pair readsdiffer "$WORK/readsdiffer-a.img" "$WORK/readsdiffer-b.img"
    # Beta, out of the pair, stays up (for its operator) until uptime_ms.
    wait_for "$WORK/readsdiffer.alpha.serial" 'ftvisor: power-off' 400
    kill -KILL "$(bochs_pid "$WORK/readsdiffer.beta.serial")" 2>/dev/null
    wait_boots
    on "$WORK/readsdiffer.beta.serial"
    expect "readsdiffer: beta's replay names the read that differs" 'this host read other data from the shared disk than the primary did \(the CRC differs\)'
    expect "readsdiffer: it names the record" 'first differing record: #[0-9]+ DEVCHECK'
    expect_not "readsdiffer: beta never went live" 'LIVE'
    on "$WORK/readsdiffer.alpha.serial"
    expect "readsdiffer: alpha hears of it" "DIVERGED|beta's replay diverged"
    expect "readsdiffer: alpha runs on unprotected" 'UNPROTECTED'
    on "$WORK/readsdiffer.beta.serial"
    expect "readsdiffer: beta does not ask for a repair a clone cannot make" 'pair: a clone cannot repair differing disk reads: this host stops following alpha'
    on "$WORK/readsdiffer.alpha.serial"
    expect "readsdiffer: the guest's files check out on alpha" 'guest: guest: disk files 20 written, 20 verified'
    expect_clean_poweroff readsdiffer.alpha
    n=$(check_files "$WORK/readsdiffer-a.img" 20)
    [ "$n" = 20 ] && ok "readsdiffer: host: all 20 files are on alpha's drive" || notok "readsdiffer: host: $n of 20 files match"
fi

if want shared; then
    blank "$WORK/shared-a.img"
    ln "$WORK/shared-a.img" "$WORK/shared-b.img"
    disk_kill shared shared "$WORK/shared-a.img" "$WORK/shared-b.img" 'guest: disk file 8 written'
fi
# Alpha dies (halts dead: [debug] fault_test = die_in_io) while the output
# rule holds guest disk requests (at the eighth it held): beta issues them
# itself at go-live.
if want inflight; then
    blank "$WORK/inflight-a.img"
    ln "$WORK/inflight-a.img" "$WORK/inflight-b.img"
    disk_kill inflight shared "$WORK/inflight-a.img" "$WORK/inflight-b.img" \
        "ftvisor: halted: fault_test = die_in_io: the primary stops dead with [0-9]+ guest disk requests? held" \
        "fault_test = die_in_io"
    on "$WORK/inflight.beta.serial"
    expect "inflight: beta issues the requests alpha left in flight" 'disk: go-live: [1-9][0-9]* disk requests? the log left in flight issued again'
fi
# The issue's test: the guest writes files and streams numbers over TCP to
# the peer on this machine through the bridged NIC at the same time; alpha
# dies mid-way; on beta the guest finishes both, and the peer received one
# intact byte stream over the one connection.
if want ftio; then
    blank "$WORK/ftio-a.img"
    ln "$WORK/ftio-a.img" "$WORK/ftio-b.img"
    rm -f "$WORK"/conn.*
    disk_kill ftio shared "$WORK/ftio-a.img" "$WORK/ftio-b.img" 'guest: disk file 8 written' '' \
        "nic_mac = 52:54:00:00:76:99" "ftio ftvisor.ip=$NET.10/24 ftvisor.peer=$NET.254 ftvisor.stream=60000"
    on "$WORK/ftio.beta.serial"
    expect "ftio: beta announces the guest's MAC" "net: go-live: announced the guest's MAC 52:54:00:00:76:99 from this host \(gratuitous ARP and RARP; the guest uses $NET\.10\)"
    expect "ftio: the stream completes on beta" 'guest: guest: stream of 60000 lines sent \(nc exit 0\)'
    on "$WORK/ftio.alpha.serial"
    expect_not "ftio: the stream had not finished on alpha" 'stream of 60000 lines sent'
    # On the wire: stream bytes before beta's announcement (alpha sent
    # them) and after it (beta did), on the one connection.
    read -r before after ports <<< "$(python3 - "$WORK/link.pcap" <<'PY'
import struct, sys
f = open(sys.argv[1], "rb").read()
off, seen_rarp, before, after, ports = 24, False, 0, 0, set()
while off + 16 <= len(f):
    ts, us, n, _ = struct.unpack("<IIII", f[off:off + 16]); d = f[off + 16:off + 16 + n]; off += 16 + n
    if d[12:14] == b"\x80\x35":
        seen_rarp = True
    if len(d) > 34 and d[12:14] == b"\x08\x00" and d[23] == 6:
        ihl = (d[14] & 15) * 4
        sp, dp = struct.unpack(">HH", d[14 + ihl:18 + ihl])
        if dp == 7700 and d[6:12] == bytes.fromhex("525400007699"):  # the guest's, not the pair's channel
            pl = struct.unpack(">H", d[16:18])[0] - ihl - (d[14 + ihl + 12] >> 4) * 4
            ports.add(sp)
            if seen_rarp: after += pl
            else: before += pl
print(before, after, len(ports))
PY
)"
    if [ "${before:-0}" -gt 0 ] && [ "${after:-0}" -gt 0 ] && [ "$ports" = 1 ]; then
        ok "ftio: the one connection carried the stream before the failover ($before bytes) and after it ($after bytes)"
    else
        notok "ftio: stream bytes before the failover ${before:-?}, after ${after:-?}, connections ${ports:-?}"
    fi
    stream_intact ftio
fi
if want migrate; then
    blank "$WORK/mg-a.img"
    ln "$WORK/mg-a.img" "$WORK/mg-b.img"
    rm -f "$WORK"/conn.*
    disk_image mg shared '' "nic_mac = 52:54:00:00:76:99" "ftio ftvisor.ip=$NET.10/24 ftvisor.peer=$NET.254 ftvisor.stream=60000"
    boot_pair mg "$WORK/mg-a.img" "$WORK/mg-b.img"
    if wait_for "$WORK/mg.alpha.serial" 'guest: guest: disk file 8 written' 400; then
        "$ROOT/tools/ftmigrate" --conf "$WORK/mg/ftvisor.conf" "$NET.1" > "$WORK/mg.ftmigrate" 2>&1
        echo "rc $?" >> "$WORK/mg.ftmigrate"
    else
        notok "migrate: alpha never showed file 8 written"
    fi
    wait_boots
    grep -q "^alpha: migrating the guest to beta" "$WORK/mg.ftmigrate" && grep -q "^rc 0$" "$WORK/mg.ftmigrate" \
        && ok "migrate: tools/ftmigrate: alpha accepts" || notok "migrate: tools/ftmigrate: $(cat "$WORK/mg.ftmigrate")"
    on "$WORK/mg.alpha.serial"
    expect "migrate: alpha hands the guest over once beta has the whole log" 'pair: migration 1: the guest stopped here [0-9]+ ms ago and beta has its whole log'
    expect "migrate: alpha takes beta's clone" 'pair: clone received from beta: [0-9]+ pages, 0 disk blocks and [0-9]+ bytes of machine state'
    expect "migrate: alpha's replay of beta's new log is identical to the end" 'pair: the guest ended on the primary and here identically'
    expect_not "migrate: no divergence" 'DIVERGED'
    on "$WORK/mg.beta.serial"
    expect "migrate: beta goes live by the handover" 'pair: migrated: the guest runs here [0-9]+ ms after alpha.s handover'
    expect_not "migrate: beta never asked the arbiter (nothing failed)" 'asking the arbiter'
    expect "migrate: beta announces the guest's MAC" "net: go-live: announced the guest's MAC 52:54:00:00:76:99 from this host"
    expect "migrate: beta clones the guest back to alpha" 'pair: clone 1 sent to alpha: [0-9]+ rounds'
    expect "migrate: beta protects it" 'pair: protected: the guest runs and its log streams to alpha'
    expect "migrate: every file checks out on beta" 'guest: guest: disk files 20 written, 20 verified'
    expect "migrate: the stream completes on beta" 'guest: guest: stream of 60000 lines sent \(nc exit 0\)'
    expect "migrate: beta ends with alpha holding the whole log" 'pair: the guest ended; alpha has the whole log and every output is released'
    expect_clean_poweroff mg.alpha mg.beta
    n=$(check_files "$WORK/mg-a.img" 20)
    [ "$n" = 20 ] && ok "migrate: host: all 20 files are on the shared drive" || notok "migrate: host: $n of 20 files match"
    stream_intact migrate
fi
# arbiter = disk: partition 2 of the shared drive is the test-and-set
# sector, the guest's disk partition 1. Alpha dies; beta claims the
# sector (Fischer's timing rule) and goes live.
le32() {
    printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($3 & 255)) $(($3 >> 8 & 255)) $(($3 >> 16 & 255)) $(($3 >> 24 & 255)))" |
        dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
if want arbiter; then
    A=$WORK/arb-a.img
    head -c $((12 << 20)) /dev/zero > "$A"
    printf '\x55\xaa' | dd of="$A" bs=1 seek=510 conv=notrunc status=none
    printf '\x83' | dd of="$A" bs=1 seek=$((446 + 4)) conv=notrunc status=none
    le32 "$A" $((446 + 8)) 2048
    le32 "$A" $((446 + 12)) 16384
    printf '\xda' | dd of="$A" bs=1 seek=$((462 + 4)) conv=notrunc status=none
    le32 "$A" $((462 + 8)) 20480
    le32 "$A" $((462 + 12)) 2048
    printf 'FTVISOR-PAIR-DSK' | dd of="$A" bs=512 seek=2048 conv=notrunc status=none
    ln "$A" "$WORK/arb-b.img"
    ARBITER=disk:BXHD00012:2 DISKDEV=BXHD00012:1 PART_START=2048 PART_COUNT=16384 \
        disk_kill arb shared "$A" "$WORK/arb-b.img" 'guest: disk file 8 written'
    on "$WORK/arb.beta.serial"
    expect "arbiter: beta describes the disk arbiter" 'arbiter disk BXHD00012 sector 20480'
    expect "arbiter: the disk grants beta the epoch" 'arbiter: the disk \(ata0-slave, sector 20480\) grants epoch [0-9a-f]+ to this host'
    od -A d -t x1 -j $((20480 * 512)) -N 8 "$A" | head -1 | grep -q '46 54 56 41 52 42 30 31' \
        && ok "arbiter: the claim is in the arbiter's sector" || notok "arbiter: sector 20480 holds no claim"
fi
if want privclone; then
    # 160 files (about 4 MiB on a 16 MiB drive): the guest still writes
    # when alpha is back.
    for d in a b; do
        head -c $((16 << 20)) /dev/zero > "$WORK/privclone-$d.img"
        printf 'FTVISOR-PAIR-DSK' | dd of="$WORK/privclone-$d.img" conv=notrunc status=none
    done
    head -c $((16 << 20)) /dev/urandom > "$WORK/privclone-a2.img"
    FILES=160 disk_image privclone private
    boot_pair privclone "$WORK/privclone-a.img" "$WORK/privclone-b.img"
    if wait_for "$WORK/privclone.alpha.serial" 'guest: guest: disk file 8 written' 400; then
        kill -KILL "$(bochs_pid "$WORK/privclone.alpha.serial")"
        sleep 1
        boot_bg bochs privclone "$WORK/privclone.alpha2.serial" --timeout 500 --sync slowdown \
            --nic 52:54:00:00:76:01:$P --disk "$WORK/privclone-a2.img" --log "$WORK/privclone.alpha2.bochs.log"
    else
        notok "privclone: alpha never showed file 8 written"
    fi
    wait_boots
    on "$WORK/privclone.beta.serial"
    expect "privclone: beta finds its own drive" "disk: the guest's disk: all of ata0-slave \(serial BXHD00012\)"
    expect "privclone: beta notices alpha's death" 'pair: primary alpha lost'
    expect "privclone: beta goes live" 'pair: LIVE: this host runs the guest now'
    expect "privclone: beta clones the guest to alpha with its drive" \
        'pair: clone 1 sent to alpha: [0-9]+ rounds, [0-9]+ pages \([0-9]+ zero\) and [0-9]+ disk blocks'
    blocks=$(value 'pair: clone 1 sent to alpha: .* and ([0-9]+) disk blocks')
    [ "${blocks:-0}" -ge 4096 ] && ok "privclone: every block of the 16 MiB drive went ($blocks blocks)" \
        || notok "privclone: $blocks disk blocks sent (the drive has 4096)"
    expect "privclone: beta protects the guest again" 'pair: protected: the guest runs and its log streams to alpha'
    expect "privclone: the guest finishes on beta, every file checks out" 'guest: guest: disk files 160 written, 160 verified'
    expect_not "privclone: no guest error" 'guest: guest: error:'
    expect_not "privclone: no disk error on beta" 'ata: |virtio-blk driver:'
    on "$WORK/privclone.alpha2.serial"
    expect "privclone: alpha takes memory and the drive's blocks" \
        'pair: clone received from beta: [0-9]+ pages, [0-9]+ disk blocks and [0-9]+ bytes of machine state'
    expect "privclone: alpha's replay is identical to the end" 'pair: the guest ended on the primary and here identically'
    expect_not "privclone: no divergence, no failed write" 'DIVERGED|initial state here differs|for the clone failed'
    expect_clean_poweroff privclone.beta privclone.alpha2
    cmp -s "$WORK/privclone-a2.img" "$WORK/privclone-b.img" \
        && ok "privclone: host: alpha's new drive and beta's are byte for byte equal" \
        || notok "privclone: host: the drives differ: $(cmp "$WORK/privclone-a2.img" "$WORK/privclone-b.img" 2>&1 | head -1)"
    n=$(check_files "$WORK/privclone-a2.img" 160)
    [ "$n" = 160 ] && ok "privclone: host: all 160 files are on alpha's new drive" || notok "privclone: host: $n of 160 files on alpha's new drive match"
fi
if want migdirty; then
    blank "$WORK/md-a.img"
    ln "$WORK/md-a.img" "$WORK/md-b.img"
    rm -f "$WORK"/conn.*
    MDLINES=1200
    disk_image md shared '' "nic_mac = 52:54:00:00:76:99" \
        "mig ftvisor.ip=$NET.10/24 ftvisor.peer=$NET.254 ftvisor.stream=60000 ftvisor.lines=$MDLINES ftvisor.dirty=256 ftvisor.dirtymb=8"
    boot_pair md "$WORK/md-a.img" "$WORK/md-b.img"
    : > "$WORK/md.ftmigrate"
    if wait_for "$WORK/md.alpha.serial" 'guest: guest: seq 100 ' 400; then
        "$ROOT/tools/ftmigrate" --conf "$WORK/md/ftvisor.conf" "$NET.1" >> "$WORK/md.ftmigrate" 2>&1
        echo "rc1 $?" >> "$WORK/md.ftmigrate"
        if wait_for "$WORK/md.beta.serial" 'pair: clone 1 sent to alpha' 200 &&
           wait_for "$WORK/md.beta.serial" 'pair: protected: the guest runs and its log streams to alpha' 30; then
            sleep 5
            "$ROOT/tools/ftmigrate" --conf "$WORK/md/ftvisor.conf" "$NET.2" >> "$WORK/md.ftmigrate" 2>&1
            echo "rc2 $?" >> "$WORK/md.ftmigrate"
        else
            notok "migdirty: beta never cloned the guest back"
        fi
    else
        notok "migdirty: alpha never showed seq 100"
    fi
    wait_boots
    grep -q "^rc1 0$" "$WORK/md.ftmigrate" && grep -q "^rc2 0$" "$WORK/md.ftmigrate" \
        && ok "migdirty: tools/ftmigrate: alpha, then beta, accept" || notok "migdirty: tools/ftmigrate: $(cat "$WORK/md.ftmigrate")"
    on "$WORK/md.alpha.serial"
    expect "migdirty: alpha hands the guest over" 'pair: migration 1: the guest stopped here [0-9]+ ms ago and beta has its whole log'
    expect "migdirty: alpha takes it back" 'pair: migrated: the guest runs here [0-9]+ ms after beta.s handover'
    expect "migdirty: alpha clones it to beta, with the pages written meanwhile" \
        'pair: clone 1 sent to beta: [0-9]+ rounds, [0-9]+ pages \([0-9]+ zero\) and 0 disk blocks'
    expect "migdirty: the guest ends on alpha, protected" 'pair: the guest ended; beta has the whole log and every output is released'
    expect "migdirty: the lines end on alpha" 'guest: guest: seq done'
    expect "migdirty: the stream completes" 'guest: guest: stream of 60000 lines sent \(nc exit 0\)'
    k=$(value 'guest: guest: dirtier: ([0-9]+) KiB written over 8 MiB')
    [ "${k:-0}" -ge 8192 ] && ok "migdirty: the guest wrote its memory all along ($k KiB)" || notok "migdirty: the dirtier wrote ${k:-no} KiB"
    expect_not "migdirty: no divergence on alpha" 'DIVERGED|initial state here differs'
    on "$WORK/md.beta.serial"
    expect "migdirty: beta goes live by the handover" 'pair: migrated: the guest runs here [0-9]+ ms after alpha.s handover'
    expect "migdirty: beta clones it back, with the pages written meanwhile" \
        'pair: clone 1 sent to alpha: [0-9]+ rounds, [0-9]+ pages \([0-9]+ zero\) and 0 disk blocks'
    expect "migdirty: beta hands it over again" 'pair: migration 1: the guest stopped here [0-9]+ ms ago and alpha has its whole log'
    expect "migdirty: beta's replay of alpha's last log is identical to the end" 'pair: the guest ended on the primary and here identically'
    expect_not "migdirty: no divergence on beta" 'DIVERGED|initial state here differs'
    expect_not "migdirty: nothing failed (no arbiter asked)" 'asking the arbiter'
    expect_clean_poweroff md.alpha md.beta
    seq_merge "$MDLINES" 'guest: guest: seq (\d+) tsc \d+$' "$WORK/md.alpha.serial" "$WORK/md.beta.serial" > "$WORK/md.merged"
    read -r count dups ngaps gaps same < "$WORK/md.merged"
    [ "$count" = "$MDLINES" ] && [ "$ngaps" = 0 ] && [ "${dups:-9}" -le 4 ] \
        && ok "migdirty: the consoles show seq 1..$MDLINES whole across both migrations ($dups duplicated at handovers)" \
        || notok "migdirty: $count distinct lines, $ngaps gaps (first: $gaps), $dups duplicated"
    stream_intact migdirty
fi
