#!/bin/bash
# The same image in QEMU (TCG, q35, OVMF): the UEFI path, ACPI tables, the
# framebuffer console, and the clean "no VT-x" exit through isa-debug-exit.
. "$(dirname "$0")/lib.sh"
image demo <<'CONF'
[host alpha]
mac = 52:54:00:00:00:01
ip = 192.168.7.1
netmask = 255.255.0.0

[debug]
host = alpha
exit_port = 0xf4
CONF
boot qemu demo --timeout 60
expect "banner" '\] ftvisor: ftvisor 0\.1'
expect "memory summary" 'mm: memory: [0-9]+ MiB RAM, [0-9]+ MiB usable'
expect "ACPI tables from the firmware" 'acpi: ACPI 2\.0\+, XSDT with [0-9]+ tables: FACP'
expect "FADT power-off registers and \\_S5" 'acpi: FADT: PM1a_CNT port 0x[0-9a-f]+.*\\_S5 found'
expect "framebuffer console" 'fbcon: framebuffer [0-9]+x[0-9]+ .* text console'
# TCG's timers follow the host's wall clock, which a loaded CI machine
# stretches (ticks coalesce while QEMU is descheduled): require that the
# timer ticks, at no more than the programmed rate and at least a fifth of
# it. Bochs checks the exact rate (10-bochs-boot).
t=$(value 'lapic: timer check: ([0-9]+) ticks in [0-9]+ ms')
ms=$(value 'lapic: timer check: [0-9]+ ticks in ([0-9]+) ms')
if [ -n "$t" ] && [ -n "$ms" ] && [ $((t * 5)) -ge "$ms" ] && [ $((t * 10)) -le $((ms * 12)) ]; then
    ok "LAPIC timer ticks ($t in $ms ms)"
else
    notok "LAPIC timer ticks: '$t' ticks in '$ms' ms"
fi
expect "config parsed" 'config: host alpha: mac 52:54:00:00:00:01 ip 192\.168\.7\.1/16 gateway none \(this host\)'
expect "emulator detected" 'vmx: running under a hypervisor \(CPUID signature "TCGTCGTCGTCG"\)'
expect "no VT-x line" 'vmx: not available: this CPU cannot run guests'
expect_not "never tried VMX" 'vmx: present='
expect_last "power-off reason last" '^ftvisor: power-off: no VT-x on this CPU$'
expect_rc "clean exit through isa-debug-exit" 0
