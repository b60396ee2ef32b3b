#!/bin/bash
# The fault-tolerant pair in two Bochs hosts (clock sync=slowdown) on
# tools/ftlink, with tools/ftwitness on this machine through ftlink's TAP
# port. The observer is this script: it reads both hosts' consoles.
#
#  - ok: a protected run of tests/guests/seq.c ("seq 1" .. "seq 1000",
#    each line after a spin on RDTSC under a 1 kHz PIT and a HLT): the
#    backup replays it identically and shows nothing, the primary shows
#    every line. Meanwhile a third host on the network connects to the
#    channel port, sends a forged and replayed heartbeats, and ftlink
#    forges a channel frame: all rejected and logged.
#  - linux: the primary's Bochs is SIGKILLed at 10 points of a Linux guest
#    printing a numbered sequence (tests/guests/linux/init, seq: a CPU-bound
#    loop, a 1 ms sleep full of TSC reads): the backup goes live and the
#    merged console (the primary's lines, then the backup's after it went
#    live) has every line once, or a duplicated tail, with the guest's
#    clock increasing across the failover. kill: two more with seq.c.
#  - noarbiter: heartbeat loss alone decides, with a boot warning.
#  - nowitness: the witness unreachable: the backup does not go live and
#    keeps saying so; when a witness appears, it goes live.
#  - backup: the backup is killed: the primary runs on unprotected.
#  - cut: the link between the hosts is cut, the witness reachable by
#    both: exactly one host runs the guest on.
# FT_SCENARIOS="ok linux ..." runs some. Needs root (TAP).
# run: alone
. "$(dirname "$0")/lib.sh"
P=$(( 26000 + ($$ % 250) * 4 ))
WP=$(( 27000 + ($$ % 1000) ))
TAP=ftvp$$
NET=10.74.$(( $$ % 200 + 20 ))
KEY=ft-pair-test-key-0123456789
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

# pair_image NAME ARBITER GUEST-LINES FILE...: both hosts' config.
pair_image() {
    local name=$1 arbiter=$2 guest=$3
    shift 3
    image "$name" "$@" <<CONF
[host alpha]
mac = 52:54:00:00:74:01
ip = $NET.1
netmask = 255.255.255.0

[host beta]
mac = 52:54:00:00:74:02
ip = $NET.2
netmask = 255.255.255.0

[pair]
key = $KEY
heartbeat_ms = 100
failover_timeout_ms = ${FT_TIMEOUT:-5000}
max_lag_ms = 500
arbiter = $arbiter

[guest]
$guest

[debug]
uptime_ms = 240000
CONF
}
SEQ_GUEST='kernel = seq.bin
memory_mb = 32'
pair_image pair "witness:$NET.254:$WP" "$SEQ_GUEST" "$ROOT/build/guests/seq.bin"


# start_pair TAG [IMAGE]: both hosts in the background; consoles
# $WORK/TAG.{alpha,beta}.serial.
start_pair() {
    boot_bg bochs "${2:-pair}" "$WORK/$1.alpha.serial" --timeout 400 --sync slowdown --nic 52:54:00:00:74:01:$P \
        --log "$WORK/$1.alpha.bochs.log"
    boot_bg bochs "${2:-pair}" "$WORK/$1.beta.serial" --timeout 400 --sync slowdown --nic 52:54:00:00:74:02:$((P + 2)) \
        --log "$WORK/$1.beta.bochs.log"
}

# merged TAG: the observer's view of a primary kill. Every "seq N" the
# primary showed, then every one the backup showed after it went live.
# Prints "first last count dups gaps tsc_ok".
merged() {
    python3 - "$WORK/$1.alpha.serial" "$WORK/$1.beta.serial" <<'PY'
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
a = lines(sys.argv[1])
b = lines(sys.argv[2], "is now LIVE")
seen, dups, differ = {}, 0, 0
for n, t in a + b:
    if n in seen:
        dups += 1
        differ += seen[n] != t  # a duplicated line must be the same line
    else:
        seen[n] = t
ns = sorted(seen)
gaps = [n for n in range(1, (ns[-1] if ns else 0) + 1) if n not in seen]
ok = all(seen[ns[i]] < seen[ns[i + 1]] for i in range(len(ns) - 1))
print(ns[0] if ns else 0, ns[-1] if ns else 0, len(ns), dups, len(gaps), int(ok and not differ), len(a), len(b))
PY
}

# FT_SCENARIOS picks sections (for debugging the test); all by default.
want() { [[ " ${FT_SCENARIOS:-ok linux kill noarbiter nowitness backup cut} " == *" $1 "* ]]; }

