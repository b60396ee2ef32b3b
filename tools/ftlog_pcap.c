/* tools/ftlog: a log's byte stream out of a pcap (ftlog_core.h).
 *
 * The capture is read without libpcap: the classic pcap file format (either
 * byte order, micro- or nanosecond timestamps), Ethernet frames (with or
 * without one VLAN tag), IPv4 and TCP. Each TCP direction is reassembled by
 * sequence number (retransmissions and duplicates dropped, holes noted),
 * and each reassembled stream is recognised by its first bytes:
 *
 *  - "FTVF": the pair's logging channel (docs/channel-frames.md). Frames are
 *    checked by CRC and, with the pair key, by MAC: the HELLOs under K0 =
 *    HMAC-SHA256(key, "ftvisor channel v1"), the rest under the session key
 *    HMAC-SHA256(K0, "session" | connector's nonce | acceptor's nonce) with
 *    the connector's frames as direction 1 (net/channel.c). LOG messages
 *    (ft/pair.c: a 32-byte head whose first 8 bytes are the log offset of
 *    what follows, then whole log frames) are put together by that offset,
 *    across reconnects and re-sent messages.
 *  - "FTLS": tools/ftlog-sink's protocol (docs/log-sink.md): a PUT's log
 *    bytes after its request, or a GET's after the response head. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include "ftlog_core.h"
#include "../net/frame.h"
#include "../kernel/crc32c.h"
#include "../kernel/sha256.h"

#define CHANNEL_PORT 7700   /* net/channel.h CHAN_PORT */
#define MSG_LOG 19          /* ft/pair.c: CHAN_TYPE_USER + 3 */
#define LOG_MSG_HEAD 32     /* ft/pair.c */
#define T_HELLO 1           /* net/channel.c */
#define HELLO_LEN 44

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

bool ftlog_is_pcap(const uint8_t *buf, size_t len)
{
    if (len < 24)
        return false;
    uint32_t m = le32(buf);
    return m == 0xa1b2c3d4 || m == 0xd4c3b2a1 || m == 0xa1b23c4d || m == 0x4d3cb2a1;
}

struct seg {
    uint32_t seq, len;
    const uint8_t *data;
};

/* One direction of one TCP connection. */
struct flow {
    uint32_t sip, dip;
    uint16_t sp, dp;
    bool syn;               /* its SYN was seen: isn is known */
    bool client;            /* it sent the SYN without ACK: the connecting side */
    uint32_t base;          /* sequence number of stream byte 0 */
    bool fin;
    int peer;               /* the other direction, -1 if none seen */
    struct seg *segs;
    size_t n, cap;
    uint8_t *stream;
    size_t slen;
    uint64_t missing;       /* bytes not in the capture */
};

struct found {              /* a log found in the capture */
    char what[160];
    uint32_t sender;        /* channel: the IP address sending it */
    uint64_t boot;          /* channel: the sender's boot id (its HELLO) */
    uint64_t missing;       /* channel: log bytes not captured (holes left out) */
    uint8_t *bytes;
    size_t len, cap;
    bool channel;
};

struct ctx {
    const struct ftlog_pcap_opts *o;
    struct flow *flows;
    size_t nflows, capflows;
    struct found *logs;
    size_t nlogs, caplogs;
    int problems;
};

static void note(const struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void note(const struct ctx *c, const char *fmt, ...)
{
    if (!c->o->notes)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("pcap: ", c->o->notes);
    vfprintf(c->o->notes, fmt, ap);
    fputc('\n', c->o->notes);
    va_end(ap);
}

static const char *ip_str(uint32_t ip, char *b)
{
    sprintf(b, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 255, ip >> 8 & 255, ip & 255);
    return b;
}

static const char *flow_str(const struct flow *f, char *b)
{
    char x[16], y[16];
    sprintf(b, "%s:%u -> %s:%u", ip_str(f->sip, x), f->sp, ip_str(f->dip, y), f->dp);
    return b;
}

static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * size);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

/* The flow of this packet's direction; a SYN on a flow that has data
 * already starts a new connection. */
