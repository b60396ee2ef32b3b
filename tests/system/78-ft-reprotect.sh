#!/bin/bash
# Re-protection after a failover (issue 8): two Bochs hosts on
# tools/ftlink with tools/ftwitness, as in 74-ft-pair.sh, running
# tests/guests/seqlong.c (12000 numbered lines "seq N tsc T").
#  1. alpha (primary) is SIGKILLed at seq 150: beta goes live.
#  2. alpha's host boots again from the same image: beta, running the guest
#     alone, clones it to alpha (pre-copy rounds of memory while the guest
#     runs, then the machine state) and protects it again: alpha replays
#     beta's new log from the clone.
#  3. beta is SIGKILLed once it has shown 400 more lines protected: alpha
#     goes live and the guest finishes there.
# The observer's merged console (alpha's lines, beta's after it went live,
# alpha's after it went live again) has every line once (or a duplicated
# tail at a failover) and the guest's clock only grows.
#  4. Divergence repair: a pair running tests/guests/seq.c whose backup
#     flips a byte of its guest's RAM ([debug] fault_test = backup_diverge):
#     its next state digest differs, it reports the divergence and asks for
#     a repair; the primary runs alone meanwhile, clones the guest to it and
#     protects it again; the guest then ends identically on both hosts.
# run: alone
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/guests/guest-test.sh" # expect_count
P=$(( 29000 + ($$ % 250) * 4 ))
WP=$(( 30000 + ($$ % 1000) ))
TAP=ftrp$$
NET=10.78.$(( $$ % 200 + 20 ))
KEY=ft-reprotect-key-0123456789
LINES=12000
ftlink_start --bochs $P --bochs $((P + 2)) --tap "$TAP:$NET.254/24"
"$ROOT/build/tools/ftwitness" --state "$WORK/witness.state" --key "$KEY" --listen "$NET.254:$WP" \
    > "$WORK/witness.out" 2>&1 &
WITNESS=$!
cleanup() {
    local p
    for p in $(pgrep -x bochs); do grep -qs "$WORK/" /proc/$p/cwd/bochsrc && kill -KILL "$p"; done
    kill "$WITNESS" 2>/dev/null
    ftlink_stop
}
trap cleanup EXIT
wait_for "$WORK/witness.out" 'ftwitness: ready' 10 || { notok "ftwitness did not start: $(cat "$WORK/witness.out")"; exit 1; }

image rp "$ROOT/build/guests/seqlong.bin" <<CONF
[host alpha]
mac = 52:54:00:00:78:01
ip = $NET.1
netmask = 255.255.255.0

[host beta]
mac = 52:54:00:00:78:02
ip = $NET.2
netmask = 255.255.255.0

[pair]
key = $KEY
heartbeat_ms = 100
failover_timeout_ms = 2000
max_lag_ms = 500
arbiter = witness:$NET.254:$WP

[guest]
kernel = seqlong.bin
memory_mb = 32

[debug]
uptime_ms = 400000
CONF

host() { # host TAG PORT MAC-SUFFIX
    boot_bg bochs rp "$WORK/$1.serial" --timeout 500 --sync slowdown --nic "52:54:00:00:78:$3:$2" \
        --log "$WORK/$1.bochs.log"
}
last_seq() { grep -aoE 'guest: seq [0-9]+ tsc' "$1" | tail -1 | grep -oE '[0-9]+'; }

host alpha $P 01
host beta $((P + 2)) 02
if ! wait_for "$WORK/alpha.serial" 'guest: seq 150 ' 300; then
    notok "alpha never showed seq 150"
    wait_boots
    exit 0