# ---- 1. protected run, with a third host attacking -------------------------
if want ok; then
start_pair ok
if wait_for "$WORK/ok.alpha.serial" 'guest: seq 100 ' 120; then
    # A third host: connects to the channel port of the host that accepts,
    # sends a heartbeat with a bad MAC, and replays a real heartbeat of
    # alpha's with alpha's address as the source (raw socket).
    python3 - "$NET" "$WORK/link.pcap" > "$WORK/attacker.out" 2>&1 <<'PY'
import socket, struct, sys, time
net, pcap = sys.argv[1], sys.argv[2]
try:
    s = socket.create_connection((net + ".2", 7700), timeout=3)
    s.sendall(b"FTVF" + bytes(100))
    s.close()
    print("connected to the channel port")
except OSError as e:
    print("channel port:", e)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b"FTHB\x01\x00\x00\x00" + bytes(32), (net + ".2", 7701))
print("sent a forged heartbeat")
time.sleep(1.5) # the host logs rejections at most once a second
# A heartbeat alpha sent earlier, from the capture.
f = open(pcap, "rb").read()
off, hb = 24, None
while off + 16 <= len(f):
    ts, us, n, _ = struct.unpack("<IIII", f[off:off + 16]); d = f[off + 16:off + 16 + n]; off += 16 + n
    if len(d) >= 42 and d[12:14] == b"\x08\x00" and d[23] == 17:
        ihl = (d[14] & 15) * 4
        sp, dp = struct.unpack(">HH", d[14 + ihl:18 + ihl])
        if dp == 7701 and d[26:30] == socket.inet_aton(net + ".1"):
            hb = d[14:14 + struct.unpack(">H", d[16:18])[0]]
if hb:
    r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    for _ in range(3):
        r.sendto(hb, (net + ".2", 0))
        time.sleep(0.2)
    print("replayed alpha's heartbeat 3 times")
else:
    print("no heartbeat of alpha's in the capture")
PY
    ftlink_cmd forge 7700 > "$WORK/forge.reply"
    curl -s -m 10 "http://$NET.1/status" > "$WORK/ok.alpha.status"
    curl -s -m 10 "http://$NET.2/status" > "$WORK/ok.beta.status"
fi
wait_boots
ftlink_cmd stats > "$WORK/ok.ftlink-stats"
on "$WORK/ok.alpha.serial"
expect "alpha: the primary" 'pair: this host is the primary; backup beta; arbiter witness'
expect "alpha: protection begins with the backup ready" 'pair: protected: the guest runs and its log streams to beta \(epoch [0-9a-f]{16}'
expect "alpha: every line of the guest shown" 'guest: seq 1000 tsc'
expect "alpha: the guest's last line" 'guest: seq done'
expect "alpha: released the last output after beta acknowledged the log" 'pair: the guest ended; beta has the whole log and every output is released'
expect_not "alpha: never unprotected" 'UNPROTECTED'
n=$(grep -ac 'guest: seq [0-9]* tsc' "$SERIAL")
[ "$n" = 1000 ] && ok "alpha: 1000 lines, each once" || notok "alpha: $n seq lines, want 1000"
on "$WORK/ok.beta.serial"
expect "beta: the backup" 'pair: this host is the backup of alpha'
expect "beta: boots the guest as alpha's" "pair: guest booted as alpha's \\(virtual TSC [0-9]+ Hz, RTC epoch [0-9]+\\): ready for the log"
expect "beta: replays the log as it arrives" 'pair: replaying alpha.s log as it arrives'
expect "beta: the replay is identical to the end" 'pair: the guest ended on the primary and here identically \([0-9]+ records, [0-9]+ instructions; [0-9]+ waits for the log, [0-9]+ runs ahead to the primary.s mark\)'
expect_not "beta: shows none of the guest's output" 'guest: seq'
expect_not "beta: never went live" 'LIVE'
expect "beta: a connection from a third host is refused and logged" "channel: connection from $NET\\.254, which is not the peer: refused"
expect "beta: a forged heartbeat is rejected and logged" "heartbeat: datagram from $NET\\.254 rejected: (bad MAC|not a heartbeat)"
expect "beta: a replayed heartbeat is rejected and logged" "heartbeat: datagram from $NET\\.1 rejected: replayed"
expect_clean_poweroff ok.alpha ok.beta
# /status during the run: roles, state, lag, log rate, held output.
status_field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); v=d["counters"].get(sys.argv[2], d.get(sys.argv[2])); print(v)' "$@" 2>/dev/null; }
[ "$(status_field "$WORK/ok.alpha.status" role)" = primary ] && [ "$(status_field "$WORK/ok.alpha.status" pair_state)" = protected ] \
    && ok "/status on alpha: role primary, pair protected" || notok "/status on alpha: $(head -c 300 "$WORK/ok.alpha.status")"
