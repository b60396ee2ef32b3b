#!/bin/bash
# tools/run-pair: the launcher of a pair for users.
#  - --kvm on a machine that cannot run nested VT-x says what is missing
#    and exits 2 before starting anything: this machine if it has no VT-x,
#    and other machines' views (an AMD CPU, no /dev/kvm, KVM without its
#    Intel module, nested=N) through the files the launcher reads.
#  - --bochs with the seq test guest and a witness: both hosts come up
#    (alpha protected, beta replaying), their status pages answer through
#    the launcher's TAP device, the guest runs to its end on the pair and
#    the launcher exits 0; a second run stopped by SIGTERM once protected
#    exits 130 and leaves no emulator, link, witness or TAP behind.
# Needs root (TAP).
# run: alone
. "$(dirname "$0")/lib.sh"
RP=$ROOT/tools/run-pair
NET=10.82.$(( $$ % 200 + 20 ))
# Bochs ports 8000-8999 (other tests use other windows).
P=$(( 8000 + ($$ % 100) * 8 ))
WP=$(( P + 5 ))
mkdir -p "$WORK/conf"
cp "$ROOT/build/guests/seq.bin" "$WORK/conf/"
cat > "$WORK/conf/pair.conf" <<CONF
[host alpha]
mac = 52:54:00:00:82:01
ip = $NET.1
netmask = 255.255.255.0

[host beta]
mac = 52:54:00:00:82:02
ip = $NET.2
netmask = 255.255.255.0

[pair]
key = run-pair-test-key-0123456789
failover_timeout_ms = 5000
max_lag_ms = 500
arbiter = witness:$NET.254:$WP

[guest]
kernel = seq.bin
memory_mb = 32

[debug]
uptime_ms = 150000
CONF

# ---- what is missing for --kvm -------------------------------------------
# kvm_case NAME CPUINFO-VENDOR CPUINFO-FLAGS DEVKVM MODULES NESTED: a fake
# machine view; runs the launcher on it, output in $WORK/kvm.NAME.
kvm_case() {
    local name=$1 vendor=$2 flags=$3 dev=$4 mods=$5 nested=$6 v=$WORK/view.$1
    mkdir -p "$v/module"
    printf 'vendor_id\t: %s\nflags\t\t: %s\n' "$vendor" "$flags" > "$v/cpuinfo"
    [ "$dev" = yes ] && : > "$v/kvm"
    for m in $mods; do mkdir -p "$v/module/$m/parameters"; done
    [ -n "$nested" ] && echo "$nested" > "$v/module/kvm_intel/parameters/nested"
    FTVISOR_CPUINFO=$v/cpuinfo FTVISOR_SYSMODULE=$v/module FTVISOR_DEVKVM=$v/kvm \
        timeout 30 "$RP" --conf "$WORK/conf/pair.conf" --kvm --dir "$WORK/kvm-$name" > "$WORK/kvm.$name" 2>&1
    echo $? > "$WORK/kvm.$name.rc"
}
# kvm_expect NAME WHAT REGEX: exit 2, the heading, a reason matching REGEX,
# and nothing started (no image built).
kvm_expect() {
    SERIAL=$WORK/kvm.$1
    if [ "$(cat "$WORK/kvm.$1.rc")" = 2 ]; then ok "--kvm, $2: exit 2"; else notok "--kvm, $2: exit $(cat "$WORK/kvm.$1.rc"), want 2"; fi
    expect "--kvm, $2: says it cannot run the pair" '^run-pair: cannot run the pair under QEMU/KVM with nested VT-x on this machine:$'
    expect "--kvm, $2: says why" "$3"
    [ ! -e "$WORK/kvm-$1/pair.img" ] && ok "--kvm, $2: started nothing" || notok "--kvm, $2: built an image anyway"
}
kvm_case amd AuthenticAMD "fpu svm lm" yes "kvm kvm_amd" ""
kvm_expect amd "an AMD host" '^  - this is an AMD CPU: ftvisor runs its guest with Intel VT-x, and KVM on AMD offers its guests AMD-V \(SVM\), not VT-x'
expect_not "--kvm, an AMD host: no other reason" '^  - .*(nested|kvm_intel)'
kvm_case nodev GenuineIntel "fpu vmx lm" no "" ""
kvm_expect nodev "no /dev/kvm" "^  - $WORK/view.nodev/kvm does not exist: KVM is not loaded. Load it with 'modprobe kvm_intel nested=1'"
kvm_case nested0 GenuineIntel "fpu vmx lm" yes "kvm kvm_intel" N
kvm_expect nested0 "kvm_intel nested=N" "^  - nested virtualization is off \(kvm_intel nested=N\): 'modprobe -r kvm_intel && modprobe kvm_intel nested=1'"
expect_not "--kvm, nested=N: the CPU's VT-x is not blamed" "no 'vmx' flag"
kvm_case novmx GenuineIntel "fpu lm hypervisor" yes "kvm kvm_pvm" ""
kvm_expect novmx "a VM without nested VT-x" "^  - the CPU shows no 'vmx' flag, and this machine is itself a virtual machine \('hypervisor' flag\): its hypervisor does not pass VT-x on"
expect "--kvm, a VM without nested VT-x: KVM without kvm_intel named" "^  - KVM's Intel module kvm_intel is not loaded \(KVM here is: kvm_pvm\)"
# This machine, when it has no VT-x (the development machines and CI).
if grep -qw vmx /proc/cpuinfo && [ "$(cat /sys/module/kvm_intel/parameters/nested 2>/dev/null)" = Y ]; then
    ok "--kvm on this machine: it has nested VT-x, nothing to explain # skip"
