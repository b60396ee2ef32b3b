#!/bin/bash
# The guest's NIC: virtio-net ([guest] nic_mac) bridged onto the host's
# e1000 in Bochs, beside the host's own lwIP traffic, on tools/ftlink with
# a TAP port: a TCP peer on this machine (python3) receives what the Linux
# guest streams (the numbers 1..N, one per line) and the test checks every
# byte. Then the same under record and replay on one host ([record] mode =
# selfcheck): every frame the guest received is in the log (DEVDATA and
# DEVDONE of device 2) and the replay, which sends nothing, takes them from
# it and must match to the last byte. Needs root (TAP).
. "$(dirname "$0")/lib.sh"
P=$(( 10000 + ($$ % 250) * 8 )) # P, P+2 on the link with the TAP; P+4 a second link
TAP=ftvn$$
NET=10.33.$(( $$ % 200 + 20 ))
ftlink_start --bochs $P --bochs $((P + 2)) --tap "$TAP:$NET.254/24"
# The peer: each connection on NET.254:7700 is saved to conn.K (K = 1, 2, ...).
python3 - "$NET.254" "$WORK" > "$WORK/peer.out" 2>&1 <<'PY' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 7700))
s.listen(4)
print("peer: listening", flush=True)
k = 0
while True:
    c, a = s.accept()
    k += 1
    n = 0
    with open("%s/conn.%d" % (sys.argv[2], k), "wb") as f:
        while True:
            d = c.recv(65536)
            if not d:
                break
            f.write(d)
            n += len(d)
    c.close()
    print("peer: connection %d from %s: %d bytes" % (k, a[0], n), flush=True)
PY
PEER=$!
trap 'kill $PEER 2>/dev/null; ftlink_stop' EXIT
wait_for "$WORK/peer.out" 'peer: listening' 10 || { notok "the peer did not start: $(cat "$WORK/peer.out")"; exit 1; }
G=$ROOT/build/guest
LINES=20000

image net "$G/bzImage" "$G/initrd.gz" <<CONF
[host a]
mac = 52:54:00:00:33:01
ip = $NET.1
netmask = 255.255.255.0
[guest]
kernel = bzImage
initrd = initrd.gz
cmdline = console=ttyS0 quiet ftvisor.test=stream ftvisor.ip=$NET.10/24 ftvisor.peer=$NET.254 ftvisor.stream=$LINES
memory_mb = 64
nic_mac = 52:54:00:00:33:99
[debug]
host = a
CONF
boot bochs net --timeout 400 --nic 52:54:00:00:33:01:$P
expect "the guest's NIC is bridged onto the host's" 'net: the guest.s NIC: virtio-net 52:54:00:00:33:99 at PCI 00:04\.0, bridged onto e1000-0'
expect "guest: the peer answers a ping through the bridge" "guest: guest: net: $NET.254 answers"
expect "guest: the stream is sent" "guest: guest: stream of $LINES lines sent \(nc exit 0\)"
expect_not "no guest error" 'guest: guest: error:'
expect_not "the device never needed a reset" 'virtio-net driver:'
expect_rc "launcher: clean power-off" 0
if cmp -s "$WORK/conn.1" <(seq 1 $LINES); then
    ok "peer: the whole stream arrived intact ($(stat -c %s "$WORK/conn.1") bytes)"
else
    notok "peer: the stream differs ($(stat -c %s "$WORK/conn.1" 2>/dev/null) bytes; $(cat "$WORK/peer.out"))"
fi

