#!/bin/bash
# A stock Linux 6.1 kernel (built from Debian's linux-source-6.1 by
# tools/build-guest-linux) with a busybox initramfs boots under ftvisor in
# Bochs to a shell that runs a script, then powers off through ACPI.
. "$(dirname "$0")/lib.sh"
G=$ROOT/build/guest
image linux "$G/bzImage" "$G/initrd.gz" <<'CONF'
[host a]
mac = 52:54:00:00:00:01
ip = 10.0.0.1
netmask = 255.255.255.0
[guest]
kernel = bzImage
initrd = initrd.gz
cmdline = console=ttyS0 ftvisor.test=hello
memory_mb = 128
[debug]
host = a
CONF
boot bochs linux --timeout 300
expect "Linux booted" 'guest: \[ *[0-9.]+\] Linux version 6\.1\.'
expect "e820 map from the loader" 'guest: .*BIOS-e820: \[mem 0x0000000000100000-0x0000000007ffffff\] usable'
expect "TSC frequency from CPUID" 'guest: .*tsc: Detected [0-9.]+ MHz processor'
expect "ACPI tables found" 'guest: .*ACPI: RSDP 0x00000000000E0000'
expect "I/O APIC from the MADT" 'guest: .*IOAPIC\[0\]: apic_id 1, version 17, address 0xfec00000, GSI 0-23'
expect "serial driver found the 16550A" 'guest: .*ttyS0 at I/O 0x3f8 \(irq = 4, base_baud = 115200\) is a 16550A'
expect "clocksource is the TSC" 'guest: .*clocksource: Switched to clocksource tsc$'
expect "init ran" 'guest: guest: init started'
expect "script output" 'guest: guest: hello from Linux 6\.1\.'
expect "CPU model seen by Linux" 'guest: guest: cpuinfo: model name.*ftvisor virtual CPU'
expect "hypervisor bit offered" 'guest: guest: cpuinfo: flags.*hypervisor'
expect_not "VMX hidden" 'guest: guest: cpuinfo: flags.* vmx '
expect "workload finished" 'guest: guest: workload hello finished'
expect "ACPI S5 from Linux" 'guest: .*reboot: Power down'
expect "guest exit reported" 'vmm: guest exited: 0 \(ACPI power-off\) after [0-9]+ VM exits'
expect_not "no guest stopped by ftvisor" 'guest stopped: (unhandled|VM entry failed|cannot emulate)'
expect_last "host powers off after the guest" '^ftvisor: power-off: guest exited$'
expect_rc "launcher: clean power-off" 0

# The same kernel on the x86-64-v3 CPU model: XSAVE with AVX state, set up
# by Linux through CR4.OSXSAVE and XSETBV.
sed -i 's/^memory_mb = 128$/memory_mb = 128\ncpu_model = x86-64-v3/' "$WORK/linux/ftvisor.conf"
"$ROOT/tools/mkimage" --conf "$WORK/linux/ftvisor.conf" --out "$WORK/linux-v3.img" > /dev/null
boot bochs linux-v3 --timeout 300
expect "v3: AVX state through XSAVE" "guest: .*x86/fpu: Supporting XSAVE feature 0x004: 'AVX registers'"
expect "v3: AVX2 offered" 'guest: guest: cpuinfo: flags.* avx2 '
expect "v3: workload finished" 'guest: guest: workload hello finished'
expect "v3: guest exit reported" 'vmm: guest exited: 0 \(ACPI power-off\)'
expect_rc "v3: launcher: clean power-off" 0
