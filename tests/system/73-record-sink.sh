#!/bin/bash
# Record to tools/ftlog-sink and replay from it: one ftvisor host in Bochs
# records a test guest ([record] mode = record, dest = sink) and streams the
# log over TCP through tools/ftlink's TAP port to the sink on this machine;
# a second boot fetches the stored log (mode = replay) and replays it. A
# host configured with another guest refuses that log at its header; a
# replay of a name the sink does not have, and a recording with no sink
# listening, stop with a clear message. Needs root (TAP).
. "$(dirname "$0")/lib.sh"
P=$(( 24000 + ($$ % 250) * 4 ))
SP=$(( 25000 + ($$ % 1000) ))
TAP=ftvr$$
NET=10.73.$(( $$ % 200 + 20 ))
mkdir -p "$WORK/logs"
ftlink_start --bochs $P --tap "$TAP:$NET.254/24"
"$ROOT/build/tools/ftlog-sink" --dir "$WORK/logs" --listen "$NET.254:$SP" > "$WORK/sink.out" 2>&1 &
SINK=$!
trap 'kill $SINK 2>/dev/null; ftlink_stop' EXIT
wait_for "$WORK/sink.out" 'listening on' 10 || { notok "ftlog-sink did not start: $(cat "$WORK/sink.out")"; exit 1; }

# rr_image NAME GUEST MODE-LINES
rr_image() {
    image "$1" "$ROOT/build/guests/$2.bin" <<CONF
[host a]
mac = 52:54:00:00:73:01
ip = $NET.1
netmask = 255.255.255.0

[guest]
kernel = $2.bin
memory_mb = 32

[record]
sink = $NET.254
sink_port = $SP
$3

[debug]
host = a
CONF
}
rr_boot() { boot bochs "$1" --timeout "$2" --nic 52:54:00:00:73:01:$P; }

# --- record timer_lapic to the sink ---
rr_image rec timer_lapic 'mode = record
dest = sink
log_name = lapic-1'
rr_boot rec 240
expect "record: connects to the sink" "record: connecting to the log sink at $NET\\.254:$SP"
expect "record: streams as lapic-1" 'record: streaming the log to the sink as "lapic-1"'
expect "record: the guest ran to its end" 'guest: timer_lapic: all [0-9]+ checks passed$'
expect "record: totals" 'record: [0-9]+ event points \([1-9][0-9]* asynchronous\)'
expect "record: bytes sent to the sink" 'record: log: [0-9]+ bytes sent to the sink'
expect "record: the sink confirms it stored the whole log" 'record: the sink stored the log: stored lapic-1\.ftlog: [0-9]+ bytes, [0-9]+ frames, [0-9]+ records, END \(.*\)'
expect_last "record: power-off after the sink answered" '^ftvisor: power-off: record done$'
expect_rc "record: clean power-off" 0
if grep -q 'PUT lapic-1 .*stored lapic-1.ftlog' "$WORK/sink.out"; then ok "sink: stored lapic-1"
else notok "sink: no 'stored' line: $(tail -3 "$WORK/sink.out")"; fi
sent=$(value 'record: log: ([0-9]+) bytes sent to the sink')
size=$(stat -c %s "$WORK/logs/lapic-1.ftlog" 2>/dev/null)
if [ -n "$sent" ] && [ "$sent" = "$size" ]; then ok "sink: the file holds every byte sent ($size)"
else notok "sink: sent '$sent' bytes, file has '$size'"; fi
recorded=$(grep -aoE 'record: [0-9]+ event points.*virtual' "$SERIAL" | sed 's/^record: //')

# --- replay it from the sink ---
rr_image rep timer_lapic 'mode = replay
log_name = lapic-1'
rr_boot rep 240
expect "replay: fetches the log" 'replay: fetched "lapic-1" from the sink: [0-9]+ bytes'
expect "replay: identical" 'replay: identical \([0-9]+ events, [0-9]+ instructions\): [0-9]+ state digests and the final RAM digest match'
replayed=$(grep -aoE 'replay: [0-9]+ event points.*virtual' "$SERIAL" | sed 's/^replay: //')
if [ -n "$recorded" ] && [ "$recorded" = "$replayed" ]; then ok "replay: totals equal the recording's"
else notok "replay: recorded '$recorded', replayed '$replayed'"; fi
expect "replay: the guest's console output was compared, not shown twice" 'replay: [0-9]+ event points .* [1-9][0-9]* console bytes'
expect_last "replay: power-off" '^ftvisor: power-off: replay done$'
expect_rc "replay: clean power-off" 0

# --- another guest refuses that log at its header ---
rr_image foreign timer_pit 'mode = replay
log_name = lapic-1'
rr_boot foreign 120
expect "foreign: refused at the header" 'ERROR: replay: cannot replay: the log was recorded from another guest \(kernel, initrd, command line, CPU model or memory differ; recorded on host a\)'
expect_not "foreign: nothing replayed" 'replay: identical|DIVERGED'
expect_rc "foreign: clean power-off" 0

# --- a name the sink does not have ---
rr_image missing timer_lapic 'mode = replay
log_name = nosuchlog'
rr_boot missing 120
expect "missing: the sink's answer is shown" 'ERROR: replay: cannot fetch the log "nosuchlog": no log named nosuchlog'
expect_rc "missing: clean power-off" 0

# --- no sink listening: recording never starts ---
kill $SINK 2>/dev/null; wait $SINK 2>/dev/null
rr_image nosink timer_lapic 'mode = record
dest = sink'
rr_boot nosink 120
expect "nosink: a clear reason" "ERROR: record: cannot record: log sink $NET\\.254:$SP: (connection refused or reset|no connection within 10 s)"
expect_not "nosink: the guest never ran" 'guest: timer_lapic:'
expect_rc "nosink: clean power-off" 0
