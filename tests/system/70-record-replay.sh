#!/bin/bash
# Record and replay on one host ([record] mode = selfcheck): ftvisor records
# a guest into host memory, boots it again and replays the log, and says
# whether the replay was identical (same event points at the same
# instructions, same console output, same state digests, same final RAM).
# Test guests that take timer interrupts in CPU-bound loops (the emulator
# backend must land them at exact instructions), read the TSC, halt, reset;
# the exit-synchronous backend; a damaged log (rejected by its CRC) and a
# valid log of a run that never happened (the replay diverges with a
# report). The Linux guest's selfcheck is in 72-record-replay-linux.sh.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/guests/guest-test.sh"

# rr_image NAME GUEST RECORD-LINES [DEBUG-LINES]: a selfcheck image.
rr_image() {
    local name=$1 g=$2 rec=$3 dbg=${4:-}
    image "$name" "$ROOT/build/guests/$g.bin" <<CONF
[host a]
mac = 52:54:00:00:00:01
ip = 10.0.0.1
netmask = 255.255.255.0

[guest]
kernel = $g.bin
memory_mb = 32

[record]
mode = selfcheck
$rec

[debug]
host = a
$dbg
CONF
}

# rr_boot NAME GUEST TIMEOUT RECORD-LINES [DEBUG-LINES]
rr_boot() {
    rr_image "$1" "$2" "$4" "${5:-}"
    boot bochs "$1" --timeout "$3"
}

# --- every test guest, with every landmark backend that runs here
#     (landmark = each: emulator, then exits, in one boot), two boots at a
#     time. Each guest's own checks must pass while it is recorded, and
#     each replay must be identical with the same totals. ---
GUESTS="timer_pit timer_lapic rdtsc hlt reset uart io cpuid modes edges isolation xsave poweroff clihlt triple hello bench_exits"
for g in $GUESTS; do
    rr_image "m-$g" "$g" 'landmark = each'
done
n=0
for g in $GUESTS; do
    boot_bg bochs "m-$g" "$WORK/m-$g.serial" --timeout 300
    n=$((n + 1))
    [ $((n % 2)) = 0 ] && wait_boots
done
wait_boots
for g in $GUESTS; do
    on "$WORK/m-$g.serial"
    expect "$g: emulator backend" 'record: landmark backend: emulator \(exact instruction counts'
    expect "$g: exits backend" 'record: landmark backend: exits \(events wait for the next synchronous exit\)'
    expect "$g: the PMU backend's absence is explained" 'selfcheck: not with the PMU backend: .*(cannot count on this CPU|PMC0 counted [0-9]+ of the probe.s 100 conditional branches)'
    expect_count "$g: two identical replays" 2 'replay: identical \([0-9]+ events, [0-9]+ instructions\): [0-9]+ state digests and the final RAM digest match'
    expect_not "$g: no divergence" 'DIVERGED|REJECTED|INCOMPLETE|cannot replay'
    r=$(grep -aoE 'record: [0-9]+ event points.*virtual' "$SERIAL" | sed 's/^record: //')
    p=$(grep -aoE 'replay: [0-9]+ event points.*virtual' "$SERIAL" | sed 's/^replay: //')
    if [ -n "$r" ] && [ "$r" = "$p" ]; then ok "$g: both replays' totals equal their recordings'"
    else notok "$g: recorded '${r//$'\n'/ | }', replayed '${p//$'\n'/ | }'"; fi
    expect_last "$g: power-off after the verdicts" '^ftvisor: power-off: selfcheck done$'
    rc=$(cat "$WORK/m-$g.serial.rc" 2>/dev/null)
    [ "$rc" = 0 ] && ok "$g: clean power-off" || notok "$g: launcher exit $rc: $(tail -1 "$WORK/m-$g.serial.launcher")"
