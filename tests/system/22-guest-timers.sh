#!/bin/bash
# Test guests about time (tests/guests/): the virtual TSC (rdtsc), the PIT
# through the 8259 and the I/O APIC interrupting a busy guest (timer_pit),
# the local APIC timer in periodic, one-shot, TSC-deadline and x2APIC modes
# (timer_lapic), and timers waking a halted vCPU (hlt).
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/guests/guest-test.sh"

# --- rdtsc: monotonic, and its rate agrees with the PIT and PM timer ---
guest_boot rdtsc 60
expect "rdtsc: 100000 readings strictly increasing" 'guest: ok: 100000 TSC readings strictly increasing \(0 went backwards or stood still\)'
expect "rdtsc: RDTSCP returns TSC_AUX" 'guest: ok: RDTSCP returned IA32_TSC_AUX 0x5a5a in ECX every time'
expect "rdtsc: PIT channel 2 gate/OUT via port 0x61" 'guest: ok: port 0x61 bit 5 was low while channel 2 counted'
expect "rdtsc: TSC rate by the PIT within 5% of CPUID 0x15" 'guest: ok: PIT-measured TSC rate [0-9]+ Hz within 5% of CPUID'
expect "rdtsc: TSC rate by the PM timer within 5% of CPUID 0x15" 'guest: ok: PM-timer-measured TSC rate [0-9]+ Hz within 5% of CPUID'
expect "rdtsc: ftvisor counted the RDTSC exits" 'vmm: exits: RDTSC +(99|10[0-9])[0-9]{3},'
expect_not "rdtsc: no failed check" 'guest: (FAIL|EXCEPTION)'
expect "rdtsc: guest summary" 'guest: rdtsc: all [0-9]+ checks passed$'
expect "rdtsc: guest exit code 0" 'vmm: guest exited: 0 \(exit hypercall\)'
expect_rc "rdtsc: clean power-off" 0

# --- timer_pit: 1 kHz PIT into a CPU-bound loop ---
guest_boot timer_pit 60
expect "timer_pit: ~100 interrupts through the 8259 in 100 ms" 'guest: ok: 8259: [0-9]+ interrupts while the loop ran \(want 50\.\.150\)'
expect "timer_pit: the 8259's interrupts hit the busy loop" 'guest: ok: 8259: [0-9]+ of [0-9]+ interrupts landed inside the busy loop'
expect "timer_pit: the loop progressed between interrupts" 'guest: ok: 8259: the loop.s counter advanced between every two interrupts \(0 stalls\)'
expect "timer_pit: 8259 ISR clear after EOI" 'guest: ok: 8259 ISR clear after the last EOI'
expect "timer_pit: PIT through I/O APIC pin 2" 'guest: ok: I/O APIC: [0-9]+ interrupts while the loop ran \(want 25\.\.75\)'
expect "timer_pit: the I/O APIC's interrupts hit the busy loop" 'guest: ok: I/O APIC: the loop.s counter advanced between every two interrupts'
expect_not "timer_pit: no failed check" 'guest: (FAIL|EXCEPTION)'
expect "timer_pit: guest summary" 'guest: timer_pit: all [0-9]+ checks passed$'
expect "timer_pit: guest exit code 0" 'vmm: guest exited: 0 \(exit hypercall\)'
expect_rc "timer_pit: clean power-off" 0

# --- timer_lapic: periodic, one-shot, TSC deadline, x2APIC ---
guest_boot timer_lapic 60
expect "timer_lapic: count from CPUID 0x15 for 1 kHz at /16" 'guest: timer_lapic: periodic: [0-9]+ Hz / 16 / [0-9]+ = 1000 Hz$'
expect "timer_lapic: current count counts down" 'guest: ok: current count counts within the initial count'
expect "timer_lapic: periodic 1 kHz into a busy loop" 'guest: ok: periodic at 1 kHz: [0-9]+ interrupts in [0-9]+ us, within 20%'
expect "timer_lapic: interrupts land in the busy loop" 'guest: ok: interrupts landed in the CPU-bound loop'
expect "timer_lapic: one-shot fires once" 'guest: ok: one-shot: exactly one interrupt \(1\)'
expect "timer_lapic: one-shot fires on time" 'guest: ok: one-shot: fired after 5\.0-6\.0 ms'
expect "timer_lapic: masked one-shot is silent" 'guest: ok: masked one-shot: no interrupt'
expect "timer_lapic: TSC deadline fires on time" 'guest: ok: TSC deadline: fired at/after the deadline, within 1 ms'
expect "timer_lapic: TSC deadline disarms itself" 'guest: ok: IA32_TSC_DEADLINE reads 0 after firing'
expect "timer_lapic: TSC deadline disarmed by 0" 'guest: ok: TSC deadline disarmed by writing 0: no interrupt'
expect "timer_lapic: x2APIC timer by MSRs" 'guest: ok: x2APIC periodic timer by MSRs at 1 kHz'
expect_not "timer_lapic: no failed check" 'guest: (FAIL|EXCEPTION)'
expect "timer_lapic: guest summary" 'guest: timer_lapic: all [0-9]+ checks passed$'
expect "timer_lapic: guest exit code 0" 'vmm: guest exited: 0 \(exit hypercall\)'
expect_rc "timer_lapic: clean power-off" 0

# --- hlt: timers wake a halted vCPU on time ---
guest_boot hlt 60
expect_count "hlt: 5 LAPIC one-shot rounds, one HLT each" 5 'guest: hlt: LAPIC one-shot round [1-5]: woke after [0-9]+ us, 1 HLT\(s\)$'
expect "hlt: LAPIC one-shot wakes HLT after 10-12 ms" 'guest: ok: LAPIC one-shot 10 ms woke HLT after 10-12 ms in 5 of 5 rounds'
expect "hlt: TSC deadline wakes HLT after 10-12 ms" 'guest: ok: TSC deadline \+10 ms woke HLT after 10-12 ms in 3 of 3 rounds'
expect "hlt: PIT one-shot wakes HLT" 'guest: ok: PIT one-shot 10 ms woke HLT after ~10 ms in 3 of 3 rounds'
expect "hlt: PIT 100 Hz wakes 10 HLTs in 100 ms" 'guest: ok: PIT 100 Hz woke 10 HLTs in ~100 ms'
expect_not "hlt: no failed check" 'guest: (FAIL|EXCEPTION)'
expect "hlt: guest summary" 'guest: hlt: all [0-9]+ checks passed$'
expect "hlt: ftvisor saw the HLTs" 'vmm: exits: HLT +(2[0-9]|[3-9][0-9]),'
expect "hlt: guest exit code 0" 'vmm: guest exited: 0 \(exit hypercall\)'
expect_rc "hlt: clean power-off" 0
