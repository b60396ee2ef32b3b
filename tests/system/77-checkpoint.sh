#!/bin/bash
# Issue 8's machine state (vmm/vmstate.c), proven on one host: with
# [debug] checkpoint_every_ms ftvisor saves the guest's machine state
# between two slices, throws the vCPU (VMCS, registers, CPU-held state)
# and every device away, rebuilds them at power-on values, restores the
# state and checks that saving again gives the same bytes. Whatever the
# state missed, the guest finds reset:
#  - cpustate (a flat guest) keeps the passed-through MSRs, DR0-DR7, XCR0,
#    YMM, MXCSR and the x87 stack in the CPU across about 40 checkpoints;
#  - Linux boots through hundreds of checkpoints (real mode to long mode,
#    PIT/LAPIC/RTC/I/O APIC interrupts, virtio set-up) and runs its disk
#    workload with files checked after a remount.
# Controls: cpustate without checkpoints, and a config that combines
# checkpoints with a [pair] (refused with file:line).
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/guests/guest-test.sh"

cpustate_image() { # NAME [DEBUG-LINES]
    image "$1" "$ROOT/build/guests/cpustate.bin" <<CONF
[host a]
mac = 52:54:00:00:00:01
ip = 10.0.0.1
netmask = 255.255.255.0
[guest]
kernel = cpustate.bin
memory_mb = 32
cpu_model = x86-64-v3
[debug]
host = a
${2:-}
CONF
}

# --- cpustate: CPU-held state across checkpoints every 10 ms ---
cpustate_image cpustate "checkpoint_every_ms = 10"
boot bochs cpustate --timeout 120
expect "cpustate: checkpoints announced" 'checkpoint: every 10 ms of virtual time: save the machine state, rebuild the vCPU and devices, restore it'
n=$(grep -acE 'checkpoint: checkpoint [0-9]+ at [0-9]+ ms: [0-9]+ bytes of machine state saved, vCPU and devices rebuilt, state restored and equal' "$SERIAL")
if [ "$n" -ge 20 ]; then ok "cpustate: $n checkpoints while the guest ran (at least 20)"; else notok "cpustate: $n checkpoints, want at least 20 ($SERIAL)"; fi
expect_sequence "cpustate: checkpoints numbered in order" 'checkpoint: checkpoint ([0-9]+) at' 1 "$n"
expect "cpustate: YMM registers kept" 'guest: ok: ymm0-ymm15, all 256 bits, unchanged after 400 ms \(0 registers differ\)'
expect "cpustate: MXCSR kept" 'guest: ok: MXCSR 0x3f80 unchanged'
expect "cpustate: x87 control word kept" 'guest: ok: x87 control word 0x27f unchanged'
expect "cpustate: x87 stack kept" 'guest: ok: x87 stack unchanged'
expect "cpustate: XCR0 kept" 'guest: ok: XCR0 = 7'
for m in c0000081 c0000082 c0000083 c0000084 c0000102 c0000103 174 175 176 277 c0000100 c0000101; do
    expect "cpustate: MSR 0x$m kept" "guest: ok: MSR 0x$m = 0x[0-9a-f]+ unchanged"
done
for d in 0 1 2 3 6 7; do expect "cpustate: DR$d kept" "guest: ok: DR$d = 0x[0-9a-f]+ unchanged"; done
expect "cpustate: control registers kept" 'guest: ok: CR0 0x[0-9a-f]+ \(WP off\), CR2, CR3 and CR4 0x[0-9a-f]+ \(OSXSAVE\) unchanged'
expect "cpustate: TSC_AUX through RDTSCP" 'guest: ok: RDTSCP returns TSC_AUX 0x1234'
expect_not "cpustate: no failed check" 'guest: (FAIL|EXCEPTION)'
expect "cpustate: guest summary" 'guest: cpustate: all [0-9]+ checks passed$'
expect_not "cpustate: no restore refused or different" 'checkpoint [0-9]+: (the saved state was refused|the restored state is not|rebuilding)'
expect "cpustate: exit code 0" 'vmm: guest exited: 0 \(exit hypercall\)'
expect_rc "cpustate: clean power-off" 0

# Control: the same guest without checkpoints (no checkpoint lines).
cpustate_image cpustate-plain
boot bochs cpustate-plain --timeout 120
expect "control: cpustate passes without checkpoints" 'guest: cpustate: all [0-9]+ checks passed$'
expect_count "control: no checkpoints without the key" 0 'checkpoint: checkpoint [0-9]+ at'

# A bad combination stops the boot with file:line.
image ckpair "$ROOT/build/guests/cpustate.bin" <<'CONF'
[host a]
mac = 52:54:00:00:00:01
ip = 10.0.0.1
netmask = 255.255.255.0
[host b]
mac = 52:54:00:00:00:02
ip = 10.0.0.2
netmask = 255.255.255.0
[pair]
primary = a
key = checkpoint-test-key-0123456789
[guest]
kernel = cpustate.bin
memory_mb = 32
[debug]
host = a
checkpoint_every_ms = 10
CONF
boot bochs ckpair --timeout 60
expect "config: checkpoints with a [pair] refused with file:line" 'ftvisor\.conf:17: checkpoint_every_ms tests a guest run alone: not with a \[pair\] or a \[record\] mode'

# --- Linux: boot and the disk workload through checkpoints every 100 ms ---
G=$ROOT/build/guest
mkdir -p "$WORK/ckdisk"
head -c $((8 << 20)) /dev/zero > "$WORK/ckdisk/disk.img"
printf 'FTVISOR-DISK-T77' | dd of="$WORK/ckdisk/disk.img" conv=notrunc status=none
image cklinux "$G/bzImage" "$G/initrd.gz" "$WORK/ckdisk/disk.img" <<'CONF'
[host a]
mac = 52:54:00:00:00:01
ip = 10.0.0.1
netmask = 255.255.255.0
[guest]
kernel = bzImage
initrd = initrd.gz
disk = disk.img
cmdline = console=ttyS0 quiet ftvisor.test=disk ftvisor.files=10
memory_mb = 64
[debug]
host = a
checkpoint_every_ms = 100
CONF
boot bochs cklinux --timeout 500
n=$(grep -acE 'checkpoint: checkpoint [0-9]+ at [0-9]+ ms: [0-9]+ bytes of machine state saved' "$SERIAL")
if [ "$n" -ge 50 ]; then ok "linux: $n checkpoints (at least 50)"; else notok "linux: $n checkpoints, want at least 50 ($SERIAL)"; fi
expect "linux: sees the disk and its label through the checkpoints" "guest: guest: disk vda 16384 sectors, label 'FTVISOR-DISK-T77'"
expect "linux: every file checks out after a remount" 'guest: guest: disk files 10 written, 10 verified'
expect "linux: workload finished" 'guest: guest: workload disk finished'
expect_not "linux: no guest error" 'guest: guest: error:'
expect_not "linux: no restore refused or different" 'checkpoint [0-9]+: (the saved state was refused|the restored state is not|rebuilding)'
expect_not "linux: no guest stopped by ftvisor" 'guest stopped: (unhandled|VM entry failed|cannot emulate|checkpoint)'
expect_not "linux: no soft lockup or RCU stall" 'guest: .*(soft lockup|rcu_sched self-detected stall|rcu: INFO)'
expect_last "linux: host powers off after the guest" '^ftvisor: power-off: guest exited$'
expect_rc "linux: clean power-off" 0
