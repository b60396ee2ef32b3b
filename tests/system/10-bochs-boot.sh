#!/bin/bash
# ftvisor boots from a UEFI disk image in Bochs 3.0 (OVMF, haswell), brings
# up its host kernel, reads the config, reports VT-x and powers off.
. "$(dirname "$0")/lib.sh"
image demo <<'CONF'
# test config
[host alpha]
mac = 52:54:00:00:00:01
ip = 10.0.0.1
netmask = 255.255.255.0
gateway = 10.0.0.254

[host beta]
mac = 52:54:00:00:00:02
ip = 10.0.0.2
netmask = 255.255.255.0

[pair]
key = 0123456789abcdef-test-key
heartbeat_ms = 50
failover_timeout_ms = 400
arbiter = witness:10.0.0.9:7700

[debug]
host = beta
CONF
boot bochs demo --timeout 90
expect "loader started" '^ftvisor loader: ftvisor-loader'
expect "loader read the hypervisor" 'ftvisor loader: ftvisor\.elf: [0-9]+ KiB'
expect "banner" '\] ftvisor: ftvisor 0\.1 \(.*\), a fault-tolerant microhypervisor'
expect "boot-info parsed" 'boot: boot-info from ftvisor-loader 0\.1: [0-9]+ memory descriptors'
expect "memory summary" 'mm: memory: 10[0-9][0-9] MiB RAM, [0-9]+ MiB usable'
expect "page allocator" 'mm: page allocator: [0-9]+ MiB free'
expect "own page tables" 'paging: own page tables: .*image W\^X, NX on'
expect "power management found" 'acpi: .*(PIIX4|FADT)'
expect "TSC calibrated (50 MHz in Bochs)" 'clock: TSC (49\.9[0-9][0-9]|50\.0[0-9][0-9]) MHz'
expect "LAPIC timer ticks" 'lapic: timer check: (4[89]|5[012]) ticks in 50 ms'
expect "config: this host by [debug] host" 'config: host beta: mac 52:54:00:00:00:02 ip 10\.0\.0\.2/24 gateway none \(this host\)'
expect "config: other host" 'config: host alpha: mac 52:54:00:00:00:01 ip 10\.0\.0\.1/24 gateway 10\.0\.0\.254$'
expect "config: pair" 'config: pair: heartbeat 50 ms, failover timeout 400 ms, arbiter witness 10\.0\.0\.9'
expect "lwIP initialised" 'net: lwIP 2\.1\.3 (on |ready)'
expect "VT-x line" 'vmx: present=yes locked=(yes|no) ept=yes ug=yes vpid=yes preempt_timer=yes mtf=yes pml=(yes|no) pmu=v[0-9]'
expect_not "no warnings about exceptions" 'EXCEPTION|PANIC'
expect_last "power-off reason is the last line" '^ftvisor: power-off: no guest configured$'
expect_rc "launcher reports a clean power-off" 0
expect_reason "launcher names the reason" 'ftvisor powered off: no guest configured'
