#!/bin/bash
# tools/ftlink, the Ethernet switch between emulator NIC backends, on its
# own (no emulator, no ftvisor): a small C peer compiled here plays two
# QEMU dgram NICs, a QEMU stream NIC and a Bochs socket NIC; a TAP port
# lets the host kernel answer ARP. Checks forwarding, learning, flooding,
# cut/heal, drop-next, the stream framing (reconnects, runts, jumbo),
# malformed input, pcap output, stats, the corrupt/forge/replay channel
# faults on crafted IPv4/TCP frames (TCP checksum and CRC32C verified by
# the peer), hub mode and a clean exit on SIGTERM and "quit".
. "$(dirname "$0")/lib.sh"
FTLINK=$ROOT/build/tools/ftlink
if [ ! -x "$FTLINK" ] || [ "$ROOT/tools/ftlink.c" -nt "$FTLINK" ]; then
    mkdir -p "$ROOT/build/tools"
    gcc -O2 -Wall -Wextra -Werror -o "$FTLINK" "$ROOT/tools/ftlink.c" 2> "$WORK/build.log" \
        || { notok "build ftlink: $(head -3 "$WORK/build.log")"; exit 1; }
fi

# ---------------------------------------------------------------- peer ----
cat > "$WORK/peer.c" <<'EOF'
/* Test peer for ftlink: binds every emulated NIC at once, does one thing,
 * prints what arrived. Usage: peer [-c CTL] [-w MS] PEERS CMD ARGS...
 * PEERS: comma list of d:BIND:SENDTO (QEMU dgram), b:ETHDEV (Bochs socket:
 * bind ETHDEV, send to ETHDEV+1), s:TCPPORT:FTPORT (QEMU stream client of
 * ftlink port FTPORT), or "-" for none. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct peer { char kind; int fd; struct sockaddr_in to; unsigned char rx[70000]; size_t rxlen; };
static struct peer P[8];
static int np, waitms = 400;
static const char *ctl;
static uint32_t nonce;
static unsigned char sent[10000];
static size_t sentlen;

static void fail(const char *m) { printf("error %s: %s\n", m, strerror(errno)); exit(2); }
static uint64_t ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000ull + t.tv_nsec / 1000000; }
static void mac(const char *s, unsigned char *m) {
    unsigned v[6];
    if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) { printf("error bad mac %s\n", s); exit(2); }
    for (int i = 0; i < 6; i++) m[i] = (unsigned char)v[i];
}
static uint32_t crc32c(const unsigned char *p, size_t n) {
    uint32_t c = ~0u;
    while (n--) { c ^= *p++; for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & -(c & 1)); }
    return ~c;
}
static uint32_t le32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t csum(const unsigned char *p, size_t n, uint32_t s) {
    for (; n > 1; p += 2, n -= 2) s += p[0] << 8 | p[1];
    if (n) s += p[0] << 8;
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}
static uint16_t tcpsum(const unsigned char *ip, const unsigned char *tcp, size_t len) {
    unsigned char ph[12];
    memcpy(ph, ip + 12, 8); ph[8] = 0; ph[9] = 6; ph[10] = len >> 8; ph[11] = len;
    uint32_t s = 0;
    for (int i = 0; i < 12; i += 2) s += ph[i] << 8 | ph[i + 1];
    return csum(tcp, len, s);
}

static char *ctlq(const char *cmd, char *out, size_t cap) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof a.sun_path, "%s", ctl);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) fail("control connect");
    if (write(fd, cmd, strlen(cmd)) < 0 || write(fd, "\n", 1) < 0) fail("control write");
    size_t n = 0;
    while (n < cap - 1) {
        ssize_t k = read(fd, out + n, 1);
        if (k <= 0 || out[n] == '\n') break;
        n++;
    }
    out[n] = 0;
    close(fd);
    return out;
}
static long stat_of(const char *key) {
    char r[16384], *p;
    ctlq("stats", r, sizeof r);
    char k[64];
    snprintf(k, sizeof k, " %s=", key);
    if (!(p = strstr(r, k))) return -1;
    return atol(p + strlen(k));
}

static void open_peers(char *spec) {
    if (!strcmp(spec, "-")) return;
    for (char *s = strtok(spec, ","); s; s = strtok(NULL, ",")) {
        struct peer *p = &P[np++];
        int a = 0, b = 0;
        p->kind = s[0];
        sscanf(s + 2, "%d:%d", &a, &b);
        struct sockaddr_in me = { .sin_family = AF_INET };
        if (p->kind == 'd' || p->kind == 'b') {
            p->fd = socket(AF_INET, SOCK_DGRAM, 0);
            int one = 1;
            setsockopt(p->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            me.sin_port = htons(a);
            me.sin_addr.s_addr = htonl(p->kind == 'b' ? INADDR_ANY : INADDR_LOOPBACK);
            if (bind(p->fd, (struct sockaddr *)&me, sizeof me) < 0) fail("bind");
            p->to.sin_family = AF_INET;
            p->to.sin_port = htons(p->kind == 'b' ? a + 1 : b);
            p->to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        } else if (p->kind == 's') {
            char key[32];
            snprintf(key, sizeof key, "p%d.conns", b);
            long before = ctl ? stat_of(key) : 0;
            p->fd = socket(AF_INET, SOCK_STREAM, 0);
            me.sin_port = htons(a);
            me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (connect(p->fd, (struct sockaddr *)&me, sizeof me) < 0) fail("connect");
            if (ctl) {   /* wait until ftlink has taken the connection */
                uint64_t end = ms() + 3000;
                while (stat_of(key) <= before && ms() < end) usleep(2000);
            }
        }
    }
}
static void tx(int i, const unsigned char *f, size_t n) {
    struct peer *p = &P[i];
    if (p->kind == 's') {
        unsigned char h[4] = { n >> 24, n >> 16, n >> 8, n };
        if (write(p->fd, h, 4) != 4 || write(p->fd, f, n) != (ssize_t)n) fail("stream write");
    } else if (sendto(p->fd, f, n, 0, (struct sockaddr *)&p->to, sizeof p->to) < 0) fail("sendto");
}
/* Collect frames for waitms; call fn(peer, frame, len) for each. */
static void collect(void (*fn)(int, unsigned char *, size_t)) {
    uint64_t end = ms() + waitms;
    for (;;) {
        int64_t left = (int64_t)(end - ms());
        if (left <= 0) break;
        struct pollfd pf[8];
        for (int i = 0; i < np; i++) pf[i] = (struct pollfd){ P[i].fd, POLLIN, 0 };
        if (poll(pf, np, left) <= 0) continue;
        for (int i = 0; i < np; i++) {
            if (!(pf[i].revents & POLLIN)) continue;
            struct peer *p = &P[i];
            if (p->kind != 's') {
                unsigned char f[70000];
                ssize_t n = recv(p->fd, f, sizeof f, 0);
                if (n > 0) fn(i, f, n);
                continue;
            }
            ssize_t n = recv(p->fd, p->rx + p->rxlen, sizeof p->rx - p->rxlen, 0);
            if (n <= 0) { pf[i].fd = -1; P[i].fd = -1; continue; }
            p->rxlen += n;
            size_t pos = 0;
            while (p->rxlen - pos >= 4) {
                uint32_t l = p->rx[pos] << 24 | p->rx[pos + 1] << 16 | p->rx[pos + 2] << 8 | p->rx[pos + 3];
                if (p->rxlen - pos < 4 + l) break;
                fn(i, p->rx + pos + 4, l);
                pos += 4 + l;
            }
            memmove(p->rx, p->rx + pos, p->rxlen - pos);
            p->rxlen -= pos;
        }
    }
}