done
# What each guest shows about the recording.
on "$WORK/m-timer_pit.serial"
expect "timer_pit: emulator backend injected asynchronously" 'record: [0-9]+ event points \([1-9][0-9]* asynchronous\)'
expect "timer_pit: exits backend: no asynchronous points" 'record: [0-9]+ event points \(0 asynchronous\)'
expect_count "timer_pit: the guest's checks passed in both recordings" 2 'guest: timer_pit: all [0-9]+ checks passed$'
on "$WORK/m-timer_lapic.serial"
expect_count "timer_lapic: the guest's checks passed in both recordings" 2 'guest: timer_lapic: all [0-9]+ checks passed$'
on "$WORK/m-rdtsc.serial"
expect "rdtsc: 100000 TSC reads recorded" 'record: (1[0-9]{5}|[2-9][0-9]{5}) event points'
expect_count "rdtsc: the guest's checks passed in both recordings" 2 'guest: rdtsc: all [0-9]+ checks passed$'
on "$WORK/m-reset.serial"
expect "reset: the guest rebooted three times while recorded" 'guest: reset: boot 4: '
on "$WORK/m-triple.serial"
expect_count "triple: the triple fault ended both recordings and both replays" 4 'vmm: guest stopped: the guest triple-faulted at RIP'
on "$WORK/m-isolation.serial"
expect_count "isolation: the guest's checks passed in both recordings" 2 'guest: isolation: all [0-9]+ checks passed$'

# --- a configured span: the recording pauses the guest after 100 ms of
#     virtual time and the replay stops at the same point ---
rr_boot span timer_lapic 180 'span_ms = 100'
expect "span: announced" 'selfcheck: recording 100 ms of the guest, then replaying it'
expect "span: the recording stops at the span" 'vmm: guest stopped: recording span of 100 ms reached'
expect "span: the replay stops at the log's end" 'vmm: guest stopped: replay reached the end of the log'
expect "span: about 100 ms recorded" 'record: [0-9]+ event points .* 0\.10[0-9] s virtual'
expect "span: replay identical" 'replay: identical \([0-9]+ events, [0-9]+ instructions\)'
expect_last "span: power-off" '^ftvisor: power-off: selfcheck done$'
expect_rc "span: clean power-off" 0

# --- state digests every 20 points (with no minimum of virtual time
#     between them): 100000 TSC reads make about 5000 digests, each
#     re-reading only the pages written since the last ---
rr_boot digests rdtsc 300 $'digest_every = 20\ndigest_min_ms = 0'
expect "digests: thousands of state digests recorded" 'record: [0-9]+ event points \([0-9]+ asynchronous\), [1-9][0-9]{3,} state digests'
expect "digests: replay identical with all of them" 'replay: identical \([0-9]+ events, [0-9]+ instructions\): [1-9][0-9]{3,} state digests and the final RAM digest match'
expect "digests: the guest's checks passed while recorded" 'guest: rdtsc: all [0-9]+ checks passed$'
expect_rc "digests: clean power-off" 0

# --- the same, at least 50 ms of virtual time apart: at most one digest
#     per 50 ms recorded, and the final one ---
rr_boot digestms rdtsc 300 $'digest_every = 20\ndigest_min_ms = 50'
line=$(grep -aoE 'record: [0-9]+ event points .* state digests, .* [0-9]+\.[0-9]{3} s virtual' "$SERIAL" | head -1)
n=$(sed -E 's/.*\), ([0-9]+) state digests.*/\1/' <<<"$line")
ms=$(sed -E 's/.* ([0-9]+)\.([0-9]{3}) s virtual/\1\2/' <<<"$line" | sed 's/^0*//')
if [ -n "$line" ] && [ "$n" -ge 2 ] && [ "$n" -le $(( ${ms:-0} / 50 + 1 )) ]; then
    ok "digestms: $n state digests in $ms ms of virtual time"
else notok "digestms: '${n:-?}' state digests in '${ms:-?}' ms (want 2 to one per 50 ms and the final)"; fi
expect "digestms: replay identical" 'replay: identical \([0-9]+ events, [0-9]+ instructions\): [0-9]+ state digests and the final RAM digest match'
expect_rc "digestms: clean power-off" 0