static int flow_for(struct ctx *c, uint32_t sip, uint16_t sp, uint32_t dip, uint16_t dp, bool syn)
{
    for (size_t i = c->nflows; i-- > 0;) {
        struct flow *f = &c->flows[i];
        if (f->sip == sip && f->sp == sp && f->dip == dip && f->dp == dp) {
            if (syn && (f->n || f->fin))
                break;
            return (int)i;
        }
    }
    if (!grow((void **)&c->flows, &c->capflows, c->nflows + 1, sizeof(struct flow)))
        return -1;
    struct flow *f = &c->flows[c->nflows];
    memset(f, 0, sizeof(*f));
    f->sip = sip, f->sp = sp, f->dip = dip, f->dp = dp;
    f->peer = -1;
    for (size_t i = c->nflows; i-- > 0;) {
        struct flow *g = &c->flows[i];
        if (g->sip == dip && g->sp == dp && g->dip == sip && g->dp == sp) {
            if (g->peer < 0) {
                g->peer = (int)c->nflows;
                f->peer = (int)i;
            }
            break;
        }
    }
    return (int)c->nflows++;
}

static int parse_packets(struct ctx *c, const uint8_t *buf, size_t len, char *err, size_t errcap)
{
    uint32_t m = le32(buf);
    bool swap = m == 0xd4c3b2a1 || m == 0x4d3cb2a1;
#define U32(p) (swap ? be32(p) : le32(p))
    uint32_t link = U32(buf + 20);
    if (link != 1) {
        snprintf(err, errcap, "the capture's link type is %u, not Ethernet (1)", link);
        return -1;
    }
    size_t pos = 24;
    uint64_t npkt = 0, skipped = 0;
    while (pos + 16 <= len) {
        uint32_t caplen = U32(buf + pos + 8), origlen = U32(buf + pos + 12);
        pos += 16;
        if (caplen > len - pos) {
            note(c, "the capture ends inside packet %" PRIu64 " (%u of its %u bytes)", npkt + 1,
                 (unsigned)(len - pos), caplen);
            c->problems++;
            break;
        }
        const uint8_t *p = buf + pos;
        pos += caplen;
        npkt++;
        if (origlen > caplen)
            skipped++; /* cut by the snap length: its TCP data shows as missing */
        size_t n = caplen, l2 = 14;
        if (n < 14)
            continue;
        uint16_t et = be16(p + 12);
        if (et == 0x8100 && n >= 18) {
            et = be16(p + 16);
            l2 = 18;
        }
        if (et != 0x0800 || n < l2 + 20)
            continue;
        const uint8_t *ip = p + l2;
        size_t ihl = (size_t)(ip[0] & 15) * 4, tot = be16(ip + 2);
        if ((ip[0] >> 4) != 4 || ihl < 20 || ip[9] != 6 || tot < ihl + 20)
            continue;
        if (be16(ip + 6) & 0x3fff) {
            skipped++; /* a fragment: ftvisor's lwIP does not send them */
            continue;
        }
        if (tot > n - l2)
            tot = n - l2; /* what was captured of it */
        if (tot < ihl + 20)
            continue;
        const uint8_t *tcp = ip + ihl;
        size_t thl = (size_t)(tcp[12] >> 4) * 4;
        if (thl < 20 || ihl + thl > tot)
            continue;
        uint8_t fl = tcp[13];
        uint32_t sip = be32(ip + 12), dip = be32(ip + 16), seq = be32(tcp + 4);
        uint16_t sp = be16(tcp), dp = be16(tcp + 2);
        bool syn = fl & 0x02;
        int fi = flow_for(c, sip, sp, dip, dp, syn);
        if (fi < 0) {
            snprintf(err, errcap, "out of memory");
            return -1;
        }
        struct flow *f = &c->flows[fi];
        if (syn) {
            f->syn = true;
            f->client = !(fl & 0x10);
            f->base = seq + 1;
            continue; /* ftvisor's and Linux's SYNs carry no data */
        }
        if (fl & 0x05)
            f->fin = true;
        size_t dlen = tot - ihl - thl;
        if (!dlen)
            continue;
        if (!grow((void **)&f->segs, &f->cap, f->n + 1, sizeof(struct seg))) {
            snprintf(err, errcap, "out of memory");
            return -1;
        }
        if (!f->syn && !f->n)
            f->base = seq; /* the SYN was not captured: start at the first data */
        f->segs[f->n++] = (struct seg){ seq, (uint32_t)dlen, tcp + thl };
    }
    note(c, "%" PRIu64 " packets, %zu TCP flows%s", npkt, c->nflows,
         skipped ? " (some packets cut short or fragmented: their data counts as missing)" : "");
    return 0;
#undef U32
}