fi
kill -KILL "$(bochs_pid "$WORK/alpha.serial")"
# The same host boots again (its emulator on the same link port).
sleep 1
host alpha2 $P 01
if wait_for "$WORK/beta.serial" 'pair: clone 1 sent to alpha' 400 &&
   wait_for "$WORK/beta.serial" 'pair: protected: the guest runs and its log streams to alpha' 60; then
    at=$(last_seq "$WORK/beta.serial")
    until [ "$(last_seq "$WORK/beta.serial")" -ge $(( ${at:-0} + 400 )) ] 2>/dev/null; do
        sleep 0.5
        grep -aq 'guest: seq done' "$WORK/beta.serial" && break
    done
    kill -KILL "$(bochs_pid "$WORK/beta.serial")"
else
    notok "beta never cloned the guest to alpha and protected it again"
fi
wait_boots

on "$WORK/beta.serial"
expect "beta: goes live after alpha is killed" 'pair: LIVE: this host runs the guest now, from virtual time'
expect "beta: sees alpha boot again and offers a clone" 'pair: alpha booted \(boot [0-9a-f]{16}\) while this host runs the guest alone: offering it a clone of the running guest'
expect "beta: copies memory in rounds while the guest runs" 'migrate: round 1: [0-9]+ pages and disk blocks \([0-9]+ KiB\) in [0-9]+ ms; [0-9]+ dirtied meanwhile'
expect "beta: stops the guest for the last copy" 'pair: cloning: the guest stops for the last copy'
expect "beta: the clone's figures" 'pair: clone 1 sent to alpha: [0-9]+ rounds, [0-9]+ pages \([0-9]+ zero\) and 0 disk blocks in [0-9]+ KiB \([0-9]+\.[0-9]+ bytes per guest byte\), machine state [0-9]+ bytes; the guest was stopped [0-9]+ ms'
expect "beta: protects the guest again, alpha its backup" 'pair: protected: the guest runs and its log streams to alpha \(epoch [0-9a-f]{16}'
on "$WORK/alpha2.serial"
expect "alpha (again): takes the clone offer as beta's backup" 'pair: beta runs the guest alone and offers a clone: this host becomes its backup'
expect "alpha (again): loads the clone" 'pair: clone received from beta: 8[0-9]{3} pages, 0 disk blocks and [0-9]+ bytes of machine state, loaded and digested in [0-9]+ ms; waiting for the log'
expect "alpha (again): replays beta's log from the clone" 'pair: replaying beta.s log as it arrives'
expect_not "alpha (again): its initial state matched the log's" 'initial state here differs|diverged|stops following'
expect "alpha (again): goes live when beta is killed" 'pair: LIVE: this host runs the guest now, from virtual time'
expect "alpha (again): the guest finishes there" 'guest: seq done'
expect_clean_poweroff alpha2

python3 - "$WORK/alpha.serial" "$WORK/beta.serial" "$WORK/alpha2.serial" "$LINES" > "$WORK/merged" <<'PY'
import re, sys
def lines(path, after=None):
    out, on = [], after is None
    for l in open(path, errors="replace"):
        if not l.endswith("\n"):
            break  # a line cut off by the kill
        if after and after in l:
            on = True
        m = re.search(r"guest: seq (\d+) tsc (\d+) ticks \d+ mix [0-9a-f]+$", l.rstrip("\r\n"))  # whole lines only
        if on and m:
            out.append((int(m.group(1)), int(m.group(2))))
    return out
parts = [lines(sys.argv[1]), lines(sys.argv[2], "is now LIVE"), lines(sys.argv[3], "is now LIVE")]
seen, dups, differ = {}, 0, 0
for part in parts:
    for n, t in part:
        if n in seen:
            dups += 1
            differ += seen[n] != t
        else:
            seen[n] = t
ns = sorted(seen)
gaps = [n for n in range(1, int(sys.argv[4]) + 1) if n not in seen]
ok = all(seen[ns[i]] < seen[ns[i + 1]] for i in range(len(ns) - 1))
print(len(ns), dups, len(gaps), ",".join(map(str, gaps[:5])) or "-", int(ok and not differ), *[len(p) for p in parts])
PY
read -r count dups ngaps gaps tsc_ok na nb nc < "$WORK/merged"
if [ "$count" = "$LINES" ] && [ "$ngaps" = 0 ]; then
    ok "merged console: seq 1..$LINES without a gap across two failovers and a clone ($na from alpha, $nb from beta, $nc from alpha again; $dups duplicated)"
