# Helpers for the system tests that boot the freestanding test guests
# (tests/system/2N-guest-*.sh), sourced after tests/system/lib.sh:
#
#   guest_boot NAME [TIMEOUT] [CONFIG-LINES]
#       build an image whose [guest] is build/guests/NAME.bin (32 MiB, plus
#       any extra [guest] lines) and boot it in Bochs; sets SERIAL, RC, ...
#   expect_count DESC N REGEX
#       exactly N console lines match
#   expect_sequence DESC REGEX FIRST LAST
#       the numbers REGEX captures (one group), in console order, are
#       exactly FIRST, FIRST+1, ..., LAST
#
# The guests are built by `make guests` (part of `make test`).

guest_boot() {
    local name=$1 timeout=${2:-60} extra=${3:-}
    local bin=$ROOT/build/guests/$name.bin
    if [ ! -f "$bin" ]; then
        notok "$name: $bin is missing: run 'make guests'"
        SERIAL=/dev/null RC=missing REASON="no guest binary"
        return 1
    fi
    image "$name" "$bin" <<CONF
[host a]
mac = 52:54:00:00:00:01
ip = 10.0.0.1
netmask = 255.255.255.0

[guest]
kernel = $name.bin
memory_mb = 32
$extra

[debug]
host = a
CONF
    boot bochs "$name" --timeout "$timeout"
}

expect_count() {
    local n
    n=$(grep -acE -- "$3" "$SERIAL")
    if [ "$n" = "$2" ]; then ok "$1"; else notok "$1: $n lines match /$3/, want $2 ($SERIAL)"; fi
}

expect_sequence() {
    local got want
    got=$(grep -aoE -- "$2" "$SERIAL" | sed -E "s/$2/\\1/" | tr '\n' ' ')
    want=$(seq "$3" "$4" | tr '\n' ' ')
    if [ "$got" = "$want" ]; then
        ok "$1"
    else
        notok "$1: got '${got:0:200}', want $3..$4 in order ($SERIAL)"
    fi
}