# --- a log still arriving: the replayer gets it 4 bytes per main-loop
#     pass (frames closed every ms while recording) and must wait at its
#     end, entering the guest only as far as the log reaches, as a backup
#     replaying a primary's log live will ---
rr_boot drip timer_lapic 300 '' 'replay_drip = 4'
expect "drip: the log trickles in" 'selfcheck: replay_drip: the log reaches the replayer 4 bytes per main-loop pass'
n=$(value 'replay: waited ([0-9]+) times for more of the log to arrive')
if [ -n "$n" ] && [ "$n" -ge 100 ]; then ok "drip: the replay waited for the log ($n times)"
else notok "drip: the replay waited '${n:-?}' times (want at least 100)"; fi
expect "drip: replay identical" 'replay: identical \([0-9]+ events, [0-9]+ instructions\)'
expect_rc "drip: clean power-off" 0

# --- a damaged log: one bit flipped in a records frame ---
rr_boot corrupt timer_pit 180 '' 'fault_test = log_corrupt'
expect "corrupt: the fault is applied" 'fault_test = log_corrupt: flipped bit 4 of log byte [0-9]+'
expect "corrupt: the replayer names the CRC failure" 'ERROR: replay: the log is damaged: .*CRC'
expect "corrupt: verdict REJECTED" 'ERROR: replay: REJECTED: the log is damaged'
expect_not "corrupt: not called identical" 'replay: identical'
expect_last "corrupt: power-off says it failed" '^ftvisor: power-off: selfcheck failed$'
expect_rc "corrupt: the hypervisor stays up and powers off cleanly" 0

# --- a valid log of another run: times moved 1 ms from the middle on ---
rr_boot retime timer_pit 180 '' 'fault_test = log_retime'
expect "retime: the fault is applied" 'fault_test = log_retime: TIME record at exit [0-9]+'
expect "retime: divergence reported" 'ERROR: replay: DIVERGED: '
expect "retime: the first differing record is named" '^  first differing record: #[0-9]+ [A-Z]+ \(frame [0-9]+, record [0-9]+\) at exit [0-9]+, landmark [0-9]+'
expect "retime: both register sets are shown" '^  recorded: RIP='
expect "retime: replayed registers are shown" '^  replayed: RIP='
expect "retime: verdict DIVERGED" 'ERROR: replay: DIVERGED'
expect_not "retime: not called identical" 'replay: identical'
expect_rc "retime: clean power-off" 0

# --- one record mutated (validly): the replay must name exactly it ---
rr_boot mutate timer_pit 180 '' 'fault_test = log_mutate'
k=$(value 'fault_test = log_mutate: record #([0-9]+) ')
expect "mutate: the fault is applied" 'fault_test = log_mutate: record #[0-9]+ \(ASYNC at exit [0-9]+, landmark [0-9]+\): register CRC [0-9a-f]+ becomes [0-9a-f]+'
expect "mutate: divergence at the landmark's registers" 'ERROR: replay: DIVERGED: the landmark.s registers differ'
if [ -n "$k" ] && grep -aqE "^  first differing record: #$k ASYNC " "$SERIAL"; then ok "mutate: the report names the mutated record #$k"
else notok "mutate: mutated #${k:-?}, report: $(grep -a 'first differing record' "$SERIAL" | head -1)"; fi
expect "mutate: the recorded registers are shown" '^  recorded: RIP='
expect_rc "mutate: clean power-off" 0

# --- landmark = pmu: Bochs offers a PMU on paper (CPUID leaf 0xA) that does
#     not count; the probe finds that out and the recording never starts ---
rr_boot pmu timer_pit 120 'landmark = pmu'
expect "pmu: refused with the probe's finding" 'ERROR: record: ftvisor.conf:[0-9]+: landmark: .*PMU version [0-9]+ qualifies on paper, but PMC0 counted 0 of the probe.s 100 conditional branches'
expect_not "pmu: nothing recorded" 'record: [0-9]+ event points'
expect_last "pmu: power-off says why" '^ftvisor: power-off: selfcheck cannot run$'
expect_rc "pmu: clean power-off" 0
