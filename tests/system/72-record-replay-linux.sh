#!/bin/bash
# Record and replay of a stock Linux 6.1 guest on one host: ftvisor records
# its whole boot, a workload and the ACPI power-off ([record] mode =
# selfcheck, emulator landmarks), boots it again and replays the log: every
# event point, state digest and console byte, and at the end all registers
# and RAM, must match. The workload (rr, tests/guests/linux/init): a
# CPU-bound loop that must still take timer interrupts, then 100 short
# sleeps, which make the kernel read the TSC over and over.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/guests/guest-test.sh"
G=$ROOT/build/guest
image linux "$G/bzImage" "$G/initrd.gz" <<'CONF'
[host a]
mac = 52:54:00:00:00:01
ip = 10.0.0.1
netmask = 255.255.255.0
[guest]
kernel = bzImage
initrd = initrd.gz
cmdline = console=ttyS0 ftvisor.test=rr ftvisor.spin=3000
memory_mb = 128
[record]
mode = selfcheck
landmark = each
digest_every = 1000
[debug]
host = a
CONF
boot bochs linux --timeout 600
expect "recorded with the emulator backend" 'record: landmark backend: emulator'
expect "recorded again with the exits backend" 'record: landmark backend: exits'
expect_count "Linux ran its workload in both recordings" 2 'guest: guest: workload rr finished'
expect_count "the CPU-bound loop took timer interrupts (both backends)" 2 'guest: guest: rr: CPU-bound loop: 3000 iterations in [0-9.]+ s, [1-9][0-9]* local timer interrupts'
expect_count "the sleeps ended (both backends)" 2 'guest: guest: rr: 100 sleeps of 1 ms done'
n=$(grep -aE 'vmm: exits: RDTSC +[0-9]+' "$SERIAL" | head -1 | sed -E 's/.*RDTSC +([0-9]+).*/\1/')
if [ -n "$n" ] && [ "$n" -ge 1000 ]; then ok "RDTSC-heavy: $n RDTSC exits recorded"
else notok "RDTSC-heavy: only '${n:-none}' RDTSC exits in the recording"; fi
expect_count "Linux powered off by ACPI in both recordings" 2 'guest: .*reboot: Power down'
expect "emulator: recorded with asynchronous points" 'record: [0-9]+ event points \([1-9][0-9]* asynchronous\), ([2-9]|[1-9][0-9]+) state digests'
expect "exits: recorded with no asynchronous points" 'record: [0-9]+ event points \(0 asynchronous\), ([2-9]|[1-9][0-9]+) state digests'
expect "log size reported" 'record: log: [0-9]+ bytes in memory \([0-9]+\.[0-9]+ bytes per 1000 instructions\)'
expect "replayed" 'selfcheck: booting the guest again and replaying its log'
expect_count "replay identical, both backends" 2 'replay: identical \([0-9]+ events, [0-9]+ instructions\): ([2-9]|[1-9][0-9]+) state digests and the final RAM digest match'
r=$(grep -aoE 'record: [0-9]+ event points.*virtual' "$SERIAL" | sed 's/^record: //')
p=$(grep -aoE 'replay: [0-9]+ event points.*virtual' "$SERIAL" | sed 's/^replay: //')
if [ -n "$r" ] && [ "$r" = "$p" ]; then ok "replay totals equal the recording's ($(echo "$r" | tr "\n" ";"))"
else notok "recorded '$r', replayed '$p'"; fi
expect_not "no divergence" 'DIVERGED|REJECTED|INCOMPLETE'
expect_last "power-off after the verdict" '^ftvisor: power-off: selfcheck done$'
expect_rc "clean power-off" 0
