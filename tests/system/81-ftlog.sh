#!/bin/bash
# tools/ftlog on a real log: one ftvisor host in Bochs records a test guest
# to tools/ftlog-sink through tools/ftlink (whose pcap captures the PUT), then
# ftlog reads the sink's file and the pcap of the same run: the records agree
# (diff, and dump line by line), the statistics match what the recorder and
# the sink said (records, bytes, frames, END), the guest's console output
# is all in OUTPUT records, and a damaged copy is reported at its offset
# with a non-zero status. Needs root (TAP).
. "$(dirname "$0")/lib.sh"
FTLOG=$ROOT/build/tools/ftlog
make -s -C "$ROOT" build/tools/ftlog > "$WORK/build.log" 2>&1 \
    || { notok "build ftlog: $(head -3 "$WORK/build.log")"; exit 1; }
P=$(( 26000 + ($$ % 250) * 4 ))
SP=$(( 27000 + ($$ % 1000) ))
TAP=ftvl$$
NET=10.81.$(( $$ % 200 + 20 ))
mkdir -p "$WORK/logs"
ftlink_start --bochs $P --tap "$TAP:$NET.254/24"
"$ROOT/build/tools/ftlog-sink" --dir "$WORK/logs" --listen "$NET.254:$SP" --once > "$WORK/sink.out" 2>&1 &
SINK=$!
trap 'kill $SINK 2>/dev/null; ftlink_stop' EXIT
wait_for "$WORK/sink.out" 'listening on' 10 || { notok "ftlog-sink did not start: $(cat "$WORK/sink.out")"; exit 1; }

image rec "$ROOT/build/guests/timer_lapic.bin" <<CONF
[host a]
mac = 52:54:00:00:81:01
ip = $NET.1
netmask = 255.255.255.0

[guest]
kernel = timer_lapic.bin
memory_mb = 32

[record]
mode = record
dest = sink
sink = $NET.254
sink_port = $SP
log_name = lapic

[debug]
host = a
CONF
boot bochs rec --timeout 240 --nic 52:54:00:00:81:01:$P
expect "record: the guest ran to its end" 'guest: timer_lapic: all [0-9]+ checks passed$'
expect "record: the sink stored the whole log" 'record: the sink stored the log: stored lapic\.ftlog'
wait $SINK 2>/dev/null
ftlink_stop
LOG=$WORK/logs/lapic.ftlog
PCAP=$WORK/link.pcap
[ -s "$LOG" ] || { notok "no log in the sink: $(tail -2 "$WORK/sink.out")"; exit 1; }
# What the sink said: "stored lapic.ftlog: B bytes, F frames, R records, END (poweroff)".
read -r B F R < <(grep -oE 'stored lapic\.ftlog: [0-9]+ bytes, [0-9]+ frames, [0-9]+ records' "$WORK/sink.out" \
    | sed -E 's/.*: ([0-9]+) bytes, ([0-9]+) frames, ([0-9]+) records/\1 \2 \3/')

# --- the file ---
"$FTLOG" dump "$LOG" > "$WORK/file.dump" 2> "$WORK/file.err"
rc=$?
last=$(tail -1 "$WORK/file.dump")
if [ $rc = 0 ] && [ "$last" = "-- $R records, $F frames ($B bytes), END (poweroff)" ]; then
    ok "dump of the file: $R records, $F frames, $B bytes, END (as the sink said)"
else notok "dump of the file: exit $rc, last line '$last', sink said $R records, $F frames, $B bytes"; fi
n=$(grep -cE '^#[0-9]+ +exit [0-9]+ +[A-Z]+' "$WORK/file.dump")
if [ "$n" = "$R" ]; then ok "dump: one line per record ($n)"; else notok "dump: $n record lines, want $R"; fi
if head -1 "$WORK/file.dump" | grep -qE '^header: host a, .*landmarks emulator, TSC [0-9]+ Hz, memory 32 MiB'; then
    ok "dump: the header in words"; else notok "dump: header line '$(head -1 "$WORK/file.dump")'"; fi
if grep -qE '^#[0-9]+ +exit [0-9]+ +END +poweroff$' "$WORK/file.dump" && \
   [ "$(grep -E '^#' "$WORK/file.dump" | tail -1 | awk '{print $4}')" = END ]; then ok "dump: END (poweroff) is the last record"
else notok "dump: no END at the end: $(grep -E '^#' "$WORK/file.dump" | tail -1)"; fi
# The guest's console output is all in OUTPUT records: the last console
# record's running total is the recorder's console byte count.
con=$(value 'record: [0-9]+ event points .* ([0-9]+) console bytes')
tot=$(grep -oE 'OUTPUT +console [0-9]+ bytes \(total [0-9]+\)' "$WORK/file.dump" | tail -1 | grep -oE 'total [0-9]+' | grep -oE '[0-9]+')
if [ -n "$tot" ] && [ "$con" = "$tot" ]; then ok "dump: console output in OUTPUT records ($tot bytes, as the recorder said)"
else notok "dump: console total '$tot', recorder said '$con'"; fi
# Paging.
"$FTLOG" dump --from 5 --count 3 "$LOG" > "$WORK/page.dump"
if [ "$(grep -E '^#' "$WORK/page.dump" | awk '{print $1}' | tr '\n' ' ')" = "#5 #6 #7 " ]; then ok "dump --from 5 --count 3"
else notok "dump --from 5 --count 3: $(grep -E '^#' "$WORK/page.dump" | awk '{print $1}' | tr '\n' ' ')"; fi