static int seg_cmp(const void *a, const void *b)
{
    const struct seg *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The flow's bytes in order: segments by their offset from base (TCP
 * sequence numbers wrap, offsets do not here: a stream of at most 2 GiB). */
static int reassemble(struct ctx *c, struct flow *f)
{
    for (size_t i = 0; i < f->n; i++)
        f->segs[i].seq -= f->base;
    /* Bytes before the base (a retransmission of what preceded the first
     * captured data) have huge offsets: dropped. */
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++)
        if (f->segs[i].seq < 0x80000000u)
            f->segs[k++] = f->segs[i];
    f->n = k;
    if (f->n)
        qsort(f->segs, f->n, sizeof(struct seg), seg_cmp);
    size_t total = 0;
    for (size_t i = 0; i < f->n; i++)
        if (f->segs[i].seq + (size_t)f->segs[i].len > total)
            total = f->segs[i].seq + (size_t)f->segs[i].len;
    f->stream = malloc(total ? total : 1);
    if (!f->stream)
        return -1;
    size_t cur = 0;
    for (size_t i = 0; i < f->n; i++) {
        struct seg *s = &f->segs[i];
        size_t end = s->seq + (size_t)s->len;
        if (end <= cur)
            continue; /* a retransmission */
        if (s->seq > cur) {
            /* A hole: the bytes are not in the capture. What follows is
             * kept; the frame decoders resynchronise at the next frame. */
            char b[64];
            note(c, "%s: %u bytes missing at stream offset %zu", flow_str(f, b), (unsigned)(s->seq - cur), cur);
            f->missing += s->seq - cur;
            c->problems++;
            cur = s->seq;
        }
        memcpy(f->stream + f->slen, s->data + (cur - s->seq), end - cur);
        f->slen += end - cur;
        cur = end;
    }
    return 0;
}

static struct found *new_log(struct ctx *c, bool channel, uint32_t sender, const char *what)
{
    if (!grow((void **)&c->logs, &c->caplogs, c->nlogs + 1, sizeof(struct found)))
        return NULL;
    struct found *l = &c->logs[c->nlogs++];
    memset(l, 0, sizeof(*l));
    l->channel = channel;
    l->sender = sender;
    snprintf(l->what, sizeof(l->what), "%s", what);
    return l;
}

static int log_append(struct found *l, const uint8_t *p, size_t n)
{
    if (!grow((void **)&l->bytes, &l->cap, l->len + n + 1, 1))
        return -1;
    memcpy(l->bytes + l->len, p, n);
    l->len += n;
    return 0;
}

/* ---- sink streams ------------------------------------------------------------ */

static int sink_stream(struct ctx *c, struct flow *f)
{
    const uint8_t *s = f->stream;
    char b[64], what[160];
    if (f->slen >= 8 && s[4] == 1 && s[5] == 1) {
        size_t nl = (size_t)(s[6] | s[7] << 8);
        if (nl < 1 || nl > 64 || f->slen < 8 + nl)
            return 0;
        snprintf(what, sizeof(what), "sink PUT \"%.*s\" %s", (int)nl, (const char *)s + 8, flow_str(f, b));
        struct found *l = new_log(c, false, f->sip, what);
        return l && log_append(l, s + 8 + nl, f->slen - 8 - nl) == 0 ? 0 : -1;
    }
    if (f->slen >= 16 && s[4] == 1 && s[5] == 0 && !s[6] && !s[7] && f->slen >= 16 + le64(s + 8) &&
        f->slen - 16 >= LOG_FRAME_OVERHEAD && !memcmp(s + 16, LOG_MAGIC, 4)) {
        snprintf(what, sizeof(what), "sink GET answer %s", flow_str(f, b));
        struct found *l = new_log(c, false, f->dip, what);
        return l && log_append(l, s + 16, (size_t)le64(s + 8)) == 0 ? 0 : -1;
    }
    return 0;
}

