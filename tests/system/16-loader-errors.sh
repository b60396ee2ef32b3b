#!/bin/bash
# The loader's own failures are reported like kernel panics and power the
# machine off: a boot volume without ftvisor.elf, or with a corrupt one.
. "$(dirname "$0")/lib.sh"
image noelf <<'CONF'
[host alpha]
mac = 52:54:00:00:00:01
ip = 10.0.0.1
netmask = 255.255.255.0
CONF
cp "$WORK/noelf.img" "$WORK/badelf.img"
export MTOOLS_SKIP_CHECK=1
mdel -i "$WORK/noelf.img@@1M" ::/ftvisor.elf
printf 'this is not an ELF file\n' > "$WORK/junk"
mdel -i "$WORK/badelf.img@@1M" ::/ftvisor.elf
mcopy -i "$WORK/badelf.img@@1M" "$WORK/junk" ::/ftvisor.elf
boot qemu noelf --timeout 60
expect "missing hypervisor reported" 'ftvisor: PANIC: loader: cannot read \\ftvisor\.elf: not found'
expect_rc "launcher reports it as a panic" 3
boot qemu badelf --timeout 60
expect "corrupt hypervisor reported" 'ftvisor: PANIC: loader: ftvisor\.elf is not an x86-64 ELF executable'
expect_rc "launcher reports it as a panic" 3
