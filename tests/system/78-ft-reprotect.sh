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
# run: alone
. "$(dirname "$0")/lib.sh"
P=$(( 41000 + ($$ % 500) * 4 ))
WP=$(( 47000 + ($$ % 1000) ))
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

bochs_pid() { local p; for p in $(pgrep -x bochs); do grep -qs "dev=$1\$" /proc/$p/cwd/bochsrc && echo "$p"; done; }
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
expect "beta: copies memory in rounds while the guest runs" 'migrate: round 1: [0-9]+ pages \([0-9]+ KiB\) in [0-9]+ ms; [0-9]+ pages dirtied meanwhile'
expect "beta: stops the guest for the last copy" 'pair: cloning: the guest stops for the last copy'
expect "beta: the clone's figures" 'pair: clone 1 sent to alpha: [0-9]+ rounds, [0-9]+ pages \([0-9]+ zero\) in [0-9]+ KiB \([0-9]+\.[0-9]+ bytes per guest byte\), machine state [0-9]+ bytes; the guest was stopped [0-9]+ ms'
expect "beta: protects the guest again, alpha its backup" 'pair: protected: the guest runs and its log streams to alpha \(epoch [0-9a-f]{16}'
on "$WORK/alpha2.serial"
expect "alpha (again): takes the clone offer as beta's backup" 'pair: beta runs the guest alone and offers a clone: this host becomes its backup'
expect "alpha (again): loads the clone" 'pair: clone received from beta: 8[0-9]{3} pages and [0-9]+ bytes of machine state, loaded and digested in [0-9]+ ms; waiting for the log'
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
        m = re.search(r"guest: seq (\d+) tsc (\d+)", l)
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
