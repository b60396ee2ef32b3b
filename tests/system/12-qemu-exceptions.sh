#!/bin/bash
# Host exceptions are reported in full (vector, decoded error code,
# registers, CR2, a symbolised stack trace) on both consoles, then the
# machine halts and the launcher reports a panic. [debug] fault_test raises
# each on purpose. The framebuffer console is read back from a QEMU
# screendump with tools/fbtext.
. "$(dirname "$0")/lib.sh"
conf() {
    cat <<CONF
[host alpha]
mac = 52:54:00:00:00:01
ip = 10.1.0.1
netmask = 255.255.255.0
[debug]
host = alpha
fault_test = $1
CONF
}
for t in pf ud de gp df; do
    conf $t | image fault-$t
done

boot qemu fault-pf --timeout 60 --screendump "$WORK/screen.ppm"
expect "#PF reported" 'ftvisor: EXCEPTION #PF page fault \(vector 14\) error code 0x2$'
expect "#PF decoded" 'page fault: page not present, write in supervisor mode at CR2=0x000000000dead000'
expect "registers" 'RIP=0008:ffffffff8[0-9a-f]+ fault_test\+0x[0-9a-f]+ RFLAGS='
expect "control registers" 'CR0=[0-9a-f]{16} CR2=000000000dead000 CR3='
expect "symbolised stack trace" '#[0-9] 0xffffffff8[0-9a-f]+ kernel_main\+0x'
expect "panic line" 'ftvisor: PANIC: unhandled exception #PF page fault at RIP'
expect_rc "launcher reports a panic" 3
if [ -s "$WORK/screen.ppm" ]; then
    "$ROOT/build/tools/fbtext" "$WORK/screen.ppm" > "$WORK/screen.txt" 2>&1
    for want in 'ftvisor: ftvisor 0.1' 'config: host alpha: mac 52:54:00:00:00:01' \
                'ftvisor: EXCEPTION #PF page fault (vector 14)' 'ftvisor: PANIC: unhandled exception'; do
        if grep -qF "$want" "$WORK/screen.txt"; then ok "framebuffer shows '$want'"
        else notok "framebuffer shows '$want': not in $WORK/screen.txt"; fi
    done
else
    notok "framebuffer screendump: none taken"
fi

boot qemu fault-ud --timeout 60
expect "#UD reported" 'ftvisor: EXCEPTION #UD invalid opcode \(vector 6\)'
expect_rc "#UD: panic" 3
boot qemu fault-de --timeout 60
expect "#DE reported" 'ftvisor: EXCEPTION #DE divide error \(vector 0\)'
expect_rc "#DE: panic" 3
boot qemu fault-gp --timeout 60
expect "#GP reported" 'ftvisor: EXCEPTION #GP general protection \(vector 13\) error code 0x0'
expect_rc "#GP: panic" 3
boot qemu fault-df --timeout 60
expect "stack overflow gives #DF on its own stack" 'ftvisor: EXCEPTION #DF double fault \(vector 8\)'
expect "#DF report complete" 'ftvisor: PANIC: unhandled exception #DF double fault'
expect_rc "#DF: panic" 3