[ "$(status_field "$WORK/ok.beta.status" role)" = backup ] && [ "$(status_field "$WORK/ok.beta.status" pair_state)" = replaying ] \
    && ok "/status on beta: role backup, replaying" || notok "/status on beta: $(head -c 300 "$WORK/ok.beta.status")"
for f in pair_lag_ms pair_lag_p99_ms pair_log_rate_bps pair_held_output_bytes pair_throttles pair_log_acked; do
    v=$(status_field "$WORK/ok.alpha.status" $f)
    [[ $v =~ ^[0-9]+$ ]] && ok "/status on alpha: $f = $v" || notok "/status on alpha: $f is '$v'"
done
[ "$(status_field "$WORK/ok.alpha.status" pair_log_rate_bps)" -gt 0 ] 2>/dev/null && ok "/status: the log flows" \
    || notok "/status: log rate 0"
on "$WORK/ok.alpha.serial"
expect "alpha: the summary of the protected run" 'pair: log: [0-9]+ bytes over [0-9.]+ s of guest time \([0-9.]+ Mbit/s\); backup lag p50 [0-9]+ ms, p99 [0-9]+ ms'
grep -q "replayed alpha's heartbeat" "$WORK/attacker.out" && ok "attacker: replayed a captured heartbeat" \
    || notok "attacker: $(cat "$WORK/attacker.out")"
if grep -aqE 'channel: frame rejected: MAC mismatch.*forged, replayed or wrong key' "$WORK/ok.alpha.serial" "$WORK/ok.beta.serial"; then
    ok "a channel frame forged on the wire is rejected by its MAC and logged"
else
    notok "no host logged the forged channel frame (ftlink: $(ftlink_cmd faults))"
fi
fi

# ---- 2. the primary fails ------------------------------------------------
# kill_run TAG IMAGE AT LINES ARBITRATED: kill alpha's emulator when its
# console matches AT; the merged console must hold seq 1..LINES.
kill_run() {
    local t=$1 img=$2 at=$3 lines=$4 arbitrated=$5
    start_pair "$t" "$img"
    if ! wait_for "$WORK/$t.alpha.serial" "$at" 300; then
        notok "$t: alpha never showed /$at/"
        wait_boots
        return
    fi
    local pid
    pid=$(bochs_pid "$WORK/$t.alpha.serial")
    [ -n "$pid" ] && kill -KILL "$pid"
    wait_boots
    on "$WORK/$t.beta.serial"
    expect "$t (killed at /$at/): beta notices the primary's silence" 'pair: primary alpha lost \(no heartbeat for [0-9]+ ms, channel silent for [0-9]+ ms\)'
    if [ "$arbitrated" = yes ]; then
        expect "$t: the witness grants beta the guest" 'arbiter: the witness grants epoch [0-9a-f]+ to this host'
    fi
    expect "$t: beta goes live" 'pair: LIVE: this host runs the guest now, from virtual time'
    expect "$t: the guest's first new output" 'pair: the live guest.s first new output, [0-9]+ ms after the primary.s last message'
    expect "$t: the guest finishes on beta" 'guest: seq done'
    expect_clean_poweroff $t.beta
    local first last count dups gaps tsc_ok na nb
    read -r first last count dups gaps tsc_ok na nb <<< "$(merged $t)"
    if [ "$first" = 1 ] && [ "$last" = "$lines" ] && [ "$count" = "$lines" ] && [ "$gaps" = 0 ]; then
        ok "$t: the merged console has seq 1..$lines without a gap ($na from alpha, $nb from beta, $dups duplicated)"
    else
        notok "$t: merged console: first $first last $last distinct $count gaps $gaps (alpha $na, beta $nb)"
    fi
    [ "$tsc_ok" = 1 ] && ok "$t: the guest's clock only grows across the failover, duplicated lines equal" || notok "$t: the guest's clock went back or a duplicated line differs"
}