# --- statistics ---
"$FTLOG" stats "$LOG" > "$WORK/stats.out" 2>&1
rc=$?
sum=$(awk '/^records by type:/ {on=1; next} on && $1 != "type" && $1 != "total" && NF >= 6 {r += $2; b += $3} on && $1 == "total" {print r, b, $2, $3; exit}' "$WORK/stats.out")
read -r rsum bsum rtot btot <<< "$sum"
if [ $rc = 0 ] && [ "$rsum" = "$R" ] && [ "$rtot" = "$R" ] && [ "$bsum" = "$btot" ]; then ok "stats: the types add up to $R records, $btot bytes"
else notok "stats: exit $rc, types '$rsum' records '$bsum' bytes, total '$rtot' '$btot', want $R records"; fi
# Record bytes + header body + 20 per frame = the file.
if [ -n "$btot" ] && [ $(( btot + 148 + 20 * F )) = "$B" ]; then ok "stats: record bytes + header + frame overhead = the file's $B bytes"
else notok "stats: $btot record bytes, $F frames, file $B bytes"; fi
if grep -qE "^frames: $F \($B bytes;" "$WORK/stats.out" && grep -q '^CRC failures: 0; errors: 0; bytes skipped: 0$' "$WORK/stats.out"; then
    ok "stats: frames and no CRC failures"; else notok "stats: $(grep -E '^(frames|CRC)' "$WORK/stats.out" | tr '\n' ' ')"; fi
grep -q '^  TIME ' "$WORK/stats.out" && grep -q '^  ASYNC ' "$WORK/stats.out" && ok "stats: TIME and ASYNC records (a timer guest)" \
    || notok "stats: no TIME or ASYNC line"
rate=$(grep -oE '^log rate: [0-9]+ bytes per second' "$WORK/stats.out" | grep -oE '[0-9]+')
if [ -n "$rate" ] && [ "$rate" -gt 100 ] && [ "$rate" -lt 100000000 ]; then ok "stats: log rate $rate B/s of virtual time"
else notok "stats: log rate '$rate'"; fi
bsum2=$(awk '/^rate by virtual time/ {on=1; next} on && /^  [0-9]/ {s += $2} END {print s}' "$WORK/stats.out")
if [ "$bsum2" = "$btot" ]; then ok "stats: the time buckets add up to the record bytes"
else notok "stats: buckets sum to '$bsum2', records $btot bytes"; fi

# --- the pcap of the same run ---
"$FTLOG" dump "$PCAP" > "$WORK/pcap.dump" 2> "$WORK/pcap.err"
rc=$?
if [ $rc = 0 ] && cmp -s "$WORK/file.dump" "$WORK/pcap.dump"; then ok "pcap: the same records, line for line"
else notok "pcap: exit $rc, $(diff "$WORK/file.dump" "$WORK/pcap.dump" | head -3 | tr '\n' ' ') $(tail -2 "$WORK/pcap.err")"; fi
if grep -qE "^pcap: log 0: sink PUT \"lapic\" $NET\\.1:[0-9]+ -> $NET\\.254:$SP: $B bytes$" "$WORK/pcap.err"; then ok "pcap: found the PUT"
else notok "pcap: $(cat "$WORK/pcap.err" | tr '\n' ' ')"; fi
out=$("$FTLOG" diff "$LOG" "$PCAP" 2>/dev/null); rc=$?
if [ $rc = 0 ] && [ "$out" = "identical ($R records)" ]; then ok "diff file pcap: identical ($R records)"
else notok "diff file pcap: exit $rc: $out"; fi

# --- damage ---
cp "$LOG" "$WORK/bad.ftlog"
off=$(( B / 2 ))
byte=$(od -An -tx1 -j $off -N1 "$LOG" | tr -d " \n")
printf "\\x$(printf '%02x' $(( 0x$byte ^ 0xff )))" | dd of="$WORK/bad.ftlog" bs=1 seek=$off conv=notrunc 2>/dev/null
cmp -s "$LOG" "$WORK/bad.ftlog" && notok "damaged: the copy is not damaged"
"$FTLOG" dump "$WORK/bad.ftlog" > "$WORK/bad.dump" 2>&1
rc=$?
if [ $rc = 1 ] && grep -qE '^error: offset [0-9]+: CRC mismatch: .*skipped [0-9]+ bytes to the next good frame at offset' "$WORK/bad.dump" \
   && grep -qE '^-- malformed: 1 error \(1 CRC failure' "$WORK/bad.dump"; then ok "damaged: the CRC failure at its offset, exit 1"
else notok "damaged: exit $rc: $(grep -E '^(error|--)' "$WORK/bad.dump" | head -3 | tr '\n' ' ')"; fi
out=$("$FTLOG" diff "$LOG" "$WORK/bad.ftlog" 2>&1); rc=$?
if [ $rc = 2 ] && echo "$out" | grep -q '^first difference at record #'; then ok "diff against the damaged copy: the first difference, exit 2"
else notok "diff damaged: exit $rc: $(echo "$out" | head -3 | tr '\n' ' ')"; fi
