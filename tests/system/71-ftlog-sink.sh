#!/bin/bash
# tools/ftlog-sink on its own (no emulator, no root): a small C program
# built here with ft/log.c's encoder writes valid logs, and a Python client
# speaks the sink's protocol (docs/log-sink.md). Checks PUT and GET
# round trips (byte-identical), a missing log, bad requests, the sink's own
# failures (paths that are directories, a file size limit), a flipped bit,
# a stream cut mid-frame (closed and reset), data after END, two PUTs at
# once, a second PUT of a name being stored, a GET while storing, random
# hostile connections, a clean exit on SIGTERM during a PUT, --once,
# --verbose and usage errors. The server under test is mostly an
# ASan/UBSan build of the same sources, so memory errors fail the test
# rather than pass unnoticed.
. "$(dirname "$0")/lib.sh"
SINK=$ROOT/build/tools/ftlog-sink
make -s -C "$ROOT" build/tools/ftlog-sink > "$WORK/build.log" 2>&1 \
    || { notok "build ftlog-sink: $(head -3 "$WORK/build.log")"; exit 1; }
SRCS="$ROOT/tools/ftlog-sink.c $ROOT/ft/log.c $ROOT/kernel/crc32c.c $ROOT/kernel/sha256.c"
# shellcheck disable=SC2086
gcc -std=gnu11 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -Wall -Wextra -Werror \
    -o "$WORK/ftlog-sink-asan" $SRCS 2> "$WORK/build-asan.log" \
    || { notok "build ftlog-sink with sanitizers: $(head -3 "$WORK/build-asan.log")"; exit 1; }