else
    notok "merged console: $count distinct lines, $ngaps gaps (first: $gaps) ($na alpha, $nb beta, $nc alpha again)"
fi
[ "$tsc_ok" = 1 ] && ok "the guest's clock only grows across both failovers, duplicated lines equal" \
    || notok "the guest's clock went back or a duplicated line differs"
[ "${nb:-0}" -gt 400 ] 2>/dev/null && [ "${nc:-0}" -gt 0 ] 2>/dev/null && ok "each host showed part of the run" \
    || notok "beta showed $nb lines, alpha again $nc"

# ---- 4. divergence repair ------------------------------------------------
sed -e 's/^kernel = seqlong.bin/kernel = seq.bin/' -e 's/^uptime_ms = 400000/uptime_ms = 240000\nfault_test = backup_diverge/' \
    "$WORK/rp/ftvisor.conf" > "$WORK/repair.conf"
mkdir -p "$WORK/repair" && cp "$WORK/repair.conf" "$WORK/repair/ftvisor.conf" && cp "$ROOT/build/guests/seq.bin" "$WORK/repair/"
"$ROOT/tools/mkimage" --build "${FTVISOR_BUILD:-$ROOT/build}" --conf "$WORK/repair/ftvisor.conf" --out "$WORK/repair.img" > "$WORK/repair.mkimage" 2>&1 \
    || notok "building the repair image: $(tail -2 "$WORK/repair.mkimage")"
boot_bg bochs repair "$WORK/ra.serial" --timeout 300 --sync slowdown --nic "52:54:00:00:78:01:$P" --log "$WORK/ra.bochs.log"
boot_bg bochs repair "$WORK/rb.serial" --timeout 300 --sync slowdown --nic "52:54:00:00:78:02:$((P + 2))" --log "$WORK/rb.bochs.log"
wait_boots
on "$WORK/rb.serial"
expect "repair: the backup's guest is changed on purpose" 'debug: fault_test = backup_diverge: flipped the guest.s byte at 0x1ffffff on the backup'
expect "repair: the backup's state digest no longer matches" 'ERROR: replay: DIVERGED: '
expect "repair: the backup asks for a repair" 'pair: asking alpha to repair this backup with a clone of its guest \(repair 1\)'
expect "repair: the backup takes the clone" 'pair: clone received from alpha: 8[0-9]{3} pages, 0 disk blocks and [0-9]+ bytes of machine state'
expect "repair: then replays the new log to the end identically" 'pair: the guest ended on the primary and here identically'
expect_count "repair: one divergence only" 1 'ERROR: replay: DIVERGED: '
on "$WORK/ra.serial"
expect "repair: the primary runs alone meanwhile" "running UNPROTECTED: the backup's replay diverged: it will be repaired with a clone"
expect "repair: the primary clones its guest to the backup" "pair: repairing beta's diverged replay: offering it a clone of the running guest"
expect "repair: protection resumes" 'pair: clone 1 sent to beta: .*pair: protected|pair: protected: the guest runs and its log streams to beta \(epoch [0-9a-f]{16}, emulator'
expect_count "repair: protected twice (at the start and after the repair)" 2 'pair: protected: the guest runs and its log streams to beta'
expect "repair: the guest ends with the backup holding the whole log" 'pair: the guest ended; beta has the whole log and every output is released'
n=$(grep -ac 'guest: seq [0-9]* tsc' "$SERIAL")
[ "$n" = 1000 ] && ok "repair: alpha showed all 1000 lines once" || notok "repair: alpha showed $n seq lines, want 1000"
expect_clean_poweroff ra rb

