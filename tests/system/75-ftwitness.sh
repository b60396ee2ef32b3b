#!/bin/bash
# tools/ftwitness on this machine, asked by a client written here from
# docs/witness.md (Python's hmac/hashlib): the first host to ask in an epoch
# is granted it, the other refused; the answers survive a restart of the
# witness (the state file); questions with a bad MAC, the wrong length or
# another pair's key are rejected and logged; the key can come from a
# config file, whose errors name the line.
. "$(dirname "$0")/lib.sh"
W=$ROOT/build/tools/ftwitness
PORT=$(( 28000 + ($$ % 1000) ))
KEY=witness-test-key-0123456789
# start_witness N ARGS...: the Nth start of the witness in this test.
start_witness() {
    local n=$1
    shift
    "$W" --state "$WORK/state" "$@" --listen "127.0.0.1:$PORT" >> "$WORK/witness.out" 2>&1 &
    WPID=$!
    for _ in $(seq 50); do
        [ "$(grep -c 'ftwitness: ready' "$WORK/witness.out" 2>/dev/null)" -ge "$n" ] && return 0
        sleep 0.1
    done
}
trap 'kill $WPID 2>/dev/null' EXIT

# ask KEY HOST EPOCH [mode]: prints "granted H", "refused H", "rejected-answer" or "silent".
ask() {
    python3 - "$PORT" "$@" <<'PY'
import hashlib, hmac, os, socket, struct, sys
port, key, host, epoch = int(sys.argv[1]), sys.argv[2].encode(), int(sys.argv[3]), int(sys.argv[4], 16)
mode = sys.argv[5] if len(sys.argv) > 5 else ""
kw = hmac.new(key, b"ftvisor witness v1", hashlib.sha256).digest()
nonce = os.urandom(16)
body = b"FTWQ" + bytes([1, host, 0xff, 0]) + struct.pack("<Q", epoch) + nonce
msg = body + hmac.new(kw, body, hashlib.sha256).digest()
if mode == "badmac":
    msg = msg[:-1] + bytes([msg[-1] ^ 1])
if mode == "short":
    msg = msg[:40]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
s.sendto(msg, ("127.0.0.1", port))
try:
    a = s.recv(512)
except socket.timeout:
    print("silent"); sys.exit()
ok = (len(a) == 64 and a[:4] == b"FTWA" and hmac.compare_digest(a[32:], hmac.new(kw, a[:32], hashlib.sha256).digest())
      and a[16:32] == nonce and a[5] == host and struct.unpack("<Q", a[8:16])[0] == epoch)
if not ok:
    print("rejected-answer")
else:
    print({1: "granted", 2: "refused"}.get(a[7], "?"), a[6])
PY
}
check() { if [ "$2" = "$3" ]; then ok "$1"; else notok "$1: got '$2', want '$3'"; fi; }

start_witness 1 --key "$KEY"
grep -q 'ftwitness: ready on 127.0.0.1' "$WORK/witness.out" && ok "ready line" || notok "no ready line: $(cat "$WORK/witness.out")"
check "the first asker in an epoch is granted" "$(ask "$KEY" 1 00000000000000aa)" "granted 1"
check "the other host is refused, told who holds it" "$(ask "$KEY" 0 00000000000000aa)" "refused 1"
check "the holder asking again is granted again" "$(ask "$KEY" 1 00000000000000aa)" "granted 1"
check "a new epoch has its own first asker" "$(ask "$KEY" 0 00000000000000bb)" "granted 0"
check "a question with a bad MAC gets no answer" "$(ask "$KEY" 0 00000000000000cc badmac)" "silent"
check "a short question gets no answer" "$(ask "$KEY" 0 00000000000000cc short)" "silent"
check "another pair's key gets no answer" "$(ask other-pair-key-0123456789 0 00000000000000cc)" "silent"
check "epoch cc is still free after the rejected questions" "$(ask "$KEY" 1 00000000000000cc)" "granted 1"
grep -q 'rejected 64 bytes from 127.0.0.1:[0-9]*: bad MAC' "$WORK/witness.out" && ok "a bad MAC is logged" \
    || notok "no log line for the bad MAC: $(cat "$WORK/witness.out")"
grep -q 'rejected 40 bytes from 127.0.0.1:[0-9]*: wrong length' "$WORK/witness.out" && ok "a short datagram is logged" \
    || notok "no log line for the short datagram"
grep -q 'epoch 00000000000000aa: refused host 0 (host 1 holds it)' "$WORK/witness.out" && ok "a refusal is logged" \
    || notok "no refusal line"

# A restart remembers every answer.
kill "$WPID"; wait "$WPID" 2>/dev/null
start_witness 2 --key "$KEY"
grep -q 'ready on 127.0.0.1:[0-9]* (3 epochs remembered)' "$WORK/witness.out" && ok "restart: 3 epochs read back" \
    || notok "restart: $(tail -1 "$WORK/witness.out")"
check "restart: epoch aa still belongs to host 1" "$(ask "$KEY" 0 00000000000000aa)" "refused 1"
check "restart: epoch bb still belongs to host 0" "$(ask "$KEY" 1 00000000000000bb)" "refused 0"
# A torn last line (a crash while writing) is ignored.
printf '00000000000000dd 1' >> "$WORK/state"
kill "$WPID"; wait "$WPID" 2>/dev/null
start_witness 3 --key "$KEY"
check "a torn state line does not count" "$(ask "$KEY" 0 00000000000000dd)" "granted 0"
kill "$WPID"; wait "$WPID" 2>/dev/null

# The key from a config file; a broken config stops it with file:line.
cat > "$WORK/ftvisor.conf" <<CONF
[host a]
mac = 52:54:00:00:75:01
ip = 10.0.0.1
netmask = 255.255.255.0
[pair]
key = $KEY
CONF
start_witness 4 --config "$WORK/ftvisor.conf"
check "--config: the pair key is read from the config" "$(ask "$KEY" 1 00000000000000aa)" "granted 1"
kill "$WPID"; wait "$WPID" 2>/dev/null
printf '[host a]\nmac = 52:54:00:00:75:01\nip = 10.0.0.1\nnetmask = 255.255.255.0\n[pair]\nkey = short\n' > "$WORK/bad.conf"
out=$("$W" --state "$WORK/state2" --config "$WORK/bad.conf" 2>&1); rc=$?
[ $rc = 1 ] && [[ $out == *"bad.conf:6: key: the pair key is too short"* ]] && ok "a bad config stops it with file:line" \
    || notok "bad config: rc $rc, '$out'"
out=$("$W" --state "$WORK/state2" 2>&1); rc=$?
[ $rc = 64 ] && [[ $out == usage:* ]] && ok "usage error without a key" || notok "usage: rc $rc, '$out'"