# Record and replay on one host.
sed -i "s/ftvisor.stream=$LINES/ftvisor.stream=5000/" "$WORK/net/ftvisor.conf"
printf '[record]\nmode = selfcheck\nlandmark = emulator\ndigest_every = 500\n' >> "$WORK/net/ftvisor.conf"
"$ROOT/tools/mkimage" --conf "$WORK/net/ftvisor.conf" --out "$WORK/net-rr.img" > /dev/null
boot bochs net-rr --timeout 600 --nic 52:54:00:00:33:01:$P
expect "rr: the recording streamed" 'guest: guest: stream of 5000 lines sent \(nc exit 0\)'
expect "rr: received frames are in the log" 'record: [1-9][0-9]* host device completions \(DEVDONE\), [1-9][0-9]* bytes of their data \(DEVDATA\)'
rec=$(grep -aoE 'record: [0-9]+ host device completions \(DEVDONE\), [0-9]+ bytes' "$SERIAL" | grep -oE '[0-9]+' | tr '\n' ' ')
rep=$(grep -aoE 'replay: [0-9]+ host device completions \(DEVDONE\), [0-9]+ bytes' "$SERIAL" | grep -oE '[0-9]+' | tr '\n' ' ')
if [ -n "$rec" ] && [ "$rec" = "$rep" ]; then ok "rr: the replay delivered the same frames and bytes ($rec)"; else notok "rr: recorded '$rec', replayed '$rep'"; fi
expect "rr: replay identical" 'replay: identical \([0-9]+ events, [0-9]+ instructions\): [1-9][0-9]* state digests and the final RAM digest match'
expect_not "rr: no divergence" 'DIVERGED'
expect_rc "rr: launcher: clean power-off" 0
if cmp -s "$WORK/conn.2" <(seq 1 5000) && [ ! -e "$WORK/conn.3" ]; then
    ok "rr: the peer got the recorded stream once, intact: the replay sent nothing"
else
    notok "rr: peer: $(cat "$WORK/peer.out")"
fi

# The guest on a NIC of its own ([host] guest_nic): the host's e1000-0
# sits on a second link with nobody else, the guest's e1000-1 on the link
# with the TAP. The peer can only hear the guest through its own NIC.
P2=$((P + 2)) P3=$((P + 4)) # each Bochs NIC takes its port and the next
"$ROOT/build/tools/ftlink" --no-ipv6 --bochs $P3 > "$WORK/ftlink2.out" 2> "$WORK/ftlink2.err" &
LINK2=$!
trap 'kill $PEER $LINK2 2>/dev/null; ftlink_stop' EXIT
wait_for "$WORK/ftlink2.out" 'ftlink: ready' 10 || notok "the second link did not start: $(cat "$WORK/ftlink2.err")"
image own "$G/bzImage" "$G/initrd.gz" <<CONF
[host a]
mac = 52:54:00:00:33:01
ip = $NET.1
netmask = 255.255.255.0
guest_nic = 52:54:00:00:33:02
[guest]
kernel = bzImage
initrd = initrd.gz
cmdline = console=ttyS0 quiet ftvisor.test=stream ftvisor.ip=$NET.10/24 ftvisor.peer=$NET.254 ftvisor.stream=3000
memory_mb = 64
nic_mac = 52:54:00:00:33:99
[debug]
host = a
CONF
boot bochs own --timeout 400 --nic 52:54:00:00:33:01:$P3 --nic 52:54:00:00:33:02:$P2
expect "own: the host's stack on its NIC" 'net: lwIP [0-9.]+ on e1000-0: '
expect "own: the guest on the second NIC" 'net: the guest.s NIC: virtio-net 52:54:00:00:33:99 at PCI 00:04\.0, bridged onto e1000-1 \(a NIC of its own'
expect "own: the second NIC's link comes up" 'net: e1000-1 \(the guest.s NIC\): link up'
expect "own: the stream is sent" "guest: guest: stream of 3000 lines sent \(nc exit 0\)"
expect_rc "own: clean power-off" 0
last=$(ls "$WORK"/conn.* 2>/dev/null | sort -t. -k2 -n | tail -1)
if [ -n "$last" ] && cmp -s "$last" <(seq 1 3000); then
    ok "own: the peer received the stream through the guest's own NIC"
else
    notok "own: peer: $(cat "$WORK/peer.out")"
fi

# A guest_nic no NIC has stops the boot with its line.
image nonic "$G/bzImage" "$G/initrd.gz" <<CONF
[host a]
mac = 52:54:00:00:33:01
ip = $NET.1
netmask = 255.255.255.0
guest_nic = 52:54:00:00:33:07
[guest]
kernel = bzImage
nic_mac = 52:54:00:00:33:99
memory_mb = 64
[debug]
host = a
CONF
boot bochs nonic --timeout 60 --nic 52:54:00:00:33:01:$P3
expect "own: a missing guest NIC is a config error with its line" 'ftvisor\.conf:5: guest_nic: this host has no NIC \(that ftvisor drives\) with the MAC 52:54:00:00:33:07'
