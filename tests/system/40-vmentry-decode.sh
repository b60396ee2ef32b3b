#!/bin/bash
# A failed VM entry is decoded into words naming the field at fault, the
# guest is stopped with a register report, and ftvisor stays up and powers
# off cleanly. [debug] fault_test = vmentry corrupts the guest's TR.
. "$(dirname "$0")/lib.sh"
image vmentry "$ROOT/build/guests/hello.bin" <<'CONF'
[host a]
mac = 52:54:00:00:00:01
ip = 10.0.0.1
netmask = 255.255.255.0
[guest]
kernel = hello.bin
memory_mb = 16
[debug]
host = a
fault_test = vmentry
CONF
boot bochs vmentry --timeout 90
expect "failure decoded in words" 'guest stopped: VM entry failed: VM-entry failure: invalid guest state .*: guest TR access rights 0x89: must be a present busy TSS'
expect "register report" '^guest vCPU state \(VM entry failed'
expect "guest exit reported" 'vmm: guest exited: stopped by ftvisor \(report above\)'
expect_not "the guest never ran" 'guest: hello'
expect_not "ftvisor did not panic" 'ftvisor: PANIC'
expect_last "clean power-off" '^ftvisor: power-off: guest exited$'
expect_rc "launcher: clean power-off" 0