# ------------------------------------------------------- log generator ----
cat > "$WORK/mklog.c" <<'EOF'
/* mklog OUT FRAMES SEED [noend]: a valid event log: the header, FRAMES
 * records frames with every record type (frame 2 near the maximum size)
 * and, without "noend", a last frame with END (poweroff). Prints
 * "frame K OFFSET SIZE" for every frame. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ft/log.h"

static uint8_t buf[LOG_MAX_FRAME], data[LOG_MAX_DATA];
static uint64_t rs;
static uint64_t rnd(void) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return rs; }

int main(int argc, char **argv)
{
    if (argc < 4) return 2;
    FILE *f = fopen(argv[1], "wb");
    int frames = atoi(argv[2]), end = !(argc > 4 && !strcmp(argv[4], "noend"));
    rs = 0x9e3779b97f4a7c15ull ^ (uint64_t)atoll(argv[3]);
    for (size_t i = 0; i < sizeof(data); i++) data[i] = (uint8_t)rnd();
    struct log_encoder e;
    struct log_header h = { .backend = LOG_BACKEND_EMULATOR, .tsc_hz = 2000000000, .epoch_s = 1700000000,
                            .mem_bytes = 256u << 20, .boot_id = rnd() };
    strcpy(h.cpu_model, "Skylake-Server");
    strcpy(h.host, "alpha");
    size_t sz, off = 0;
    log_encoder_init(&e);
    if (!f || log_encode_header(&e, &h, buf, sizeof(buf), &sz)) return 1;
    fwrite(buf, 1, sz, f);
    printf("frame 0 %zu %zu\n", off, sz);
    off += sz;
    uint64_t x = 0, t = 0, ic = 0;
    for (int k = 1; k <= frames + end; k++) {
        log_frame_begin(&e, buf, sizeof(buf));
        int n = k > frames ? 0 : 3 + (int)(rnd() % 20);
        for (int i = 0; i < n; i++) {
            x += rnd() % 50;
            int r = 0;
            switch (i % 6) {
            case 0: r = log_put_time(&e, x, t += rnd() % 100000); break;
            case 1: r = log_put_async(&e, x, ic += 1 + rnd() % 10000, rnd(), rnd(), (uint32_t)rnd(), t += 10); break;
            case 2: r = log_put_output(&e, (uint8_t)(rnd() % 3), x, rnd() % 1000, (uint32_t)rnd()); break;
            case 3: r = log_put_random(&e, x, rnd()); break;
            case 4: r = log_put_input(&e, x, data, (uint32_t)(rnd() % 40)); break;
            case 5: r = log_put_dma(&e, x, 0x100000 + rnd() % 0x1000000, data, (uint32_t)(rnd() % 3000)); break;
            }
            if (r) return 1;
        }
        if (k == 2 && log_put_dma(&e, x, 0x2000000, data, LOG_MAX_DATA - 8000)) return 1;
        if (k > frames && log_put_end(&e, x, LOG_END_POWEROFF)) return 1;
        if (log_frame_end(&e, &sz)) return 1;
        fwrite(buf, 1, sz, f);
        printf("frame %d %zu %zu\n", k, off, sz);
        off += sz;
    }
    return fclose(f) ? 1 : 0;
}
EOF
gcc -std=gnu11 -O2 -Wall -Wextra -Werror -I"$ROOT" -o "$WORK/mklog" "$WORK/mklog.c" \
    "$ROOT/ft/log.c" "$ROOT/kernel/crc32c.c" "$ROOT/kernel/sha256.c" 2> "$WORK/mklog.build" \
    || { notok "build mklog: $(head -3 "$WORK/mklog.build")"; exit 1; }

# --------------------------------------------------------------- client ----
cat > "$WORK/client.py" <<'EOF'
"""Client for ftlog-sink. Prints "status S: TEXT" (or "status 0 len L" for
GET, the data going to OUT), "no response (N bytes)" if the sink closed
without a whole response, or "reset" after --reset.
  put PORT NAME FILE [--limit N] [--pause-at N --pause S] [--reset]
  get PORT NAME OUT
  raw PORT HEX
  garbage PORT SEED COUNT"""
import random, socket, struct, sys, time

def conn(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s

def request(op, name):
    n = name.encode()
    return b"FTLS" + bytes([1, op]) + struct.pack("<H", len(n)) + n

def recv_n(s, n):
    b = b""
    while len(b) < n:
        try:
            k = s.recv(n - len(b))
        except (ConnectionResetError, socket.timeout):
            break
        if not k:
            break
        b += k
    return b

def response(s, out=None):
    h = recv_n(s, 16)
    if len(h) < 16:
        return "no response (%d bytes)" % len(h)
    magic, ver, st, res, ln = struct.unpack("<4sBBHQ", h)
    if magic != b"FTLS" or ver != 1 or res != 0:
        return "malformed response header %s" % h.hex()
    body = recv_n(s, ln)
    if len(body) != ln:
        return "short response: %d of %d bytes" % (len(body), ln)
    if out is not None and st == 0:
        open(out, "wb").write(body)
        return "status 0 len %d" % ln
    return "status %d: %s" % (st, body.decode("utf-8", "replace"))

def send_all(s, data):
    try:
        s.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError):
        return False

def opt(args, name, conv, default):
    return conv(args[args.index(name) + 1]) if name in args else default

cmd, port, args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
if cmd == "put":
    name, data = args[0], open(args[1], "rb").read()
    data = data[:opt(args, "--limit", int, len(data))]
    pause_at, pause = opt(args, "--pause-at", int, -1), opt(args, "--pause", float, 0)
    s = conn(port)
    ok = send_all(s, request(1, name))
    for i in range(0, len(data), 8192):
        if ok and 0 <= pause_at < i + 8192 and pause_at >= i:
            ok = send_all(s, data[i:pause_at])
            time.sleep(pause)
            ok = ok and send_all(s, data[pause_at:i + 8192])
        elif ok:
            ok = send_all(s, data[i:i + 8192])
    if "--reset" in args:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        print("reset")
        sys.exit(0)
    try:
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    print(response(s))
elif cmd == "get":
    s = conn(port)
    s.sendall(request(2, args[0]))
    print(response(s, args[1]))
elif cmd == "raw":
    s = conn(port)
    s.sendall(bytes.fromhex(args[0]))
    s.shutdown(socket.SHUT_WR)
    print(response(s))
elif cmd == "garbage":
    rng = random.Random(int(args[0]))
    for i in range(int(args[1])):
        s = conn(port)
        kind = i % 4
        if kind == 0:       # anything at all
            b = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        elif kind == 1:     # a plausible request head with random fields
            b = b"FTLS" + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 80)))
        else:               # a valid PUT, then random bytes or a damaged frame head
            b = request(1, "g%d" % i) + (b"FTLG\x01" if kind == 3 else b"") + \
                bytes(rng.randrange(256) for _ in range(rng.randrange(0, 3000)))
        send_all(s, b)
        if rng.randrange(3) == 0:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            try:
                s.shutdown(socket.SHUT_WR)
                response(s)
            except OSError:
                pass
        s.close()
    print("done")
EOF
client() { timeout 20 python3 "$WORK/client.py" "$@" 2>&1; }

# ---------------------------------------------------------------- sink ----
SINK_PID= PORT= OUT=
# sink_start BINARY NAME ARGS...: output in $WORK/NAME.out/.err; sets SINK_PID, PORT, OUT.
sink_start() {
    local bin=$1 name=$2
    shift 2
    OUT=$WORK/$name.out
    "$bin" --listen 127.0.0.1:0 "$@" > "$OUT" 2> "$WORK/$name.err" &
    SINK_PID=$!
    if ! wait_for "$OUT" '^ftlog-sink: listening on 127\.0\.0\.1:[0-9]+, storing logs in ' 10; then
        notok "$name: the sink did not start: $(cat "$WORK/$name.err")"
        exit 1
    fi
    PORT=$(grep -oE 'listening on 127\.0\.0\.1:[0-9]+' "$OUT" | head -1 | sed 's/.*://')
}
cleanup() { [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null; }
trap cleanup EXIT

# check NAME GOT REGEX: the client's answer matches.
check() { if [[ $2 =~ $3 ]]; then ok "$1"; else notok "$1: got '$2', want /$3/"; fi; }
# line NAME REGEX: a console line of the sink matches.
line() { if grep -qE -- "$2" "$OUT"; then ok "$1"; else notok "$1: no sink line matches /$2/ ($OUT)"; fi; }
# same NAME FILE1 FILE2: byte-identical.
same() { if cmp -s "$2" "$3"; then ok "$1"; else notok "$1: $2 and $3 differ ($(cmp "$2" "$3" 2>&1 | head -1))"; fi; }
# prefix NAME FILE ORIG N: FILE is exactly the first N bytes of ORIG.
prefix() {
    head -c "$4" "$3" > "$WORK/prefix.tmp"
    if cmp -s "$2" "$WORK/prefix.tmp"; then ok "$1"; else notok "$1: $2 is not the first $4 bytes of $3 ($(stat -c %s "$2" 2>&1) bytes)"; fi
}
# off FRAMES K: stream offset of frame K (from mklog's listing)
off() { awk -v k="$2" '$1 == "frame" && $2 == k { print $3 }' "$1"; }

D=$WORK/logs
mkdir -p "$D"
L=$WORK/src
mkdir -p "$L"
"$WORK/mklog" "$L/good.ftlog" 6 1 > "$L/good.frames" || { notok "mklog failed"; exit 1; }
"$WORK/mklog" "$L/other.ftlog" 4 2 > "$L/other.frames"
"$WORK/mklog" "$L/noend.ftlog" 3 3 noend > "$L/noend.frames"
GOOD_SIZE=$(stat -c %s "$L/good.ftlog")
GOOD_FRAMES=$(grep -c '^frame' "$L/good.frames")

sink_start "$WORK/ftlog-sink-asan" sink --dir "$D"

# ---- PUT and GET -----------------------------------------------------------
r=$(client put "$PORT" good "$L/good.ftlog")
check "PUT of a valid log with END: status 0" "$r" "^status 0: stored good\.ftlog: $GOOD_SIZE bytes, $GOOD_FRAMES frames, [0-9]+ records, END \(poweroff\)$"
same "PUT: the stored file is byte-identical" "$D/good.ftlog" "$L/good.ftlog"
line "PUT: console line" "^ftlog-sink: PUT good from 127\.0\.0\.1:[0-9]+: stored good\.ftlog: $GOOD_SIZE bytes, $GOOD_FRAMES frames, [0-9]+ records, END \(poweroff\)$"
[ "$(ls -A "$D" | grep -c '^\.')" = 0 ] && ok "PUT: no temporary file left" || notok "PUT: temporary files left: $(ls -A "$D")"

r=$(client get "$PORT" good "$WORK/got.ftlog")
check "GET of a stored log: status 0" "$r" "^status 0 len $GOOD_SIZE$"
same "GET: the bytes are the stored log's" "$WORK/got.ftlog" "$L/good.ftlog"
line "GET: console line" "^ftlog-sink: GET good from 127\.0\.0\.1:[0-9]+: sent $GOOD_SIZE bytes$"

r=$(client get "$PORT" missing "$WORK/none")
check "GET of a missing name: status 1" "$r" "^status 1: no log named missing$"
line "GET missing: console line" "^ftlog-sink: GET missing from 127\.0\.0\.1:[0-9]+: no log named missing$"

r=$(client put "$PORT" noend "$L/noend.ftlog")
check "PUT of a log without END: status 0, cut short" "$r" "^status 0: stored noend\.ftlog: $(stat -c %s "$L/noend.ftlog") bytes, 4 frames, [0-9]+ records, no END record \(the recording was cut short\)$"
same "PUT without END: byte-identical" "$D/noend.ftlog" "$L/noend.ftlog"

# a PUT replaces a stored log
r=$(client put "$PORT" noend "$L/other.ftlog")
check "PUT over an existing log: status 0" "$r" "^status 0: stored noend\.ftlog: "
same "PUT over an existing log: replaced" "$D/noend.ftlog" "$L/other.ftlog"

# ---- bad requests -----------------------------------------------------------
hexname() { printf '%s' "$1" | od -v -An -tx1 | tr -d ' \n'; }
req() { printf '4654 4c53 %02x %02x %02x00 %s' "$1" "$2" "$3" "$(hexname "$4")" | tr -d ' '; } # VERSION OP LEN NAME
bad() {
    local what=$1 hex=$2 want=$3 r
    r=$(client raw "$PORT" "$hex")
    check "bad request ($what): status 2" "$r" "^status 2: $want$"
    line "bad request ($what): console line" "^ftlog-sink: bad request from 127\.0\.0\.1:[0-9]+: $want$"
}
bad "bad magic" "46544c4701020100" 'bad magic \(expected "FTLS"\)'
bad "bad version" "$(req 2 2 4 good)" 'protocol version 2, expected 1'
bad "bad operation" "$(req 1 3 4 good)" 'unknown operation 3 \(1 PUT, 2 GET\)'
bad "name with /" "$(req 1 2 5 a/b.c)" 'name has a character outside \[A-Za-z0-9\._-\]'
bad "name too long" "$(req 1 1 65 "$(printf 'a%.0s' $(seq 65))")" 'name length 65, expected 1\.\.64'
bad "empty name" "$(req 1 1 0 '')" 'name length 0, expected 1\.\.64'
bad "name starting with ." "$(req 1 2 6 ..good)" "name starts with '\.'"
bad "request cut short" "$(req 1 2 9 good)" 'the request ends after 12 of its 17 bytes'
r=$(client get "$PORT" good "$WORK/got2.ftlog")
check "after bad requests the sink still serves" "$r" "^status 0 len $GOOD_SIZE$"
[ ! -e "$D/a" ] && [ -z "$(ls "$D" | grep -v '^\(good\|noend\)\.ftlog$')" ] && ok "bad requests created no file" \
    || notok "bad requests created files: $(ls -A "$D")"

# ---- the sink's own failures (status 4): paths that are directories, which
# even root cannot open for writing or read as a log
mkdir -p "$D/.fail.ftlog.new" "$D/dir.ftlog"
r=$(client put "$PORT" fail "$L/good.ftlog")
check "PUT that cannot create its file: status 4" "$r" '^status 4: cannot create fail\.ftlog: Is a directory$'
r=$(client get "$PORT" dir "$WORK/none")
check "GET of something not a file: status 4" "$r" '^status 4: cannot read dir\.ftlog: not a regular file$'
line "status 4: console line" '^ftlog-sink: GET dir from 127\.0\.0\.1:[0-9]+: cannot read dir\.ftlog: not a regular file$'
rmdir "$D/.fail.ftlog.new" "$D/dir.ftlog"

# ---- damage -------------------------------------------------------------------
F3=$(off "$L/good.frames" 3)
cp "$L/good.ftlog" "$WORK/flip.ftlog"
# flip bit 5 of the 40th body byte of frame 3
pos=$((F3 + 16 + 40))
byte=$(od -An -tu1 -j "$pos" -N1 "$WORK/flip.ftlog" | tr -d ' ')
printf "$(printf '\\%03o' $((byte ^ 32)))" | dd of="$WORK/flip.ftlog" bs=1 seek="$pos" conv=notrunc status=none
r=$(client put "$PORT" flip "$WORK/flip.ftlog")
check "PUT with a flipped bit: status 3 names the frame and the CRC" "$r" \
    "^status 3: frame 3 \(stream offset $F3\): CRC mismatch: stored 0x[0-9a-f]+, computed 0x[0-9a-f]+; kept $F3 bytes, 3 frames, [0-9]+ records$"
prefix "flipped bit: the file holds exactly the frames before it" "$D/flip.ftlog" "$L/good.ftlog" "$F3"
line "flipped bit: console line" "^ftlog-sink: PUT flip from 127\.0\.0\.1:[0-9]+: damaged: frame 3 \(stream offset $F3\): CRC mismatch: .*; kept $F3 bytes, 3 frames, [0-9]+ records$"

F4=$(off "$L/good.frames" 4)
r=$(client put "$PORT" cut "$L/good.ftlog" --limit $((F4 + 100)))
check "stream cut mid-frame: status 3, truncated" "$r" \
    "^status 3: frame 4 \(stream offset $F4\): truncated: the stream ends after 100 of the frame's [0-9]+ bytes; kept $F4 bytes, 4 frames, [0-9]+ records$"
prefix "stream cut mid-frame: the frames before are kept" "$D/cut.ftlog" "$L/good.ftlog" "$F4"
line "stream cut mid-frame: console line" "^ftlog-sink: PUT cut from 127\.0\.0\.1:[0-9]+: damaged: frame 4 \(stream offset $F4\): truncated: .*; kept $F4 bytes, 4 frames"

# the client resets the connection mid-frame (a recorder that died)
F2=$(off "$L/good.frames" 2)
r=$(client put "$PORT" reset "$L/good.ftlog" --limit $((F2 + 5000)) --reset)
check "reset mid-frame: the client reset" "$r" "^reset$"
wait_for "$OUT" "PUT reset from" 5
prefix "reset mid-frame: the frames before are kept" "$D/reset.ftlog" "$L/good.ftlog" "$F2"
line "reset mid-frame: console line" "^ftlog-sink: PUT reset from 127\.0\.0\.1:[0-9]+: (connection lost \(Connection reset by peer\)|damaged: frame 2 .*truncated.*); kept $F2 bytes, 2 frames, [0-9]+ records$"

# bytes after END, and something that is not a log at all
cat "$L/good.ftlog" > "$WORK/after.ftlog"
printf 'FTLG' >> "$WORK/after.ftlog"
r=$(client put "$PORT" after "$WORK/after.ftlog")
check "data after END: status 3" "$r" "^status 3: frame $GOOD_FRAMES \(stream offset $GOOD_SIZE\): data after the frame with the END record; kept $GOOD_SIZE bytes, $GOOD_FRAMES frames"
same "data after END: the whole log is kept" "$D/after.ftlog" "$L/good.ftlog"
head -c 3000 /dev/urandom > "$WORK/junk"
r=$(client put "$PORT" junk "$WORK/junk")
check "PUT of bytes that are not a log: status 3" "$r" '^status 3: frame 0 \(stream offset 0\): .*; kept 0 bytes, 0 frames, 0 records$'
[ -f "$D/junk.ftlog" ] && [ ! -s "$D/junk.ftlog" ] && ok "not a log: an empty file" || notok "not a log: $(ls -l "$D/junk.ftlog" 2>&1)"
r=$(client put "$PORT" empty /dev/null)
check "PUT of an empty stream: status 3" "$r" '^status 3: frame 0 \(stream offset 0\): truncated: the log is empty \(no header frame\); kept 0 bytes'

# ---- concurrency ----------------------------------------------------------------
# A sends part of its log and stalls; B is stored meanwhile; then A finishes.
# The pause is long enough for the three requests below on a loaded machine.
client put "$PORT" slow "$L/good.ftlog" --pause-at 70000 --pause 5 > "$WORK/slow.res" &
A=$!
sleep 0.3
r=$(client put "$PORT" quick "$L/other.ftlog")
check "concurrent PUT: the second client stored while the first stalls" "$r" '^status 0: stored quick\.ftlog: '
# a second PUT of a name being stored is refused, the first one goes on
r=$(client put "$PORT" slow "$L/other.ftlog")
check "PUT of a name being stored: status 2" "$r" '^status 2: slow\.ftlog is being stored by another connection$'
# meanwhile a GET sees the frames stored so far: a valid prefix
r=$(client get "$PORT" slow "$WORK/slow-part.ftlog")
check "GET of a log being stored: status 0" "$r" '^status 0 len [0-9]+$'
n=$(stat -c %s "$WORK/slow-part.ftlog" 2>/dev/null || echo 0)
if [ "$n" -gt 0 ] && [ "$n" -lt "$GOOD_SIZE" ] && awk '$1 == "frame" { print $3 }' "$L/good.frames" | grep -qx "$n"; then
    prefix "GET of a log being stored: ends at a frame boundary" "$WORK/slow-part.ftlog" "$L/good.ftlog" "$n"
else
    notok "GET of a log being stored: $n bytes is not a frame boundary before the end"
fi
wait $A
check "concurrent PUT: the first client stored too" "$(cat "$WORK/slow.res")" "^status 0: stored slow\.ftlog: $GOOD_SIZE bytes"
same "concurrent PUT: first log byte-identical" "$D/slow.ftlog" "$L/good.ftlog"
same "concurrent PUT: second log byte-identical" "$D/quick.ftlog" "$L/other.ftlog"
q=$(grep -n 'PUT quick from' "$OUT" | head -1 | cut -d: -f1)
s=$(grep -n 'PUT slow from .*stored' "$OUT" | head -1 | cut -d: -f1)
[ -n "$q" ] && [ -n "$s" ] && [ "$q" -lt "$s" ] && ok "concurrent PUT: served at the same time" \
    || notok "concurrent PUT: quick line $q, slow line $s"

# ---- hostile clients ---------------------------------------------------------------
r=$(client garbage "$PORT" 7 200)
check "200 hostile connections" "$r" '^done$'
r=$(client get "$PORT" good "$WORK/got3.ftlog")
check "after hostile connections the sink still serves" "$r" "^status 0 len $GOOD_SIZE$"
same "after hostile connections the logs are intact" "$D/good.ftlog" "$L/good.ftlog"

# ---- SIGTERM ---------------------------------------------------------------------
# (timeout passes the kill below on to python)
timeout 20 python3 "$WORK/client.py" put "$PORT" interrupted "$L/good.ftlog" --pause-at $((F3 + 10)) --pause 3 \
    > "$WORK/interrupted.res" 2>&1 &
A=$!
# once the frames before the stall are stored
for _ in $(seq 50); do [ "$(stat -c %s "$D/interrupted.ftlog" 2>/dev/null)" = "$F3" ] && break; sleep 0.1; done
kill -TERM "$SINK_PID"
wait "$SINK_PID"
rc=$?
SINK_PID=
[ "$rc" = 0 ] && ok "SIGTERM: exit 0" || notok "SIGTERM: exit $rc: $(tail -5 "$WORK/sink.err")"
line "SIGTERM: the PUT in progress is reported" "^ftlog-sink: PUT interrupted from 127\.0\.0\.1:[0-9]+: the sink stopped; kept $F3 bytes, 3 frames"
prefix "SIGTERM: the frames received are kept" "$D/interrupted.ftlog" "$L/good.ftlog" "$F3"
kill "$A" 2>/dev/null   # the client is still in its pause
wait $A 2>/dev/null
if grep -qE 'runtime error|AddressSanitizer|LeakSanitizer' "$WORK/sink.err"; then
    notok "sanitizers: $(grep -E 'runtime error|Sanitizer' "$WORK/sink.err" | head -2)"
else
    ok "sanitizers: no report"
fi

# ---- the real binary: --once, --verbose, usage --------------------------------------
sink_start "$SINK" once --dir "$D" --once --verbose
r=$(client put "$PORT" once "$L/other.ftlog")
check "--once: the connection is handled" "$r" '^status 0: stored once\.ftlog: '
for _ in $(seq 50); do kill -0 "$SINK_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$SINK_PID" 2>/dev/null; then
    notok "--once: still running"
else
    wait "$SINK_PID"
    rc=$?
    [ "$rc" = 0 ] && ok "--once: exits 0 after one connection" || notok "--once: exit $rc"
fi
SINK_PID=
line "--verbose: arrival" '^ftlog-sink: connection from 127\.0\.0\.1:[0-9]+$'
line "--verbose: the log's header" '^ftlog-sink: PUT once from 127\.0\.0\.1:[0-9]+: header: host alpha, CPU Skylake-Server, backend 1, '
line "--verbose: END" '^ftlog-sink: PUT once from 127\.0\.0\.1:[0-9]+: END record \(reason 0\)'

# a write error (the file size limit): status 4, the file ends at a frame boundary
"$WORK/mklog" "$L/long.ftlog" 100 4 > "$L/long.frames"
OUT=$WORK/fsize.out
( ulimit -f 100; exec "$SINK" --listen 127.0.0.1:0 --dir "$D" --once ) > "$OUT" 2> "$WORK/fsize.err" &
SINK_PID=$!
wait_for "$OUT" 'listening on' 10 || notok "file size limit: the sink did not start: $(cat "$WORK/fsize.err")"
PORT=$(grep -oE 'listening on 127\.0\.0\.1:[0-9]+' "$OUT" | head -1 | sed 's/.*://')
r=$(client put "$PORT" long "$L/long.ftlog")
check "write error: status 4" "$r" '^status 4: cannot write long\.ftlog: File too large; kept [0-9]+ bytes, [0-9]+ frames, [0-9]+ records$'
k=$(echo "$r" | sed -nE 's/.*kept ([0-9]+) bytes.*/\1/p')
if [ -n "$k" ] && [ "$k" -le 102400 ] && awk '$1 == "frame" { print $3 }' "$L/long.frames" | grep -qx "$k"; then
    prefix "write error: the file keeps whole frames only" "$D/long.ftlog" "$L/long.ftlog" "$k"
else
    notok "write error: kept '$k' bytes is not a frame boundary within the limit"
fi
wait "$SINK_PID"
SINK_PID=

usage() {
    local what=$1 want=$2
    shift 2
    timeout 5 "$SINK" "$@" > "$WORK/usage.out" 2> "$WORK/usage.err"
    local rc=$?
    if [ "$rc" = "$want" ] && { [ "$want" != 2 ] || grep -q '^usage: ftlog-sink --dir DIR' "$WORK/usage.err"; }; then
        ok "$what: exit $want"
    else
        notok "$what: exit $rc, want $want: $(head -2 "$WORK/usage.err")"
    fi
}
usage "no arguments" 2
usage "unknown option" 2 --dir "$D" --bogus
usage "extra argument" 2 --dir "$D" extra
usage "bad --listen" 2 --dir "$D" --listen localhost
usage "bad --listen port" 2 --dir "$D" --listen 127.0.0.1:70000
usage "missing directory" 1 --dir "$WORK/nonexistent" --listen 127.0.0.1:0
exit 0