# ---- 5. a disk held in host memory goes with the clone -------------------
# Linux writes 160 files to an ext2 file system on its virtio disk (an
# image each host holds in memory: not shared). alpha is killed at file
# 8, boots again and takes a clone (memory and the disk blocks written so
# far); beta is killed 16 files later: alpha finishes, remounts and checks
# every file against its checksum.
G=$ROOT/build/guest
mkdir -p "$WORK/dk-src"
head -c $((64 << 20)) /dev/zero > "$WORK/dk-src/disk.img"
printf 'FTVISOR-DISK-T78' | dd of="$WORK/dk-src/disk.img" conv=notrunc status=none
sed -e '/^\[guest\]/,$d' "$WORK/rp/ftvisor.conf" > "$WORK/dk.conf"
cat >> "$WORK/dk.conf" <<CONF
[guest]
kernel = bzImage
initrd = initrd.gz
disk = disk.img
cmdline = console=ttyS0 quiet ftvisor.test=disk ftvisor.files=160
memory_mb = 64

[debug]
uptime_ms = 600000
CONF
image dk "$G/bzImage" "$G/initrd.gz" "$WORK/dk-src/disk.img" < "$WORK/dk.conf"
boot_bg bochs dk "$WORK/da.serial" --timeout 700 --sync slowdown --nic "52:54:00:00:78:01:$P" --log "$WORK/da.bochs.log"
boot_bg bochs dk "$WORK/db.serial" --timeout 700 --sync slowdown --nic "52:54:00:00:78:02:$((P + 2))" --log "$WORK/db.bochs.log"
if wait_for "$WORK/da.serial" 'guest: guest: disk file 8 written' 400; then
    kill -KILL "$(bochs_pid "$WORK/da.serial")"
    sleep 1
    boot_bg bochs dk "$WORK/da2.serial" --timeout 700 --sync slowdown --nic "52:54:00:00:78:01:$P" --log "$WORK/da2.bochs.log"
    if wait_for "$WORK/db.serial" 'pair: protected: the guest runs and its log streams to alpha' 500; then
        at=$(grep -aoE 'guest: guest: disk file [0-9]+ written' "$WORK/db.serial" | tail -1 | grep -oE '[0-9]+')
        wait_for "$WORK/db.serial" "guest: guest: disk file $(( ${at:-0} + 16 )) written|disk files 160 written" 300
        kill -KILL "$(bochs_pid "$WORK/db.serial")"
    else
        notok "disk: beta never protected the guest again"
    fi
else
    notok "disk: alpha never showed file 8 written"
fi
wait_boots
on "$WORK/db.serial"
expect "disk: beta goes live" 'pair: LIVE: this host runs the guest now'
expect "disk: the clone carries the disk blocks written" 'pair: clone 1 sent to alpha: [0-9]+ rounds, [0-9]+ pages \([0-9]+ zero\) and [1-9][0-9]* disk blocks in [0-9]+ KiB'
on "$WORK/da2.serial"
expect "disk: alpha takes memory and disk blocks" 'pair: clone received from beta: [0-9]+ pages, [1-9][0-9]* disk blocks and [0-9]+ bytes of machine state'
expect_not "disk: alpha's replay from the clone never diverged" 'DIVERGED|initial state here differs'
expect "disk: alpha goes live when beta is killed" 'pair: LIVE: this host runs the guest now'
expect "disk: every file checks out on alpha after a remount" 'guest: guest: disk files 160 written, 160 verified'
expect_not "disk: no guest error" 'guest: guest: error:'
expect_clean_poweroff da2