else
    timeout 30 "$RP" --conf "$WORK/conf/pair.conf" --kvm --dir "$WORK/kvm-here" > "$WORK/kvm.here" 2>&1
    echo $? > "$WORK/kvm.here.rc"
    kvm_expect here "this machine" '^  - '
fi
# Usage and config errors: 64, nothing started.
"$RP" --bochs > "$WORK/usage.out" 2>&1
[ $? = 64 ] && grep -q 'run-pair: --conf FILE is required' "$WORK/usage.out" && ok "no --conf: usage, exit 64" \
    || notok "no --conf: $(head -2 "$WORK/usage.out")"
sed 's/^memory_mb = 32$/memory_mb = 32\ndisk_device = BXHD00012/' "$WORK/conf/pair.conf" > "$WORK/conf/disk.conf"
"$RP" --conf "$WORK/conf/disk.conf" --bochs --dir "$WORK/nodisk" > "$WORK/nodisk.out" 2>&1
[ $? = 64 ] && grep -q 'disk_device = BXHD00012: give the drive.s image with --disk FILE' "$WORK/nodisk.out" \
    && ok "disk_device without --disk: says so, exit 64" || notok "disk_device without --disk: $(head -2 "$WORK/nodisk.out")"

# ---- a pair in Bochs ------------------------------------------------------
# ours DIR: the emulators, ftlink and witness of a run whose files are in DIR.
ours() {
    local p
    for p in $(pgrep -x bochs) $(pgrep -x ftlink) $(pgrep -x ftwitness); do
        grep -qsF "$1/" /proc/$p/cmdline /proc/$p/cwd/bochsrc && echo "$p"
    done
}
# run_pair TAG [extra args]: in the background; its output in $WORK/TAG.out.
run_pair() {
    local t=$1
    shift
    timeout 300 "$RP" --conf "$WORK/conf/pair.conf" --bochs --dir "$WORK/$t" --timeout 150 --port $P \
        --tap "ftrp$$" "$@" > "$WORK/$t.out" 2>&1 &
    RP_PID=$!
}
run_pair full
if wait_for "$WORK/full.out" "^alpha \\| .*pair: protected: the guest runs" 150 &&
   wait_for "$WORK/full.out" "^beta \\| .*pair: replaying alpha's log as it arrives" 60; then
    curl -s -m 10 "http://$NET.1/status" > "$WORK/full.alpha.status"
    curl -s -m 10 "http://$NET.2/status" > "$WORK/full.beta.status"
