# Helpers for system tests (sourced). A system test builds one or more
# images from inline configs, boots them with the launchers and asserts on
# the serial console and the launcher's verdict:
#
#   . "$(dirname "$0")/lib.sh"
#   image hello <<'CONF'
#   [host a] ...
#   CONF
#   boot bochs hello --timeout 60
#   expect "banner" 'ftvisor 0\.1'
#   expect_rc "clean power-off" 0
#
# Each expect prints "ok TEST: what" or "not ok TEST: what: why".
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TEST=$(basename "$0" .sh)
TEST=${TEST#[0-9][0-9]-}
WORK=$ROOT/build/tests/system/$TEST
rm -rf "$WORK"
mkdir -p "$WORK"
SERIAL= RC= REASON=

ok() { echo "ok $TEST: $*"; }
notok() { echo "not ok $TEST: $*"; }

# image NAME [FILE...] < CONF: the config text on stdin; FILEs are copied
# next to it (so the config can name them by basename).
image() {
    local name=$1
    shift
    mkdir -p "$WORK/$name"
    cat > "$WORK/$name/ftvisor.conf"
    local f
    for f in "$@"; do cp "$f" "$WORK/$name/"; done
    "$ROOT/tools/mkimage" --build "${FTVISOR_BUILD:-$ROOT/build}" --conf "$WORK/$name/ftvisor.conf" --out "$WORK/$name.img" > "$WORK/$name.mkimage" 2>&1 \
        || { notok "building image $name: $(tail -2 "$WORK/$name.mkimage")"; exit 1; }
}

# boot EMULATOR NAME [launcher options]: sets SERIAL, RC and REASON.
boot() {
    local emu=$1 name=$2
    shift 2
    SERIAL=$WORK/$name.$emu.serial
    "$ROOT/tools/run-$emu" "$WORK/$name.img" --quiet --serial "$SERIAL" "$@" 2> "$WORK/$name.$emu.launcher"
    RC=$?
    REASON=$(tail -1 "$WORK/$name.$emu.launcher")
    # Normalise CRLF so patterns can anchor at line ends.
    sed -i 's/\r$//' "$SERIAL" 2>/dev/null
}

expect() {
    if grep -aqE -- "$2" "$SERIAL"; then ok "$1"; else notok "$1: no line matches /$2/ ($SERIAL)"; fi
}

expect_not() {
    if grep -aqE -- "$2" "$SERIAL"; then notok "$1: unexpected /$2/: $(grep -aE -- "$2" "$SERIAL" | head -1)"; else ok "$1"; fi
}

# The last non-empty console line matches.
expect_last() {
    local last
    last=$(grep -av '^[[:space:]]*$' "$SERIAL" | tail -1)
    if [[ $last =~ $2 ]]; then ok "$1"; else notok "$1: last line is '$last', want /$2/"; fi
}

expect_rc() {
    if [ "$RC" = "$2" ]; then ok "$1"; else notok "$1: launcher exit $RC, want $2 ($REASON)"; fi
}

expect_reason() {
    if [[ $REASON =~ $2 ]]; then ok "$1"; else notok "$1: launcher said '$REASON', want /$2/"; fi
}

# A value from a console line: value REGEX-with-one-group
value() { grep -aoE -- "$1" "$SERIAL" | head -1 | sed -E "s/$1/\\1/"; }

# ---- networks of several emulated hosts ---------------------------------
# ftlink_start ARGS...: start tools/ftlink with a control socket and pcap in
# $WORK; waits for "ftlink: ready". FTLINK_CTL is the control socket.
FTLINK_PID=
FTLINK_CTL=
ftlink_start() {
    FTLINK_CTL=$WORK/ftlink.sock
    "$ROOT/build/tools/ftlink" --control "$FTLINK_CTL" --pcap "$WORK/link.pcap" --no-ipv6 "$@" \
        > "$WORK/ftlink.out" 2> "$WORK/ftlink.err" &
    FTLINK_PID=$!
    for _ in $(seq 100); do
        grep -q "ftlink: ready" "$WORK/ftlink.out" 2>/dev/null && return 0
        sleep 0.1
    done
    notok "ftlink did not start: $(cat "$WORK/ftlink.err")"
    exit 1
}
ftlink_cmd() { echo "$*" | socat -t 5 - UNIX-CONNECT:"$FTLINK_CTL" 2>/dev/null; }
ftlink_stop() {
    [ -n "$FTLINK_PID" ] && { ftlink_cmd quit >/dev/null; sleep 0.3; kill "$FTLINK_PID" 2>/dev/null; wait "$FTLINK_PID" 2>/dev/null; }
    FTLINK_PID=
}
trap ftlink_stop EXIT

# boot_bg EMULATOR NAME SERIAL [launcher options]: boot in the background;
# the launcher's verdict goes to SERIAL.rc and SERIAL.launcher (in $WORK).
# wait_boots waits for all of them (not for ftlink).
BOOT_PIDS=()
# bochs_pid SERIAL: the Bochs process running the host whose console is SERIAL.
bochs_pid() { local p; for p in $(pgrep -x bochs); do grep -qs "dev=$1\$" /proc/$p/cwd/bochsrc && echo "$p"; done; }
wait_boots() { local p; for p in "${BOOT_PIDS[@]}"; do wait "$p" 2>/dev/null; done; BOOT_PIDS=(); }
boot_bg() {
    local emu=$1 name=$2 serial=$3
    shift 3
    ( "$ROOT/tools/run-$emu" "$WORK/$name.img" --quiet --serial "$serial" "$@" 2> "$WORK/$(basename "$serial").launcher"
      echo $? > "$WORK/$(basename "$serial").rc" ) &
    BOOT_PIDS+=($!)
}

# wait_for FILE REGEX SECONDS: until a line matches (0) or the time is up (1).
wait_for() {
    local i
    for i in $(seq $(( $3 * 10 ))); do
        grep -aqE -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# wait_for_any REGEX SECONDS FILE...: until a line of any FILE matches.
wait_for_any() {
    local re=$1 secs=$2 i
    shift 2
    for i in $(seq $(( secs * 10 ))); do
        grep -aqE -- "$re" "$@" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# expect_clean_poweroff NAME...: each background boot (SERIAL
# $WORK/NAME.serial) ended with the launcher's clean power-off verdict.
expect_clean_poweroff() {
    local h rc
    for h in "$@"; do
        rc=$(cat "$WORK/$h.serial.rc" 2>/dev/null)
        [ "$rc" = 0 ] && ok "$h: clean power-off" || notok "$h: launcher exit $rc: $(tail -1 "$WORK/$h.serial.launcher")"
    done
}

# on SERIAL: make expect & co. look at another console.
on() { SERIAL=$1; sed -i 's/\r$//' "$SERIAL" 2>/dev/null; }

# seq_merge N REGEX FILE...: the numbered lines REGEX finds (group 1 the
# number; group 2, if there is one, a value each copy of a line must
# repeat) over the consoles FILE..., whole lines only. Prints "DISTINCT
# DUPLICATED GAPS FIRST-GAPS SAME": FIRST-GAPS up to five numbers of 1..N
# missing (or -), SAME 1 when every repeated line carried its value.
seq_merge() {
    python3 - "$@" <<'PY'
import re, sys
n, rx, paths = int(sys.argv[1]), re.compile(sys.argv[2]), sys.argv[3:]
seen, dups, differ = {}, 0, 0
for path in paths:
    for l in open(path, errors="replace"):
        m = rx.search(l.rstrip("\r\n"))
        if m and l.endswith("\n"):
            k, v = int(m.group(1)), m.group(2) if rx.groups > 1 else None
            if k in seen:
                dups += 1
                differ += seen[k] != v
            else:
                seen[k] = v
gaps = [k for k in range(1, n + 1) if k not in seen]
print(len(seen), dups, len(gaps), ",".join(map(str, gaps[:5])) or "-", int(not differ))
PY
}
