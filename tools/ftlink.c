/*
 * NAME
 *     ftlink - Ethernet switch between emulator NIC backends, with fault
 *     injection, capture and an optional TAP port
 *
 * SYNOPSIS
 *     ftlink [--hub] [--pcap FILE] [--control PATH] [--no-ipv6] [--verbose]
 *            PORT-SPEC...
 *
 *     PORT-SPEC is one of (ports are numbered 0, 1, ... in this order):
 *       --bochs UDPPORT          a Bochs NIC with ethmod=socket, ethdev=UDPPORT
 *                                (ftlink binds UDP 0.0.0.0:UDPPORT+1 and sends
 *                                to 127.0.0.1:UDPPORT, exactly like bxhub)
 *       --qemu-stream HOST:PORT  listen on TCP HOST:PORT for one QEMU
 *                                "-netdev stream,server=off" client at a time
 *                                (a new connection replaces the old one)
 *       --qemu-stream unix:PATH  the same on a Unix stream socket
 *       --qemu-dgram LOCAL:REMOTE  UDP: ftlink binds 127.0.0.1:LOCAL and sends
 *                                to 127.0.0.1:REMOTE (QEMU's local port)
 *       --tap NAME[:IPV4/PREFIX] a Linux TAP device (needs root), brought up
 *                                and given the address with ip(8)
 *
 * DESCRIPTION
 *     A learning switch (or, with --hub, a hub) between the ports. Frames of
 *     14 to 9022 bytes (jumbo 9018 plus an 802.1Q tag) are forwarded; Bochs
 *     ports only ever receive frames of at most 1514 bytes (Bochs' receive
 *     buffer). --pcap writes every forwarded frame (after fault injection)
 *     to a pcap file, one write(2) per record. --no-ipv6 disables IPv6 on
 *     TAP devices before they come up, so the host kernel adds no IPv6
 *     noise. --verbose (-v) logs one line per event to stderr; given twice
 *     it also logs every frame. "ftlink: ready" is printed on stdout once
 *     every listener exists. SIGTERM/SIGINT exit cleanly (status 0), closing
 *     the TAP devices (which removes them) and the control socket.
 *
 * CONTROL PROTOCOL (--control PATH: a Unix stream socket; one command per
 * line, one reply line per command, "ok ..." or "error ...")
 *     cut A B            drop all frames between ports A and B (both ways)
 *     cut A              isolate port A from every other port
 *     block A B          drop frames from A to B only (one direction)
 *     heal [A [B]]       undo all cuts (or those of A, or between A and B)
 *     drop-next PORT N   drop the next N frames arriving from PORT
 *     corrupt TCPPORT [OFFSET]   flip one payload byte (default: the middle
 *                        one) of the next IPv4 TCP segment with payload
 *                        from or to TCPPORT; the TCP checksum is recomputed
 *     forge TCPPORT      in the next such segment holding a whole "FTVF"
 *                        frame with a valid CRC32C, flip a byte of the frame
 *                        payload and recompute the CRC32C and TCP checksum
 *     replay TCPPORT [MS]  copy the next segment with payload sent to
 *                        TCPPORT and inject the copy again MS (default 200)
 *                        ms later; TCP discards it as a duplicate
 *     stats              per-port counters: pN.in/inb (frames/bytes that
 *                        arrived), pN.out/outb (delivered), pN.drop (arrived
 *                        frames discarded: drop-next, malformed, or at least
 *                        one copy suppressed by a cut), pN.bad (malformed),
 *                        pN.txdrop (copies the port could not take), pN.conns
 *     clear-stats | ports | macs | flush-macs | faults | clear-faults
 *     mode hub|switch | help | quit
 *
 * EMULATOR SIDE
 *     Bochs:  e1000: enabled=1, mac=MAC, ethmod=socket, ethdev=UDPPORT
 *     QEMU stream (start ftlink first: QEMU 7.2 does not reconnect):
 *       -netdev stream,id=n0,server=off,addr.type=inet,addr.host=HOST,addr.port=PORT
 *     QEMU dgram for --qemu-dgram LOCAL:REMOTE:
 *       -netdev dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port=REMOTE,
 *               remote.type=inet,remote.host=127.0.0.1,remote.port=LOCAL
 *     each with -device e1000,netdev=n0,mac=MAC. See docs/ftlink.md.
 *
 * EXIT STATUS
 *     0 after SIGTERM, SIGINT or "quit"; 1 on a setup error; 64 on usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PORTS 32
#define MIN_FRAME 14
#define MAX_FRAME 9022          /* jumbo 9018 + one 802.1Q tag */
#define BOCHS_MAX_FRAME 1514    /* Bochs' BX_PACKET_BUFSIZE */
#define RXBUF 65536
#define STREAM_TXCAP (1u << 20)
#define STREAM_GARBAGE (1u << 24) /* a length above this means a broken stream */
#define MAX_CLIENTS 16
#define LINE_MAX_LEN 1024
#define MAC_SLOTS 1024
#define MAC_AGE_NS (300ull * 1000000000ull)
#define MAX_FAULTS 64
#define MAX_REPLAYS 64

enum ptype { P_BOCHS, P_QDGRAM, P_QSTREAM, P_TAP };
static const char *const ptype_name[] = { "bochs", "qemu-dgram", "qemu-stream", "tap" };

struct port {
    enum ptype type;
    char spec[160];            /* what the user gave, for messages */
    int fd;                    /* data socket / tap; -1 while a stream is unconnected */
    int lfd;                   /* stream listener */
    struct sockaddr_storage dst;  /* UDP destination */
    socklen_t dstlen;
    int udp_port;              /* Bochs: the ethdev port (we send to it) */
    char unix_path[108];       /* stream on a Unix socket: path to unlink */
    /* stream state */
    unsigned char *rx;
    size_t rxlen;
    uint64_t skip;             /* bytes of an oversized frame still to discard */
    unsigned char *tx;
    size_t txlen;
    /* tap */
    char ifname[IFNAMSIZ];
    char addr[64];
    /* counters */
    uint64_t in, inb, out, outb, drop, bad, txdrop, conns;
    uint64_t dropnext;
};

enum fkind { F_CORRUPT, F_FORGE, F_REPLAY };
static const char *const fkind_name[] = { "corrupt", "forge", "replay" };
struct fault {
    enum fkind kind;
    unsigned tcpport;
    long arg;                  /* corrupt: offset or -1; replay: delay ms */
};

struct replay {
    int inport;
    size_t len;
    uint64_t due;              /* CLOCK_MONOTONIC ns */
    unsigned char *frame;
};

struct macent {
    unsigned char mac[6];
    int port;                  /* -1: free */
    uint64_t seen;
};

struct client {
    int fd;
    size_t len;
    int discard;               /* swallowing the rest of an over-long line */
    char buf[LINE_MAX_LEN];
};