fi
wait $RP_PID
echo $? > "$WORK/full.rc"
SERIAL=$WORK/full.out
expect "bochs: says where the consoles are" "^run-pair: consoles: $WORK/full/alpha.serial, $WORK/full/beta.serial\$"
expect "bochs: says where the status pages are" "^run-pair: status pages: http://$NET\\.1/ and http://$NET\\.2/ \\(JSON: /status\\), from this machine through ftrp$$ \\($NET\\.254\\)\$"
expect "bochs: runs the witness of the config" "^run-pair: witness: build/tools/ftwitness on $NET\\.254:$WP"
expect "bochs: alpha's console, prefixed" '^alpha \| \[ *[0-9.]+\] pair: this host is the primary; backup beta; arbiter witness'
expect "bochs: beta's console, prefixed" '^beta \| \[ *[0-9.]+\] pair: this host is the backup of alpha'
expect "bochs: alpha protects the guest" "^alpha \\| .*pair: protected: the guest runs and its log streams to beta"
expect "bochs: beta replays alpha's log" "^beta \\| .*pair: replaying alpha's log as it arrives"
expect "bochs: the guest's last line on alpha" '^alpha \| .*guest: seq done'
expect_not "bochs: beta shows no guest output" '^beta \| .*guest: seq'
expect "bochs: beta's replay identical to the end" '^beta \| .*pair: the guest ended on the primary and here identically'
expect "bochs: the launcher reports alpha's power-off" '^run-pair: alpha: run-bochs: ftvisor powered off: guest exited \('
expect "bochs: the launcher reports beta's power-off" '^run-pair: beta: run-bochs: ftvisor powered off: guest exited \(replayed\)'
[ "$(cat "$WORK/full.rc")" = 0 ] && ok "bochs: exit 0 after both hosts powered off" || notok "bochs: exit $(cat "$WORK/full.rc")"
grep -q '"role":"primary"' "$WORK/full.alpha.status" 2>/dev/null && grep -q '"pair_state":"protected"' "$WORK/full.alpha.status" \
    && ok "bochs: alpha's /status through the TAP: primary, protected" || notok "bochs: alpha's /status: $(head -c 200 "$WORK/full.alpha.status" 2>/dev/null)"
grep -q '"role":"backup"' "$WORK/full.beta.status" 2>/dev/null && grep -q '"pair_state":"replaying"' "$WORK/full.beta.status" \
    && ok "bochs: beta's /status through the TAP: backup, replaying" || notok "bochs: beta's /status: $(head -c 200 "$WORK/full.beta.status" 2>/dev/null)"

# Stopped while protected: SIGTERM (a background job ignores SIGINT).
run_pair stop
if wait_for "$WORK/stop.out" "^alpha \\| .*pair: protected: the guest runs" 150; then
    kill -TERM $RP_PID
fi
wait $RP_PID
echo $? > "$WORK/stop.rc"
sleep 1.5 # tail ends within a second of the launcher
SERIAL=$WORK/stop.out
expect "stopped: says so" '^run-pair: interrupted: stopping both hosts$'
[ "$(cat "$WORK/stop.rc")" = 130 ] && ok "stopped: exit 130" || notok "stopped: exit $(cat "$WORK/stop.rc")"
left=$(ours "$WORK/stop")
[ -z "$left" ] && ok "stopped: no emulator, ftlink or witness of the run is left" || notok "stopped: still running: $left"
ip link show "ftrp$$" > /dev/null 2>&1 && notok "stopped: the TAP device ftrp$$ is still there" || ok "stopped: the TAP device is gone"
left=$(ours "$WORK/full")
[ -z "$left" ] && ok "full run: nothing of it left running" || notok "full run: still running: $left"
