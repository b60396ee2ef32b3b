#!/bin/bash
# A frame corrupted in transit (one payload byte flipped, TCP checksum
# fixed up by tools/ftlink so TCP delivers it) is rejected by its CRC32C; a
# forged one (payload changed and its CRC recomputed by someone without the
# pair key) by its MAC. Each rejection is logged, the connection is dropped
# and resumed from the last acknowledgement, and the 16 MiB test stream
# still arrives complete and verified.
. "$(dirname "$0")/lib.sh"
P=$(( 20000 + ($$ % 500) * 4 ))
image pair <<'CONF'
[host alpha]
mac = 52:54:00:00:0b:01
ip = 10.62.0.1
netmask = 255.255.255.0
[host beta]
mac = 52:54:00:00:0b:02
ip = 10.62.0.2
netmask = 255.255.255.0
[pair]
key = faults-pair-test-key-0123456789
[debug]
uptime_ms = 150000
channel_test_mb = 16
exit_port = 0xf4
CONF
ftlink_start --qemu-stream 127.0.0.1:$P --qemu-stream 127.0.0.1:$((P + 1))
boot_bg qemu pair "$WORK/alpha.serial" --timeout 220 \
    --net e1000,52:54:00:00:0b:01,stream,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=$P
boot_bg qemu pair "$WORK/beta.serial" --timeout 220 \
    --net e1000,52:54:00:00:0b:02,stream,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=$((P + 1))
if wait_for "$WORK/beta.serial" 'channel: up with alpha' 120; then
    # Corrupt the next data segment; once that was caught, forge a frame
    # (ftlink forges only whole frames inside one segment: the small ACK
    # and PING frames qualify).
    ftlink_cmd corrupt 7700 > "$WORK/corrupt.reply"
    wait_for_any 'frame rejected' 60 "$WORK/alpha.serial" "$WORK/beta.serial"
    ftlink_cmd forge 7700 > "$WORK/forge.reply"
    wait_for_any 'MAC mismatch' 60 "$WORK/alpha.serial" "$WORK/beta.serial"
    ftlink_cmd faults > "$WORK/faults.reply"
fi
wait_boots
cat "$WORK/alpha.serial" "$WORK/beta.serial" > "$WORK/both.serial"
on "$WORK/both.serial"
grep -q '^ok' "$WORK/corrupt.reply" 2>/dev/null && ok "ftlink armed the corruption" || notok "ftlink corrupt: $(cat "$WORK/corrupt.reply" 2>/dev/null)"
grep -q '^ok' "$WORK/forge.reply" 2>/dev/null && ok "ftlink armed the forgery" || notok "ftlink forge: $(cat "$WORK/forge.reply" 2>/dev/null)"
expect "corrupted frame rejected by CRC" 'channel: frame rejected: .*CRC.*\(corrupted in transit\); dropping the connection to resynchronise'
expect "forged frame rejected by its MAC" 'channel: frame rejected: MAC mismatch \(forged, replayed or wrong key\)'
expect "the channel came back" 'channel: up with .*resuming at seq [0-9]+, peer expects [0-9]+'
n=$(grep -ac 'channel: up with alpha' "$WORK/beta.serial")
[ "${n:-0}" -ge 2 ] && ok "beta saw the channel resume ($n sessions)" || notok "beta: $n channel sessions, want at least 2"
on "$WORK/beta.serial"
expect "still every frame verified, none lost" 'chantest: received 16 MiB in 1024 messages: 1024 verified, 0 bad'
on "$WORK/alpha.serial"
expect "sender: all acknowledged" 'chantest: sent 16 MiB in 1024 messages, all acknowledged'
expect_clean_poweroff alpha beta