static struct port ports[MAX_PORTS];
static int nports;
static unsigned char blocked[MAX_PORTS][MAX_PORTS]; /* [from][to] */
static struct macent macs[MAC_SLOTS];
static struct fault faults[MAX_FAULTS];
static int nfaults;
static struct replay replays[MAX_REPLAYS];
static int nreplays;
static struct client clients[MAX_CLIENTS];
static uint64_t fwd_frames, injected_frames;
static uint64_t fired[3];
static int hub_mode, verbose, no_ipv6;
static int pcap_fd = -1;
static int ctl_fd = -1;
static char ctl_path[108];
static int sigpipe_fd[2] = { -1, -1 };
static volatile sig_atomic_t stop_signal;
static int quit_requested;

/* ------------------------------------------------------------ utility --- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void logmsg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logmsg(int level, const char *fmt, ...)
{
    if (verbose < level)
        return;
    char line[1024];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int n = snprintf(line, sizeof line, "ftlink: %ld.%06ld ", (long)ts.tv_sec, ts.tv_nsec / 1000);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = strlen(line);
    if (len < sizeof line - 1)
        line[len++] = '\n';
    else
        line[sizeof line - 2] = '\n', len = sizeof line - 1;
    if (write(2, line, len) < 0) {
        /* nothing sensible to do */
    }
}
#define LOG(...) logmsg(1, __VA_ARGS__)
#define LOGF(...) logmsg(2, __VA_ARGS__)

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void cleanup(void);
static void die(const char *fmt, ...)
{
    va_list ap;
    fputs("ftlink: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    cleanup();
    exit(1);
}

/* A decimal number in [lo, hi]; 0 on success. */
static int parse_num(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static void fmt_mac(char *out, const unsigned char *m)
{
    sprintf(out, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static uint16_t be16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16), p[3] = (unsigned char)(v >> 24);
}

/* CRC32C (Castagnoli): reflected polynomial 0x82F63B78, init and final
 * xor 0xFFFFFFFF. Bytewise table, built on first use. */
static uint32_t crc32c(const unsigned char *p, size_t n)
{
    static uint32_t table[256];
    static int ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    uint32_t c = 0xFFFFFFFFu;
    while (n--)
        c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* ---------------------------------------------------------------- pcap --- */

static void pcap_open(const char *path)
{
    pcap_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (pcap_fd < 0)
        die("--pcap %s: %s", path, strerror(errno));
    unsigned char h[24];
    uint32_t magic = 0xa1b2c3d4, snap = 65535, link = 1; /* LINKTYPE_ETHERNET */
    uint16_t vmaj = 2, vmin = 4;
    int32_t zone = 0;
    uint32_t sigfigs = 0;
    memcpy(h, &magic, 4);
    memcpy(h + 4, &vmaj, 2);
    memcpy(h + 6, &vmin, 2);
    memcpy(h + 8, &zone, 4);
    memcpy(h + 12, &sigfigs, 4);
    memcpy(h + 16, &snap, 4);
    memcpy(h + 20, &link, 4);
    if (write(pcap_fd, h, sizeof h) != (ssize_t)sizeof h)
        die("--pcap %s: %s", path, strerror(errno));
}

static void pcap_write(const unsigned char *f, size_t len)
{
    if (pcap_fd < 0)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint32_t rec[4] = { (uint32_t)ts.tv_sec, (uint32_t)(ts.tv_nsec / 1000), (uint32_t)len, (uint32_t)len };
    struct iovec iov[2] = { { rec, sizeof rec }, { (void *)f, len } };
    if (writev(pcap_fd, iov, 2) < 0)
        LOG("pcap: write failed: %s", strerror(errno));
}

/* ----------------------------------------------------------- MAC table --- */

static int mac_lookup(const unsigned char *m)
{
    uint64_t t = now_ns();
    for (int i = 0; i < MAC_SLOTS; i++)
        if (macs[i].port >= 0 && memcmp(macs[i].mac, m, 6) == 0)
            return t - macs[i].seen > MAC_AGE_NS ? -1 : macs[i].port;
    return -1;
}

static void mac_learn(const unsigned char *m, int port)
{
    uint64_t t = now_ns();
    int freeslot = -1, oldest = 0;
    char s[18];
    for (int i = 0; i < MAC_SLOTS; i++) {
        if (macs[i].port < 0) {
            if (freeslot < 0)
                freeslot = i;
            continue;
        }
        if (memcmp(macs[i].mac, m, 6) == 0) {
            if (macs[i].port != port) {
                fmt_mac(s, m);
                LOG("mac %s moved from port %d to port %d", s, macs[i].port, port);
                macs[i].port = port;
            }
            macs[i].seen = t;
            return;
        }
        if (macs[i].seen < macs[oldest].seen || macs[oldest].port < 0)
            oldest = i;
    }
    int i = freeslot >= 0 ? freeslot : oldest;
    memcpy(macs[i].mac, m, 6);
    macs[i].port = port;
    macs[i].seen = t;
    fmt_mac(s, m);
    LOG("mac %s learned on port %d", s, port);
}

static void mac_flush_port(int port)
{
    for (int i = 0; i < MAC_SLOTS; i++)
        if (port < 0 || macs[i].port == port)
            macs[i].port = -1;
}

/* --------------------------------------------------------- TCP parsing --- */

struct tcpseg {
    size_t ip;       /* offset of the IPv4 header */
    size_t tcp;      /* offset of the TCP header */
    size_t seglen;   /* TCP header + payload, from the IP total length */
    size_t pay;      /* offset of the payload */
    size_t plen;
    unsigned sport, dport;
};

/* An unfragmented IPv4 TCP segment (optionally behind VLAN tags); 0 if so. */
static int tcp_parse(const unsigned char *f, size_t len, struct tcpseg *t)
{
    size_t off = 12;
    for (int tags = 0; tags < 2 && off + 2 <= len; tags++) {
        unsigned et = be16(f + off);
        if (et != 0x8100 && et != 0x88a8)
            break;
        off += 4;
    }
    if (off + 2 > len || be16(f + off) != 0x0800)
        return -1;
    size_t ip = off + 2;
    if (ip + 20 > len || (f[ip] >> 4) != 4)
        return -1;
    size_t ihl = (size_t)(f[ip] & 15) * 4;
    size_t tot = be16(f + ip + 2);
    if (ihl < 20 || tot < ihl || ip + tot > len)
        return -1;
    if (f[ip + 9] != 6 || (be16(f + ip + 6) & 0x3fff) != 0)
        return -1; /* not TCP, or a fragment */
    size_t tcp = ip + ihl, seglen = tot - ihl;
    if (seglen < 20)
        return -1;
    size_t doff = (size_t)(f[tcp + 12] >> 4) * 4;
    if (doff < 20 || doff > seglen)
        return -1;
    t->ip = ip;
    t->tcp = tcp;
    t->seglen = seglen;
    t->pay = tcp + doff;
    t->plen = seglen - doff;
    t->sport = be16(f + tcp);
    t->dport = be16(f + tcp + 2);
    return 0;
}

static uint32_t sum16(const unsigned char *p, size_t n, uint32_t s)
{
    for (; n > 1; p += 2, n -= 2)
        s += (uint32_t)(p[0] << 8 | p[1]);
    if (n)
        s += (uint32_t)p[0] << 8;
    return s;
}

/* Recompute the TCP checksum of the segment from scratch. */
static void tcp_fix_checksum(unsigned char *f, const struct tcpseg *t)
{
    unsigned char ph[12];
    memcpy(ph, f + t->ip + 12, 8);  /* source and destination address */
    ph[8] = 0;
    ph[9] = 6;
    ph[10] = (unsigned char)(t->seglen >> 8);
    ph[11] = (unsigned char)t->seglen;
    f[t->tcp + 16] = f[t->tcp + 17] = 0;
    uint32_t s = sum16(ph, sizeof ph, 0);
    s = sum16(f + t->tcp, t->seglen, s);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    uint16_t c = (uint16_t)~s;
    f[t->tcp + 16] = (unsigned char)(c >> 8);
    f[t->tcp + 17] = (unsigned char)c;
}

/* ------------------------------------------------------ fault injection --- */

#define FTVF_HDR 24
#define FTVF_MAC 16
#define FTVF_TRAILER (FTVF_MAC + 4) /* MAC + crc32c (net/frame.h, frames version 3) */

/* Forge the first whole, CRC-valid FTVF frame starting in the payload. */
static int forge_segment(unsigned char *f, const struct tcpseg *t, unsigned tcpport)
{
    unsigned char *p = f + t->pay;
    size_t n = t->plen;
    for (size_t i = 0; i + 4 <= n; i++) {
        if (memcmp(p + i, "FTVF", 4) != 0)
            continue;
        if (i + FTVF_HDR > n) {
            LOG("forge %u: FTVF at segment offset %zu: header not in this segment, waiting", tcpport, i);
            continue;
        }
        uint32_t plen = le32(p + i + 8);
        if (plen > n || i + FTVF_HDR + plen + FTVF_TRAILER > n) {
            LOG("forge %u: FTVF at segment offset %zu (len %u) not whole in this segment, waiting",
                tcpport, i, plen);
            continue;
        }
        if (plen == 0) {
            LOG("forge %u: FTVF at segment offset %zu has no payload, skipped", tcpport, i);
            continue;
        }
        unsigned char *fr = p + i;
        size_t body = FTVF_HDR + plen + FTVF_MAC;
        uint32_t have = le32(fr + body), want = crc32c(fr, body);
        if (have != want) {
            LOG("forge %u: FTVF at segment offset %zu: CRC32C %08x, computed %08x: not a frame, skipped",
                tcpport, i, have, want);
            continue;
        }
        size_t k = FTVF_HDR + plen / 2;
        fr[k] ^= 0xff;
        uint32_t crc = crc32c(fr, body);
        put_le32(fr + body, crc);
        tcp_fix_checksum(f, t);
        LOG("forge %u: flipped byte %u of the %u-byte payload of FTVF seq %llu (segment offset %zu), "
            "CRC32C %08x -> %08x", tcpport, plen / 2, plen,
            (unsigned long long)le32(fr + 16) | (unsigned long long)le32(fr + 20) << 32, i, have, crc);
        return 1;
    }
    return 0;
}

static void apply_tcp_faults(int in, unsigned char *f, size_t len)
{
    if (nfaults == 0)
        return;
    struct tcpseg t;
    if (tcp_parse(f, len, &t) != 0 || t.plen == 0)
        return;
    int used[3] = { 0, 0, 0 }; /* each segment takes at most one fault of each kind */
    for (int i = 0; i < nfaults;) {
        struct fault *x = &faults[i];
        int done = 0;
        if (used[x->kind]) {
            i++;
            continue;
        }
        int touches = t.sport == x->tcpport || t.dport == x->tcpport;
        switch (x->kind) {
        case F_CORRUPT:
            if (touches) {
                size_t off = x->arg >= 0 ? (size_t)x->arg : t.plen / 2;
                if (off >= t.plen)
                    off = t.plen - 1;
                f[t.pay + off] ^= 0xff;
                tcp_fix_checksum(f, &t);
                LOG("corrupt %u: flipped payload byte %zu of %zu in segment %u->%u from port %d",
                    x->tcpport, off, t.plen, t.sport, t.dport, in);
                done = 1;
            }
            break;
        case F_FORGE:
            if (touches)
                done = forge_segment(f, &t, x->tcpport);
            break;
        case F_REPLAY:
            if (t.dport == x->tcpport) {
                if (nreplays < MAX_REPLAYS) {
                    struct replay *r = &replays[nreplays];
                    r->frame = malloc(len);
                    if (r->frame) {
                        memcpy(r->frame, f, len);
                        r->len = len;
                        r->inport = in;
                        r->due = now_ns() + (uint64_t)x->arg * 1000000ull;
                        nreplays++;
                        LOG("replay %u: recorded a %zu-byte segment %u->%u from port %d, re-injecting in %ld ms",
                            x->tcpport, t.plen, t.sport, t.dport, in, x->arg);
                    }
                }
                done = 1;
            }
            break;
        }
        if (done) {
            used[x->kind] = 1;
            fired[x->kind]++;
            memmove(&faults[i], &faults[i + 1], (size_t)(nfaults - i - 1) * sizeof faults[0]);
            nfaults--;
        } else {
            i++;
        }
    }
}

/* ------------------------------------------------------------- delivery --- */

static void stream_close(int pi, const char *why)
{
    struct port *p = &ports[pi];
    if (p->fd < 0)
        return;
    LOG("port %d (%s %s): connection closed: %s", pi, ptype_name[p->type], p->spec, why);
    close(p->fd);
    p->fd = -1;
    p->rxlen = p->txlen = 0;
    p->skip = 0;
    mac_flush_port(pi);
}

static void stream_flush(int pi)
{
    struct port *p = &ports[pi];
    while (p->fd >= 0 && p->txlen > 0) {
        ssize_t n = send(p->fd, p->tx, p->txlen, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            memmove(p->tx, p->tx + n, p->txlen - (size_t)n);
            p->txlen -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            stream_close(pi, n < 0 ? strerror(errno) : "short write");
        }
    }
}

static void deliver(int pi, const unsigned char *f, size_t len)
{
    struct port *p = &ports[pi];
    ssize_t n;
    switch (p->type) {
    case P_BOCHS:
        if (len > BOCHS_MAX_FRAME) {
            p->txdrop++;
            LOGF("port %d: %zu-byte frame too big for Bochs, dropped", pi, len);
            return;
        }
        /* fall through */
    case P_QDGRAM:
        n = sendto(p->fd, f, len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&p->dst, p->dstlen);
        if (n != (ssize_t)len) {
            p->txdrop++;
            LOGF("port %d: send failed: %s", pi, n < 0 ? strerror(errno) : "short");
            return;
        }
        break;
    case P_TAP:
        n = write(p->fd, f, len);
        if (n != (ssize_t)len) {
            p->txdrop++;
            LOGF("port %d: tap write failed: %s", pi, n < 0 ? strerror(errno) : "short");
            return;
        }
        break;
    case P_QSTREAM:
        if (p->fd < 0 || p->txlen + 4 + len > STREAM_TXCAP) {
            p->txdrop++;
            LOGF("port %d: %s, frame dropped", pi, p->fd < 0 ? "not connected" : "send buffer full");
            return;
        }
        p->tx[p->txlen++] = (unsigned char)(len >> 24);
        p->tx[p->txlen++] = (unsigned char)(len >> 16);
        p->tx[p->txlen++] = (unsigned char)(len >> 8);
        p->tx[p->txlen++] = (unsigned char)len;
        memcpy(p->tx + p->txlen, f, len);
        p->txlen += len;
        stream_flush(pi);
        break;
    }
    p->out++;
    p->outb += len;
}

/* One frame arrived from port `in` (or is a replayed copy: injected). */
static void handle_frame(int in, unsigned char *f, size_t len, int injected)
{
    struct port *p = &ports[in];
    if (!injected) {
        p->in++;
        p->inb += len;
    }
    if (len < MIN_FRAME || len > MAX_FRAME) {
        p->bad++;
        p->drop++;
        LOG("port %d: malformed %zu-byte frame dropped", in, len);
        return;
    }
    if (!injected && p->dropnext > 0) {
        p->dropnext--;
        p->drop++;
        LOG("port %d: drop-next dropped a %zu-byte frame (%llu more to drop)", in, len,
            (unsigned long long)p->dropnext);
        return;
    }
    const unsigned char *dst = f, *src = f + 6;
    if (!injected && !(src[0] & 1))
        mac_learn(src, in);
    int target = -1;
    if (!hub_mode && !(dst[0] & 1)) {
        target = mac_lookup(dst);
        if (target == in) {
            LOGF("port %d: frame for a station on the same port filtered", in);
            return;
        }
    }
    int dests[MAX_PORTS], nd = 0, cut = 0;
    for (int o = 0; o < nports; o++) {
        if (o == in || (target >= 0 && o != target))
            continue;
        if (blocked[in][o]) {
            cut++;
            continue;
        }
        dests[nd++] = o;
    }
    if (cut) {
        p->drop++;
        LOGF("port %d: %d cop%s of a %zu-byte frame suppressed by a cut", in, cut, cut == 1 ? "y" : "ies", len);
    }
    if (nd == 0)
        return;
    if (!injected)
        apply_tcp_faults(in, f, len);
    else
        injected_frames++;
    if (verbose >= 2) {
        char s[18], d[18], list[3 * MAX_PORTS + 1] = "";
        fmt_mac(s, src);
        fmt_mac(d, dst);
        for (int i = 0; i < nd; i++)
            sprintf(list + strlen(list), "%s%d", i ? "," : "", dests[i]);
        LOGF("frame %s port %d -> %s: %zu bytes %s > %s type %04x", injected ? "replayed" : "from", in, list,
             len, s, d, be16(f + 12));
    }
    pcap_write(f, len);
    fwd_frames++;
    for (int i = 0; i < nd; i++)
        deliver(dests[i], f, len);
}

/* --------------------------------------------------------------- ports --- */

static void port_rx_udp(int pi)
{
    static unsigned char buf[RXBUF];
    struct port *p = &ports[pi];
    for (int k = 0; k < 64; k++) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(p->fd, buf, sizeof buf, MSG_TRUNC | MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                LOG("port %d: receive error: %s", pi, strerror(errno));
            return;
        }
        if (p->type == P_BOCHS && from.ss_family == AF_INET) {
            /* Like bxhub: answer the address Bochs sends from, on its ethdev port. */
            struct sockaddr_in *d = (struct sockaddr_in *)&p->dst, *s = (struct sockaddr_in *)&from;
            if (d->sin_addr.s_addr != s->sin_addr.s_addr) {
                char a[INET_ADDRSTRLEN];
                inet_ntop(AF_INET, &s->sin_addr, a, sizeof a);
                LOG("port %d (bochs %s): peer is now %s:%d", pi, p->spec, a, p->udp_port);
                d->sin_addr = s->sin_addr;
            }
        }
        handle_frame(pi, buf, (size_t)n > sizeof buf ? MAX_FRAME + 1 : (size_t)n, 0);
    }
}

static void port_rx_tap(int pi)
{
    static unsigned char buf[RXBUF];
    struct port *p = &ports[pi];
    for (int k = 0; k < 64; k++) {
        ssize_t n = read(p->fd, buf, sizeof buf);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                LOG("port %d: tap read error: %s", pi, strerror(errno));
            return;
        }
        handle_frame(pi, buf, (size_t)n, 0);
    }
}

static void port_rx_stream(int pi)
{
    struct port *p = &ports[pi];
    size_t cap = 4 + MAX_FRAME;
    ssize_t n = recv(p->fd, p->rx + p->rxlen, cap - p->rxlen, MSG_DONTWAIT);
    if (n == 0) {
        stream_close(pi, "peer closed");
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            stream_close(pi, strerror(errno));
        return;
    }
    p->rxlen += (size_t)n;
    size_t pos = 0;
    for (;;) {
        if (p->skip) {
            size_t k = p->rxlen - pos < p->skip ? p->rxlen - pos : (size_t)p->skip;
            pos += k;
            p->skip -= k;
            if (p->skip)
                break;
        }
        if (p->rxlen - pos < 4)
            break;
        uint32_t flen = (uint32_t)p->rx[pos] << 24 | (uint32_t)p->rx[pos + 1] << 16 |
                        (uint32_t)p->rx[pos + 2] << 8 | p->rx[pos + 3];
        if (flen > MAX_FRAME) {
            p->in++;
            p->bad++;
            p->drop++;
            if (flen > STREAM_GARBAGE) {
                stream_close(pi, "garbage length prefix");
                return;
            }
            LOG("port %d: %u-byte frame too long, skipped", pi, flen);
            p->skip = flen;
            pos += 4;
            continue;
        }
        if (p->rxlen - pos < 4 + (size_t)flen)
            break;
        handle_frame(pi, p->rx + pos + 4, flen, 0);
        if (p->fd < 0)
            return; /* closed meanwhile (cannot happen for our own port, but be safe) */
        pos += 4 + flen;
    }
    memmove(p->rx, p->rx + pos, p->rxlen - pos);
    p->rxlen -= pos;
}

static void stream_accept(int pi)
{
    struct port *p = &ports[pi];
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    int fd = accept4(p->lfd, (struct sockaddr *)&from, &fl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            LOG("port %d: accept: %s", pi, strerror(errno));
        return;
    }
    if (p->fd >= 0)
        stream_close(pi, "replaced by a new connection");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* fails harmlessly on Unix sockets */
    p->fd = fd;
    p->rxlen = p->txlen = 0;
    p->skip = 0;
    p->conns++;
    char a[INET6_ADDRSTRLEN + 8] = "unix";
    char h[INET6_ADDRSTRLEN], s[8];
    if (from.ss_family != AF_UNIX &&
        getnameinfo((struct sockaddr *)&from, fl, h, sizeof h, s, sizeof s, NI_NUMERICHOST | NI_NUMERICSERV) == 0)
        snprintf(a, sizeof a, "%s:%s", h, s);
    LOG("port %d (qemu-stream %s): connected from %s (connection %llu)", pi, p->spec, a,
        (unsigned long long)p->conns);
}

static int udp_socket(const char *host, int port, int any, int pi)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    int sz = 1 << 21;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = any ? htonl(INADDR_ANY) : inet_addr(host);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("port %d (%s %s): cannot bind UDP %s:%d: %s", pi, ptype_name[ports[pi].type], ports[pi].spec,
            any ? "0.0.0.0" : host, port, strerror(errno));
    return fd;
}

