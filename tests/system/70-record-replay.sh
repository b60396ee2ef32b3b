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

# rr_boot NAME GUEST TIMEOUT RECORD-LINES [DEBUG-LINES]
rr_boot() {
    local name=$1 g=$2 timeout=$3 rec=$4 dbg=${5:-}
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
    boot bochs "$name" --timeout "$timeout"
}

identical() {
    local n=$1
    expect "$n: the emulator backend is chosen" 'record: landmark backend: emulator \(exact instruction counts'
    expect "$n: recorded with asynchronous points" 'record: [0-9]+ event points \([1-9][0-9]* asynchronous\)'
    expect "$n: replayed" 'selfcheck: booting the guest again and replaying its log'
    expect "$n: replay identical" 'replay: identical \([0-9]+ events, [0-9]+ instructions\): [0-9]+ state digests and the final RAM digest match'
    expect_not "$n: no divergence" 'DIVERGED|REJECTED|INCOMPLETE'
    # The totals of both runs, printed alike, are equal.
    local r p
    r=$(grep -aoE 'record: [0-9]+ event points.*virtual' "$SERIAL" | sed 's/^record: //')
    p=$(grep -aoE 'replay: [0-9]+ event points.*virtual' "$SERIAL" | sed 's/^replay: //')
    if [ -n "$r" ] && [ "$r" = "$p" ]; then ok "$n: replay totals equal the recording's ($r)"
    else notok "$n: recorded '$r', replayed '$p'"; fi
    expect_last "$n: power-off after the verdict" '^ftvisor: power-off: selfcheck done$'
    expect_rc "$n: clean power-off" 0
}

# --- timer interrupts into busy loops: PIT through the 8259 and I/O APIC,
#     state digests every 10 points ---
rr_boot timer_pit timer_pit 180 'digest_every = 10'
identical timer_pit
# (The guest's own interrupt-rate checks are not asserted here: a digest
# every 10 points slows the recorded run, whose time is host time.)
expect "timer_pit: a state digest every 10 points" 'record: [0-9]+ event points \([0-9]+ asynchronous\), ([5-9]|[1-9][0-9]+) state digests'

# --- LAPIC timer: periodic, one-shot, TSC deadline, x2APIC ---
rr_boot timer_lapic timer_lapic 180 'digest_every = 50'
identical timer_lapic
expect "timer_lapic: the guest's own timer checks passed while recorded" 'guest: timer_lapic: all [0-9]+ checks passed$'

# --- RDTSC: every read is an event point ---
rr_boot rdtsc rdtsc 240 ''
identical rdtsc
expect "rdtsc: 100000 TSC reads recorded" 'record: (1[0-9]{5}|[2-9][0-9]{5}) event points'

# --- HLT woken by timers (TIME records at HLT wake-ups) ---
rr_boot hlt hlt 180 'digest_every = 5'
identical hlt

# --- guest resets (the image is loaded again mid-recording) ---
rr_boot reset reset 180 ''
identical reset
expect "reset: the guest rebooted three times" 'guest: reset: boot 4: '

# --- the exit-synchronous backend: no asynchronous points at all ---
rr_boot exits timer_lapic 180 'landmark = exits
digest_every = 20'
expect "exits: backend chosen by config" 'record: landmark backend: exits \(events wait for the next synchronous exit\)'
expect "exits: no asynchronous points" 'record: [0-9]+ event points \(0 asynchronous\)'
expect "exits: replay identical" 'replay: identical \([0-9]+ events, [0-9]+ instructions\)'
expect_rc "exits: clean power-off" 0

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
