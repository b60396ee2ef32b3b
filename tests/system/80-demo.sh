#!/bin/bash
# `make run`'s demo (tools/demo), run as make runs it but into this test's
# directory, with its output kept and checked line by line:
#  - pair: the phases it announces; once a second both hosts' status
#    (alpha the protected primary with the backup's lag, the log's rate
#    and the output it holds; after the kill alpha silent and beta live);
#    the consoles' milestones (protection, beta LIVE, the guest's lines on
#    beta after the kill); the report, whose figures must be what the
#    hosts printed and what this test finds itself (the failover's
#    duration on beta's console, the peer's stream against seq 1..N,
#    the lag and log bytes in alpha's last status answer); within five
#    minutes; and nothing of its left running (emulators, ftlink, its TAP
#    device, the witness, the peer).
#  - interrupt: SIGINT to the demo's process group (Ctrl-C) once the pair
#    is protected: it says so, exits, and leaves nothing running.
#  - single: tools/demo --single, Linux booting under ftvisor on one host.
# FT_SCENARIOS="pair interrupt single" runs some. Needs root (TAP).
# run: alone
. "$(dirname "$0")/lib.sh"
want() { [ -z "${FT_SCENARIOS:-}" ] || [[ " $FT_SCENARIOS " == *" $1 "* ]]; }
# The demo's output, for the checks below (SERIAL is what expect greps).
out_has() { if grep -aqE -- "$2" "$OUT"; then ok "$1"; else notok "$1: no line matches /$2/ ($OUT)"; fi; }
# The first line number matching a pattern (0 if none).
line_of() { grep -anE -- "$1" "$OUT" | head -1 | cut -d: -f1 | grep . || echo 0; }
# leftovers DIR TAP: what of a demo run in DIR still runs.
leftovers() {
    local p left=
    for p in $(pgrep -x bochs); do grep -qsF "dev=$1/" /proc/$p/cwd/bochsrc && left="$left bochs:$p"; done
    for p in $(pgrep -f -- "$1"); do left="$left $(tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null | cut -c1-60):$p"; done
    ip link show "$2" > /dev/null 2>&1 && left="$left tap:$2"
    echo "$left"
}