# The Linux guest at 10 points: while the pair forms, at its first line,
# early, mid-run, and near the end (every line is a burst of console output
# after a CPU-bound loop and a sleep full of TSC reads).
LINUX_GUEST='kernel = bzImage
initrd = initrd.gz
cmdline = console=ttyS0 quiet ftvisor.test=seq ftvisor.lines=120 ftvisor.spin=40
memory_mb = 64'
if want linux; then
    pair_image lpair "witness:$NET.254:$WP" "$LINUX_GUEST" "$ROOT/build/guest/bzImage" "$ROOT/build/guest/initrd.gz"
    KILL_AT=${FT_KILL_AT:-'pair: protected|guest: init started|guest: seq 1 |guest: seq 5 |guest: seq 19 |guest: seq 40 |guest: seq 63 |guest: seq 80 |guest: seq 96 |guest: seq 110 '}
    IFS='|' read -ra points <<< "$KILL_AT"
    k=0
    for at in "${points[@]}"; do
        k=$((k + 1))
        kill_run linux$k lpair "$at" 120 yes
    done
fi
# The test guest, whose 1000 lines come faster: two more points.
if want kill; then
    kill_run kill1 pair 'guest: seq 150 ' 1000 yes
    kill_run kill2 pair 'guest: seq 801 ' 1000 yes
fi
# No arbiter: heartbeat loss alone makes the backup go live, and both
# hosts warn of split brain at boot.
if want noarbiter; then
    pair_image nopair none "$SEQ_GUEST" "$ROOT/build/guests/seq.bin"
    kill_run noarb nopair 'guest: seq 200 ' 1000 no
    for h in alpha beta; do
        on "$WORK/noarb.$h.serial"
        expect "no arbiter: $h warns of split brain" 'pair: no arbiter \(\[pair\] arbiter = none\): if the two hosts lose each other while both run, both may run the guest \(split brain\)'
    done
    on "$WORK/noarb.beta.serial"
    expect_not "no arbiter: beta asks nobody" 'arbiter: the witness'
fi
# The witness unreachable: the backup does not go live, and says so on
# its console as it keeps asking; once a witness answers, it goes live.
if want nowitness; then
    WP2=$((WP + 1))
    pair_image wpair "witness:$NET.254:$WP2" "$SEQ_GUEST" "$ROOT/build/guests/seq.bin"
    start_pair nowit wpair
    if wait_for "$WORK/nowit.alpha.serial" 'guest: seq 200 ' 150; then
        kill -KILL "$(bochs_pid "$WORK/nowit.alpha.serial")"
        wait_for "$WORK/nowit.beta.serial" 'no answer from the arbiter .* for 1[0-9]{4} ms: this host does not go live' 90
        grep -ac 'LIVE' "$WORK/nowit.beta.serial" > "$WORK/nowit.live-before"
        "$ROOT/build/tools/ftwitness" --state "$WORK/witness2.state" --key "$KEY" --listen "$NET.254:$WP2" \
            > "$WORK/witness2.out" 2>&1 &
        W2=$!
        wait_for "$WORK/nowit.beta.serial" 'guest: seq done' 120
        kill "$W2" 2>/dev/null
    fi
    wait_boots
    on "$WORK/nowit.beta.serial"
    expect "no witness: beta notices the primary's silence" 'pair: primary alpha lost .*asking the arbiter \(witness'
    expect "no witness: beta says it waits for the arbiter" 'pair: no answer from the arbiter \(witness [0-9.]+:[0-9]+\) for 5[0-9]{3} ms: this host does not go live until the arbiter answers'
    expect "no witness: beta keeps saying so" 'pair: no answer from the arbiter \(witness [0-9.]+:[0-9]+\) for 1[0-9]{4} ms: this host does not go live until the arbiter answers'
    [ "$(cat "$WORK/nowit.live-before" 2>/dev/null)" = 0 ] && ok "no witness: beta did not go live while it had no answer" \
        || notok "no witness: beta went live without an answer (or never said it waits)"
    expect "no witness: a witness appears and grants beta the guest" 'arbiter: the witness grants epoch [0-9a-f]+ to this host'
    expect "no witness: then beta goes live" 'pair: LIVE: this host runs the guest now'
    expect "no witness: the guest finishes on beta" 'guest: seq done'
    expect_clean_poweroff nowit.beta
    read -r first last count dups gaps tsc_ok na nb <<< "$(merged nowit)"
    [ "$first" = 1 ] && [ "$last" = 1000 ] && [ "$count" = 1000 ] && [ "$gaps" = 0 ] && [ "$tsc_ok" = 1 ] \
        && ok "no witness: the merged console has seq 1..1000 without a gap ($dups duplicated)" \
        || notok "no witness: merged console: first $first last $last distinct $count gaps $gaps tsc_ok $tsc_ok"
fi