static void on_test(int i, unsigned char *f, size_t n) {
    if (n < 26 || f[12] != 0x88 || f[13] != 0xb5 || memcmp(f + 14, "FTLT", 4) || le32(f + 18) != nonce) return;
    int ok = 1;
    for (size_t k = 26; k < n; k++) ok &= f[k] == (unsigned char)(k * 7);
    printf("rx %d len=%zu seq=%u%s\n", i, n, le32(f + 22), ok ? "" : " damaged");
}
static void on_arp(int i, unsigned char *f, size_t n) {
    if (n < 42 || f[12] != 8 || f[13] != 6 || f[21] != 2 || memcmp(f + 38, sent + 28, 4)) return;
    printf("arp-reply %d mac=%02x:%02x:%02x:%02x:%02x:%02x\n", i, f[22], f[23], f[24], f[25], f[26], f[27]);
}
static size_t ftvf_at, ftvf_len; /* frame offset in the payload, whole length */
static void on_tcp(int i, unsigned char *f, size_t n) {
    if (n < 54 || f[12] != 8 || f[13] != 0 || f[23] != 6) return;
    unsigned char *ip = f + 14, *tcp = ip + 20;
    if (le32(tcp + 4) != nonce) return;
    size_t tot = ip[2] << 8 | ip[3], seg = tot - 20, plen = seg - 20;
    unsigned char *pay = tcp + 20, *orig = sent + 54;
    int ipok = csum(ip, 20, 0) == 0;
    int tcpok = tcpsum(ip, tcp, seg) == 0;
    size_t diff = 0, first = (size_t)-1;
    for (size_t k = 0; k < plen && k < sentlen - 54; k++) {
        if (ftvf_len && k >= ftvf_at + ftvf_len - 4 && k < ftvf_at + ftvf_len) continue; /* the CRC field */
        if (pay[k] != orig[k]) { diff++; if (first == (size_t)-1) first = k; }
    }
    printf("tcp %d len=%zu ipcsum=%s csum=%s diff=%zu", i, n, ipok ? "ok" : "bad", tcpok ? "ok" : "bad", diff);
    if (diff) printf(" first=%zu", first);
    if (ftvf_len) {
        unsigned char *fr = pay + ftvf_at;
        size_t body = ftvf_len - 4;
        printf(" ftvf-crc=%s crc-changed=%s", crc32c(fr, body) == le32(fr + body) ? "ok" : "bad",
               memcmp(fr + body, orig + ftvf_at + body, 4) ? "yes" : "no");
        if (diff) printf(" in-ftvf-payload=%s", first >= ftvf_at + 24 && first < ftvf_at + ftvf_len - 20 ? "yes" : "no");
    }
    printf("\n");
}