/* ---- channel streams ---------------------------------------------------------- */

struct cframe {
    const uint8_t *p;       /* the whole frame */
    uint32_t len;           /* payload bytes */
    bool crc_ok;
};

/* Frames of one direction: CRC-checked; bytes that are no frame skipped to
 * the next "FTVF" (as net/frame.c's receiver does). */
static struct cframe *channel_frames(struct ctx *c, const struct flow *f, size_t *count)
{
    struct cframe *v = NULL;
    size_t n = 0, cap = 0, pos = 0, skipped = 0;
    char b[64];
    while (pos + FRAME_HEADER <= f->slen) {
        const uint8_t *p = f->stream + pos;
        uint32_t plen = le32(p + 8);
        if (memcmp(p, FRAME_MAGIC, 4) || p[4] != FRAME_VERSION || plen > FRAME_MAX_PAYLOAD || le32(p + 12) ||
            pos + frame_size(plen) > f->slen) {
            skipped++;
            pos++;
            continue;
        }
        size_t size = frame_size(plen);
        bool ok = crc32c(0, p, size - FRAME_CRC_SIZE) == le32(p + size - FRAME_CRC_SIZE);
        if (!grow((void **)&v, &cap, n + 1, sizeof(*v))) {
            free(v);
            return NULL;
        }
        v[n++] = (struct cframe){ p, plen, ok };
        if (!ok) {
            note(c, "%s: channel frame at stream offset %zu: CRC mismatch (damaged)", flow_str(f, b), pos);
            c->problems++;
            pos++;
            continue;
        }
        pos += size;
    }
    if (skipped || pos < f->slen) {
        note(c, "%s: %zu bytes of the channel stream are no frame", flow_str(f, b), skipped + (f->slen - pos));
        c->problems++;
    }
    *count = n;
    if (!v)
        v = malloc(1);
    return v;
}

/* Whether frame x's MAC is the one key k gives (k counts for session keys). */
static bool mac_ok(const struct cframe *x, struct frame_key *k, uint8_t *tmp)
{
    const uint8_t *p = x->p;
    size_t n = frame_encode_key(tmp, FRAME_MAX_SIZE, p[5], (uint16_t)(p[6] | p[7] << 8), le64(p + 16),
                                p + FRAME_HEADER, x->len, k);
    return n && !memcmp(tmp + FRAME_HEADER + x->len, p + FRAME_HEADER + x->len, FRAME_MAC_SIZE);
}

/* LOG messages of one direction into the log of its sender. */
static int channel_logs(struct ctx *c, struct flow *f, struct cframe *v, size_t n, const bool *verified)
{
    /* A host's log goes on across reconnects of one boot (its HELLO gives
     * the boot id); a host that boots again records a new log. */
    uint64_t boot = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i].crc_ok && v[i].p[5] == T_HELLO && v[i].len == HELLO_LEN) {
            boot = le64(v[i].p + FRAME_HEADER + 4);
            break;
        }
    char b[64], what[160];
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = v[i].p;
        if (!v[i].crc_ok || (verified && !verified[i]) || p[5] != MSG_LOG || v[i].len < LOG_MSG_HEAD)
            continue;
        uint64_t off = le64(p + FRAME_HEADER);
        const uint8_t *d = p + FRAME_HEADER + LOG_MSG_HEAD;
        size_t dn = v[i].len - LOG_MSG_HEAD;
        struct found *l = NULL;
        for (size_t k = c->nlogs; k-- > 0;)
            if (c->logs[k].channel && c->logs[k].sender == f->sip && c->logs[k].boot == boot) {
                l = &c->logs[k];
                break;
            }
        /* The log starts again at 0 when the primary recorded anew (it
         * restarted, or re-protection began another log). */
        if (l && off == 0 && l->len && (dn > l->len || memcmp(l->bytes, d, dn))) {
            note(c, "%s: a new log begins (channel sequence %" PRIu64 ")", flow_str(f, b), le64(p + 16));
            l = NULL;
        }
        if (!l) {
            snprintf(what, sizeof(what), "channel LOG messages from %s (boot id 0x%016" PRIx64 ")", ip_str(f->sip, b),
                     boot);
            if (!(l = new_log(c, true, f->sip, what)))
                return -1;
            l->boot = boot;
        }
        /* bytes[i] is log offset i until the first hole, i + missing
         * after the last. */
        uint64_t end = l->len + l->missing;
        if (off > end) {
            note(c, "%s: log bytes %" PRIu64 "..%" PRIu64 " are missing (messages not captured)", flow_str(f, b), end,
                 off - 1);
            c->problems++;
            l->missing += off - end;
        } else if (off < end) {
            /* Sent again after a reconnect: must be the same bytes. */
            size_t same = end - off < dn ? (size_t)(end - off) : dn;
            if (!l->missing && memcmp(l->bytes + off, d, same)) {
                note(c, "%s: a LOG message at log offset %" PRIu64 " differs from the bytes already there",
                     flow_str(f, b), off);
                c->problems++;
            }
            if (off + dn <= end)
                continue;
            d += same;
            dn -= same;
        }
        if (log_append(l, d, dn))
            return -1;
    }
    return 0;
}