static void setup_udp(int pi, int bind_port, int dst_port, int any)
{
    struct port *p = &ports[pi];
    p->fd = udp_socket("127.0.0.1", bind_port, any, pi);
    struct sockaddr_in *d = (struct sockaddr_in *)&p->dst;
    memset(d, 0, sizeof *d);
    d->sin_family = AF_INET;
    d->sin_port = htons((uint16_t)dst_port);
    d->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    p->dstlen = sizeof *d;
}

static void setup_stream(int pi)
{
    struct port *p = &ports[pi];
    p->rx = malloc(4 + MAX_FRAME);
    p->tx = malloc(STREAM_TXCAP);
    if (!p->rx || !p->tx)
        die("out of memory");
    if (strncmp(p->spec, "unix:", 5) == 0) {
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        const char *path = p->spec + 5;
        if (!*path || strlen(path) >= sizeof a.sun_path)
            die("--qemu-stream %s: bad socket path", p->spec);
        strcpy(a.sun_path, path);
        p->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (p->lfd < 0)
            die("socket: %s", strerror(errno));
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(path);
        if (bind(p->lfd, (struct sockaddr *)&a, sizeof a) < 0)
            die("port %d (qemu-stream %s): cannot bind: %s", pi, p->spec, strerror(errno));
        strcpy(p->unix_path, path);
    } else {
        char host[128];
        const char *colon = strrchr(p->spec, ':');
        if (!colon || colon == p->spec || (size_t)(colon - p->spec) >= sizeof host)
            die("--qemu-stream %s: expected HOST:PORT or unix:PATH", p->spec);
        memcpy(host, p->spec, (size_t)(colon - p->spec));
        host[colon - p->spec] = 0;
        if (host[0] == '[' && host[strlen(host) - 1] == ']') {
            memmove(host, host + 1, strlen(host));
            host[strlen(host) - 1] = 0;
        }
        unsigned long port;
        if (parse_num(colon + 1, 1, 65535, &port) != 0)
            die("--qemu-stream %s: bad port", p->spec);
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
        struct addrinfo *res;
        int e = getaddrinfo(host, colon + 1, &hints, &res);
        if (e)
            die("--qemu-stream %s: %s", p->spec, gai_strerror(e));
        p->lfd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (p->lfd < 0)
            die("socket: %s", strerror(errno));
        int one = 1;
        setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(p->lfd, res->ai_addr, res->ai_addrlen) < 0)
            die("port %d (qemu-stream %s): cannot bind: %s", pi, p->spec, strerror(errno));
        freeaddrinfo(res);
    }
    if (listen(p->lfd, 4) < 0)
        die("port %d (qemu-stream %s): listen: %s", pi, p->spec, strerror(errno));
}