static size_t ethhdr(unsigned char *f, const char *d, const char *s, unsigned type) {
    mac(d, f); mac(s, f + 6); f[12] = type >> 8; f[13] = type; return 14;
}

int main(int argc, char **argv) {
    int o;
    while ((o = getopt(argc, argv, "+c:w:")) != -1) {
        if (o == 'c') ctl = optarg;
        else if (o == 'w') waitms = atoi(optarg);
        else return 2;
    }
    if (argc - optind < 2) return 2;
    srand(getpid() ^ time(NULL));
    nonce = (uint32_t)rand() ^ (uint32_t)rand() << 16;
    char *cmd = argv[optind + 1], **a = argv + optind + 2;
    int na = argc - optind - 2;
    if (!strcmp(cmd, "ctl")) {   /* ctl LINE: print the reply */
        char r[16384];
        ctl = ctl ? ctl : "";
        printf("%s\n", ctlq(na ? a[0] : "", r, sizeof r));
        return 0;
    }
    if (!strcmp(cmd, "ctl-abuse")) {  /* junk on the control socket, then stats */
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un u = { .sun_family = AF_UNIX };
        snprintf(u.sun_path, sizeof u.sun_path, "%s", ctl);
        if (connect(fd, (struct sockaddr *)&u, sizeof u) < 0) fail("connect");
        static char junk[6000];
        memset(junk, 'x', sizeof junk); junk[sizeof junk - 1] = '\n';
        const char bin[] = "\x01\x02\xff\x00\x7f\x80 cut\n";
        const char *lines = "\n   \nfrobnicate\ncut 99\ncut 0 0\ndrop-next 0 -5\ncorrupt 70000\nreplay 1 x\ncut 0 1 2 3 4 5 6 7 8 9\nstats\n";
        if (write(fd, junk, sizeof junk) < 0 || write(fd, bin, sizeof bin - 1) < 0 || write(fd, lines, strlen(lines)) < 0) fail("write");
        shutdown(fd, SHUT_WR);
        char r[65536]; size_t n = 0; ssize_t k;
        while ((k = read(fd, r + n, sizeof r - 1 - n)) > 0) n += k;
        r[n] = 0;
        fputs(r, stdout);
        return 0;
    }
    if (!strcmp(cmd, "pcap")) {
        FILE *fp = fopen(a[0], "rb");
        unsigned char h[24], r[16];
        if (!fp || fread(h, 1, 24, fp) != 24) { printf("pcap unreadable\n"); return 0; }
        long recs = 0, bad = 0; unsigned first = 0;
        static unsigned char buf[70000];
        while (fread(r, 1, 16, fp) == 16) {
            uint32_t incl = le32(r + 8), orig = le32(r + 12);
            if (incl != orig || incl > sizeof buf || fread(buf, 1, incl, fp) != incl) { bad++; break; }
            if (!recs) first = buf[12] << 8 | buf[13];
            recs++;
        }
        printf("pcap magic=%08x version=%u.%u snaplen=%u linktype=%u records=%ld bad=%ld first-type=%04x\n",
               le32(h), h[4] | h[5] << 8, h[6] | h[7] << 8, le32(h + 16), le32(h + 20), recs, bad, first);
        return 0;
    }
    open_peers(argv[optind]);
    unsigned char *f = sent;
    if (!strcmp(cmd, "send") && na >= 3) {   /* send IDX DST SRC [LEN [COUNT]] */
        int from = atoi(a[0]);
        size_t len = na > 3 ? (size_t)atoi(a[3]) : 64;
        int count = na > 4 ? atoi(a[4]) : 1;
        if (len < 26 || len > sizeof sent) return 2;
        ethhdr(f, a[1], a[2], 0x88b5);
        memcpy(f + 14, "FTLT", 4);
        memcpy(f + 18, &nonce, 4);
        for (size_t k = 26; k < len; k++) f[k] = (unsigned char)(k * 7);
        for (int c = 0; c < count; c++) {
            uint32_t s = c; memcpy(f + 22, &s, 4);
            tx(from, f, len);
        }
        collect(on_test);
    } else if (!strcmp(cmd, "raw") && na == 2) {   /* raw IDX LEN: junk of LEN bytes */
        static unsigned char junk[70000];
        size_t len = atoi(a[1]);
        memset(junk, 0x41, sizeof junk);
        tx(atoi(a[0]), junk, len);
        usleep(waitms * 1000);
    } else if (!strcmp(cmd, "arp") && na == 4) {   /* arp IDX SRCMAC SRCIP TARGETIP */
        size_t n = ethhdr(f, "ff:ff:ff:ff:ff:ff", a[1], 0x0806);
        unsigned char arp[28] = { 0, 1, 8, 0, 6, 4, 0, 1 };
        mac(a[1], arp + 8);
        inet_pton(AF_INET, a[2], arp + 14);
        inet_pton(AF_INET, a[3], arp + 24);
        memcpy(f + n, arp, 28);
        memcpy(sent + 28, arp + 14, 4);  /* the reply's target IP, for on_arp */
        unsigned char frame[60] = { 0 };
        memcpy(frame, f, n + 28);
        tx(atoi(a[0]), frame, 60);
        collect(on_arp);
    } else if (!strcmp(cmd, "tcp") && na == 5) {   /* tcp IDX DST SRC DPORT plain|ftvf|ftvf-part|ftvf-badcrc */
        const char *kind = a[4];
        unsigned char pay[600];
        size_t plen = 0;
        if (!strcmp(kind, "plain")) {
            for (plen = 0; plen < 100; plen++) pay[plen] = (unsigned char)('a' + plen % 26);
        } else {
            memcpy(pay, "junk-1\n", 7); plen = 7;   /* the tail of an earlier frame */
            unsigned char *fr = pay + plen;
            uint32_t L = 50;
            memcpy(fr, "FTVF", 4); fr[4] = 3; fr[5] = 2; fr[6] = fr[7] = 0;
            memcpy(fr + 8, &L, 4); memset(fr + 12, 0, 4);
            uint64_t seq = 0x1122334455ull; memcpy(fr + 16, &seq, 8);
            for (uint32_t k = 0; k < L; k++) fr[24 + k] = (unsigned char)(0x30 + k);
            memset(fr + 24 + L, 0xAB, 16);            /* the MAC */
            uint32_t c = crc32c(fr, 24 + L + 16);
            if (!strcmp(kind, "ftvf-badcrc")) c ^= 1;
            memcpy(fr + 24 + L + 16, &c, 4);
            ftvf_at = plen; ftvf_len = 24 + L + 20;
            plen += ftvf_len;
            if (!strcmp(kind, "ftvf-part")) plen -= 20;  /* the frame continues in the next segment */
            else { memcpy(pay + plen, "FTV", 3); plen += 3; }  /* a frame's start that is not whole */
        }
        size_t n = ethhdr(f, a[1], a[2], 0x0800);
        unsigned char *ip = f + n, *tcp = ip + 20;
        size_t tot = 40 + plen;
        memset(ip, 0, 40);
        ip[0] = 0x45; ip[2] = tot >> 8; ip[3] = tot; ip[4] = nonce >> 8; ip[5] = nonce; ip[6] = 0x40;
        ip[8] = 64; ip[9] = 6;
        ip[12] = 10; ip[13] = 213; ip[14] = 7; ip[15] = 2;
        ip[16] = 10; ip[17] = 213; ip[18] = 7; ip[19] = 3;
        uint16_t c = csum(ip, 20, 0); ip[10] = c >> 8; ip[11] = c;
        int dport = atoi(a[3]);
        tcp[0] = 40000 >> 8; tcp[1] = 40000 & 255; tcp[2] = dport >> 8; tcp[3] = dport;
        memcpy(tcp + 4, &nonce, 4);  /* the sequence number identifies our segment */
        tcp[11] = 1; tcp[12] = 0x50; tcp[13] = 0x18; tcp[14] = 0x20;
        memcpy(tcp + 20, pay, plen);
        c = tcpsum(ip, tcp, 20 + plen); tcp[16] = c >> 8; tcp[17] = c;
        sentlen = n + tot;
        if (!strcmp(kind, "ftvf-part")) ftvf_len = 0;
        tx(atoi(a[0]), f, sentlen);
        collect(on_tcp);
    } else {
        printf("error bad command\n");
        return 2;
    }
    return 0;
}
EOF
gcc -O2 -Wall -o "$WORK/peer" "$WORK/peer.c" 2> "$WORK/peer.build" || { notok "build test peer: $(head -3 "$WORK/peer.build")"; exit 1; }