static int channel_conn(struct ctx *c, struct flow *a, struct flow *bflow)
{
    /* a: the connecting side (direction 1); bflow: the other, may be NULL. */
    struct flow *dirs[2] = { a, bflow };
    struct cframe *v[2] = { NULL, NULL };
    size_t n[2] = { 0, 0 };
    bool *ok[2] = { NULL, NULL };
    char s[64];
    int rc = -1;
    for (int i = 0; i < 2; i++)
        if (dirs[i] && !(v[i] = channel_frames(c, dirs[i], &n[i])))
            goto out;
    if (c->o->key) {
        static uint8_t tmp[FRAME_MAX_SIZE];
        uint8_t k0[32], ks[32];
        hmac_sha256(c->o->key, strlen(c->o->key), "ftvisor channel v1", 18, k0);
        struct frame_key fk0;
        frame_key_init(&fk0, k0);
        const uint8_t *nonce[2] = { NULL, NULL };
        size_t first[2] = { 0, 0 };
        for (int i = 0; i < 2; i++) {
            if (!dirs[i])
                continue;
            if (!(ok[i] = calloc(n[i] + 1, 1)))
                goto out;
            for (size_t j = 0; j < n[i]; j++) {
                if (!v[i][j].crc_ok)
                    continue;
                if (v[i][j].p[5] == T_HELLO && v[i][j].len == HELLO_LEN && mac_ok(&v[i][j], &fk0, tmp)) {
                    ok[i][j] = true;
                    nonce[i] = v[i][j].p + FRAME_HEADER + 12;
                    first[i] = j + 1;
                }
                break; /* the HELLO comes first in a session */
            }
        }
        if (nonce[0] && nonce[1]) {
            struct hmac_sha256_ctx h;
            hmac_sha256_init(&h, k0, sizeof(k0));
            hmac_sha256_update(&h, "session", 7);
            hmac_sha256_update(&h, nonce[0], 16);
            hmac_sha256_update(&h, nonce[1], 16);
            hmac_sha256_final(&h, ks);
            for (int i = 0; i < 2; i++) {
                struct frame_key k;
                uint64_t bad = 0, good = 0;
                frame_key_init_session(&k, ks, (uint8_t)(i + 1));
                for (size_t j = first[i]; j < n[i]; j++) {
                    if (!v[i][j].crc_ok) {
                        k.count++; /* the sender MACed it all the same */
                        continue;
                    }
                    ok[i][j] = mac_ok(&v[i][j], &k, tmp);
                    if (ok[i][j])
                        good++;
                    else
                        bad++;
                }
                frame_key_wipe(&k);
                note(c, "%s: %" PRIu64 " session frames, MAC verified%s", flow_str(dirs[i], s), good,
                     bad ? "" : " for all");
                if (bad) {
                    note(c, "%s: %" PRIu64 " frames fail their MAC (left out)", flow_str(dirs[i], s), bad);
                    c->problems++;
                }
            }
        } else {
            note(c, "%s: no HELLO that passes its MAC under this key in %s: frames left out",
                 flow_str(a, s), bflow ? "both directions" : "the capture");
            c->problems++;
        }
        frame_key_wipe(&fk0);
    } else {
        for (int i = 0; i < 2; i++)
            if (dirs[i])
                note(c, "%s: %zu channel frames, MACs not verified (no --key or --conf)", flow_str(dirs[i], s),
                     n[i]);
    }
    rc = 0;
    for (int i = 0; i < 2 && !rc; i++)
        if (dirs[i])
            rc = channel_logs(c, dirs[i], v[i], n[i], c->o->key ? ok[i] : NULL);
out:
    for (int i = 0; i < 2; i++) {
        free(v[i]);
        free(ok[i]);
    }
    return rc;
}

