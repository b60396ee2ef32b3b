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
#  - private: each host has its own copy (disk_mode = private): the
#    backup carries out the guest's writes on its copy as it replays.
#  - inflight: as shared, but alpha halts dead ([debug] fault_test =
#    die_in_io) while the output rule holds guest disk writes: beta issues
#    them itself at go-live.
#  - ok: no failure; the replay is identical to the end.
# FT_SCENARIOS="ok shared inflight private" runs some.
# run: alone
. "$(dirname "$0")/lib.sh"
command -v debugfs > /dev/null || { notok "debugfs (e2fsprogs) is missing"; exit 0; }
P=$(( 41000 + ($$ % 500) * 4 ))
NET=10.76.$(( $$ % 200 + 20 ))
KEY=ft-pair-disk-test-key-0123456789
ftlink_start --bochs $P --bochs $((P + 2))
cleanup() {
    local p
    for p in $(pgrep -x bochs); do grep -qs "$WORK/" /proc/$p/cwd/bochsrc && kill -KILL "$p"; done
    ftlink_stop
}
trap cleanup EXIT
want() { [ -z "${FT_SCENARIOS:-}" ] || [[ " $FT_SCENARIOS " == *" $1 "* ]]; }

# disk_image NAME MODE [DEBUG-LINE]: both hosts' config.
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
arbiter = none

[guest]
kernel = bzImage
initrd = initrd.gz
cmdline = console=ttyS0 quiet ftvisor.test=disk ftvisor.files=20
memory_mb = 64
disk_device = BXHD00012
disk_mode = $2

[debug]
uptime_ms = 400000
${3:-}
CONF
}

bochs_pid() { local p; for p in $(pgrep -x bochs); do grep -qs "dev=$1\$" /proc/$p/cwd/bochsrc && echo "$p"; done; }

# check_files IMAGE N: how many /fI (I = 1..N) on the ext2 image hold what
# the guest's disk workload writes.
check_files() {
    local img=$1 n=$2 i good=0
    for i in $(seq 1 "$n"); do
        cmp -s <(debugfs -R "cat /f$i" "$img" 2>/dev/null) <(seq $((i * 1000)) $((i * 1000 + i * 50))) && good=$((good + 1))
    done
    echo "$good"
}

# disk_kill TAG MODE ALPHA-DISK BETA-DISK AT [DEBUG-LINE]: start the pair,
# kill alpha when its console shows AT, check beta finishes and the drive
# it wrote.
disk_kill() {
    local t=$1 mode=$2 da=$3 db=$4 at=$5
    disk_image "$t" "$mode" "${6:-}"
    boot_bg bochs "$t" "$WORK/$t.alpha.serial" --timeout 500 --sync slowdown --nic 52:54:00:00:76:01:$P \
        --disk "$da" --log "$WORK/$t.alpha.bochs.log"
    boot_bg bochs "$t" "$WORK/$t.beta.serial" --timeout 500 --sync slowdown --nic 52:54:00:00:76:02:$((P + 2)) \
        --disk "$db" --log "$WORK/$t.beta.bochs.log"
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
    expect "$t: beta finds the drive" "disk: the guest's disk: all of ata0-slave \(serial BXHD00012\)"
    expect "$t (killed at /$at/): beta notices" 'pair: primary alpha lost'
    expect "$t: beta goes live" 'pair: LIVE: this host runs the guest now, from virtual time'
    expect "$t: the guest finishes on beta, every file checks out" 'guest: guest: disk files 20 written, 20 verified'
    expect_not "$t: no guest error" 'guest: guest: error:'
    expect_not "$t: no divergence" 'DIVERGED'
    expect_not "$t: no disk error" 'ata: |virtio-blk driver:'
    expect_clean_poweroff "$t.beta"
    local n
    n=$(check_files "$db" 20)
    if [ "$n" = 20 ]; then ok "$t: host: all 20 files are on beta's drive, byte for byte"; else notok "$t: host: $n of 20 files on beta's drive match"; fi
}

# ok: no failure. The backup replays to the end identically, with every
# disk completion from the log; the primary's writes waited for the
# backup's acknowledgements (the output rule on a shared disk).
if want ok; then
    head -c $((8 << 20)) /dev/zero > "$WORK/ok-a.img"
    ln "$WORK/ok-a.img" "$WORK/ok-b.img"
    disk_image ok shared
    boot_bg bochs ok "$WORK/ok.alpha.serial" --timeout 500 --sync slowdown --nic 52:54:00:00:76:01:$P \
        --disk "$WORK/ok-a.img" --log "$WORK/ok.alpha.bochs.log"
    boot_bg bochs ok "$WORK/ok.beta.serial" --timeout 500 --sync slowdown --nic 52:54:00:00:76:02:$((P + 2)) \
        --disk "$WORK/ok-b.img" --log "$WORK/ok.beta.bochs.log"
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
if want private; then
    blank "$WORK/private-a.img"
    blank "$WORK/private-b.img"
    disk_kill private private "$WORK/private-a.img" "$WORK/private-b.img" 'guest: disk file 12 written'
fi