# ---- 3. the backup fails -------------------------------------------------
# (A shorter failover timeout: the test guest's 1000 lines take about 6 s
# under FT, and alpha must notice while its guest still runs.)
if want backup; then
FT_TIMEOUT=3000 pair_image bkpair "witness:$NET.254:$WP" "$SEQ_GUEST" "$ROOT/build/guests/seq.bin"
start_pair bk bkpair
if wait_for "$WORK/bk.alpha.serial" 'guest: seq 100 ' 150; then
    pid=$(bochs_pid "$WORK/bk.beta.serial")
    [ -n "$pid" ] && kill -KILL "$pid"
    wait_for "$WORK/bk.alpha.serial" 'runs the guest UNPROTECTED' 60 && curl -s -m 10 "http://$NET.1/status" > "$WORK/bk.alpha.status"
fi
wait_boots
on "$WORK/bk.alpha.serial"
expect "backup killed: alpha notices" 'pair: backup beta lost \(no heartbeat for [0-9]+ ms, channel silent for [0-9]+ ms\): asking the arbiter'
expect "backup killed: the witness lets alpha keep the guest" 'arbiter: the witness grants epoch [0-9a-f]+ to this host'
expect "backup killed: alpha says it runs unprotected" 'ftvisor: this host \(alpha\) runs the guest UNPROTECTED'
expect "backup killed: the guest runs to its end on alpha" 'guest: seq done'
n=$(grep -aoE 'guest: seq [0-9]+ tsc' "$SERIAL" | sort -u | wc -l)
[ "$n" = 1000 ] && ok "backup killed: alpha showed all 1000 lines" || notok "backup killed: alpha showed $n distinct lines"
expect_clean_poweroff bk.alpha
grep -q '"role":"primary (unprotected)"' "$WORK/bk.alpha.status" && ok "backup killed: /status says unprotected" \
    || notok "backup killed: /status: $(head -c 200 "$WORK/bk.alpha.status" 2>/dev/null)"
fi

# ---- 4. the link between the hosts is cut --------------------------------
if want cut; then
[ -f "$WORK/bkpair.img" ] || FT_TIMEOUT=3000 pair_image bkpair "witness:$NET.254:$WP" "$SEQ_GUEST" "$ROOT/build/guests/seq.bin"
start_pair cut bkpair
if wait_for "$WORK/cut.alpha.serial" 'guest: seq 100 ' 150; then
    ftlink_cmd cut 0 1 > /dev/null
    wait_for_any 'this host \(alpha\) runs the guest UNPROTECTED|this host \(beta\) is now LIVE' 30 \
        "$WORK/cut.alpha.serial" "$WORK/cut.beta.serial"
    wait_for_any 'this host \(alpha\) stopped its guest|this host stops following alpha' 30 \
        "$WORK/cut.alpha.serial" "$WORK/cut.beta.serial"
    sleep 15
    # The loser keeps no guest and stays up: stop it.
    for h in alpha beta; do
        grep -aqE 'stopped its guest|this host stops following' "$WORK/cut.$h.serial" && kill -KILL "$(bochs_pid "$WORK/cut.$h.serial")" 2>/dev/null
    done
fi
wait_boots
ftlink_cmd heal > /dev/null
a_live=$(grep -ac 'this host (alpha) runs the guest UNPROTECTED' "$WORK/cut.alpha.serial")
b_live=$(grep -ac 'this host (beta) is now LIVE' "$WORK/cut.beta.serial")
a_done=$(grep -ac 'guest: seq done' "$WORK/cut.alpha.serial")
b_done=$(grep -ac 'guest: seq done' "$WORK/cut.beta.serial")
if [ $((a_live + b_live)) = 1 ] && [ $((a_done + b_done)) = 1 ]; then
    ok "link cut: exactly one host runs the guest on ($([ "$a_live" = 1 ] && echo alpha || echo beta)) and finishes it"
else
    notok "link cut: alpha unprotected $a_live finished $a_done, beta live $b_live finished $b_done"
fi
if grep -aq 'refused host' "$WORK/witness.out"; then ok "link cut: the witness refused the second asker"
else notok "link cut: the witness refused nobody: $(tail -3 "$WORK/witness.out")"; fi
expect_loser() {
    if grep -aqE 'stopped its guest: beta runs it now' "$WORK/cut.alpha.serial" ||
       grep -aqE 'the arbiter refused: the primary keeps the guest' "$WORK/cut.beta.serial"; then
        ok "link cut: the other host says it stands down"
    else
        notok "link cut: neither host says it stands down"
    fi
}
expect_loser
fi