static int run_ip(char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(2, 1); /* keep our stdout for "ftlink: ready" */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execvp(argv[0], argv);
        fprintf(stderr, "ftlink: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void setup_tap(int pi)
{
    struct port *p = &ports[pi];
    char name[64];
    snprintf(name, sizeof name, "%s", p->spec);
    char *colon = strchr(name, ':');
    if (colon) {
        *colon = 0;
        snprintf(p->addr, sizeof p->addr, "%s", colon + 1);
        char ip[64];
        snprintf(ip, sizeof ip, "%s", p->addr);
        char *slash = strchr(ip, '/');
        unsigned long prefix;
        struct in_addr dummy;
        if (!slash || (*slash = 0, inet_pton(AF_INET, ip, &dummy) != 1) || parse_num(slash + 1, 0, 32, &prefix))
            die("--tap %s: the address must be IPV4/PREFIX", p->spec);
    }
    if (!name[0] || strlen(name) >= IFNAMSIZ || strchr(name, '/') || strchr(name, ' '))
        die("--tap %s: bad interface name", p->spec);
    p->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (p->fd < 0)
        die("--tap %s: /dev/net/tun: %s", p->spec, strerror(errno));
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    strcpy(ifr.ifr_name, name);
    if (ioctl(p->fd, TUNSETIFF, &ifr) < 0)
        die("--tap %s: TUNSETIFF: %s", p->spec, strerror(errno));
    snprintf(p->ifname, sizeof p->ifname, "%s", ifr.ifr_name);
    if (no_ipv6) {
        char path[128];
        snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/disable_ipv6", p->ifname);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "1\n", 2) != 2)
            LOG("port %d: cannot disable IPv6 on %s: %s", pi, p->ifname, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    if (p->addr[0]) {
        char *argv[] = { "ip", "addr", "add", p->addr, "dev", p->ifname, NULL };
        if (run_ip(argv) != 0)
            die("--tap %s: 'ip addr add %s dev %s' failed", p->spec, p->addr, p->ifname);
    }
    char *argv[] = { "ip", "link", "set", "dev", p->ifname, "up", NULL };
    if (run_ip(argv) != 0)
        die("--tap %s: 'ip link set dev %s up' failed", p->spec, p->ifname);
    LOG("port %d: tap %s up%s%s", pi, p->ifname, p->addr[0] ? " with " : "", p->addr);
}

/* ------------------------------------------------------------- control --- */

static void reply(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(int fd, const char *fmt, ...)
{
    static char out[16384];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, sizeof out - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof out - 2)
        n = (int)sizeof out - 2;
    out[n++] = '\n';
    size_t off = 0;
    while (off < (size_t)n) {
        ssize_t k = send(fd, out + off, (size_t)n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k <= 0)
            break;
        off += (size_t)k;
    }
}

/* Append to a fixed buffer without overflowing it. */
static void app(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void app(char *buf, size_t cap, const char *fmt, ...)
{
    size_t l = strlen(buf);
    if (l + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + l, cap - l, fmt, ap);
    va_end(ap);
}

static int arg_port(const char *s, int *out)
{
    unsigned long v;
    if (parse_num(s, 0, (unsigned long)nports - 1, &v) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

static void port_desc(int i, char *buf, size_t cap)
{
    struct port *p = &ports[i];
    switch (p->type) {
    case P_BOCHS: {
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &((struct sockaddr_in *)&p->dst)->sin_addr, a, sizeof a);
        snprintf(buf, cap, "%d:bochs:rx=0.0.0.0:%d,tx=%s:%d", i, p->udp_port + 1, a, p->udp_port);
        break;
    }
    case P_QDGRAM:
        snprintf(buf, cap, "%d:qemu-dgram:%s", i, p->spec);
        break;
    case P_QSTREAM:
        snprintf(buf, cap, "%d:qemu-stream:%s:%s", i, p->spec, p->fd >= 0 ? "connected" : "waiting");
        break;
    case P_TAP:
        snprintf(buf, cap, "%d:tap:%s%s%s", i, p->ifname, p->addr[0] ? ":" : "", p->addr);
        break;
    }
}

static void do_command(int fd, char *line)
{
    if (verbose) {
        char shown[128];
        size_t i;
        for (i = 0; line[i] && i < sizeof shown - 1; i++)
            shown[i] = (line[i] >= 0x20 && line[i] < 0x7f) ? line[i] : '?';
        shown[i] = 0;
        LOG("control: %s%s", shown, line[i] ? "..." : "");
    }
    char *tok[8];
    int nt = 0;
    char *save = NULL;
    for (char *s = strtok_r(line, " \t\r", &save); s && nt < 8; s = strtok_r(NULL, " \t\r", &save))
        tok[nt++] = s;
    if (nt == 0) {
        reply(fd, "error empty command (try 'help')");
        return;
    }
    static char out[16384];
    const char *c = tok[0];
    int a, b;
    unsigned long v, w;

    if (!strcmp(c, "help")) {
        reply(fd, "ok commands: cut A [B] | block A B | heal [A [B]] | drop-next PORT N | corrupt TCPPORT [OFFSET] | "
                  "forge TCPPORT | replay TCPPORT [MS] | stats | clear-stats | ports | macs | flush-macs | faults | "
                  "clear-faults | mode hub|switch | quit");
    } else if (!strcmp(c, "cut") || !strcmp(c, "block")) {
        int oneway = c[0] == 'b';
        if (nt == 2 && !oneway) {
            if (arg_port(tok[1], &a)) {
                reply(fd, "error bad port '%s' (0..%d)", tok[1], nports - 1);
                return;
            }
            for (int o = 0; o < nports; o++)
                if (o != a)
                    blocked[a][o] = blocked[o][a] = 1;
            reply(fd, "ok port %d isolated", a);
        } else if (nt == 3) {
            if (arg_port(tok[1], &a) || arg_port(tok[2], &b) || a == b) {
                reply(fd, "error bad ports '%s' '%s' (two different ports 0..%d)", tok[1], tok[2], nports - 1);
                return;
            }
            blocked[a][b] = 1;
            if (!oneway)
                blocked[b][a] = 1;
            reply(fd, oneway ? "ok blocked %d -> %d" : "ok cut %d <-> %d", a, b);
        } else {
            reply(fd, oneway ? "error usage: block FROM TO" : "error usage: cut A [B]");
        }
    } else if (!strcmp(c, "heal")) {
        if (nt == 1) {
            memset(blocked, 0, sizeof blocked);
            reply(fd, "ok healed");
        } else if (nt == 2 && !arg_port(tok[1], &a)) {
            for (int o = 0; o < nports; o++)
                blocked[a][o] = blocked[o][a] = 0;
            reply(fd, "ok healed port %d", a);
        } else if (nt == 3 && !arg_port(tok[1], &a) && !arg_port(tok[2], &b)) {
            blocked[a][b] = blocked[b][a] = 0;
            reply(fd, "ok healed %d <-> %d", a, b);
        } else {
            reply(fd, "error usage: heal [A [B]] with ports 0..%d", nports - 1);
        }
    } else if (!strcmp(c, "drop-next")) {
        if (nt != 3 || arg_port(tok[1], &a) || parse_num(tok[2], 0, 1000000000ul, &v)) {
            reply(fd, "error usage: drop-next PORT N (port 0..%d)", nports - 1);
            return;
        }
        ports[a].dropnext = v;
        reply(fd, "ok dropping the next %lu frames from port %d", v, a);
    } else if (!strcmp(c, "corrupt") || !strcmp(c, "forge") || !strcmp(c, "replay")) {
        enum fkind k = c[0] == 'c' ? F_CORRUPT : c[0] == 'f' ? F_FORGE : F_REPLAY;
        long arg = k == F_REPLAY ? 200 : -1;
        int maxargs = k == F_FORGE ? 2 : 3;
        if (nt < 2 || nt > maxargs || parse_num(tok[1], 1, 65535, &v)) {
            reply(fd, "error usage: %s", k == F_CORRUPT ? "corrupt TCPPORT [OFFSET]" : k == F_FORGE ? "forge TCPPORT"
                                                                                                   : "replay TCPPORT [MS]");
            return;
        }
        if (nt == 3) {
            if (parse_num(tok[2], 0, k == F_REPLAY ? 600000ul : 65535ul, &w)) {
                reply(fd, "error bad %s '%s'", k == F_REPLAY ? "delay" : "offset", tok[2]);
                return;
            }
            arg = (long)w;
        }
        if (nfaults >= MAX_FAULTS) {
            reply(fd, "error too many armed faults (%d)", MAX_FAULTS);
            return;
        }
        faults[nfaults++] = (struct fault){ k, (unsigned)v, arg };
        reply(fd, "ok %s armed for tcp port %lu", fkind_name[k], v);
    } else if (!strcmp(c, "stats")) {
        out[0] = 0;
        app(out, sizeof out, "ok ports=%d fwd=%llu injected=%llu", nports, (unsigned long long)fwd_frames,
            (unsigned long long)injected_frames);
        for (int i = 0; i < nports; i++) {
            struct port *p = &ports[i];
            app(out, sizeof out, " p%d.in=%llu p%d.inb=%llu p%d.out=%llu p%d.outb=%llu p%d.drop=%llu p%d.bad=%llu"
                " p%d.txdrop=%llu p%d.conns=%llu",
                i, (unsigned long long)p->in, i, (unsigned long long)p->inb, i, (unsigned long long)p->out,
                i, (unsigned long long)p->outb, i, (unsigned long long)p->drop, i, (unsigned long long)p->bad,
                i, (unsigned long long)p->txdrop, i, (unsigned long long)p->conns);
        }
        reply(fd, "%s", out);
    } else if (!strcmp(c, "clear-stats")) {
        for (int i = 0; i < nports; i++) {
            struct port *p = &ports[i];
            p->in = p->inb = p->out = p->outb = p->drop = p->bad = p->txdrop = 0;
        }
        fwd_frames = injected_frames = 0;
        reply(fd, "ok");
    } else if (!strcmp(c, "ports")) {
        out[0] = 0;
        app(out, sizeof out, "ok mode=%s", hub_mode ? "hub" : "switch");
        for (int i = 0; i < nports; i++) {
            char d[256];
            port_desc(i, d, sizeof d);
            app(out, sizeof out, " %s", d);
        }
        reply(fd, "%s", out);
    } else if (!strcmp(c, "macs")) {
        out[0] = 0;
        app(out, sizeof out, "ok");
        uint64_t t = now_ns();
        for (int i = 0; i < MAC_SLOTS; i++)
            if (macs[i].port >= 0 && t - macs[i].seen <= MAC_AGE_NS) {
                char m[18];
                fmt_mac(m, macs[i].mac);
                app(out, sizeof out, " %s=%d", m, macs[i].port);
            }
        reply(fd, "%s", out);
    } else if (!strcmp(c, "flush-macs")) {
        mac_flush_port(-1);
        reply(fd, "ok");
    } else if (!strcmp(c, "faults")) {
        int armed[3] = { 0, 0, 0 };
        for (int i = 0; i < nfaults; i++)
            armed[faults[i].kind]++;
        out[0] = 0;
        app(out, sizeof out, "ok corrupt-armed=%d corrupt-done=%llu forge-armed=%d forge-done=%llu "
            "replay-armed=%d replay-done=%llu replay-pending=%d replay-injected=%llu",
            armed[0], (unsigned long long)fired[0], armed[1], (unsigned long long)fired[1], armed[2],
            (unsigned long long)fired[2], nreplays, (unsigned long long)injected_frames);
        for (int i = 0; i < nports; i++)
            app(out, sizeof out, " p%d.drop-next=%llu", i, (unsigned long long)ports[i].dropnext);
        reply(fd, "%s", out);
    } else if (!strcmp(c, "clear-faults")) {
        nfaults = 0;
        for (int i = 0; i < nreplays; i++)
            free(replays[i].frame);
        nreplays = 0;
        for (int i = 0; i < nports; i++)
            ports[i].dropnext = 0;
        reply(fd, "ok");
    } else if (!strcmp(c, "mode")) {
        if (nt == 2 && (!strcmp(tok[1], "hub") || !strcmp(tok[1], "switch"))) {
            hub_mode = tok[1][0] == 'h';
            reply(fd, "ok mode=%s", tok[1]);
        } else {
            reply(fd, "error usage: mode hub|switch");
        }
    } else if (!strcmp(c, "quit")) {
        reply(fd, "ok bye");
        quit_requested = 1;
    } else {
        char safe[64];
        size_t i;
        for (i = 0; c[i] && i < sizeof safe - 1; i++)
            safe[i] = (c[i] >= 0x20 && c[i] < 0x7f) ? c[i] : '?';
        safe[i] = 0;
        reply(fd, "error unknown command '%s' (try 'help')", safe);
    }
}

static void client_close(struct client *cl)
{
    close(cl->fd);
    cl->fd = -1;
}

static void client_read(struct client *cl)
{
    char buf[4096];
    ssize_t n = recv(cl->fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        if (cl->len > 0 && !cl->discard) { /* a last line without newline */
            cl->buf[cl->len] = 0;
            do_command(cl->fd, cl->buf);
        }
        client_close(cl);
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        char ch = buf[i];
        if (ch == '\n') {
            if (!cl->discard) {
                cl->buf[cl->len] = 0;
                do_command(cl->fd, cl->buf);
            }
            cl->len = 0;
            cl->discard = 0;
        } else if (cl->discard) {
            continue;
        } else if (cl->len >= sizeof cl->buf - 1) {
            reply(cl->fd, "error line too long (max %d bytes)", LINE_MAX_LEN - 1);
            cl->discard = 1;
            cl->len = 0;
        } else if (ch == 0) {
            cl->buf[cl->len++] = '?'; /* NUL bytes must not end the line early */
        } else {
            cl->buf[cl->len++] = ch;
        }
    }
}

static void ctl_accept(void)
{
    int fd = accept4(ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (clients[i].fd < 0) {
            clients[i].fd = fd;
            clients[i].len = 0;
            clients[i].discard = 0;
            return;
        }
    reply(fd, "error too many control connections");
    close(fd);
}

static void setup_control(const char *path)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof a.sun_path)
        die("--control %s: path too long", path);
    strcpy(a.sun_path, path);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            die("--control %s: exists and is not a socket", path);
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&a, sizeof a) == 0)
            die("--control %s: another program is listening there", path);
        if (probe >= 0)
            close(probe);
        unlink(path);
    }
    ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (ctl_fd < 0)
        die("socket: %s", strerror(errno));
    if (bind(ctl_fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("--control %s: %s", path, strerror(errno));
    strcpy(ctl_path, path);
    if (listen(ctl_fd, 8) < 0)
        die("--control %s: listen: %s", path, strerror(errno));
}

/* ---------------------------------------------------------------- main --- */

static void cleanup(void)
{
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (clients[i].fd >= 0)
            client_close(&clients[i]);
    if (ctl_fd >= 0) {
        close(ctl_fd);
        ctl_fd = -1;
    }
    if (ctl_path[0]) {
        unlink(ctl_path);
        ctl_path[0] = 0;
    }
    for (int i = 0; i < nports; i++) {
        struct port *p = &ports[i];
        if (p->type == P_QSTREAM && p->fd >= 0)
            stream_flush(i);
        if (p->fd >= 0)
            close(p->fd); /* a TAP device we created disappears with its last fd */
        p->fd = -1;
        if (p->lfd >= 0)
            close(p->lfd);
        p->lfd = -1;
        if (p->unix_path[0])
            unlink(p->unix_path);
        p->unix_path[0] = 0;
    }
    if (pcap_fd >= 0) {
        close(pcap_fd);
        pcap_fd = -1;
    }
}

static void on_signal(int sig)
{
    int saved = errno;
    stop_signal = sig;
    if (sigpipe_fd[1] >= 0 && write(sigpipe_fd[1], "x", 1) < 0) {
        /* the pipe is full: a wake-up is already pending */
    }
    errno = saved;
}

static void usage(int rc)
{
    fputs("usage: ftlink [--hub] [--pcap FILE] [--control PATH] [--no-ipv6] [--verbose]\n"
          "              PORT... (numbered 0.. in order), where PORT is\n"
          "  --bochs UDPPORT            Bochs NIC with ethmod=socket, ethdev=UDPPORT\n"
          "  --qemu-stream HOST:PORT    listen for QEMU -netdev stream,server=off\n"
          "  --qemu-stream unix:PATH    the same on a Unix socket\n"
          "  --qemu-dgram LOCAL:REMOTE  UDP 127.0.0.1: ftlink binds LOCAL, sends to REMOTE\n"
          "  --tap NAME[:IPV4/PREFIX]   a Linux TAP device\n"
          "See the header of tools/ftlink.c or docs/ftlink.md.\n",
          rc ? stderr : stdout);
    exit(rc);
}

static struct port *new_port(enum ptype t, const char *spec)
{
    if (nports >= MAX_PORTS) {
        fprintf(stderr, "ftlink: at most %d ports\n", MAX_PORTS);
        exit(64);
    }
    struct port *p = &ports[nports++];
    p->type = t;
    p->fd = p->lfd = -1;
    snprintf(p->spec, sizeof p->spec, "%s", spec);
    if (strlen(spec) >= sizeof p->spec) {
        fprintf(stderr, "ftlink: '%s' is too long\n", spec);
        exit(64);
    }
    return p;
}

int main(int argc, char **argv)
{
    const char *pcap = NULL, *control = NULL;
    for (int i = 0; i < MAX_CLIENTS; i++)
        clients[i].fd = -1;
    for (int i = 0; i < MAC_SLOTS; i++)
        macs[i].port = -1;

    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(o, "-h") || !strcmp(o, "--help"))
            usage(0);
        else if (!strcmp(o, "--hub"))
            hub_mode = 1;
        else if (!strcmp(o, "-v") || !strcmp(o, "--verbose"))
            verbose++;
        else if (!strcmp(o, "-vv"))
            verbose += 2;
        else if (!strcmp(o, "--no-ipv6"))
            no_ipv6 = 1;
        else if (!strcmp(o, "--pcap") && has)
            pcap = argv[++i];
        else if (!strcmp(o, "--control") && has)
            control = argv[++i];
        else if (!strcmp(o, "--bochs") && has)
            new_port(P_BOCHS, argv[++i]);
        else if (!strcmp(o, "--qemu-stream") && has)
            new_port(P_QSTREAM, argv[++i]);
        else if (!strcmp(o, "--qemu-dgram") && has)
            new_port(P_QDGRAM, argv[++i]);
        else if (!strcmp(o, "--tap") && has)
            new_port(P_TAP, argv[++i]);
        else {
            fprintf(stderr, "ftlink: unknown option or missing argument: %s\n", o);
            usage(64);
        }
    }
    if (nports < 1) {
        fprintf(stderr, "ftlink: no ports given\n");
        usage(64);
    }

    if (pipe2(sigpipe_fd, O_CLOEXEC | O_NONBLOCK) < 0)
        die("pipe: %s", strerror(errno));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    for (int i = 0; i < nports; i++) {
        struct port *p = &ports[i];
        unsigned long a, b;
        char tmp[160];
        switch (p->type) {
        case P_BOCHS:
            if (parse_num(p->spec, 1, 65534, &a))
                die("--bochs %s: expected the UDP port of ethdev= (1..65534)", p->spec);
            p->udp_port = (int)a;
            /* Bochs receives on ethdev and sends to ethdev+1 on localhost. */
            setup_udp(i, (int)a + 1, (int)a, 1);
            LOG("port %d: bochs ethdev=%lu: receiving on 0.0.0.0:%lu, sending to 127.0.0.1:%lu", i, a, a + 1, a);
            break;
        case P_QDGRAM: {
            snprintf(tmp, sizeof tmp, "%s", p->spec);
            char *colon = strchr(tmp, ':');
            if (!colon || (*colon = 0, parse_num(tmp, 1, 65535, &a)) || parse_num(colon + 1, 1, 65535, &b))
                die("--qemu-dgram %s: expected LOCALPORT:REMOTEPORT", p->spec);
            setup_udp(i, (int)a, (int)b, 0);
            LOG("port %d: qemu-dgram: receiving on 127.0.0.1:%lu, sending to 127.0.0.1:%lu", i, a, b);
            break;
        }
        case P_QSTREAM:
            setup_stream(i);
            LOG("port %d: qemu-stream: listening on %s", i, p->spec);
            break;
        case P_TAP:
            setup_tap(i);
            break;
        }
    }
    if (pcap)
        pcap_open(pcap);
    if (control)
        setup_control(control);

    printf("ftlink: ready\n");
    fflush(stdout);
    LOG("ready: %d ports, %s mode", nports, hub_mode ? "hub" : "switch");

    struct pollfd pfd[2 + MAX_CLIENTS + 2 * MAX_PORTS];
    int what[2 + MAX_CLIENTS + 2 * MAX_PORTS]; /* >=0 port data, -1-i listener of port i, ... */
    enum { W_SIG = -1000, W_CTL = -1001, W_CLIENT = -2000 };
    while (!stop_signal && !quit_requested) {
        int n = 0;
        pfd[n] = (struct pollfd){ sigpipe_fd[0], POLLIN, 0 };
        what[n++] = W_SIG;
        if (ctl_fd >= 0) {
            pfd[n] = (struct pollfd){ ctl_fd, POLLIN, 0 };
            what[n++] = W_CTL;
        }
        for (int i = 0; i < MAX_CLIENTS; i++)
            if (clients[i].fd >= 0) {
                pfd[n] = (struct pollfd){ clients[i].fd, POLLIN, 0 };
                what[n++] = W_CLIENT - i;
            }
        for (int i = 0; i < nports; i++) {
            struct port *p = &ports[i];
            if (p->lfd >= 0) {
                pfd[n] = (struct pollfd){ p->lfd, POLLIN, 0 };
                what[n++] = -1 - i;
            }
            if (p->fd >= 0) {
                short ev = POLLIN;
                if (p->type == P_QSTREAM && p->txlen)
                    ev |= POLLOUT;
                pfd[n] = (struct pollfd){ p->fd, ev, 0 };
                what[n++] = i;
            }
        }
        int timeout = -1;
        if (nreplays) {
            uint64_t t = now_ns(), first = replays[0].due;
            for (int i = 1; i < nreplays; i++)
                if (replays[i].due < first)
                    first = replays[i].due;
            timeout = first <= t ? 0 : (int)((first - t) / 1000000ull) + 1;
        }
        int r = poll(pfd, (nfds_t)n, timeout);
        if (r < 0 && errno != EINTR)
            die("poll: %s", strerror(errno));
        for (int k = 0; r > 0 && k < n && !quit_requested; k++) {
            if (!pfd[k].revents)
                continue;
            int w = what[k];
            if (w == W_SIG) {
                char junk[16];
                while (read(sigpipe_fd[0], junk, sizeof junk) > 0) {
                }
            } else if (w == W_CTL) {
                ctl_accept();
            } else if (w <= W_CLIENT) {
                struct client *cl = &clients[W_CLIENT - w];
                if (cl->fd == pfd[k].fd)
                    client_read(cl);
            } else if (w < 0) {
                stream_accept(-1 - w);
            } else {
                struct port *p = &ports[w];
                if (p->fd != pfd[k].fd)
                    continue; /* replaced or closed during this round */
                if (p->type == P_QSTREAM) {
                    if (pfd[k].revents & POLLOUT)
                        stream_flush(w);
                    if (p->fd >= 0 && (pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
                        port_rx_stream(w);
                } else if (p->type == P_TAP) {
                    port_rx_tap(w);
                } else {
                    port_rx_udp(w);
                }
            }
        }
        if (nreplays) {
            uint64_t t = now_ns();
            for (int i = 0; i < nreplays;) {
                if (replays[i].due <= t) {
                    struct replay rp = replays[i];
                    memmove(&replays[i], &replays[i + 1], (size_t)(nreplays - i - 1) * sizeof replays[0]);
                    nreplays--;
                    LOG("replay: re-injecting a %zu-byte frame as if from port %d", rp.len, rp.inport);
                    handle_frame(rp.inport, rp.frame, rp.len, 1);
                    free(rp.frame);
                } else {
                    i++;
                }
            }
        }
    }
    if (stop_signal)
        LOG("signal %d: exiting", (int)stop_signal);
    else
        LOG("quit: exiting");
    cleanup();
    return 0;
}