# ---- 6. operator-triggered migration (tools/ftmigrate) ----------------------
# POST /migrate on the protected primary hands the guest over: the backup
# goes live at the log's end and clones it back, roles swapped. Four
# migrations back and forth; the consoles together show every line once
# (or a duplicated line at a handover). Bad and reused tokens are refused,
# and so is a migration asked of the backup.
image mg "$ROOT/build/guests/seqlong.bin" < "$WORK/rp/ftvisor.conf"
boot_bg bochs mg "$WORK/ma.serial" --timeout 500 --sync slowdown --nic "52:54:00:00:78:01:$P" --log "$WORK/ma.bochs.log"
boot_bg bochs mg "$WORK/mb.serial" --timeout 500 --sync slowdown --nic "52:54:00:00:78:02:$((P + 2))" --log "$WORK/mb.bochs.log"
migrate() { "$ROOT/tools/ftmigrate" --conf "$WORK/rp/ftvisor.conf" "$@" >> "$WORK/ftmigrate.out" 2>&1; }
if wait_for "$WORK/ma.serial" 'guest: seq 300 ' 300; then
    curl -s -m 10 -X POST "http://$NET.1/migrate?token=$(printf '%064d' 0)" > "$WORK/badtoken.out"
    migrate "$NET.2"; echo "backup rc $?" >> "$WORK/ftmigrate.out"
    from=$NET.1 to=$NET.2 fs=$WORK/ma.serial ts=$WORK/mb.serial
    for i in 1 2 3 4; do
        migrate "$from"; echo "migrate $i rc $?" >> "$WORK/ftmigrate.out"
        if ! wait_for "$ts" "pair: clone $(( (i + 1) / 2 )) sent to" 120 ||
           ! wait_for "$fs" "pair: replaying .* log as it arrives \(epoch" 60; then
            notok "migrate $i: no clone back"
            break
        fi
        sleep 3
        t=$from; from=$to; to=$t; t=$fs; fs=$ts; ts=$t
    done
fi
wait_boots
grep -q '^backup rc 1$' "$WORK/ftmigrate.out" && grep -q 'only a protected primary hands its guest over' "$WORK/ftmigrate.out" \
    && ok "migrate: asked of the backup, refused with a reason" || notok "migrate: the backup's answer: $(cat "$WORK/ftmigrate.out")"
grep -q 'bad or stale token' "$WORK/badtoken.out" && ok "migrate: a bad token is refused" || notok "migrate: bad token: $(cat "$WORK/badtoken.out")"
for i in 1 2 3 4; do
    grep -q "^migrate $i rc 0$" "$WORK/ftmigrate.out" && ok "migrate $i: accepted" || notok "migrate $i: $(cat "$WORK/ftmigrate.out")"
done
on "$WORK/ma.serial"
expect_count "migrate: alpha handed the guest over twice" 2 'pair: migration [0-9]+: the guest stopped here [0-9]+ ms ago and beta has its whole log'
expect_count "migrate: alpha took it back twice" 2 'pair: migrated: the guest runs here [0-9]+ ms after beta.s handover'
expect "migrate: a refused token is logged" 'status: POST /migrate refused: bad or stale token'
on "$WORK/mb.serial"
expect_count "migrate: beta took the guest twice" 2 'pair: migrated: the guest runs here [0-9]+ ms after alpha.s handover'
expect_count "migrate: and protected it again twice" 2 'pair: protecting the migrated guest again: offering alpha, which handed it over'
expect_count "migrate: beta handed it back twice" 2 'pair: migration [0-9]+: the guest stopped here [0-9]+ ms ago and alpha has its whole log'
expect_not "migrate: no divergence" 'DIVERGED|initial state here differs'
seq_merge "$LINES" 'guest: seq (\d+) tsc (\d+) ticks \d+ mix [0-9a-f]+$' "$WORK/ma.serial" "$WORK/mb.serial" > "$WORK/mg.merged"
read -r count dups ngaps gaps same < "$WORK/mg.merged"
[ "$count" = "$LINES" ] && [ "$ngaps" = 0 ] && [ "$same" = 1 ] && [ "${dups:-99}" -le 4 ] \
    && ok "migrate: the two consoles show seq 1..$LINES once each, whole, across 4 migrations ($dups duplicated at handovers)" \
    || notok "migrate: $count distinct lines, $ngaps gaps (first: $gaps), $dups duplicated, equal $same"
