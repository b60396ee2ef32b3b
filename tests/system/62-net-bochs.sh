#!/bin/bash
# The same pair in Bochs 3.0 (82540EM e1000s joined by tools/ftlink in place
# of bxhub), with clock sync=slowdown so that both machines' emulated time
# tracks wall time and the heartbeat timeouts mean something: pings,
# heartbeats, the channel and 16 MiB verified.
. "$(dirname "$0")/lib.sh"
P=$(( 22000 + ($$ % 500) * 4 ))
image pair <<'CONF'
[host alpha]
mac = 52:54:00:00:0c:01
ip = 10.63.0.1
netmask = 255.255.255.0
[host beta]
mac = 52:54:00:00:0c:02
ip = 10.63.0.2
netmask = 255.255.255.0
[pair]
key = bochs-pair-test-key-0123456789
heartbeat_ms = 100
failover_timeout_ms = 2000
[debug]
uptime_ms = 200000
channel_test_mb = 16
CONF
ftlink_start --bochs $P --bochs $((P + 2))
boot_bg bochs pair "$WORK/alpha.serial" --timeout 280 --sync slowdown --nic 52:54:00:00:0c:01:$P
boot_bg bochs pair "$WORK/beta.serial" --timeout 280 --sync slowdown --nic 52:54:00:00:0c:02:$((P + 2))
wait_boots
on "$WORK/alpha.serial"
expect "alpha: 82540EM driven" 'net: e1000-0 \(82540EM\): MAC 52:54:00:00:0c:01'
expect "alpha: beta answers ping" 'net: peer beta \(10\.63\.0\.2\) answers ping'
expect "alpha: heartbeats from beta" 'heartbeat: peer beta: heartbeats received'
expect "alpha: channel up" 'channel: up with beta \(we connected\), session keys agreed'
expect "alpha: 16 MiB sent and acknowledged" 'chantest: sent 16 MiB in 1024 messages, all acknowledged'
expect_not "alpha: heartbeats never lost (emulated clocks in step)" 'heartbeat: peer beta: no heartbeat'
on "$WORK/beta.serial"
expect "beta: alpha answers ping" 'net: peer alpha \(10\.63\.0\.1\) answers ping'
expect "beta: heartbeats from alpha" 'heartbeat: peer alpha: heartbeats received'
expect "beta: every frame verified" 'chantest: received 16 MiB in 1024 messages: 1024 verified, 0 bad'
expect_not "beta: no channel errors" 'frame rejected|gap in the stream'
expect_clean_poweroff alpha beta