# -------------------------------------------------------------- set-up ----
# Ports from the PID (below the ephemeral range) so parallel runs do not
# collide: UDP B..B+7, TCP B+8.
B=$(( 14000 + ($$ % 250) * 16 ))
TAP=ftlt$(( $$ % 100000 ))
CTL=$WORK/ctl.sock
PCAP=$WORK/link.pcap
M0=02:00:00:00:00:10 M1=02:00:00:00:00:11 M2=02:00:00:00:00:12 M3=02:00:00:00:00:13
# Port 0: dgram (peer binds B+1, ftlink B), 1: dgram (B+3 / B+2),
# 2: stream on B+8, 3: Bochs ethdev=B+4 (peer binds B+4, ftlink B+5), 4: tap.
PEERS="d:$((B+1)):$B,d:$((B+3)):$((B+2)),s:$((B+8)):2,b:$((B+4))"

FTPID=
cleanup() { [ -n "$FTPID" ] && kill "$FTPID" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT

"$FTLINK" --verbose --no-ipv6 --pcap "$PCAP" --control "$CTL" \
    --qemu-dgram $B:$((B+1)) --qemu-dgram $((B+2)):$((B+3)) \
    --qemu-stream 127.0.0.1:$((B+8)) --bochs $((B+4)) --tap "$TAP:10.213.7.1/24" \
    > "$WORK/ftlink.out" 2> "$WORK/ftlink.log" &
FTPID=$!
for _ in $(seq 100); do grep -q '^ftlink: ready$' "$WORK/ftlink.out" && break; sleep 0.05; done
if grep -q '^ftlink: ready$' "$WORK/ftlink.out"; then ok "ready on stdout"; else
    notok "ready on stdout: $(tail -3 "$WORK/ftlink.log")"; exit 1; fi
[ -S "$CTL" ] && ok "control socket exists" || notok "control socket exists"
if ip -4 addr show dev "$TAP" 2>/dev/null | grep -q 'inet 10\.213\.7\.1/24' && ip link show dev "$TAP" | grep -q '[<,]UP[,>]'; then
    ok "tap $TAP up with 10.213.7.1/24"
else notok "tap $TAP up with 10.213.7.1/24: $(ip addr show dev "$TAP" 2>&1 | head -3)"; fi

peer() { "$WORK/peer" -c "$CTL" "$@" 2>&1; }
ctl() { "$WORK/peer" -c "$CTL" - ctl "$*"; }
stat_() { ctl stats | grep -oE " $1=[0-9]+" | cut -d= -f2; }
# check WHAT OUTPUT REGEX-EXPECTED-LINES... (each must match a line) and
# "!REGEX" (no line may match)
check() {
    local what=$1 out=$2 r
    shift 2
    for r in "$@"; do
        if [ "${r:0:1}" = '!' ]; then
            if grep -qE -- "${r:1}" <<< "$out"; then notok "$what: unexpected /${r:1}/ in: $(tr '\n' ';' <<< "$out")"; return; fi
        elif ! grep -qE -- "$r" <<< "$out"; then notok "$what: no /$r/ in: $(tr '\n' ';' <<< "$out")"; return; fi
    done
    ok "$what"
}
reply() { check "$1" "$(ctl "$2")" "$3"; }

# ----------------------------------------------------------- switching ----
out=$(peer $PEERS send 0 02:00:00:00:00:99 $M0)
check "unknown unicast floods to every other port" "$out" '^rx 1 len=64 seq=0$' '^rx 2 len=64 seq=0$' '^rx 3 len=64 seq=0$' '!^rx 0 '
out=$(peer $PEERS send 1 $M0 $M1)
check "learned unicast goes to one port" "$out" '^rx 0 len=64' '!^rx [123] '
out=$(peer $PEERS send 3 $M1 $M3)
check "Bochs port (ethdev=$((B+4))) sends via ethdev+1 and is learned" "$out" '^rx 1 len=64' '!^rx [023] '
out=$(peer $PEERS send 1 $M3 $M1)
check "frames reach the Bochs NIC on ethdev" "$out" '^rx 3 len=64' '!^rx [012] '
out=$(peer $PEERS send 2 ff:ff:ff:ff:ff:ff $M2)
check "broadcast from the stream port floods" "$out" '^rx 0 ' '^rx 1 ' '^rx 3 ' '!^rx 2 '
out=$(peer $PEERS send 0 $M2 $M0 1514 3)
check "stream port delivers full-size frames in order" "$out" '^rx 2 len=1514 seq=0$' '^rx 2 len=1514 seq=1$' '^rx 2 len=1514 seq=2$' '!damaged'
out=$(peer $PEERS send 2 $M1 $M2 9018)
check "jumbo 9018-byte frame from the stream port" "$out" '^rx 1 len=9018 seq=0$' '!damaged'
out=$(peer $PEERS send 0 33:33:00:00:00:01 $M0)
check "multicast floods" "$out" '^rx 1 ' '^rx 2 ' '^rx 3 '
out=$(peer $PEERS arp 0 $M0 10.213.7.2 10.213.7.1)
TAPMAC=$(cat /sys/class/net/"$TAP"/address 2>/dev/null)
check "host kernel answers ARP through the tap" "$out" "^arp-reply 0 mac=$TAPMAC\$"

# ----------------------------------------------------------- cut / heal ---
reply "cut 0 1 replies ok" "cut 0 1" '^ok '
out=$(peer $PEERS send 0 $M1 $M0); check "cut 0 1 stops 0 -> 1" "$out" '!^rx '
out=$(peer $PEERS send 1 $M0 $M1); check "cut 0 1 stops 1 -> 0" "$out" '!^rx '
out=$(peer $PEERS send 0 ff:ff:ff:ff:ff:ff $M0)
check "cut 0 1 leaves 0's broadcasts to others" "$out" '^rx 2 ' '^rx 3 ' '!^rx 1 '
reply "heal replies ok" heal '^ok '
out=$(peer $PEERS send 0 $M1 $M0); check "heal restores 0 -> 1" "$out" '^rx 1 '
reply "cut 2 isolates" "cut 2" '^ok '
out=$(peer $PEERS send 2 ff:ff:ff:ff:ff:ff $M2); check "isolated port reaches nobody" "$out" '!^rx '
out=$(peer $PEERS send 0 ff:ff:ff:ff:ff:ff $M0); check "nobody reaches the isolated port" "$out" '^rx 1 ' '^rx 3 ' '!^rx 2 '
reply "block 0 1 (one direction)" "block 0 1" '^ok '
out=$(peer $PEERS send 0 $M1 $M0); check "block 0 1 stops 0 -> 1" "$out" '!^rx '
out=$(peer $PEERS send 1 $M0 $M1); check "block 0 1 lets 1 -> 0 pass" "$out" '^rx 0 '
ctl heal > /dev/null

# ------------------------------------------------------------ drop-next ---
d0=$(stat_ p1.drop)
reply "drop-next 1 2" "drop-next 1 2" '^ok '
out=$(peer $PEERS send 1 $M0 $M1 64 4)
check "drop-next drops exactly the next 2 frames" "$out" '^rx 0 len=64 seq=2$' '^rx 0 len=64 seq=3$' '!seq=[01]$'
d1=$(stat_ p1.drop)
[ $((d1 - d0)) = 2 ] && ok "stats count the 2 dropped frames" || notok "stats count the 2 dropped frames: p1.drop $d0 -> $d1"

# ----------------------------------------------------------- malformed ----
peer $PEERS raw 0 6 > /dev/null
peer $PEERS raw 0 9100 > /dev/null
peer $PEERS raw 2 3 > /dev/null        # a 3-byte runt on the stream
peer $PEERS raw 2 20000 > /dev/null    # an oversized stream frame is skipped
out=$(peer $PEERS send 2 $M0 $M2); check "stream still in sync after runt and oversized frames" "$out" '^rx 0 len=64'
bad0=$(stat_ p0.bad) bad2=$(stat_ p2.bad)
[ "$bad0" = 2 ] && [ "$bad2" = 2 ] && ok "malformed frames counted (p0.bad=2, p2.bad=2)" \
    || notok "malformed frames counted: p0.bad=$bad0 p2.bad=$bad2"
out=$("$WORK/peer" -c "$CTL" - ctl-abuse)
check "junk on the control socket gets errors, then stats works" "$out" '^error line too long' \
    '^error unknown command' '^error bad port' '^error usage: drop-next' '^ok ports=5 ' '!^ok (cut|blocked|drop)'
kill -0 $FTPID 2>/dev/null && ok "still running after malformed input" || notok "still running after malformed input"

# ------------------------------------------------------- channel faults ---
reply "corrupt 7000 armed" "corrupt 7000" '^ok corrupt armed'
out=$(peer $PEERS tcp 0 $M1 $M0 7001 plain)
check "corrupt leaves other TCP ports alone" "$out" '^tcp 1 .* csum=ok diff=0$'
out=$(peer $PEERS tcp 0 $M1 $M0 7000 plain)
check "corrupt flips one payload byte and fixes the TCP checksum" "$out" '^tcp 1 len=154 ipcsum=ok csum=ok diff=1 first=50$'
out=$(peer $PEERS tcp 0 $M1 $M0 7000 plain)
check "corrupt fires once" "$out" '^tcp 1 .* csum=ok diff=0$'
reply "forge 7000 armed" "forge 7000" '^ok forge armed'
out=$(peer $PEERS tcp 0 $M1 $M0 7000 ftvf-part)
check "forge waits while the frame is not whole in a segment" "$out" '^tcp 1 .* csum=ok diff=0$'
out=$(peer $PEERS tcp 0 $M1 $M0 7000 ftvf-badcrc)
check "forge ignores an FTVF frame whose CRC32C is wrong" "$out" '^tcp 1 .* csum=ok diff=0 ftvf-crc=bad crc-changed=no$'
out=$(peer $PEERS tcp 1 $M0 $M1 7000 ftvf)
check "forge flips an FTVF payload byte with valid CRC32C and TCP checksum" "$out" \
    '^tcp 0 .* ipcsum=ok csum=ok diff=1 first=[0-9]+ ftvf-crc=ok crc-changed=yes in-ftvf-payload=yes$'
reply "faults shows both fired" faults '^ok corrupt-armed=0 corrupt-done=1 forge-armed=0 forge-done=1 '
reply "replay 7000 150 armed" "replay 7000 150" '^ok replay armed'
out=$(peer -w 700 $PEERS tcp 0 $M1 $M0 7000 plain)
n=$(grep -c '^tcp 1 .* csum=ok diff=0$' <<< "$out")
[ "$n" = 2 ] && ok "replay delivers the segment and an identical copy later" \
    || notok "replay delivers the segment and an identical copy later: $(tr '\n' ';' <<< "$out")"

# ------------------------------------------------------- stats and pcap ---
s=$(ctl stats)
check "stats has per-port counters" "$s" '^ok ports=5 fwd=[0-9]+ injected=1 ' ' p0\.in=[1-9][0-9]* p0\.inb=[0-9]+ p0\.out=[0-9]+ p0\.outb=[0-9]+ p0\.drop=[0-9]+' \
    ' p4\.out=[1-9]' ' p4\.in=[1-9]' ' p2\.conns=[1-9][0-9]* '
fwd=$(grep -oE 'fwd=[0-9]+' <<< "$s" | cut -d= -f2)
sleep 0.2
out=$("$WORK/peer" - pcap "$PCAP")
check "pcap has a valid header and one record per forwarded frame" "$out" \
    "^pcap magic=a1b2c3d4 version=2\\.4 snaplen=65535 linktype=1 records=$fwd bad=0 first-type=88b5\$"
reply "ports lists all five" ports "^ok mode=switch 0:qemu-dgram:$B:$((B+1)) 1:qemu-dgram:.* 2:qemu-stream:127\\.0\\.0\\.1:$((B+8)):waiting 3:bochs:rx=0\\.0\\.0\\.0:$((B+5)),tx=127\\.0\\.0\\.1:$((B+4)) 4:tap:$TAP:10\\.213\\.7\\.1/24\$"
reply "macs lists learned stations" macs "$M0=0 .*$M1=1|$M1=1 .*$M0=0"
if command -v socat > /dev/null; then
    out=$(echo stats | socat -t 2 - UNIX-CONNECT:"$CTL")
    check "control works with socat" "$out" '^ok ports=5 '
fi

# ----------------------------------------------------------------- exit ---
kill -TERM $FTPID
for _ in $(seq 40); do kill -0 $FTPID 2>/dev/null || break; sleep 0.05; done
wait $FTPID; rc=$?
FTPID=
[ $rc = 0 ] && ok "SIGTERM exits 0" || notok "SIGTERM exits 0: status $rc"
[ ! -e "$CTL" ] && ok "control socket removed" || notok "control socket removed"
ip link show dev "$TAP" > /dev/null 2>&1 && notok "tap removed" || ok "tap removed"

# ------------------------------------------------------------- hub mode ---
"$FTLINK" --hub --control "$CTL" --qemu-dgram $B:$((B+1)) --qemu-dgram $((B+2)):$((B+3)) \
    --qemu-dgram $((B+6)):$((B+7)) > "$WORK/hub.out" 2> "$WORK/hub.log" &
FTPID=$!
for _ in $(seq 100); do grep -q '^ftlink: ready$' "$WORK/hub.out" && break; sleep 0.05; done
HP="d:$((B+1)):$B,d:$((B+3)):$((B+2)),d:$((B+7)):$((B+6))"
peer $HP send 1 $M0 $M1 > /dev/null
out=$(peer $HP send 0 $M1 $M0)
check "--hub floods learned unicast too" "$out" '^rx 1 ' '^rx 2 '
reply "mode switch" "mode switch" '^ok mode=switch'
peer $HP send 1 $M0 $M1 > /dev/null
out=$(peer $HP send 0 $M1 $M0)
check "mode switch learns again" "$out" '^rx 1 ' '!^rx 2 '
reply "quit" quit '^ok bye'
for _ in $(seq 40); do kill -0 $FTPID 2>/dev/null || break; sleep 0.05; done
wait $FTPID; rc=$?
FTPID=
[ $rc = 0 ] && ok "quit exits 0" || notok "quit exits 0: status $rc"
"$FTLINK" --qemu-dgram 5 > /dev/null 2>&1; rc=$?
[ $rc = 1 ] && ok "bad port spec is an error" || notok "bad port spec is an error: status $rc"
"$FTLINK" --frobnicate > /dev/null 2>&1; rc=$?
[ $rc = 64 ] && ok "unknown option is a usage error" || notok "unknown option is a usage error: status $rc"