expect_clean_poweroff ma mb

# ---- 7. auto-converge ---------------------------------------------------------
# tests/guests/dirtyfast.c writes 64 MB/s of guest time over a 16 MiB
# buffer, more than the emulated link carries. After an operator's
# migration the new primary (beta) clones the guest back while it runs:
# the rounds cannot shrink, so auto-converge throttles the vCPU (20%,
# then 10% more per round, as QEMU does) until the rest fits the
# downtime target or the round cap ends them. The guest is protected
# again and its console shows every line whole, once.
sed -e 's/^kernel = seqlong.bin/kernel = dirtyfast.bin/' -e 's/^memory_mb = 32/memory_mb = 64/' \
    "$WORK/rp/ftvisor.conf" > "$WORK/ac.conf"
image ac "$ROOT/build/guests/dirtyfast.bin" < "$WORK/ac.conf"
boot_bg bochs ac "$WORK/aa.serial" --timeout 500 --sync slowdown --nic "52:54:00:00:78:01:$P" --log "$WORK/aa.bochs.log"
boot_bg bochs ac "$WORK/ab.serial" --timeout 500 --sync slowdown --nic "52:54:00:00:78:02:$((P + 2))" --log "$WORK/ab.bochs.log"
if wait_for "$WORK/aa.serial" 'guest: seq 20 ' 300; then
    migrate "$NET.1"; echo "converge rc $?" >> "$WORK/ftmigrate.out"
    wait_for "$WORK/ab.serial" 'pair: clone 1 sent to alpha' 300 || notok "converge: beta never cloned the guest back"
else
    notok "converge: alpha never showed seq 20"
fi
wait_boots
grep -q '^converge rc 0$' "$WORK/ftmigrate.out" && ok "converge: the migration is accepted" \
    || notok "converge: ftmigrate: $(tail -3 "$WORK/ftmigrate.out")"
on "$WORK/ab.serial"
expect "converge: beta runs the migrated guest" 'pair: migrated: the guest runs here [0-9]+ ms after alpha.s handover'
expect "converge: and protects it again" 'pair: protecting the migrated guest again: offering alpha, which handed it over, a clone'
expect "converge: the dirty rate outruns the link" 'migrate: round [0-9]+: .* dirtied at [0-9]+ kB/s against [0-9]+ kB/s sent: .*over the 100 ms target'
expect "converge: the vCPU is throttled 20% first" 'migrate: round [0-9]+: .*; vCPU throttle 20%'
expect "converge: then 10% more a round" 'migrate: round [0-9]+: .*; vCPU throttle 30%'
expect "converge: the rounds end (target met, or the cap)" 'migrate: round [0-9]+: .*: round [0-9]+( is the cap)?: [0-9]+ KiB left, about [0-9]+ ms at [0-9]+ kB/s'
expect "converge: the clone completes" 'pair: clone 1 sent to alpha: [0-9]+ rounds'
expect "converge: the guest ends protected" 'pair: the guest ended; alpha has the whole log and every output is released'
on "$WORK/aa.serial"
expect "converge: alpha replays to the end identically" 'pair: the guest ended on the primary and here identically'
expect_not "converge: no divergence" 'DIVERGED|initial state here differs'
seq_merge 600 'guest: seq (\d+) tsc \d+ ticks \d+ mix [0-9a-f]+$' "$WORK/aa.serial" "$WORK/ab.serial" > "$WORK/ac.merged"
read -r count dups ngaps gaps same < "$WORK/ac.merged"
[ "$count" = 600 ] && [ "$ngaps" = 0 ] && [ "${dups:-9}" -le 2 ] \
    && ok "converge: the consoles show seq 1..600 whole ($dups duplicated at the handover)" \
    || notok "converge: $count distinct lines, $ngaps gaps, $dups duplicated"
expect_clean_poweroff aa ab
