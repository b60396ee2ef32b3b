/* libFuzzer target for ft/log.c, the FT event log's encoder and decoder.
 *
 * Every input is used three ways:
 * (a) as a byte stream: fed to the decoder in chunks whose sizes come from
 *     the input, every call checked against the decoder's contract;
 * (a') as the body of a records frame, behind a valid header frame and
 *     with a valid CRC, so the record parser sees arbitrary bytes at once;
 * (b) as a recipe: a header and a record sequence (types and value classes
 *     from the input, raw values from a generator seeded with a hash of it)
 *     are encoded in frames of an input-chosen size; the stream is then
 *     optionally damaged (a byte XORed, cut short, a frame dropped,
 *     duplicated or swapped) and decoded. Undamaged, exactly the records
 *     must come back; damaged, an error is required, after exactly the
 *     records of the frames before the damage.
 * In all three, whatever the decoder verified must re-encode to the same
 * bytes (the format has one encoding for each log).
 *
 *   clang ... tests/fuzz/fuzz_log.c ft/log.c kernel/crc32c.c kernel/sha256.c
 *   build/tests/fuzz/fuzz_log -runs=200000 -seed=1 */
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../ft/log.h"
#include "../../kernel/crc32c.h"

#define REQUIRE(c)                                                                      \
    do {                                                                                \
        if (!(c)) {                                                                     \
            fprintf(stderr, "fuzz_log.c:%d: requirement failed: %s\n", __LINE__, #c);   \
            if (dec.err)                                                                \
                fprintf(stderr, "decoder error: %s\n", log_decoder_error(&dec));        \
            abort();                                                                    \
        }                                                                               \
    } while (0)

static struct log_decoder dec;
static struct log_encoder enc_fresh;    /* as after log_encoder_init(): copied, not re-inited */

/* ---- reading decisions from the input ---------------------------------- */

struct in {
    const uint8_t *p;
    size_t n, i;
};

/* Little-endian bytes of the input; zeros once it is used up. */
static uint64_t take(struct in *s, int bytes)
{
    uint64_t v = 0;
    for (int k = 0; k < bytes; k++, s->i++)
        if (s->i < s->n)
            v |= (uint64_t)s->p[s->i] << (8 * k);
    return v;
}

static uint64_t mix(uint64_t *x)
{
    /* splitmix64 */
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Chunk sizes for feeding: 1 .. max, but no fewer than about 256 chunks
 * of a long stream (byte-at-a-time feeding of long streams costs time and
 * finds what short ones find). */
struct chunker {
    uint64_t x;
    size_t max;
};

static void chunker_init(struct chunker *c, struct in *s)
{
    static const size_t maxes[] = { 1, 2, 3, 8, 17, 64, 300, 5000, 1 << 20 };
    c->max = maxes[take(s, 1) % (sizeof(maxes) / sizeof(maxes[0]))];
    c->x = take(s, 4);
}

static size_t chunk_next(struct chunker *c, size_t n)
{
    size_t max = c->max < n / 256 ? n / 256 : c->max;
    return 1 + (size_t)(mix(&c->x) % max);
}

/* ---- decoding with checks and re-encoding ------------------------------- */

#define STREAM_MAX (1u << 20)
static uint8_t rebuf[STREAM_MAX + LOG_MAX_FRAME];

struct run {
    /* results */
    int code;               /* LOG_EOF or the error */
    size_t records;
    bool header;
    /* re-encoding of what was verified */
    struct log_encoder re;
    bool reencode, re_open;
    size_t re_len, re_closed;
    uint64_t frames_seen;
    /* previous record's state */
    uint64_t exit, vtime, icount;
    /* called with each record */
    void (*on_record)(const struct log_record *r, size_t index);
};

static void check_header(const struct log_header *h)
{
    REQUIRE(h->format_version == LOG_FORMAT_VERSION);
    REQUIRE(h->backend <= LOG_BACKEND_PMU && h->flags == 0 && h->tsc_hz && h->mem_bytes);
    REQUIRE(strlen(h->cpu_model) <= LOG_CPU_MODEL_LEN && strlen(h->host) <= LOG_HOST_LEN);
    for (const char *c = h->cpu_model; *c; c++)
        REQUIRE(*c >= 0x20 && *c <= 0x7e);
    for (const char *c = h->host; *c; c++)
        REQUIRE(*c >= 0x20 && *c <= 0x7e);
}

/* Frames verified since the last call: the open re-encoded frame is
 * complete, and each new frame starts one. */
static void follow_frames(struct run *u)
{
    while (u->frames_seen < dec.frames) {
        size_t sz;
        if (u->re_open) {
            REQUIRE(log_frame_end(&u->re, &sz) == LOG_OK);
            u->re_len += sz;
            u->re_closed = u->re_len;
            REQUIRE(u->re_len <= STREAM_MAX);
        }
        REQUIRE(log_frame_begin(&u->re, rebuf + u->re_len, LOG_MAX_FRAME) == LOG_OK);
        u->re_open = true;
        u->frames_seen++;
    }
}

static void check_record(struct run *u, const struct log_record *r)
{
    REQUIRE(u->header);
    REQUIRE(r->type >= LOG_REC_TIME && r->type <= LOG_REC_LAST);
    REQUIRE(r->exit >= u->exit && r->vtime_ns >= u->vtime && r->icount >= u->icount);
    REQUIRE(r->exit == dec.exit && r->vtime_ns == dec.vtime_ns && r->icount == dec.icount);
    REQUIRE((r->type == LOG_REC_TIME || r->type == LOG_REC_ASYNC) || r->vtime_ns == u->vtime);
    REQUIRE((r->type == LOG_REC_ASYNC || r->type == LOG_REC_STATE) || r->icount == u->icount);
    REQUIRE(r->frame_seq == (uint32_t)(dec.frames - 1));
    REQUIRE(r->body_off < LOG_MAX_BODY);
    if (r->type == LOG_REC_OUTPUT)
        REQUIRE(r->stream < LOG_STREAMS && r->total == dec.out_total[r->stream] && r->total >= r->bytes);
    if (r->type == LOG_REC_DEVCHECK)
        REQUIRE(r->device >= 1 && r->device <= LOG_DEV_LAST && r->tag <= LOG_DEV_TAG_MAX && r->bytes <= 0xffffffffu);
    if (r->type == LOG_REC_DEVDATA || r->type == LOG_REC_DEVDONE)
        REQUIRE(r->device >= 1 && r->device <= LOG_DEV_LAST && r->tag <= LOG_DEV_TAG_MAX &&
                r->offset <= LOG_DEV_OFFSET_MAX);
    if (r->type == LOG_REC_DMA || r->type == LOG_REC_INPUT || r->type == LOG_REC_DEVDATA) {
        REQUIRE(r->len <= LOG_MAX_DATA);
        REQUIRE(r->data >= dec.buf + LOG_FRAME_HEADER &&
                r->data + r->len <= dec.buf + LOG_FRAME_HEADER + LOG_MAX_BODY);
        if (r->type == LOG_REC_DMA && r->len)
            REQUIRE(r->gpa <= UINT64_MAX - (r->len - 1));
    }
    REQUIRE(dec.ended == (r->type == LOG_REC_END));
    u->exit = r->exit;
    u->vtime = r->vtime_ns;
    u->icount = r->icount;
    if (u->reencode)
        REQUIRE(log_put(&u->re, r) == LOG_OK);
}

/* Decodes s[0..n) in chunks; fills in u's results. */
static void run_decode(struct run *u, const uint8_t *s, size_t n, struct chunker *ch)
{
    size_t pos = 0, fed = 0;
    u->code = LOG_NEED_MORE;
    u->records = 0;
    u->header = false;
    u->re = enc_fresh;
    u->reencode = n <= STREAM_MAX;
    u->re_open = false;
    u->re_len = u->re_closed = 0;
    u->frames_seen = 0;
    u->exit = u->vtime = u->icount = 0;
    log_decoder_reset(&dec);

    while (pos < n && u->code == LOG_NEED_MORE) {
        size_t chunk = chunk_next(ch, n);
        if (chunk > n - pos)
            chunk = n - pos;
        const uint8_t *p = s + pos;
        size_t left = chunk;
        for (;;) {
            size_t c = (size_t)-1;
            struct log_record r;
            int code = log_decoder_feed(&dec, p, left, &c, &r);
            REQUIRE(c <= left);
            p += c;
            left -= c;
            fed += c;
            REQUIRE(dec.consumed == fed);
            if (code == LOG_NEED_MORE) {
                REQUIRE(left == 0);
                if (u->reencode)
                    follow_frames(u);
                break;
            }
            if (code < 0) {
                REQUIRE(code == dec.err && code >= LOG_ERR_FIELD);
                const char *m = log_decoder_error(&dec);
                REQUIRE(strncmp(m, "frame ", 6) == 0 && strlen(m) < LOG_MSG_MAX);
                /* sticky */
                size_t c2 = 7;
                REQUIRE(log_decoder_feed(&dec, p, left, &c2, &r) == code && c2 == 0);
                REQUIRE(log_decoder_finish(&dec) == code);
                u->code = code;
                break;
            }
            if (code == LOG_GOT_HEADER) {
                REQUIRE(!u->header && dec.have_header && dec.frames == 1 && dec.records == 0);
                check_header(&dec.header);
                u->header = true;
                if (u->reencode) {
                    size_t sz;
                    REQUIRE(log_encode_header(&u->re, &dec.header, rebuf, sizeof(rebuf), &sz) == LOG_OK);
                    u->re_len = u->re_closed = sz;
                    u->frames_seen = 1;
                }
                continue;
            }
            REQUIRE(code == LOG_OK);
            if (u->reencode)
                follow_frames(u);
            check_record(u, &r);
            if (u->on_record)
                u->on_record(&r, u->records);
            u->records++;
            REQUIRE(dec.records == u->records);
        }
        pos += chunk;
    }
    if (u->code == LOG_NEED_MORE) {
        REQUIRE(fed == n);
        u->code = log_decoder_finish(&dec);
        REQUIRE(u->code == LOG_EOF || u->code == LOG_ERR_TRUNCATED);
        REQUIRE(u->code != LOG_EOF || u->header);
        if (u->code == LOG_ERR_TRUNCATED)
            REQUIRE(strstr(log_decoder_error(&dec), "truncated"));
    }
    if (!u->reencode)
        return;
    if (u->code == LOG_EOF) {
        size_t sz;
        if (u->re_open) {
            REQUIRE(log_frame_end(&u->re, &sz) == LOG_OK);
            u->re_len += sz;
        }
        /* the whole stream was verified: it is its own re-encoding */
        REQUIRE(u->re_len == n && memcmp(rebuf, s, n) == 0);
    } else {
        REQUIRE(u->re_closed <= n && memcmp(rebuf, s, u->re_closed) == 0);
    }
}

/* ---- (a) and (a') --------------------------------------------------------- */

static uint8_t wrapped[LOG_FRAME_OVERHEAD + LOG_HEADER_BODY + LOG_MAX_FRAME];

/* Appends the CRC to the frame at f with a len-byte body. */
static void put_crc(uint8_t *f, size_t len)
{
    uint32_t crc = crc32c_sw(0, f, LOG_FRAME_HEADER + len);
    for (int i = 0; i < 4; i++)
        f[LOG_FRAME_HEADER + len + i] = (uint8_t)(crc >> (8 * i));
}

static void raw(const uint8_t *data, size_t size)
{
    struct in s = { data, size, 0 };
    struct chunker ch;
    struct run u = { 0 };
    chunker_init(&ch, &s);
    run_decode(&u, data, size, &ch);
    if (u.code == LOG_EOF)
        REQUIRE(dec.frames >= 1);

    /* (a'): the input as a records body; by its first byte's low bits
     * also as the header's body and with its second byte as the frame
     * type (each frame still with a valid CRC) */
    static size_t header_len;
    static uint8_t header_body[LOG_HEADER_BODY];
    uint8_t sel = size > 0 ? data[0] : 0;
    if (!header_len) {
        struct log_encoder e = enc_fresh;
        struct log_header h = { .backend = 1, .tsc_hz = 1000000000, .mem_bytes = 1 << 30 };
        strcpy(h.cpu_model, "fuzz");
        strcpy(h.host, "fuzz");
        REQUIRE(log_encode_header(&e, &h, wrapped, sizeof(wrapped), &header_len) == LOG_OK);
        memcpy(header_body, wrapped + LOG_FRAME_HEADER, LOG_HEADER_BODY);
    }
    memcpy(wrapped + LOG_FRAME_HEADER, header_body, LOG_HEADER_BODY);
    if (sel & 1) {
        size_t k = size - 1 < LOG_HEADER_BODY ? size - 1 : LOG_HEADER_BODY;
        memcpy(wrapped + LOG_FRAME_HEADER, data + 1, k);
    }
    put_crc(wrapped, LOG_HEADER_BODY);
    size_t body = size < LOG_MAX_BODY ? size : LOG_MAX_BODY;
    uint8_t *f = wrapped + header_len;
    uint8_t type = (sel & 6) == 6 && size > 1 ? data[1] : LOG_FRAME_RECORDS;
    memcpy(f, "FTLG\x01\x02\x00\x00\x01\x00\x00\x00", 12);
    f[5] = type;
    f[12] = (uint8_t)body;
    f[13] = (uint8_t)(body >> 8);
    f[14] = (uint8_t)(body >> 16);
    f[15] = 0;
    memcpy(f + LOG_FRAME_HEADER, data, body);
    put_crc(f, body);
    size_t n = header_len + LOG_FRAME_OVERHEAD + body;
    run_decode(&u, wrapped, n, &ch);
    if (!u.header) {
        REQUIRE((sel & 1) && u.code == LOG_ERR_HEADER && dec.err_frame == 0 && dec.err_record == -1);
        REQUIRE(dec.err_body_off >= 0 && dec.err_body_off < LOG_HEADER_BODY);
    } else if (type == LOG_FRAME_HDR) {
        REQUIRE(u.code == LOG_ERR_DUP_HEADER);
    } else if (type != LOG_FRAME_RECORDS) {
        REQUIRE(u.code == LOG_ERR_FRAME_TYPE);
    } else if (u.code < 0) {
        /* only record errors are possible in this frame */
        REQUIRE(u.code <= LOG_ERR_AFTER_END);
        REQUIRE(dec.err_frame == 1 && dec.err_record == (int64_t)u.records);
        REQUIRE(dec.err_body_off >= 0 && dec.err_body_off <= (int64_t)body);
    } else {
        REQUIRE(u.code == LOG_EOF && dec.frames == 2);
    }
}

/* ---- (b) -------------------------------------------------------------------- */

#define B_MAX_RECS 64
#define B_MAX_DATA 300
static struct log_record want[B_MAX_RECS + 1];
static size_t nwant;
static uint8_t arena[8192];
/* What the records can take, plus room for the last frame's full capacity
 * (the encoder is told it may use that much). */
static uint8_t stream[LOG_FRAME_OVERHEAD + LOG_HEADER_BODY +
                      2 * (B_MAX_RECS + 1) * (64 + B_MAX_DATA + LOG_FRAME_OVERHEAD) + LOG_MAX_FRAME];
static uint8_t damaged[sizeof(stream) * 2];
/* Frame k occupies stream[fstart[k] .. fstart[k + 1]); records before it: fbefore[k]. */
static size_t fstart[2 * B_MAX_RECS + 8], fbefore[2 * B_MAX_RECS + 8];
static int nframes;

static void expect_record(const struct log_record *r, size_t i)
{
    REQUIRE(i < nwant);
    const struct log_record *w = &want[i];
    REQUIRE(r->type == w->type && r->exit == w->exit);
    switch (w->type) {
    case LOG_REC_TIME:
        REQUIRE(r->vtime_ns == w->vtime_ns);
        break;
    case LOG_REC_ASYNC:
        REQUIRE(r->icount == w->icount && r->rip == w->rip && r->rcx == w->rcx &&
                r->regs_crc == w->regs_crc && r->vtime_ns == w->vtime_ns);
        break;
    case LOG_REC_OUTPUT:
        REQUIRE(r->stream == w->stream && r->bytes == w->bytes && r->crc == w->crc);
        break;
    case LOG_REC_STATE:
        REQUIRE(r->icount == w->icount && memcmp(r->digest, w->digest, LOG_STATE_DIGEST_LEN) == 0);
        break;
    case LOG_REC_DMA:
        REQUIRE(r->gpa == w->gpa);
        /* fall through */
    case LOG_REC_INPUT:
        REQUIRE(r->len == w->len && (!r->len || memcmp(r->data, w->data, r->len) == 0));
        break;
    case LOG_REC_RANDOM:
        REQUIRE(r->value == w->value);
        break;
    case LOG_REC_END:
        REQUIRE(r->reason == w->reason);
        break;
    case LOG_REC_DEVDATA:
        REQUIRE(r->device == w->device && r->tag == w->tag && r->offset == w->offset && r->len == w->len &&
                (!r->len || memcmp(r->data, w->data, r->len) == 0));
        break;
    case LOG_REC_DEVDONE:
        REQUIRE(r->device == w->device && r->tag == w->tag && r->status == w->status);
        break;
    case LOG_REC_DEVCHECK:
        REQUIRE(r->device == w->device && r->tag == w->tag && r->bytes == w->bytes && r->crc == w->crc);
        break;
    }
}

/* A value: the class from the input, the bits from the generator. */
static uint64_t value(struct in *s, uint64_t *x)
{
    switch (take(s, 1) % 12) {
    case 0: return 0;
    case 1: return 1;
    case 2: return 127;
    case 3: return 128;
    case 4: return 16383;
    case 5: return 16384;
    case 6: return 1ull << 63;
    case 7: return UINT64_MAX;
    case 8: return mix(x) >> (mix(x) % 64);
    default: return mix(x) % 300;
    }
}

static uint64_t advance(struct in *s, uint64_t *x, uint64_t cur)
{
    uint64_t d = value(s, x);
    return d > UINT64_MAX - cur ? UINT64_MAX : cur + d;
}

static struct log_record gen_record(struct in *s, uint64_t *x, const struct log_encoder *e)
{
    struct log_record r = { 0 };
    r.type = (uint8_t)(LOG_REC_TIME + take(s, 1) % 10);    /* END comes last, separately */
    if (r.type == LOG_REC_END)
        r.type = LOG_REC_DEVCHECK;
    r.exit = advance(s, x, e->exit);
    switch (r.type) {
    case LOG_REC_TIME:
        r.vtime_ns = advance(s, x, e->vtime);
        break;
    case LOG_REC_ASYNC:
        r.icount = advance(s, x, e->icount);
        r.rip = value(s, x);
        r.rcx = value(s, x);
        r.regs_crc = (uint32_t)mix(x);
        r.vtime_ns = advance(s, x, e->vtime);
        break;
    case LOG_REC_OUTPUT:
        r.stream = (uint8_t)(take(s, 1) % LOG_STREAMS);
        r.bytes = value(s, x);
        if (r.bytes > UINT64_MAX - e->out_total[r.stream])
            r.bytes = UINT64_MAX - e->out_total[r.stream];
        r.crc = (uint32_t)mix(x);
        break;
    case LOG_REC_STATE:
        r.icount = advance(s, x, e->icount);
        memcpy(r.digest, arena + mix(x) % (sizeof(arena) - LOG_STATE_DIGEST_LEN), LOG_STATE_DIGEST_LEN);
        break;
    case LOG_REC_DMA:
    case LOG_REC_INPUT: {
        uint64_t l = take(s, 1);
        r.len = (uint32_t)(l % 4 == 0 ? 0 : l % 4 == 1 ? l >> 2 : mix(x) % (B_MAX_DATA + 1));
        r.data = arena + mix(x) % (sizeof(arena) - B_MAX_DATA);
        if (r.type == LOG_REC_DMA) {
            r.gpa = value(s, x);
            if (r.len && r.gpa > UINT64_MAX - (r.len - 1))
                r.gpa = UINT64_MAX - (r.len - 1);
        }
        break;
    }
    case LOG_REC_RANDOM:
        r.value = mix(x);
        break;
    case LOG_REC_DEVDATA: {
        uint64_t l = take(s, 1);
        r.len = (uint32_t)(l % 4 == 0 ? 0 : l % 4 == 1 ? l >> 2 : mix(x) % (B_MAX_DATA + 1));
        r.data = arena + mix(x) % (sizeof(arena) - B_MAX_DATA);
        r.offset = (uint32_t)(value(s, x) & LOG_DEV_OFFSET_MAX);
    }
        /* fall through */
    case LOG_REC_DEVDONE:
        r.device = (uint8_t)(1 + take(s, 1) % LOG_DEV_LAST);
        r.tag = (uint32_t)(value(s, x) & LOG_DEV_TAG_MAX);
        r.status = (uint32_t)value(s, x);
        break;
    case LOG_REC_DEVCHECK:
        r.device = (uint8_t)(1 + take(s, 1) % LOG_DEV_LAST);
        r.tag = (uint32_t)(value(s, x) & LOG_DEV_TAG_MAX);
        r.bytes = value(s, x) & 0xffffffffu;
        r.crc = (uint32_t)mix(x);
        break;
    }
    return r;
}

/* Puts r, in a new frame if the current one is full; false if it does not
 * fit even an empty frame (then it is not in the log). */
static bool put(struct log_encoder *e, const struct log_record *r, size_t *len, size_t cap)
{
    int rc = log_put(e, r);
    if (rc == LOG_ERR_FULL) {
        size_t sz;
        REQUIRE(log_frame_end(e, &sz) == LOG_OK);
        *len += sz;
        fstart[++nframes] = *len;
        fbefore[nframes] = nwant;
        REQUIRE(log_frame_begin(e, stream + *len, cap) == LOG_OK);
        rc = log_put(e, r);
    }
    if (rc == LOG_ERR_TOO_BIG)
        return false;
    REQUIRE(rc == LOG_OK);
    want[nwant++] = *r;
    return true;
}

/* The frame that holds byte pos. */
static int frame_of(size_t pos)
{
    int k = 0;
    while (k + 1 < nframes + 1 && fstart[k + 1] <= pos)
        k++;
    return k;
}

static void structured(const uint8_t *data, size_t size)
{
    struct in s = { data, size, 0 };
    uint64_t x = 0xcbf29ce484222325ull;     /* FNV-1a of the input seeds the values */
    for (size_t i = 0; i < size; i++)
        x = (x ^ data[i]) * 0x100000001b3ull;
    struct chunker ch;
    chunker_init(&ch, &s);

    /* the header */
    static const char *const names[] = { "", "x", "Skylake-Server", "0123456789abcdef",
                                         "primary-1.example.org", "~ !\"#$%&'()*+,-./0123456789:;<=>" };
    struct log_header h = { 0 };
    h.backend = (uint8_t)(take(&s, 1) % 3);
    h.tsc_hz = 1 + mix(&x) % UINT64_MAX;
    h.epoch_s = value(&s, &x);
    h.mem_bytes = 1 + mix(&x) % (1ull << 40);
    strcpy(h.cpu_model, names[take(&s, 1) % 4]);
    strcpy(h.host, names[take(&s, 1) % 6]);
    for (int i = 0; i < LOG_DIGEST_LEN; i++) {
        h.config_digest[i] = (uint8_t)mix(&x);
        h.init_digest[i] = (uint8_t)mix(&x);
    }
    h.boot_id = mix(&x);

    struct log_encoder e = enc_fresh;
    size_t len = 0, sz;
    REQUIRE(log_encode_header(&e, &h, stream, sizeof(stream), &len) == LOG_OK);
    nframes = 0;
    nwant = 0;
    fstart[0] = 0;
    fbefore[0] = 0;
    fstart[1] = len;
    fbefore[1] = 0;
    nframes = 1;

    static const size_t caps[] = { 24, 40, 64, 100, 200, 1000, LOG_MAX_FRAME };
    size_t cap = caps[take(&s, 1) % (sizeof(caps) / sizeof(caps[0]))];
    REQUIRE(log_frame_begin(&e, stream + len, cap) == LOG_OK);
    size_t n = take(&s, 1) % (B_MAX_RECS + 1);
    for (size_t i = 0; i < n; i++) {
        struct log_record r = gen_record(&s, &x, &e);
        put(&e, &r, &len, cap);
        if (take(&s, 1) % 32 == 0) {         /* a flush, maybe of an empty frame */
            REQUIRE(log_frame_end(&e, &sz) == LOG_OK);
            len += sz;
            fstart[++nframes] = len;
            fbefore[nframes] = nwant;
            REQUIRE(log_frame_begin(&e, stream + len, cap) == LOG_OK);
        }
    }
    if (take(&s, 1) & 1) {
        struct log_record r = { .type = LOG_REC_END, .exit = advance(&s, &x, e.exit),
                                .reason = (uint8_t)take(&s, 1) };
        put(&e, &r, &len, cap);
    }
    REQUIRE(log_frame_end(&e, &sz) == LOG_OK);
    len += sz;
    REQUIRE(len <= sizeof(stream));
    fstart[nframes + 1] = len;   /* frames 0 .. nframes */
    fbefore[nframes + 1] = nwant;
    int frames = nframes + 1;

    /* the damage */
    const uint8_t *t = stream;
    size_t tlen = len;
    int mode = (int)(take(&s, 1) % 4);
    size_t want_records = nwant;
    int want_code = LOG_EOF;         /* or -1: any error */
    bool want_header = true;
    if (mode == 1) {                 /* XOR one byte */
        size_t pos = take(&s, 4) % len;
        uint8_t mask = (uint8_t)(1 + take(&s, 1) % 255);
        memcpy(damaged, stream, len);
        damaged[pos] ^= mask;
        t = damaged;
        int k = frame_of(pos);
        want_records = fbefore[k];
        want_code = -1;
        want_header = k > 0;
    } else if (mode == 2) {          /* cut short */
        size_t cut = take(&s, 4) % len;
        int k = frame_of(cut);
        tlen = cut;
        want_records = fbefore[k];
        want_code = fstart[k] == cut && k > 0 ? LOG_EOF : -1;
        want_header = k > 0;
    } else if (mode == 3) {          /* drop, duplicate or swap a frame */
        int op = (int)(take(&s, 1) % 3);
        int k = (int)(take(&s, 1) % (uint64_t)frames);
        size_t m = 0;
        for (int j = 0; j < frames; j++) {
            size_t fl = fstart[j + 1] - fstart[j];
            int src = j;
            if (op == 2 && k + 1 < frames && (j == k || j == k + 1))
                src = j == k ? k + 1 : k;
            if (op == 0 && j == k)
                continue;
            fl = fstart[src + 1] - fstart[src];
            memcpy(damaged + m, stream + fstart[src], fl);
            m += fl;
            if (op == 1 && j == k) {
                memcpy(damaged + m, stream + fstart[src], fl);
                m += fl;
            }
        }
        t = damaged;
        tlen = m;
        want_header = k > 0;
        if (op == 0) {
            want_records = fbefore[k];
            /* dropping the last frame leaves a valid, shorter log */
            want_code = k == frames - 1 && k > 0 ? LOG_EOF : -1;
        } else if (op == 1) {
            want_records = fbefore[k + 1];
            want_code = -1;
            want_header = true;
        } else if (k + 1 < frames) {
            want_records = fbefore[k];
            want_code = -1;
        } else {                      /* nothing to swap with: unchanged */
            want_header = true;
        }
    }

    struct run u = { 0 };
    u.on_record = expect_record;
    run_decode(&u, t, tlen, &ch);
    if (want_code == LOG_EOF)
        REQUIRE(u.code == LOG_EOF);
    else
        REQUIRE(u.code < 0);
    REQUIRE(u.records == want_records);
    REQUIRE(u.header == want_header);
    if (u.header) {
        const struct log_header *d = &dec.header;
        REQUIRE(d->format_version == LOG_FORMAT_VERSION && d->backend == h.backend && d->flags == h.flags);
        REQUIRE(d->tsc_hz == h.tsc_hz && d->epoch_s == h.epoch_s && d->mem_bytes == h.mem_bytes);
        REQUIRE(strcmp(d->cpu_model, h.cpu_model) == 0 && strcmp(d->host, h.host) == 0);
        REQUIRE(memcmp(d->config_digest, h.config_digest, LOG_DIGEST_LEN) == 0);
        REQUIRE(memcmp(d->init_digest, h.init_digest, LOG_DIGEST_LEN) == 0 && d->boot_id == h.boot_id);
    }
    if (u.code == LOG_EOF && want_records == nwant)
        REQUIRE(dec.ended == (nwant && want[nwant - 1].type == LOG_REC_END));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        log_decoder_init(&dec);
        log_encoder_init(&enc_fresh);
        uint64_t x = 1;
        for (size_t i = 0; i < sizeof(arena); i++)
            arena[i] = (uint8_t)mix(&x);
        ready = true;
    }
    raw(data, size);
    structured(data, size);
    return 0;
}