if want pair; then
    OUT=$WORK/demo.out
    start=$(date +%s)
    "$ROOT/tools/demo" --dir "$WORK/run" > "$OUT" 2>&1
    rc=$?
    took=$(( $(date +%s) - start ))
    D=$WORK/run
    [ $rc = 0 ] && ok "pair: the demo exits 0 ($took s)" || notok "pair: the demo exited $rc: $(tail -3 "$OUT" | tr '\n' ' ')"
    [ $took -lt 300 ] && ok "pair: within five minutes" || notok "pair: took $took s"
    # Its phases, in order.
    prev=0 inorder=1
    for ph in 'demo: building image' 'demo: starting the link' 'demo: starting hosts' 'demo: waiting for protection' \
              'demo: protected: waiting for the guest' "demo: killing alpha's emulator \\(Bochs pid [0-9]+\\) with SIGKILL" \
              'demo: waiting for beta to notice and go live' 'demo: waiting for the guest to finish on beta' \
              'demo: ---- report ----'; do
        n=$(line_of "$ph")
        [ "$n" -gt "$prev" ] || { inorder=0; notok "pair: phase /$ph/ at line $n, after line $prev"; }
        prev=$n
    done
    [ $inorder = 1 ] && ok "pair: it says what it does, phase by phase, in order"
    kill_at=$(line_of "demo: killing alpha's emulator")
    # The live summary: protected before the kill, beta live after it.
    S='demo: \[ *[0-9]+ s\] '
    prot=$(grep -anE "${S}alpha: primary, protected \| beta: backup, replaying \| lag [0-9]+ ms \| log [0-9.]+ Mbit/s \| held [0-9]+ B \| peer got [0-9]+ B" "$OUT" |
           awk -F: -v k="$kill_at" '$1 < k' | wc -l)
    [ "$prot" -ge 3 ] && ok "pair: $prot status lines before the kill show alpha protected with beta replaying, lag, log rate, held output" \
        || notok "pair: $prot protected status lines before the kill"
    live=$(grep -anE "${S}alpha: no answer \| beta: live \(was backup\), live \| lag [0-9]+ ms" "$OUT" | awk -F: -v k="$kill_at" '$1 > k' | wc -l)
    [ "$live" -ge 1 ] && ok "pair: $live status lines after the kill show alpha silent and beta live" \
        || notok "pair: no status line after the kill shows beta live"
    lags=$(grep -aoE "${S}alpha: primary, protected .* lag [0-9]+ ms" "$OUT" | grep -oE '[0-9]+ ms$' | sort -un | wc -l)
    [ "$lags" -ge 2 ] && ok "pair: the lag the summary shows changes from second to second ($lags values)" \
        || notok "pair: the summary's lag took $lags values"
    grow=$(grep -aoE "${S}.*peer got [0-9]+ B" "$OUT" | grep -oE '[0-9]+ B$' | uniq | wc -l)
    [ "$grow" -ge 4 ] && ok "pair: the peer's byte count grows in the summary ($grow values)" || notok "pair: the peer count took $grow values"
    # The consoles' milestones as they came.
    out_has "pair: alpha's console: protected" '^  alpha \| pair: protected: the guest runs and its log streams to beta'
    out_has "pair: beta's console: replaying" "^  beta  \\| pair: replaying alpha's log as it arrives"
    out_has "pair: both hosts report VT-x" '^  beta  \| vmx: present=yes'
    out_has "pair: beta's console: alpha lost" '^  beta  \| pair: primary alpha lost \(no heartbeat for [0-9]+ ms'
    out_has "pair: beta's console: the witness grants" '^  beta  \| arbiter: the witness grants epoch'
    out_has "pair: beta's console: LIVE" '^  beta  \| ftvisor: this host \(beta\) is now LIVE: the guest continues here'
    n=$(grep -anE '^  beta  \| guest: ' "$OUT" | awk -F: -v k="$kill_at" '$1 > k' | wc -l)
    [ "$n" -ge 3 ] && ok "pair: the guest's console continues on beta after the kill ($n lines shown)" \
        || notok "pair: $n guest lines from beta after the kill"
    n=$(grep -anE '^  alpha \| guest: ' "$OUT" | awk -F: -v k="$kill_at" '$1 < k' | wc -l)
    [ "$n" -ge 3 ] && ok "pair: alpha showed the guest's console before ($n lines)" || notok "pair: $n guest lines from alpha"
    # The report against the hosts' own consoles and this test's checks.
    SERIAL=$D/beta.serial
    sed -i 's/\r$//' "$SERIAL"
    fo=$(value "first new output, ([0-9]+) ms after the primary's last message")
    hb=$(value 'pair: primary alpha lost \(no heartbeat for ([0-9]+) ms')
    lv=$(value 'LIVE: this host runs the guest now, .*; ([0-9]+) ms since the primary was lost')
    out_has "pair: report: the failover as beta printed it" \
        "^demo: failover: beta heard nothing from alpha for $hb ms .*timeout 3000 ms\\), the witness granted it the guest, and went live $lv ms later"
    out_has "pair: report: the guest's outage as beta printed it ($fo ms)" \
        "^demo: failover: the guest's first new output on beta came $fo ms after alpha's last message"
    [ "${fo:-0}" -ge 3000 ] && [ "${fo:-0}" -lt 20000 ] && ok "pair: the outage ($fo ms) is the failover timeout and a little more" \
        || notok "pair: outage $fo ms"
    read -r before after total <<< "$(sed -nE 's/^demo: guest console: ([0-9]+) lines on alpha before it died, ([0-9]+) on beta after it went live .*, ([0-9]+) in all$/\1 \2 \3/p' "$OUT")"
    [ "${before:-0}" -ge 3 ] && [ "${after:-0}" -ge 3 ] && ok "pair: report: $before guest lines before, $after after, $total in all" \
        || notok "pair: report: guest lines before '${before:-}' after '${after:-}'"
    on "$D/alpha.serial"
    na=$(grep -acE '^\[ *[0-9.]+\] guest: .*[^ ]' "$SERIAL")
    [ "$na" -ge "${before:-0}" ] && [ "$na" -le $(( ${before:-0} + 1 )) ] && ok "pair: report: alpha's count matches its console ($na, a cut-off line aside)" \
        || notok "pair: alpha's console has $na guest lines, the report says $before"
    out_has "pair: report: every workload line once, in order" \
        "^demo: guest console: every line the workload prints is there once, in order, from 'init started' to 'powering off'"
    out_has "pair: report: the disk's files verified in the guest" '^demo: the guest.s disk .*disk files ([0-9]+) written, \1 verified'
    read -r sb s1 s2 <<< "$(sed -nE 's/^demo: stream: the peer received ([0-9]+) bytes over one TCP connection \(([0-9]+) before alpha died, ([0-9]+) after\): intact .*/\1 \2 \3/p' "$OUT")"
    N=$(sed -nE 's/^demo: stream: .*: intact \(the numbers 1\.\.([0-9]+), every byte\)$/\1/p' "$OUT")
    conns=("$D"/conn.*)
    if [ ${#conns[@]} = 1 ] && [ "${N:-0}" -gt 0 ] && cmp -s "${conns[0]}" <(seq 1 "$N") && [ "${sb:-0}" = "$(stat -c %s "${conns[0]}")" ]; then
        ok "pair: report: the stream intact, $sb bytes over one connection (this test compared it with seq 1 $N)"
    else
        notok "pair: stream: report '${sb:-}' of 1..'${N:-}', ${#conns[@]} connection files, $(cmp "${conns[0]}" <(seq 1 "${N:-1}") 2>&1 | head -1)"
    fi
    [ "${s1:-0}" -gt 0 ] && [ "${s2:-0}" -gt 0 ] && [ $(( s1 + s2 )) = "${sb:-x}" ] \
        && ok "pair: report: the stream crossed the failover ($s1 bytes before, $s2 after)" \
        || notok "pair: stream before '${s1:-}' after '${s2:-}' of '${sb:-}'"
    # Lag and log bytes from alpha's last status answer, computed here.
    read -r p50 mx logb <<< "$(python3 - "$D/status.alpha.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
v = sorted(x for x in s["history"]["series"]["lag_ms"] if x is not None)
print(v[(len(v) * 50 + 99) // 100 - 1], v[-1], s["counters"]["pair_log_bytes"])
PY
)"
    out_has "pair: report: the backup's lag, p50 and max of alpha's history ($p50, $mx ms)" \
        "^demo: backup lag: p50 $p50 ms, max $mx ms over [0-9]+ s of alpha's per-second history"
    out_has "pair: report: the log's bytes as alpha last reported them ($logb)" "^demo: log: alpha had sent $logb bytes"
    [ "${logb:-0}" -gt 100000 ] && ok "pair: the log carried the guest ($logb bytes)" || notok "pair: log bytes '${logb:-}'"
    out_has "pair: report: beta's status page says it is live, with the failover in its events" \
        '^demo: beta last said: role live \(was backup\), state live, .*failover: went live [0-9]+ ms after alpha was lost'
    out_has "pair: beta's emulator ended with ftvisor's power-off" '^demo: beta: run-bochs: ftvisor powered off: guest exited'
    out_has "pair: the verdict" '^demo: the guest survived the failure of its server: beta runs it now'
    out_has "pair: the link's TAP device" '^demo: starting the link \(ftlink, TAP ftdemo[0-9]+ with 10\.8[01]\.[0-9]+\.254'
    out_has "pair: the emulators' ports (9000-9999)" '^demo: starting hosts alpha and beta in Bochs \(UDP ports 9[0-9]{3}-9[0-9]{3} on ftlink'
    tap=$(grep -aoE 'TAP ftdemo[0-9]+' "$OUT" | head -1 | cut -d' ' -f2)
    left=$(leftovers "$D" "${tap:-none}")
    [ -z "$left" ] && ok "pair: nothing left running, $tap gone" || notok "pair: left running:$left"
fi

if want interrupt; then
    OUT=$WORK/interrupt.out
    D=$WORK/int
    # Job control for this one: the demo in a process group of its own
    # with SIGINT as a terminal leaves it (a script's background commands
    # would otherwise ignore SIGINT, and a shell cannot trap what it was
    # started ignoring).
    set -m
    "$ROOT/tools/demo" --dir "$D" > "$OUT" 2>&1 &
    pg=$!
    set +m
    if wait_for "$OUT" 'alpha: primary, protected' 200; then
        tap=$(grep -aoE 'TAP ftdemo[0-9]+' "$OUT" | head -1 | cut -d' ' -f2)
        [ -n "$(leftovers "$D" "$tap")" ] && ok "interrupt: the demo runs (emulators, ftlink, $tap)" || notok "interrupt: nothing runs"
        # Ctrl-C: SIGINT to the foreground process group.
        kill -INT -- -"$pg"
        wait "$pg"
        rc=$?
        [ $rc = 130 ] && ok "interrupt: the demo exits 130" || notok "interrupt: exit $rc"
        out_has "interrupt: it says it stops" '^demo: interrupted: stopping everything it started'
        left=$(leftovers "$D" "$tap")
        [ -z "$left" ] && ok "interrupt: nothing left running, $tap gone" || notok "interrupt: left running:$left"
    else
        notok "interrupt: the pair never showed protected: $(tail -3 "$OUT" | tr '\n' ' ')"
        kill -INT -- -"$pg" 2>/dev/null
        wait "$pg"
    fi
fi

if want single; then
    OUT=$WORK/single.out
    "$ROOT/tools/demo" --single --dir "$WORK/single" > "$OUT" 2>&1
    rc=$?
    [ $rc = 0 ] && ok "single: exits 0" || notok "single: exit $rc: $(tail -2 "$OUT" | tr '\n' ' ')"
    out_has "single: ftvisor reports VT-x" '^demo: ftvisor reported  vmx: present=yes .*ept=yes'
    out_has "single: Linux says hello" '^demo: its guest said    hello from Linux 6\.1'
    out_has "single: clean power-off" '^demo: and then          guest exited: 0 \(ACPI power-off\).*ftvisor powered off cleanly'
fi