int ftlog_pcap_extract(const uint8_t *buf, size_t len, const struct ftlog_pcap_opts *o, uint8_t **log,
                       size_t *loglen, int *problems, char *err, size_t errcap)
{
    struct ctx c;
    memset(&c, 0, sizeof(c));
    c.o = o;
    int rc = -1;
    *log = NULL;
    *loglen = 0;
    if (!ftlog_is_pcap(buf, len)) {
        snprintf(err, errcap, "not a pcap file");
        return -1;
    }
    if (parse_packets(&c, buf, len, err, errcap))
        goto out;
    for (size_t i = 0; i < c.nflows; i++)
        if (reassemble(&c, &c.flows[i])) {
            snprintf(err, errcap, "out of memory");
            goto out;
        }
    bool *done = calloc(c.nflows + 1, 1);
    if (!done) {
        snprintf(err, errcap, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < c.nflows; i++) {
        struct flow *f = &c.flows[i];
        if (done[i])
            continue;
        bool port_ok = o->port ? f->sp == o->port || f->dp == o->port : true;
        if (!port_ok || f->slen < 4)
            continue;
        if (!memcmp(f->stream, "FTLS", 4)) {
            done[i] = true;
            if (sink_stream(&c, f))
                break;
        } else if (!memcmp(f->stream, FRAME_MAGIC, 4) &&
                   (o->port || f->sp == CHANNEL_PORT || f->dp == CHANNEL_PORT)) {
            /* The connector: the side whose SYN was seen, else the one
             * that talks to the channel's well-known port. */
            struct flow *g = f->peer >= 0 ? &c.flows[f->peer] : NULL;
            bool f_conn = f->syn ? f->client : g && g->syn ? !g->client : f->dp == CHANNEL_PORT;
            done[i] = true;
            if (g)
                done[f->peer] = true;
            if (g && g->slen && memcmp(g->stream, FRAME_MAGIC, 4))
                g = NULL;
            if (channel_conn(&c, f_conn || !g ? f : g, f_conn || !g ? g : f))
                break;
        }
    }
    free(done);
    for (size_t i = 0; i < c.nlogs; i++)
        note(&c, "log %zu: %s: %zu bytes", i, c.logs[i].what, c.logs[i].len);
    if (!c.nlogs && c.problems) {
        snprintf(err, errcap, "no log in the capture that passed its checks (above)");
        goto out;
    }
    if (!c.nlogs) {
        snprintf(err, errcap, "no log in the capture (no logging channel on TCP %d, no ftlog-sink PUT or GET%s)",
                 o->port ? o->port : CHANNEL_PORT, o->port ? "" : " on any port");
        goto out;
    }
    if (o->which < 0 || (size_t)o->which >= c.nlogs) {
        snprintf(err, errcap, "there is no log %d: the capture has %zu (0..%zu)", o->which, c.nlogs, c.nlogs - 1);
        goto out;
    }
    note(&c, "reading log %d", o->which);
    *log = c.logs[o->which].bytes;
    *loglen = c.logs[o->which].len;
    c.logs[o->which].bytes = NULL;
    rc = 0;
out:
    *problems = c.problems;
    for (size_t i = 0; i < c.nflows; i++) {
        free(c.flows[i].segs);
        free(c.flows[i].stream);
    }
    free(c.flows);
    for (size_t i = 0; i < c.nlogs; i++)
        free(c.logs[i].bytes);
    free(c.logs);
    return rc;
}
