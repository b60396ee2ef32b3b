#!/bin/bash
# Two ftvisor hosts in QEMU on one Ethernet link (tools/ftlink, QEMU stream
# ports), found by MAC from one config: alpha on an 82574 (q35's e1000e),
# beta on virtio-net. They answer pings, exchange heartbeats, bring up the
# logging channel and stream 16 MiB over it with every frame verified. The
# status service answers over the link from the host (ftlink's TAP).
. "$(dirname "$0")/lib.sh"
P=$(( 18000 + ($$ % 500) * 4 ))
image pair <<'CONF'
[host alpha]
mac = 52:54:00:00:0a:01
ip = 10.61.0.1
netmask = 255.255.255.0
[host beta]
mac = 52:54:00:00:0a:02
ip = 10.61.0.2
netmask = 255.255.255.0
[pair]
key = qemu-pair-test-key-0123456789
heartbeat_ms = 100
failover_timeout_ms = 1000
[debug]
uptime_ms = 120000
channel_test_mb = 16
exit_port = 0xf4
CONF
ftlink_start --qemu-stream 127.0.0.1:$P --qemu-stream 127.0.0.1:$((P + 1)) --tap ftvq$$:10.61.0.254/24
boot_bg qemu pair "$WORK/alpha.serial" --timeout 200 \
    --net e1000e,52:54:00:00:0a:01,stream,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=$P
boot_bg qemu pair "$WORK/beta.serial" --timeout 200 \
    --net virtio-net-pci,52:54:00:00:0a:02,stream,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=$((P + 1))
# While both run: the status page from the host, over the link.
if wait_for "$WORK/beta.serial" 'channel: up with alpha' 120; then
    curl -s -m 10 http://10.61.0.2/status > "$WORK/status.json"
    curl -s -m 10 http://10.61.0.2/ > "$WORK/status.html"
    curl -s -m 10 -o /dev/null -w '%{http_code}' http://10.61.0.2/nothing-here > "$WORK/status.404"
fi
wait_boots
on "$WORK/alpha.serial"
expect "alpha: 82574 driven" 'net: e1000-0 \(82574L\): MAC 52:54:00:00:0a:01'
expect "alpha: found itself by MAC" 'config: host alpha: .*\(this host\)'
expect "alpha: beta answers ping" 'net: peer beta \(10\.61\.0\.2\) answers ping'
expect "alpha: heartbeats from beta" 'heartbeat: peer beta: heartbeats received'
expect "alpha: channel up, session keys agreed" 'channel: up with beta \(we connected\), session keys agreed'
expect "alpha: 16 MiB sent and acknowledged" 'chantest: sent 16 MiB in 1024 messages, all acknowledged'
expect_not "alpha: no channel errors" 'frame rejected|gap in the stream'
on "$WORK/beta.serial"
expect "beta: virtio-net driven" 'net: virtio-net-0 \(virtio-net\): MAC 52:54:00:00:0a:02'
expect "beta: found itself by MAC" 'config: host beta: .*\(this host\)'
expect "beta: alpha answers ping" 'net: peer alpha \(10\.61\.0\.1\) answers ping'
expect "beta: heartbeats from alpha" 'heartbeat: peer alpha: heartbeats received'
expect "beta: every frame verified" 'chantest: received 16 MiB in 1024 messages: 1024 verified, 0 bad'
expect_not "beta: no channel errors" 'frame rejected|gap in the stream'
expect_clean_poweroff alpha beta
if grep -q '"host":"beta"' "$WORK/status.json" 2>/dev/null && grep -q '"name":"alpha"' "$WORK/status.json" &&
   grep -q '"channel_up":true' "$WORK/status.json" && grep -q '"link":"up"' "$WORK/status.json"; then
    ok "GET /status: JSON with host, link, peers and channel state"
else
    notok "GET /status: got '$(head -c 300 "$WORK/status.json" 2>/dev/null)'"
fi
grep -q '<title>ftvisor</title>' "$WORK/status.html" 2>/dev/null && grep -q "fetch('/status'" "$WORK/status.html" && grep -q '</html>' "$WORK/status.html" &&
    ok "GET /: the status page" || notok "GET /: got '$(head -c 200 "$WORK/status.html" 2>/dev/null)'"
[ "$(cat "$WORK/status.404" 2>/dev/null)" = 404 ] && ok "unknown path: 404" || notok "unknown path: '$(cat "$WORK/status.404" 2>/dev/null)'"
[ -s "$WORK/link.pcap" ] && ok "frames captured to a pcap" || notok "no pcap"
