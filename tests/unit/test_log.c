/* ft/log.c: the FT event log's encoder and streaming decoder
 * (docs/log-format.md). */
#include "test.h"
#include <stdint.h>
#include <stdbool.h>
#include "../../ft/log.h"
#include "../../kernel/crc32c.h"
#include "../../kernel/sha256.h"

/* ---- helpers ---------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes the CRC of the frame at p (to test the checks behind it). */
static void fix_crc(uint8_t *p)
{
    size_t n = LOG_FRAME_HEADER + le32(p + 12);
    put32(p + n, crc32c(0, p, n));
}

/* A records frame with the given body, by hand. */
static size_t make_frame(uint8_t *out, uint8_t type, uint32_t seq, const uint8_t *body, size_t len)
{
    memcpy(out, "FTLG", 4);
    out[4] = 1;
    out[5] = type;
    out[6] = out[7] = 0;
    put32(out + 8, seq);
    put32(out + 12, (uint32_t)len);
    memmove(out + 16, body, len);
    fix_crc(out);
    return len + LOG_FRAME_OVERHEAD;
}

static struct log_header std_header(void)
{
    struct log_header h = { 0 };
    h.backend = LOG_BACKEND_EMULATOR;
    h.tsc_hz = 2000000000;
    h.epoch_s = 1700000000;
    h.mem_bytes = 256u << 20;
    strcpy(h.cpu_model, "Skylake-Server");
    for (int i = 0; i < 32; i++) {
        h.config_digest[i] = (uint8_t)i;
        h.init_digest[i] = (uint8_t)(0x20 + i);
    }
    strcpy(h.host, "alpha");
    h.boot_id = 0x0123456789abcdefull;
    return h;
}

static struct log_decoder dec;
static struct log_encoder enc;
static uint8_t S[8 << 20];      /* streams */
static uint8_t pool[1 << 17];   /* DMA/INPUT data */

/* Are the fields that a record of this type carries equal? */
static bool rec_eq(const struct log_record *a, const struct log_record *b)
{
    if (a->type != b->type || a->exit != b->exit)
        return false;
    switch (a->type) {
    case LOG_REC_TIME:
        return a->vtime_ns == b->vtime_ns;
    case LOG_REC_ASYNC:
        return a->icount == b->icount && a->rip == b->rip && a->rcx == b->rcx &&
               a->regs_crc == b->regs_crc && a->vtime_ns == b->vtime_ns;
    case LOG_REC_OUTPUT:
        return a->stream == b->stream && a->bytes == b->bytes && a->crc == b->crc;
    case LOG_REC_STATE:
        return a->icount == b->icount && memcmp(a->digest, b->digest, 16) == 0;
    case LOG_REC_DMA:
        if (a->gpa != b->gpa)
            return false;
        /* fall through */
    case LOG_REC_INPUT:
        return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
    case LOG_REC_RANDOM:
        return a->value == b->value;
    case LOG_REC_END:
        return a->reason == b->reason;
    case LOG_REC_DEVDATA:
        return a->device == b->device && a->tag == b->tag && a->offset == b->offset && a->len == b->len &&
               (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
    case LOG_REC_DEVDONE:
        return a->device == b->device && a->tag == b->tag && a->status == b->status;
    case LOG_REC_DEVCHECK:
        return a->device == b->device && a->tag == b->tag && a->bytes == b->bytes && a->crc == b->crc;
    }
    return false;
}

/* Encodes a header and recs[0..n) into S, with frames of at most
 * frame_cap bytes. Returns the stream's length; *frames gets the number of
 * frames. */
static size_t encode_log(const struct log_header *h, const struct log_record *recs, int n,
                         size_t frame_cap, uint64_t *frames)
{
    size_t pos = 0, sz = 0;
    log_encoder_init(&enc);
    CHECK_EQ(log_encode_header(&enc, h, S, sizeof(S), &sz), LOG_OK);
    CHECK_EQ(sz, LOG_FRAME_OVERHEAD + LOG_HEADER_BODY);
    pos = sz;
    int i = 0;
    while (i < n) {
        size_t cap = frame_cap < sizeof(S) - pos ? frame_cap : sizeof(S) - pos;
        int r = log_frame_begin(&enc, S + pos, cap);
        CHECK_EQ(r, LOG_OK);
        if (r)
            return 0;
        while (i < n) {
            r = log_put(&enc, &recs[i]);
            if (r == LOG_ERR_FULL)
                break;
            CHECK_EQ(r, LOG_OK);
            if (r)
                return 0;
            i++;
        }
        CHECK(log_frame_body(&enc) > 0);
        CHECK_EQ(log_frame_end(&enc, &sz), LOG_OK);
        pos += sz;
    }
    if (frames)
        *frames = enc.frames;
    return pos;
}

struct result {
    int code;           /* the final result: LOG_EOF or an error */
    int records;        /* delivered */
    int mismatch;       /* index of the first record unlike the expected one, or -1 */
    bool header;        /* LOG_GOT_HEADER came */
    size_t consumed;
};

/* Decodes s[0..n) in chunks of 1..maxchunk bytes (0: all at once), checking
 * records against exp[0..nexp) (when exp) and the decoder's contract. */
static struct result decode(const uint8_t *s, size_t n, size_t maxchunk, const struct log_record *exp,
                            int nexp)
{
    struct result res = { 0, 0, -1, false, 0 };
    size_t pos = 0;
    log_decoder_reset(&dec);
    while (pos < n) {
        size_t chunk = maxchunk ? 1 + rnd() % maxchunk : n - pos;
        if (chunk > n - pos)
            chunk = n - pos;
        const uint8_t *p = s + pos;
        size_t left = chunk;
        for (;;) {
            size_t c = 99999999;
            struct log_record r;
            int code = log_decoder_feed(&dec, p, left, &c, &r);
            if (c > left) {
                TEST_FAIL("consumed %zu of %zu", c, left);
                res.code = -1000;
                return res;
            }
            p += c;
            left -= c;
            res.consumed += c;
            if (code == LOG_NEED_MORE) {
                if (left)
                    TEST_FAIL("NEED_MORE with %zu bytes left", left);
                break;
            }
            if (code == LOG_GOT_HEADER) {
                if (res.header)
                    TEST_FAIL("two headers delivered");
                res.header = true;
                continue;
            }
            if (code != LOG_OK) {
                res.code = code;
                if (strlen(log_decoder_error(&dec)) == 0)
                    TEST_FAIL("error %d without a message", code);
                CHECK_EQ(dec.err, code);
                return res;
            }
            if (!res.header)
                TEST_FAIL("record before the header");
            if ((r.type == LOG_REC_DMA || r.type == LOG_REC_INPUT) && r.len &&
                (r.data < dec.buf || r.data + r.len > dec.buf + sizeof(dec.buf)))
                TEST_FAIL("data outside the decoder");
            if (exp && res.mismatch < 0 && (res.records >= nexp || !rec_eq(&r, &exp[res.records])))
                res.mismatch = res.records;
            res.records++;
        }
        pos += chunk;
    }
    res.code = log_decoder_finish(&dec);
    CHECK_EQ(dec.consumed, res.consumed);
    if (res.code == LOG_EOF)
        CHECK_EQ(res.consumed, n);
    return res;
}

#define CHECK_MSG(sub)                                                                     \
    do {                                                                                   \
        const char *m_ = log_decoder_error(&dec);                                          \
        if (!strstr(m_, (sub)))                                                            \
            TEST_FAIL("message \"%s\" lacks \"%s\"", m_, (sub));                            \
    } while (0)

/* The standard header frame into S; returns its length. */
static size_t std_log(void)
{
    struct log_header h = std_header();
    size_t sz = 0;
    log_encoder_init(&enc);
    log_encode_header(&enc, &h, S, sizeof(S), &sz);
    return sz;
}

/* Standard header plus one records frame (seq 1) with body b[0..n); decodes
 * it whole and byte by byte (same result required) and returns the code. */
static int decode_body(const uint8_t *b, size_t n)
{
    size_t len = std_log();
    len += make_frame(S + len, LOG_FRAME_RECORDS, 1, b, n);
    struct result r1 = decode(S, len, 1, NULL, 0);
    char m1[LOG_MSG_MAX];
    strcpy(m1, log_decoder_error(&dec));
    struct result r0 = decode(S, len, 0, NULL, 0);
    CHECK_EQ(r0.code, r1.code);
    CHECK_EQ(r0.records, r1.records);
    CHECK_STR(m1, log_decoder_error(&dec));
    return r0.code;
}

/* ---- varints ------------------------------------------------------------ */

TEST(varint_encodings)
{
    static const struct {
        uint64_t v;
        size_t n;
        uint8_t b[10];
    } cases[] = {
        { 0, 1, { 0 } },
        { 1, 1, { 1 } },
        { 127, 1, { 0x7f } },
        { 128, 2, { 0x80, 0x01 } },
        { 300, 2, { 0xac, 0x02 } },
        { 16383, 2, { 0xff, 0x7f } },
        { 16384, 3, { 0x80, 0x80, 0x01 } },
        { (1ull << 63) - 1, 9, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f } },
        { 1ull << 63, 10, { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 } },
        { UINT64_MAX, 10, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 } },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t b[16];
        memset(b, 0xee, sizeof(b));
        CHECK_EQ(log_varint_put(b, cases[i].v), cases[i].n);
        CHECK_EQ(log_varint_len(cases[i].v), cases[i].n);
        CHECK(memcmp(b, cases[i].b, cases[i].n) == 0);
        CHECK_EQ(b[cases[i].n], 0xee);
        uint64_t v = 12345;
        CHECK_EQ(log_varint_get(b, cases[i].n, &v), (int)cases[i].n);
        CHECK(v == cases[i].v);
        /* one byte short */
        CHECK_EQ(log_varint_get(b, cases[i].n - 1, &v), LOG_ERR_REC_TRUNCATED);
    }
}

TEST(varint_round_trip_every_length)
{
    for (int bits = 0; bits <= 64; bits++) {
        for (int k = 0; k < 50; k++) {
            uint64_t v = bits == 0 ? 0 : bits == 64 ? rnd() | 1ull << 63 : (rnd() & ((1ull << bits) - 1)) | 1ull << (bits - 1);
            uint8_t b[LOG_VARINT_MAX + 1];
            size_t n = log_varint_put(b, v);
            uint64_t w;
            CHECK_EQ(n, bits <= 7 ? 1 : (size_t)(bits + 6) / 7);
            CHECK_EQ(log_varint_get(b, sizeof(b), &w), (int)n);
            CHECK(w == v);
        }
    }
}

TEST(varint_errors)
{
    uint64_t v = 77;
    static const uint8_t empty[1] = { 0 };
    CHECK_EQ(log_varint_get(empty, 0, &v), LOG_ERR_REC_TRUNCATED);
    static const uint8_t cont[] = { 0x80 };
    CHECK_EQ(log_varint_get(cont, 1, &v), LOG_ERR_REC_TRUNCATED);
    /* 11 bytes, and 10 bytes whose last one still continues */
    static const uint8_t eleven[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00 };
    CHECK_EQ(log_varint_get(eleven, sizeof(eleven), &v), LOG_ERR_VARINT_LONG);
    CHECK_EQ(log_varint_get(eleven, 10, &v), LOG_ERR_VARINT_LONG);
    static const uint8_t zeros[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
    CHECK_EQ(log_varint_get(zeros, sizeof(zeros), &v), LOG_ERR_VARINT_LONG);
    /* tenth byte over 1: bit 64 and up */
    static const uint8_t over[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 };
    CHECK_EQ(log_varint_get(over, sizeof(over), &v), LOG_ERR_VARINT_OVERFLOW);
    static const uint8_t over7f[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f };
    CHECK_EQ(log_varint_get(over7f, sizeof(over7f), &v), LOG_ERR_VARINT_OVERFLOW);
    /* a redundant zero last byte */
    static const uint8_t nm1[] = { 0x80, 0x00 };
    CHECK_EQ(log_varint_get(nm1, sizeof(nm1), &v), LOG_ERR_VARINT_NONMINIMAL);
    static const uint8_t nm2[] = { 0x81, 0x80, 0x00 };
    CHECK_EQ(log_varint_get(nm2, sizeof(nm2), &v), LOG_ERR_VARINT_NONMINIMAL);
    static const uint8_t nm10[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00 };
    CHECK_EQ(log_varint_get(nm10, sizeof(nm10), &v), LOG_ERR_VARINT_NONMINIMAL);
    CHECK_EQ(v, 77); /* untouched by failures */
    /* a single zero byte is fine, and bytes after the varint are ignored */
    static const uint8_t ok[] = { 0x00, 0xff };
    CHECK_EQ(log_varint_get(ok, sizeof(ok), &v), 1);
    CHECK_EQ(v, 0);
}

/* ---- header ------------------------------------------------------------- */

TEST(header_round_trip)
{
    struct log_header h = std_header();
    size_t len = std_log();
    CHECK_EQ(len, 168);
    struct result r = decode(S, len, 7, NULL, 0);
    CHECK_EQ(r.code, LOG_EOF);
    CHECK(r.header);
    CHECK(dec.have_header);
    CHECK(!dec.ended);
    CHECK_EQ(dec.frames, 1);
    CHECK_EQ(dec.header.format_version, 1);
    CHECK_EQ(dec.header.backend, h.backend);
    CHECK_EQ(dec.header.flags, 0);
    CHECK(dec.header.tsc_hz == h.tsc_hz && dec.header.epoch_s == h.epoch_s);
    CHECK(dec.header.mem_bytes == h.mem_bytes && dec.header.boot_id == h.boot_id);
    CHECK_STR(dec.header.cpu_model, "Skylake-Server");
    CHECK_STR(dec.header.host, "alpha");
    CHECK(memcmp(dec.header.config_digest, h.config_digest, 32) == 0);
    CHECK(memcmp(dec.header.init_digest, h.init_digest, 32) == 0);

    /* extreme values, full-length names, every backend */
    for (int b = 0; b <= 2; b++) {
        h.backend = (uint8_t)b;
        h.tsc_hz = UINT64_MAX;
        h.epoch_s = 0;
        h.mem_bytes = 1;
        h.boot_id = UINT64_MAX;
        strcpy(h.cpu_model, "0123456789abcdef");     /* 16: no NUL in the log */
        strcpy(h.host, "~host.example.org with spaces 32");
        CHECK_EQ(strlen(h.host), 32);
        size_t sz;
        log_encoder_init(&enc);
        CHECK_EQ(log_encode_header(&enc, &h, S, sizeof(S), &sz), LOG_OK);
        r = decode(S, sz, 0, NULL, 0);
        CHECK_EQ(r.code, LOG_EOF);
        CHECK_EQ(dec.header.backend, b);
        CHECK(dec.header.tsc_hz == UINT64_MAX && dec.header.boot_id == UINT64_MAX);
        CHECK(dec.header.epoch_s == 0 && dec.header.mem_bytes == 1);
        CHECK_STR(dec.header.cpu_model, "0123456789abcdef");
        CHECK_STR(dec.header.host, h.host);
    }
    /* empty names */
    h.cpu_model[0] = h.host[0] = 0;
    size_t sz;
    log_encoder_init(&enc);
    CHECK_EQ(log_encode_header(&enc, &h, S, sizeof(S), &sz), LOG_OK);
    CHECK_EQ(decode(S, sz, 0, NULL, 0).code, LOG_EOF);
    CHECK_STR(dec.header.cpu_model, "");
    CHECK_STR(dec.header.host, "");
}

/* docs/log-format.md shows these bytes. */
TEST(documented_example)
{
    static const uint8_t want_header[168] = {
        0x46, 0x54, 0x4c, 0x47, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x94, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x01, 0x00, 0x00, 0x94, 0x35, 0x77, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf1, 0x53, 0x65,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x53, 0x6b, 0x79, 0x6c,
        0x61, 0x6b, 0x65, 0x2d, 0x53, 0x65, 0x72, 0x76, 0x65, 0x72, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03,
        0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13,
        0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23,
        0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33,
        0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x61, 0x6c, 0x70, 0x68,
        0x61, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xef, 0xcd, 0xab, 0x89,
        0x67, 0x45, 0x23, 0x01, 0x7c, 0xd5, 0xa2, 0xd3,
    };
    static const uint8_t want_records[] = {
        0x46, 0x54, 0x4c, 0x47, 0x01, 0x02, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00,
        0x01, 0x03, 0xe8, 0x07,
        0x02, 0x02, 0xa0, 0x8d, 0x06, 0x80, 0x80, 0x80, 0x88, 0xf8, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00,
        0xef, 0xbe, 0xad, 0xde, 0xdc, 0x0b,
        0x03, 0x00, 0x02, 0x06, 0xbe, 0xd8, 0x3d, 0x35,
        0x06, 0x02, 0x03, 0x6c, 0x73, 0x0a,
        0x08, 0x00, 0x00,
        0xe7, 0xa6, 0x36, 0xe7,
    };
    struct log_header h = std_header();
    size_t sz = 0, pos;
    log_encoder_init(&enc);
    CHECK_EQ(log_encode_header(&enc, &h, S, sizeof(S), &sz), LOG_OK);
    CHECK_EQ(sz, sizeof(want_header));
    if (memcmp(S, want_header, sizeof(want_header)) != 0) {
        for (size_t i = 0; i < sz; i++)
            fprintf(stderr, "0x%02x,%s", S[i], i % 16 == 15 ? "\n" : " ");
        fprintf(stderr, "\n");
        TEST_FAIL("header frame differs from the documented one");
    }
    pos = sz;
    CHECK_EQ(log_frame_begin(&enc, S + pos, 4096), LOG_OK);
    CHECK_EQ(log_put_time(&enc, 3, 1000), LOG_OK);
    CHECK_EQ(log_put_async(&enc, 5, 100000, 0xffffffff81000000ull, 0, 0xdeadbeef, 2500), LOG_OK);
    CHECK_EQ(crc32c(0, "hello\n", 6), 0x353dd8be);
    CHECK_EQ(log_put_output(&enc, LOG_STREAM_CONSOLE, 7, 6, crc32c(0, "hello\n", 6)), LOG_OK);
    CHECK_EQ(log_put_input(&enc, 9, "ls\n", 3), LOG_OK);
    CHECK_EQ(log_put_end(&enc, 9, LOG_END_POWEROFF), LOG_OK);
    CHECK_EQ(log_frame_end(&enc, &sz), LOG_OK);
    CHECK_EQ(sz, sizeof(want_records));
    if (memcmp(S + pos, want_records, sizeof(want_records)) != 0) {
        for (size_t i = 0; i < sz; i++)
            fprintf(stderr, "0x%02x,%s", S[pos + i], i % 16 == 15 ? "\n" : " ");
        fprintf(stderr, "\n");
        TEST_FAIL("records frame differs from the documented one");
    }
    pos += sz;
    struct log_record exp[5] = {
        { .type = LOG_REC_TIME, .exit = 3, .vtime_ns = 1000 },
        { .type = LOG_REC_ASYNC, .exit = 5, .icount = 100000, .rip = 0xffffffff81000000ull,
          .rcx = 0, .regs_crc = 0xdeadbeef, .vtime_ns = 2500 },
        { .type = LOG_REC_OUTPUT, .exit = 7, .stream = 0, .bytes = 6, .crc = 0x353dd8be },
        { .type = LOG_REC_INPUT, .exit = 9, .len = 3, .data = (const uint8_t *)"ls\n" },
        { .type = LOG_REC_END, .exit = 9, .reason = 0 },
    };
    struct result r = decode(S, pos, 0, exp, 5);
    CHECK_EQ(r.code, LOG_EOF);
    CHECK_EQ(r.records, 5);
    CHECK_EQ(r.mismatch, -1);
    CHECK(dec.ended);
}

/* ---- round trips ---------------------------------------------------------- */

static const uint64_t edges[] = { 0, 1, 127, 128, 16383, 16384, 1ull << 32, (1ull << 63) - 1, 1ull << 63,
                                  UINT64_MAX - 128, UINT64_MAX - 1, UINT64_MAX };
#define NEDGES (sizeof(edges) / sizeof(edges[0]))

static struct log_record recs[100000];

/* Encodes recs[0..n) with a few frame sizes, decodes each in a few
 * chunkings, and requires the same records back. */
static void round_trip(int n)
{
    static const size_t caps[] = { LOG_MAX_FRAME, 4096, 300 };
    static const size_t chunks[] = { 0, 1, 17, 5000 };
    struct log_header h = std_header();
    for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
        uint64_t frames = 0;
        size_t len = encode_log(&h, recs, n, caps[c], &frames);
        for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
            if (chunks[k] == 1 && len > 200000)
                continue;
            struct result r = decode(S, len, chunks[k], recs, n);
            if (r.code != LOG_EOF)
                TEST_FAIL("cap %zu chunk %zu: %s", caps[c], chunks[k], log_decoder_error(&dec));
            CHECK_EQ(r.records, n);
            CHECK_EQ(r.mismatch, -1);
            CHECK_EQ(dec.frames, frames);
            CHECK_EQ(dec.records, (uint64_t)n);
        }
    }
}

TEST(round_trip_time_edges)
{
    int n = 0;
    /* every edge as a delta and as an absolute value */
    uint64_t exit = 0, t = 0;
    for (size_t i = 0; i < NEDGES; i++) {
        if (edges[i] > UINT64_MAX / 4)
            break;
        exit += edges[i];
        t += edges[i];
        recs[n++] = (struct log_record){ .type = LOG_REC_TIME, .exit = exit, .vtime_ns = t };
    }
    recs[n++] = (struct log_record){ .type = LOG_REC_TIME, .exit = exit, .vtime_ns = t };
    recs[n++] = (struct log_record){ .type = LOG_REC_TIME, .exit = 1ull << 63, .vtime_ns = 1ull << 63 };
    recs[n++] = (struct log_record){ .type = LOG_REC_TIME, .exit = UINT64_MAX - 1, .vtime_ns = UINT64_MAX };
    recs[n++] = (struct log_record){ .type = LOG_REC_TIME, .exit = UINT64_MAX, .vtime_ns = UINT64_MAX };
    round_trip(n);
    /* a delta of UINT64_MAX from 0 */
    recs[0] = (struct log_record){ .type = LOG_REC_TIME, .exit = UINT64_MAX, .vtime_ns = UINT64_MAX };
    round_trip(1);
}

TEST(round_trip_async_edges)
{
    int n = 0;
    for (size_t i = 0; i < NEDGES; i++)
        recs[n++] = (struct log_record){ .type = LOG_REC_ASYNC, .exit = 0, .icount = 0, .rip = edges[i],
                                         .rcx = edges[NEDGES - 1 - i], .regs_crc = (uint32_t)edges[i] * 7,
                                         .vtime_ns = 0 };
    recs[n++] = (struct log_record){ .type = LOG_REC_ASYNC, .exit = 128, .icount = 127, .rip = 1, .rcx = 2,
                                     .regs_crc = UINT32_MAX, .vtime_ns = 1ull << 63 };
    recs[n++] = (struct log_record){ .type = LOG_REC_ASYNC, .exit = 1ull << 63, .icount = 1ull << 63,
                                     .vtime_ns = UINT64_MAX };
    recs[n++] = (struct log_record){ .type = LOG_REC_ASYNC, .exit = UINT64_MAX, .icount = UINT64_MAX,
                                     .rip = UINT64_MAX, .rcx = UINT64_MAX, .vtime_ns = UINT64_MAX };
    round_trip(n);
}

TEST(round_trip_output_state_random_end_edges)
{
    int n = 0;
    for (size_t i = 0; i < NEDGES; i++) {
        /* each stream its own total: UINT64_MAX once per stream at most */
        recs[n++] = (struct log_record){ .type = LOG_REC_OUTPUT, .stream = (uint8_t)(i % 3), .exit = i,
                                         .bytes = i < 9 ? edges[i] : 0, .crc = (uint32_t)~i };
        struct log_record s = { .type = LOG_REC_STATE, .exit = i, .icount = i < 9 ? edges[i] : edges[8] };
        for (int k = 0; k < 16; k++)
            s.digest[k] = (uint8_t)(i * 16 + k);
        recs[n++] = s;
        recs[n++] = (struct log_record){ .type = LOG_REC_RANDOM, .exit = i, .value = edges[i] };
    }
    /* fill each stream's total up to UINT64_MAX exactly */
    uint64_t total[3] = { 0, 0, 0 };
    for (int i = 0; i < n; i++)
        if (recs[i].type == LOG_REC_OUTPUT)
            total[recs[i].stream] += recs[i].bytes;
    for (int s = 0; s < 3; s++)
        recs[n++] = (struct log_record){ .type = LOG_REC_OUTPUT, .stream = (uint8_t)s, .exit = 100,
                                         .bytes = UINT64_MAX - total[s] };
    struct log_record st = { .type = LOG_REC_STATE, .exit = UINT64_MAX, .icount = UINT64_MAX };
    memset(st.digest, 0xff, 16);
    recs[n++] = st;
    recs[n++] = (struct log_record){ .type = LOG_REC_END, .exit = UINT64_MAX, .reason = 255 };
    round_trip(n);
    CHECK(dec.ended);
    /* the decoder's per-stream totals */
    CHECK(dec.out_total[0] == UINT64_MAX && dec.out_total[1] == UINT64_MAX && dec.out_total[2] == UINT64_MAX);
}

TEST(round_trip_dma_input_edges)
{
    for (size_t i = 0; i < sizeof(pool); i++)
        pool[i] = (uint8_t)rnd();
    int n = 0;
    static const uint32_t lens[] = { 0, 1, 127, 128, 4096, 16383, 16384, LOG_MAX_DATA };
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        recs[n++] = (struct log_record){ .type = LOG_REC_DMA, .exit = i, .gpa = edges[i],
                                         .data = pool + i, .len = lens[i] };
        recs[n++] = (struct log_record){ .type = LOG_REC_INPUT, .exit = i, .data = pool + 3 * i,
                                         .len = lens[i] };
    }
    /* ranges that end exactly at 2^64 */
    recs[n++] = (struct log_record){ .type = LOG_REC_DMA, .exit = 9, .gpa = UINT64_MAX, .data = pool, .len = 1 };
    recs[n++] = (struct log_record){ .type = LOG_REC_DMA, .exit = 9, .gpa = UINT64_MAX - LOG_MAX_DATA + 1,
                                     .data = pool, .len = LOG_MAX_DATA };
    recs[n++] = (struct log_record){ .type = LOG_REC_DMA, .exit = UINT64_MAX, .gpa = UINT64_MAX, .data = pool, .len = 0 };
    /* the frame capacity 300 of round_trip() cannot hold the big ones */
    struct log_header h = std_header();
    size_t len = encode_log(&h, recs, n, LOG_MAX_FRAME, NULL);
    for (int k = 0; k < 3; k++) {
        struct result r = decode(S, len, k == 0 ? 0 : k == 1 ? 1000 : 70000, recs, n);
        CHECK_EQ(r.code, LOG_EOF);
        CHECK_EQ(r.records, n);
        CHECK_EQ(r.mismatch, -1);
    }
}

/* A random record after the state in *e (absolute values moving on). */
static struct log_record random_record(const struct log_encoder *e, int big_data)
{
    struct log_record r = { 0 };
    uint64_t roll = rnd();
    r.type = (uint8_t)(1 + roll % 16 % 11);   /* END only at the end */
    if (r.type == LOG_REC_END)
        r.type = LOG_REC_RANDOM;
    uint64_t step = roll >> 8 & 1 ? rnd() % 4 : roll >> 9 & 1 ? rnd() % 300 : rnd() % (1ull << 40);
    r.exit = e->exit + step;
    switch (r.type) {
    case LOG_REC_TIME:
        r.vtime_ns = e->vtime + rnd() % 100000;
        break;
    case LOG_REC_ASYNC:
        r.icount = e->icount + rnd() % (1ull << (rnd() % 40));
        r.rip = rnd() >> (rnd() % 64);
        r.rcx = rnd() >> (rnd() % 64);
        r.regs_crc = (uint32_t)rnd();
        r.vtime_ns = e->vtime + rnd() % 1000;
        break;
    case LOG_REC_OUTPUT:
        r.stream = (uint8_t)(rnd() % 3);
        r.bytes = rnd() % 5000;
        r.crc = (uint32_t)rnd();
        break;
    case LOG_REC_STATE:
        r.icount = e->icount + rnd() % 100000000;
        for (int k = 0; k < 16; k++)
            r.digest[k] = (uint8_t)rnd();
        break;
    case LOG_REC_DMA:
        r.gpa = rnd() % (1ull << 36);
        /* fall through */
    case LOG_REC_INPUT:
        r.len = (uint32_t)(big_data && rnd() % 8 == 0 ? rnd() % (LOG_MAX_DATA + 1) : rnd() % 200);
        r.data = pool + rnd() % (sizeof(pool) - LOG_MAX_DATA);
        break;
    case LOG_REC_RANDOM:
        r.value = rnd();
        break;
    case LOG_REC_DEVDATA:
        r.offset = (uint32_t)(rnd() % (LOG_DEV_OFFSET_MAX + 1));
        r.len = (uint32_t)(big_data && rnd() % 8 == 0 ? rnd() % (LOG_MAX_DATA + 1) : rnd() % 200);
        r.data = pool + rnd() % (sizeof(pool) - LOG_MAX_DATA);
        /* fall through */
    case LOG_REC_DEVDONE:
        r.device = (uint8_t)(1 + rnd() % LOG_DEV_LAST);
        r.tag = (uint32_t)(rnd() % (LOG_DEV_TAG_MAX + 1));
        r.status = (uint32_t)rnd();
        break;
    case LOG_REC_DEVCHECK:
        r.device = (uint8_t)(1 + rnd() % LOG_DEV_LAST);
        r.tag = (uint32_t)(rnd() % (LOG_DEV_TAG_MAX + 1));
        r.bytes = rnd() % (1ull << (rnd() % 33));
        r.crc = (uint32_t)rnd();
        break;
    }
    return r;
}

TEST(many_records_many_frames_random_chunks)
{
    for (size_t i = 0; i < sizeof(pool); i++)
        pool[i] = (uint8_t)rnd();
    static const struct {
        int n;
        size_t cap;
        int big;
    } runs[] = { { 100000, 300, 0 }, { 100000, 4096, 0 }, { 60000, LOG_MAX_FRAME, 0 }, { 2000, LOG_MAX_FRAME, 1 } };
    for (size_t k = 0; k < sizeof(runs) / sizeof(runs[0]); k++) {
        /* generate with a scratch encoder to follow the state */
        struct log_encoder g;
        static uint8_t scratch[LOG_MAX_FRAME];
        struct log_header h = std_header();
        size_t sz;
        log_encoder_init(&g);
        log_encode_header(&g, &h, scratch, sizeof(scratch), &sz);
        log_frame_begin(&g, scratch, sizeof(scratch));
        int n = runs[k].n;
        for (int i = 0; i < n; i++) {
            recs[i] = random_record(&g, runs[k].big);
            if (i == n - 1) {
                recs[i] = (struct log_record){ .type = LOG_REC_END, .exit = g.exit + 1, .reason = 1 };
            }
            /* keep g's state moving; its frame is thrown away when full */
            int r = log_put(&g, &recs[i]);
            if (r == LOG_ERR_FULL) {
                log_frame_end(&g, &sz);
                log_frame_begin(&g, scratch, sizeof(scratch));
                r = log_put(&g, &recs[i]);
            }
            CHECK_EQ(r, LOG_OK);
        }
        uint64_t frames = 0;
        size_t len = encode_log(&h, recs, n, runs[k].cap, &frames);
        CHECK(len < sizeof(S));
        CHECK_EQ(log_encoder_exit(&enc), recs[n - 1].exit);
        CHECK(frames > (runs[k].cap == 300 ? 1000u : 10u));
        static const size_t chunks[] = { 0, 3, 200, 100000 };
        for (size_t c = 0; c < 4; c++) {
            struct result r = decode(S, len, chunks[c], recs, n);
            if (r.code != LOG_EOF)
                TEST_FAIL("run %zu chunk %zu: %s", k, chunks[c], log_decoder_error(&dec));
            CHECK_EQ(r.records, n);
            CHECK_EQ(r.mismatch, -1);
            CHECK_EQ(dec.frames, frames);
            CHECK(dec.ended);
            CHECK(dec.exit == recs[n - 1].exit);
        }
    }
}

TEST(record_locations_and_state)
{
    size_t len = std_log(), sz;
    CHECK_EQ(log_frame_begin(&enc, S + len, 1000), LOG_OK);
    CHECK_EQ(log_encoder_exit(&enc), 0);
    CHECK_EQ(log_put_time(&enc, 10, 500), LOG_OK);
    CHECK_EQ(log_encoder_exit(&enc), 10);
    CHECK_EQ(log_put_random(&enc, 12, 42), LOG_OK);
    CHECK_EQ(log_frame_end(&enc, &sz), LOG_OK);
    len += sz;
    /* an empty frame is valid */
    CHECK_EQ(log_frame_begin(&enc, S + len, 1000), LOG_OK);
    CHECK_EQ(log_frame_body(&enc), 0);
    CHECK_EQ(log_frame_end(&enc, &sz), LOG_OK);
    CHECK_EQ(sz, 20);
    CHECK_EQ(log_encoder_exit(&enc), 12); /* the last record's, across the empty frame */
    len += sz;
    CHECK_EQ(log_frame_begin(&enc, S + len, 1000), LOG_OK);
    CHECK_EQ(log_put_state(&enc, 12, 1000, (const uint8_t *)"0123456789abcdef"), LOG_OK);
    CHECK_EQ(log_put_output(&enc, LOG_STREAM_DISK, 13, 512, 7), LOG_OK);
    CHECK_EQ(log_put_output(&enc, LOG_STREAM_DISK, 13, 512, 8), LOG_OK);
    CHECK_EQ(log_put_dma(&enc, 14, 0x1000, "abc", 3), LOG_OK);
    CHECK_EQ(log_frame_end(&enc, &sz), LOG_OK);
    len += sz;
    CHECK_EQ(enc.seq, 4);

    log_decoder_reset(&dec);
    size_t c;
    struct log_record r;
    CHECK_EQ(log_decoder_feed(&dec, S, len, &c, &r), LOG_GOT_HEADER);
    CHECK_EQ(c, 168);
    size_t pos = c;
    CHECK_EQ(log_decoder_feed(&dec, S + pos, len - pos, &c, &r), LOG_OK);
    pos += c;
    CHECK_EQ(r.type, LOG_REC_TIME);
    CHECK(r.exit == 10 && r.vtime_ns == 500 && r.icount == 0);
    CHECK(r.frame_seq == 1 && r.body_off == 0 && r.index == 0);
    CHECK_EQ(log_decoder_feed(&dec, S + pos, len - pos, &c, &r), LOG_OK);
    pos += c;
    CHECK_EQ(c, 0); /* the frame's second record: nothing more to take */
    CHECK(r.type == LOG_REC_RANDOM && r.value == 42 && r.exit == 12 && r.vtime_ns == 500);
    CHECK(r.frame_seq == 1 && r.body_off == 4 && r.index == 1);
    /* there is a TIME before: finish now would be premature? no: frame done */
    CHECK_EQ(log_decoder_feed(&dec, S + pos, len - pos, &c, &r), LOG_OK);
    pos += c;
    CHECK(r.type == LOG_REC_STATE && r.icount == 1000 && r.exit == 12 && r.vtime_ns == 500);
    CHECK(r.frame_seq == 3 && r.body_off == 0 && r.index == 0);
    CHECK(memcmp(r.digest, "0123456789abcdef", 16) == 0);
    CHECK_EQ(pos, len);
    /* records still to come: finish refuses, changing nothing */
    CHECK_EQ(log_decoder_finish(&dec), LOG_ERR_STATE);
    CHECK_EQ(dec.err, 0);
    CHECK_EQ(log_decoder_feed(&dec, S + pos, 0, &c, &r), LOG_OK);
    CHECK(r.type == LOG_REC_OUTPUT && r.stream == 2 && r.bytes == 512 && r.total == 512 && r.crc == 7);
    CHECK_EQ(log_decoder_feed(&dec, S + pos, 0, &c, &r), LOG_OK);
    CHECK(r.type == LOG_REC_OUTPUT && r.total == 1024 && r.crc == 8 && r.index == 2);
    CHECK_EQ(log_decoder_feed(&dec, S + pos, 0, &c, &r), LOG_OK);
    CHECK(r.type == LOG_REC_DMA && r.gpa == 0x1000 && r.len == 3 && memcmp(r.data, "abc", 3) == 0);
    CHECK(r.icount == 1000 && r.exit == 14);
    CHECK_EQ(log_decoder_feed(&dec, S + pos, 0, &c, &r), LOG_NEED_MORE);
    CHECK_EQ(log_decoder_finish(&dec), LOG_EOF);
    CHECK(!dec.ended);
    CHECK_EQ(dec.frames, 4);
    CHECK_EQ(dec.records, 6);
    CHECK(dec.out_total[2] == 1024 && dec.out_total[0] == 0);
}

TEST(max_body_frame)
{
    /* two records filling exactly LOG_MAX_BODY bytes */
    size_t len = std_log(), sz;
    CHECK_EQ(log_frame_begin(&enc, S + len, LOG_MAX_FRAME + 100), LOG_OK);
    CHECK_EQ(log_put_input(&enc, 0, pool, LOG_MAX_DATA), LOG_OK);     /* 1 + 1 + 3 + data */
    uint32_t rest = (uint32_t)(LOG_MAX_BODY - log_frame_body(&enc) - 3); /* 1 + 1 + 1 + data */
    CHECK_EQ(log_put_input(&enc, 0, pool, rest + 1), LOG_ERR_FULL);
    CHECK_EQ(log_put_input(&enc, 0, pool, rest), LOG_OK);
    CHECK_EQ(log_frame_body(&enc), LOG_MAX_BODY);
    CHECK_EQ(log_put_time(&enc, 0, 0), LOG_ERR_FULL);
    CHECK_EQ(log_frame_end(&enc, &sz), LOG_OK);
    CHECK_EQ(sz, LOG_MAX_FRAME);
    len += sz;
    struct result r = decode(S, len, 999, NULL, 0);
    CHECK_EQ(r.code, LOG_EOF);
    CHECK_EQ(r.records, 2);
}

/* ---- encoder rules ------------------------------------------------------ */

TEST(encoder_errors)
{
    uint8_t buf[512], big[LOG_MAX_FRAME];
    size_t sz;
    struct log_header h = std_header();
    log_encoder_init(&enc);
    /* nothing before the header */
    CHECK_EQ(log_frame_begin(&enc, buf, sizeof(buf)), LOG_ERR_STATE);
    CHECK_EQ(log_put_time(&enc, 0, 0), LOG_ERR_STATE);
    CHECK_EQ(log_frame_end(&enc, &sz), LOG_ERR_STATE);
    CHECK_EQ(log_encode_header(&enc, &h, buf, 167, &sz), LOG_ERR_TOO_BIG);
    CHECK_EQ(log_encode_header(&enc, &h, buf, 168, &sz), LOG_OK);
    CHECK_EQ(log_encode_header(&enc, &h, buf, 168, &sz), LOG_ERR_STATE);
    CHECK_EQ(log_put_time(&enc, 0, 0), LOG_ERR_STATE);      /* no frame open */
    CHECK_EQ(log_frame_begin(&enc, buf, 19), LOG_ERR_TOO_BIG);
    CHECK_EQ(log_frame_begin(&enc, buf, sizeof(buf)), LOG_OK);
    CHECK_EQ(log_frame_begin(&enc, buf, sizeof(buf)), LOG_ERR_STATE);

    CHECK_EQ(log_put_async(&enc, 10, 100, 1, 2, 3, 1000), LOG_OK);
    size_t body = log_frame_body(&enc);
    /* backwards: nothing written, state unchanged */
    CHECK_EQ(log_put_time(&enc, 9, 2000), LOG_ERR_ARG);
    CHECK_EQ(log_put_time(&enc, 10, 999), LOG_ERR_ARG);
    CHECK_EQ(log_put_async(&enc, 10, 99, 0, 0, 0, 1000), LOG_ERR_ARG);
    CHECK_EQ(log_put_async(&enc, 10, 100, 0, 0, 0, 999), LOG_ERR_ARG);
    CHECK_EQ(log_put_state(&enc, 10, 99, (const uint8_t *)"0123456789abcdef"), LOG_ERR_ARG);
    CHECK_EQ(log_put_random(&enc, 9, 0), LOG_ERR_ARG);
    /* fields out of range */
    CHECK_EQ(log_put_output(&enc, 3, 10, 1, 0), LOG_ERR_ARG);
    CHECK_EQ(log_put_output(&enc, 255, 10, 1, 0), LOG_ERR_ARG);
    CHECK_EQ(log_put_dma(&enc, 10, 0, big, LOG_MAX_DATA + 1), LOG_ERR_ARG);
    CHECK_EQ(log_put_input(&enc, 10, big, LOG_MAX_DATA + 1), LOG_ERR_ARG);
    CHECK_EQ(log_put_dma(&enc, 10, UINT64_MAX, big, 2), LOG_ERR_ARG);
    CHECK_EQ(log_put_dma(&enc, 10, UINT64_MAX - 2, big, 4), LOG_ERR_ARG);
    CHECK_EQ(log_put_input(&enc, 10, NULL, 1), LOG_ERR_ARG);
    struct log_record bad = { .type = 9, .exit = 10 };
    CHECK_EQ(log_put(&enc, &bad), LOG_ERR_ARG);
    bad.type = 0;
    CHECK_EQ(log_put(&enc, &bad), LOG_ERR_ARG);
    CHECK_EQ(log_frame_body(&enc), body);
    /* output totals per stream must not wrap */
    CHECK_EQ(log_put_output(&enc, 1, 10, UINT64_MAX, 0), LOG_OK);
    CHECK_EQ(log_put_output(&enc, 1, 10, 1, 0), LOG_ERR_ARG);
    CHECK_EQ(log_put_output(&enc, 1, 10, 0, 0), LOG_OK);
    CHECK_EQ(log_put_output(&enc, 0, 10, 1, 0), LOG_OK);
    /* too big for this buffer even when empty; fits after a flush */
    CHECK_EQ(log_put_input(&enc, 10, big, 489), LOG_ERR_TOO_BIG);    /* 4 + 489 > 492 */
    CHECK_EQ(log_put_input(&enc, 10, big, 460), LOG_ERR_FULL);
    CHECK_EQ(log_frame_end(&enc, &sz), LOG_OK);
    CHECK_EQ(log_frame_begin(&enc, buf, sizeof(buf)), LOG_OK);
    CHECK_EQ(log_put_input(&enc, 10, big, 460), LOG_OK);            /* 464 bytes */
    CHECK_EQ(log_put_input(&enc, 10, big, 25), LOG_OK);             /* 28: exactly full */
    CHECK_EQ(log_frame_body(&enc), 492);
    CHECK_EQ(log_put_end(&enc, 10, 0), LOG_ERR_FULL);
    CHECK_EQ(log_frame_end(&enc, &sz), LOG_OK);
    CHECK_EQ(sz, 512);
    CHECK_EQ(log_frame_begin(&enc, buf, sizeof(buf)), LOG_OK);
    CHECK_EQ(log_put_end(&enc, 11, 0), LOG_OK);
    CHECK(enc.ended);
    CHECK_EQ(log_put_end(&enc, 11, 0), LOG_ERR_STATE);
    CHECK_EQ(log_put_time(&enc, 11, 2000), LOG_ERR_STATE);
    CHECK_EQ(log_frame_end(&enc, &sz), LOG_OK);
    CHECK_EQ(log_frame_begin(&enc, buf, sizeof(buf)), LOG_ERR_STATE);
    CHECK_EQ(enc.seq, 4);
    CHECK_EQ(enc.frames, 4);
    CHECK_EQ(enc.records, 7);
}

TEST(encoder_full_leaves_state)
{
    /* a record refused with FULL goes, unchanged, into the next frame */
    uint8_t a[45];
    size_t sz, len = std_log();
    CHECK_EQ(log_frame_begin(&enc, a, sizeof(a)), LOG_OK);  /* 25-byte body */
    CHECK_EQ(log_put_time(&enc, 1000, 1000), LOG_OK);       /* 1 + 2 + 2 */
    CHECK_EQ(log_put_async(&enc, 2000, 5, 0xffffffffffffffffull, 0, 0, 2000), LOG_ERR_FULL);
    CHECK_EQ(log_frame_end(&enc, &sz), LOG_OK);
    memcpy(S + len, a, sz);
    len += sz;
    CHECK_EQ(log_frame_begin(&enc, S + len, 45), LOG_OK);
    CHECK_EQ(log_put_async(&enc, 2000, 5, 0xffffffffffffffffull, 0, 0, 2000), LOG_OK);
    CHECK_EQ(log_frame_end(&enc, &sz), LOG_OK);
    len += sz;
    struct log_record exp[2] = {
        { .type = LOG_REC_TIME, .exit = 1000, .vtime_ns = 1000 },
        { .type = LOG_REC_ASYNC, .exit = 2000, .icount = 5, .rip = UINT64_MAX, .vtime_ns = 2000 },
    };
    struct result r = decode(S, len, 0, exp, 2);
    CHECK_EQ(r.code, LOG_EOF);
    CHECK_EQ(r.records, 2);
    CHECK_EQ(r.mismatch, -1);
}

TEST(encoder_header_rules)
{
    uint8_t buf[200];
    size_t sz = 12345;
    struct log_header h;
#define BAD_HEADER(stmt)                                                   \
    do {                                                                   \
        h = std_header();                                                  \
        stmt;                                                              \
        log_encoder_init(&enc);                                            \
        CHECK_EQ(log_encode_header(&enc, &h, buf, sizeof(buf), &sz), LOG_ERR_ARG); \
        CHECK_EQ(sz, 12345);                                               \
        CHECK_EQ(enc.seq, 0);                                              \
    } while (0)
    BAD_HEADER(h.backend = 3);
    BAD_HEADER(h.flags = 1);
    BAD_HEADER(h.tsc_hz = 0);
    BAD_HEADER(h.mem_bytes = 0);
    BAD_HEADER(h.cpu_model[3] = '\n');
    BAD_HEADER(h.host[0] = (char)0x80);
    BAD_HEADER(memset(h.cpu_model, 'x', sizeof(h.cpu_model)));   /* no NUL */
    BAD_HEADER(memset(h.host, 'x', sizeof(h.host)));
    /* format_version is written as 1 whatever the struct says */
    h = std_header();
    h.format_version = 7;
    log_encoder_init(&enc);
    CHECK_EQ(log_encode_header(&enc, &h, S, sizeof(S), &sz), LOG_OK);
    CHECK_EQ(S[16], 1);
    CHECK_EQ(decode(S, sz, 0, NULL, 0).code, LOG_EOF);
    /* bytes after the name's NUL in the struct are not written */
    h = std_header();
    strcpy(h.host + 10, "junk");
    log_encoder_init(&enc);
    CHECK_EQ(log_encode_header(&enc, &h, S, sizeof(S), &sz), LOG_OK);
    CHECK_EQ(decode(S, sz, 0, NULL, 0).code, LOG_EOF);
    CHECK_STR(dec.header.host, "alpha");
}

/* ---- decoder errors: frames --------------------------------------------------- */

/* A log of n records frames with two TIME records each; frame k's offset
 * into off[k] (k = 0 is the header). Returns the length. */
static size_t frames_log(int n, size_t *off)
{
    size_t len = std_log(), sz;
    off[0] = 0;
    for (int k = 1; k <= n; k++) {
        off[k] = len;
        log_frame_begin(&enc, S + len, 1000);
        log_put_time(&enc, (uint64_t)k * 10, (uint64_t)k * 100);
        log_put_time(&enc, (uint64_t)k * 10 + 1, (uint64_t)k * 100 + 1);
        log_frame_end(&enc, &sz);
        len += sz;
    }
    off[n + 1] = len;
    return len;
}

TEST(frame_header_errors)
{
    size_t off[8], len = frames_log(3, off);
    struct result r;

    S[off[0] + 3] = 'H';
    r = decode(S, len, 0, NULL, 0);
    CHECK_EQ(r.code, LOG_ERR_MAGIC);
    CHECK_STR(log_decoder_error(&dec), "frame 0 (stream offset 0): bad magic 0x46 0x54 0x4c 0x48 (expected \"FTLG\")");
    CHECK(!r.header);
    len = frames_log(3, off);

    S[off[2] + 4] = 2;
    r = decode(S, len, 1, NULL, 0);
    CHECK_EQ(r.code, LOG_ERR_VERSION);
    CHECK_EQ(r.records, 2);
    CHECK_STR(log_decoder_error(&dec), "frame 2 (stream offset 194): frame version 2, expected 1");
    CHECK_EQ(dec.err_frame, 2);
    CHECK_EQ(dec.err_stream_off, 194);
    CHECK_EQ(dec.err_body_off, -1);
    CHECK_EQ(dec.err_record, -1);
    CHECK_EQ(r.consumed, off[2] + 16); /* reported as soon as the frame header is in */
    len = frames_log(3, off);

    S[off[1] + 7] = 1;
    r = decode(S, len, 0, NULL, 0);
    CHECK_EQ(r.code, LOG_ERR_RESERVED);
    CHECK_STR(log_decoder_error(&dec), "frame 1 (stream offset 168): reserved field 0x100, expected 0");
    len = frames_log(3, off);

    put32(S + off[3] + 12, LOG_MAX_BODY + 1);
    r = decode(S, len, 0, NULL, 0);
    CHECK_EQ(r.code, LOG_ERR_LENGTH);
    CHECK_EQ(r.records, 4);
    CHECK_STR(log_decoder_error(&dec), "frame 3 (stream offset 220): body length 65537 over the maximum 65536");
    len = frames_log(3, off);
    put32(S + off[3] + 12, UINT32_MAX);
    CHECK_EQ(decode(S, len, 0, NULL, 0).code, LOG_ERR_LENGTH);
    CHECK_MSG("body length 4294967295 over");
}

TEST(frame_crc_errors)
{
    size_t off[8], len = frames_log(3, off);
    /* a body byte, the CRC itself, a header field */
    S[off[2] + 18] ^= 0x40;
    struct result r = decode(S, len, 5, NULL, 0);
    CHECK_EQ(r.code, LOG_ERR_CRC);
    CHECK_EQ(r.records, 2);     /* frame 1's; none of frame 2's */
    CHECK_MSG("frame 2 (stream offset 194): CRC mismatch: stored 0x");
    CHECK_MSG(", computed 0x");
    len = frames_log(3, off);
    S[off[4] - 1] ^= 1;
    CHECK_EQ(decode(S, len, 0, NULL, 0).code, LOG_ERR_CRC);
    CHECK_MSG("frame 3 (stream offset 220): CRC mismatch");
    len = frames_log(3, off);
    S[off[1] + 5] = 1;   /* type: records -> header, caught by the CRC first */
    CHECK_EQ(decode(S, len, 0, NULL, 0).code, LOG_ERR_CRC);
    len = frames_log(3, off);
    S[off[1] + 8] = 2;   /* sequence number */
    CHECK_EQ(decode(S, len, 0, NULL, 0).code, LOG_ERR_CRC);
}

TEST(frame_type_and_order_errors)
{
    size_t off[8], len = frames_log(3, off);
    S[off[2] + 5] = 3;
    fix_crc(S + off[2]);
    struct result r = decode(S, len, 0, NULL, 0);
    CHECK_EQ(r.code, LOG_ERR_FRAME_TYPE);
    CHECK_STR(log_decoder_error(&dec), "frame 2 (stream offset 194): unknown frame type 3");
    len = frames_log(3, off);
    S[off[2] + 5] = 0;
    fix_crc(S + off[2]);
    CHECK_EQ(decode(S, len, 0, NULL, 0).code, LOG_ERR_FRAME_TYPE);

    /* records first */
    uint8_t body[3] = { 1, 0, 0 };
    len = make_frame(S, LOG_FRAME_RECORDS, 0, body, 3);
    r = decode(S, len, 0, NULL, 0);
    CHECK_EQ(r.code, LOG_ERR_NO_HEADER);
    CHECK_STR(log_decoder_error(&dec),
              "frame 0 (stream offset 0): the log does not begin with a header frame (records frame, sequence number 0)");
    CHECK_EQ(r.records, 0);

    /* a second header, in place of frame 2 and as a duplicate of frame 0 */
    len = frames_log(3, off);
    memmove(S + off[2] + 168, S + off[2], len - off[2]);
    memcpy(S + off[2], S, 168);
    len += 168;
    r = decode(S, len, 0, NULL, 0);
    CHECK_EQ(r.code, LOG_ERR_DUP_HEADER);
    CHECK_STR(log_decoder_error(&dec), "frame 2 (stream offset 194): a second header frame (sequence number 0)");
    CHECK_EQ(r.records, 2);
    /* the same with its sequence number right */
    put32(S + off[2] + 8, 2);
    fix_crc(S + off[2]);
    CHECK_EQ(decode(S, len, 0, NULL, 0).code, LOG_ERR_DUP_HEADER);
}

TEST(frame_sequence_errors)
{
    static uint8_t orig[4096], t[4096];
    size_t off[8], len = frames_log(5, off), n;
    memcpy(orig, S, len);
    struct result r;
#define SEG(k) orig + off[k], off[(k) + 1] - off[k]
#define APPEND(k) (memcpy(t + n, SEG(k)), n += off[(k) + 1] - off[k])

    /* reordered: 0 1 3 2 4 5 */
    n = 0;
    APPEND(0); APPEND(1); APPEND(3); APPEND(2); APPEND(4); APPEND(5);
    r = decode(t, n, 0, NULL, 0);
    CHECK_EQ(r.code, LOG_ERR_SEQ);
    CHECK_STR(log_decoder_error(&dec),
              "frame 2 (stream offset 194): sequence number 3, expected 2 (missing or reordered frames)");
    CHECK_EQ(r.records, 2);
    CHECK_EQ(dec.err_frame, 2);

    /* duplicated: 0 1 2 2 3 */
    n = 0;
    APPEND(0); APPEND(1); APPEND(2); APPEND(2); APPEND(3);
    r = decode(t, n, 3, NULL, 0);
    CHECK_EQ(r.code, LOG_ERR_SEQ);
    CHECK_STR(log_decoder_error(&dec),
              "frame 3 (stream offset 220): sequence number 2, expected 3 (duplicated or reordered frame)");
    CHECK_EQ(r.records, 4);

    /* missing: 0 1 2 4 5 */
    n = 0;
    APPEND(0); APPEND(1); APPEND(2); APPEND(4); APPEND(5);
    r = decode(t, n, 1, NULL, 0);
    CHECK_EQ(r.code, LOG_ERR_SEQ);
    CHECK_MSG("frame 3 (stream offset 220): sequence number 4, expected 3 (missing");

    /* missing frame 1 right after the header */
    n = 0;
    APPEND(0); APPEND(2);
    CHECK_EQ(decode(t, n, 0, NULL, 0).code, LOG_ERR_SEQ);
    CHECK_MSG("frame 1 (stream offset 168): sequence number 2, expected 1");

    /* header missing, records in order */
    n = 0;
    APPEND(1); APPEND(2);
    CHECK_EQ(decode(t, n, 0, NULL, 0).code, LOG_ERR_NO_HEADER);
    CHECK_MSG("records frame, sequence number 1");

    /* in order again: fine */
    n = 0;
    APPEND(0); APPEND(1); APPEND(2); APPEND(3); APPEND(4); APPEND(5);
    r = decode(t, n, 0, NULL, 0);
    CHECK_EQ(r.code, LOG_EOF);
    CHECK_EQ(r.records, 10);
#undef SEG
#undef APPEND
}

TEST(sequence_numbers_wrap)
{
    /* after 0xffffffff comes 0 (poke both sides' counters to get there) */
    size_t len = std_log(), sz;
    enc.seq = UINT32_MAX - 1;
    for (int k = 0; k < 4; k++) {
        log_frame_begin(&enc, S + len, 100);
        log_put_time(&enc, (uint64_t)k, (uint64_t)k);
        log_frame_end(&enc, &sz);
        len += sz;
    }
    CHECK_EQ(enc.seq, 2);
    log_decoder_reset(&dec);
    size_t c;
    struct log_record r;
    CHECK_EQ(log_decoder_feed(&dec, S, 168, &c, &r), LOG_GOT_HEADER);
    dec.seq = UINT32_MAX - 1;
    size_t pos = 168;
    uint32_t seqs[4];
    int got = 0;
    for (;;) {
        int code = log_decoder_feed(&dec, S + pos, len - pos, &c, &r);
        pos += c;
        if (code != LOG_OK)
            break;
        if (got < 4)
            seqs[got] = r.frame_seq;
        got++;
    }
    CHECK_EQ(got, 4);
    CHECK_EQ(seqs[0], UINT32_MAX - 1);
    CHECK_EQ(seqs[1], UINT32_MAX);
    CHECK_EQ(seqs[2], 0);
    CHECK_EQ(seqs[3], 1);
    CHECK_EQ(log_decoder_finish(&dec), LOG_EOF);
}

TEST(header_body_errors)
{
    struct result r;
    size_t len;
#define HDR_CASE(stmt, code_, msg)                 \
    do {                                           \
        len = std_log();                           \
        stmt;                                      \
        fix_crc(S);                                \
        r = decode(S, len, 0, NULL, 0);            \
        CHECK_EQ(r.code, code_);                   \
        CHECK(!r.header);                          \
        CHECK(!dec.have_header);                   \
        CHECK_STR(log_decoder_error(&dec), msg);   \
    } while (0)
    HDR_CASE(S[16] = 2, LOG_ERR_HEADER, "frame 0, body offset 0: format version 2, expected 1");
    HDR_CASE(S[17] = 1, LOG_ERR_HEADER, "frame 0, body offset 0: format version 257, expected 1");
    HDR_CASE(S[18] = 3, LOG_ERR_HEADER, "frame 0, body offset 2: unknown landmark backend 3");
    HDR_CASE(S[19] = 0x80, LOG_ERR_HEADER, "frame 0, body offset 3: unknown flags 0x80 (none are defined)");
    HDR_CASE(memset(S + 16 + 4, 0, 8), LOG_ERR_HEADER, "frame 0, body offset 4: virtual TSC frequency is 0");
    HDR_CASE(memset(S + 16 + 20, 0, 8), LOG_ERR_HEADER, "frame 0, body offset 20: guest memory size is 0");
    HDR_CASE(S[16 + 30] = 7, LOG_ERR_HEADER,
             "frame 0, body offset 30: CPU model name: byte 0x7 is not printable ASCII");
    HDR_CASE(S[16 + 28] = 0x7f, LOG_ERR_HEADER,
             "frame 0, body offset 28: CPU model name: byte 0x7f is not printable ASCII");
    HDR_CASE(S[16 + 43] = 'x', LOG_ERR_HEADER,
             "frame 0, body offset 43: CPU model name: byte 0x78 after the name's end (not NUL-padded)");
    HDR_CASE(S[16 + 114] = 'A', LOG_ERR_HEADER,
             "frame 0, body offset 114: host name: byte 0x41 after the name's end (not NUL-padded)");
    HDR_CASE(S[16 + 108] = (uint8_t)0xc3, LOG_ERR_HEADER,
             "frame 0, body offset 108: host name: byte 0xc3 is not printable ASCII");
    /* body length other than 148 */
    HDR_CASE((put32(S + 12, 147), len = 147 + 20), LOG_ERR_HEADER,
             "frame 0, body offset 0: header body length 147, expected 148");
    HDR_CASE((put32(S + 12, 149), S[164] = 0, len = 149 + 20), LOG_ERR_HEADER,
             "frame 0, body offset 0: header body length 149, expected 148");
    HDR_CASE((put32(S + 12, 0), len = 20), LOG_ERR_HEADER,
             "frame 0, body offset 0: header body length 0, expected 148");
#undef HDR_CASE
}

TEST(truncated_logs)
{
    struct result r;
    r = decode(S, 0, 0, NULL, 0);
    CHECK_EQ(r.code, LOG_ERR_TRUNCATED);
    CHECK_STR(log_decoder_error(&dec), "frame 0 (stream offset 0): truncated: the log is empty (no header frame)");
    size_t off[8], len = frames_log(3, off);
    r = decode(S, 10, 3, NULL, 0);
    CHECK_EQ(r.code, LOG_ERR_TRUNCATED);
    CHECK_STR(log_decoder_error(&dec),
              "frame 0 (stream offset 0): truncated: the stream ends after 10 of the frame's 16 header bytes");
    r = decode(S, 100, 0, NULL, 0);
    CHECK_EQ(r.code, LOG_ERR_TRUNCATED);
    CHECK_STR(log_decoder_error(&dec),
              "frame 0 (stream offset 0): truncated: the stream ends after 100 of the frame's 168 bytes");
    /* every cut inside the last frame */
    for (size_t cut = off[3] + 1; cut < len; cut++) {
        r = decode(S, cut, 0, NULL, 0);
        CHECK_EQ(r.code, LOG_ERR_TRUNCATED);
        CHECK_EQ(r.records, 4);
        CHECK_MSG("frame 3 (stream offset 220): truncated: the stream ends after ");
        CHECK_EQ(dec.err_frame, 3);
    }
    CHECK_STR(log_decoder_error(&dec),
              "frame 3 (stream offset 220): truncated: the stream ends after 25 of the frame's 26 bytes");
    /* every cut at a frame boundary is a clean end of the stream */
    for (int k = 1; k <= 4; k++) {
        r = decode(S, off[k], 1, NULL, 0);
        CHECK_EQ(r.code, LOG_EOF);
        CHECK_EQ(r.records, 2 * (k - 1));
        CHECK(!dec.ended);
    }
}

TEST(after_end)
{
    size_t len = std_log(), sz, end_frame;
    log_frame_begin(&enc, S + len, 1000);
    log_put_time(&enc, 1, 1);
    log_put_end(&enc, 2, LOG_END_STOPPED);
    log_frame_end(&enc, &sz);
    len += sz;
    end_frame = len;
    struct result r = decode(S, len, 0, NULL, 0);
    CHECK_EQ(r.code, LOG_EOF);
    CHECK(dec.ended);
    CHECK_EQ(dec.exit, 2);
    /* another frame after it, even a valid one */
    uint8_t body[3] = { 1, 0, 0 };
    len += make_frame(S + len, LOG_FRAME_RECORDS, 2, body, 3);
    r = decode(S, len, 0, NULL, 0);
    CHECK_EQ(r.code, LOG_ERR_AFTER_END);
    CHECK_EQ(r.records, 2);
    CHECK_STR(log_decoder_error(&dec), "frame 2 (stream offset 194): data after the frame with the END record");
    /* a single byte after it */
    r = decode(S, end_frame + 1, 1, NULL, 0);
    CHECK_EQ(r.code, LOG_ERR_AFTER_END);
    /* a record after END in the same frame */
    uint8_t b2[] = { 8, 0, 0, 1, 0, 0 };
    CHECK_EQ(decode_body(b2, sizeof(b2)), LOG_ERR_AFTER_END);
    CHECK_STR(log_decoder_error(&dec),
              "frame 1, body offset 3, record 0 (END): the END record is followed by 3 more body bytes");
    CHECK_EQ(dec.err_body_off, 3);
    CHECK_EQ(dec.err_record, 0);
}

TEST(finish_right_after_the_last_record)
{
    size_t len = std_log(), sz;
    log_frame_begin(&enc, S + len, 1000);
    log_put_random(&enc, 1, 5);
    log_put_end(&enc, 2, LOG_END_POWEROFF);
    log_frame_end(&enc, &sz);
    len += sz;
    log_decoder_reset(&dec);
    size_t c, pos = 0;
    struct log_record r;
    CHECK_EQ(log_decoder_feed(&dec, S, len, &c, &r), LOG_GOT_HEADER);
    pos += c;
    CHECK_EQ(log_decoder_feed(&dec, S + pos, len - pos, &c, &r), LOG_OK);
    pos += c;
    CHECK_EQ(r.type, LOG_REC_RANDOM);
    CHECK_EQ(log_decoder_feed(&dec, S + pos, len - pos, &c, &r), LOG_OK);
    CHECK_EQ(r.type, LOG_REC_END);
    CHECK_EQ(pos + c, len);
    /* without the call that would say NEED_MORE */
    CHECK_EQ(log_decoder_finish(&dec), LOG_EOF);
    CHECK(dec.ended);
}

/* Feeds s[0..n) whole until NEED_MORE or an error, returning that code. */
static int feed_all(const uint8_t *s, size_t n)
{
    size_t c, pos = 0;
    struct log_record r;
    int code;
    while ((code = log_decoder_feed(&dec, s + pos, n - pos, &c, &r)) == LOG_OK || code == LOG_GOT_HEADER)
        pos += c;
    return code;
}

TEST(good_bytes)
{
    size_t off[8], len = frames_log(3, off), c, pos = 0;
    struct log_record r;
    log_decoder_reset(&dec);
    CHECK_EQ(log_decoder_good_bytes(&dec), 0);
    /* a frame counts once its last record is out, not before */
    CHECK_EQ(log_decoder_feed(&dec, S, len, &c, &r), LOG_GOT_HEADER);
    pos += c;
    CHECK_EQ(log_decoder_good_bytes(&dec), off[1]);
    for (int k = 1; k <= 3; k++) {
        CHECK_EQ(log_decoder_feed(&dec, S + pos, len - pos, &c, &r), LOG_OK);
        pos += c;
        CHECK_EQ(log_decoder_good_bytes(&dec), off[k]);
        CHECK_EQ(log_decoder_feed(&dec, S + pos, len - pos, &c, &r), LOG_OK);
        pos += c;
        CHECK_EQ(log_decoder_good_bytes(&dec), off[k + 1]);
    }
    CHECK_EQ(log_decoder_feed(&dec, S + pos, len - pos, &c, &r), LOG_NEED_MORE);
    CHECK_EQ(log_decoder_good_bytes(&dec), len);
    CHECK_EQ(log_decoder_finish(&dec), LOG_EOF);
    CHECK_EQ(log_decoder_good_bytes(&dec), len);

    /* a partial frame does not count, nor after finish says truncated */
    log_decoder_reset(&dec);
    CHECK_EQ(feed_all(S, off[2] + 10), LOG_NEED_MORE);
    CHECK_EQ(log_decoder_good_bytes(&dec), off[2]);
    CHECK_EQ(log_decoder_finish(&dec), LOG_ERR_TRUNCATED);
    CHECK_EQ(log_decoder_good_bytes(&dec), off[2]);

    /* a damaged frame: the count stops where it starts */
    S[off[2] + 17] ^= 4;
    log_decoder_reset(&dec);
    CHECK_EQ(feed_all(S, len), LOG_ERR_CRC);
    CHECK_EQ(log_decoder_good_bytes(&dec), off[2]);
    CHECK_EQ(dec.err_stream_off, off[2]);

    /* a bad record after a good one in the same frame: none of it counts */
    uint8_t body[] = { 1, 0, 0, 12 };
    len = std_log();
    len += make_frame(S + len, LOG_FRAME_RECORDS, 1, body, sizeof(body));
    log_decoder_reset(&dec);
    CHECK_EQ(feed_all(S, len), LOG_ERR_REC_TYPE);
    CHECK_EQ(dec.records, 1);
    CHECK_EQ(log_decoder_good_bytes(&dec), 168);

    /* data after END: everything up to it counts */
    size_t sz, end;
    len = std_log();
    log_frame_begin(&enc, S + len, 1000);
    log_put_end(&enc, 1, LOG_END_POWEROFF);
    log_frame_end(&enc, &sz);
    end = len + sz;
    S[end] = 'F';
    log_decoder_reset(&dec);
    CHECK_EQ(feed_all(S, end + 1), LOG_ERR_AFTER_END);
    CHECK_EQ(log_decoder_good_bytes(&dec), end);
}

TEST(error_names)
{
    for (int a = LOG_ERR_STATE; a <= LOG_EOF; a++) {
        CHECK(strcmp(log_error_name(a), "unknown") != 0);
        for (int b = LOG_ERR_STATE; b < a; b++)
            CHECK(strcmp(log_error_name(a), log_error_name(b)) != 0);
    }
    CHECK_STR(log_error_name(LOG_ERR_STATE - 1), "unknown");
    CHECK_STR(log_error_name(LOG_EOF + 1), "unknown");
}

TEST(sticky_errors)
{
    size_t off[8], len = frames_log(3, off);
    S[off[2] + 20] ^= 1;
    struct result r = decode(S, len, 0, NULL, 0);
    CHECK_EQ(r.code, LOG_ERR_CRC);
    char msg[LOG_MSG_MAX];
    strcpy(msg, log_decoder_error(&dec));
    size_t c = 5;
    struct log_record rec;
    CHECK_EQ(log_decoder_feed(&dec, S, len, &c, &rec), LOG_ERR_CRC);
    CHECK_EQ(c, 0);
    CHECK_EQ(log_decoder_finish(&dec), LOG_ERR_CRC);
    CHECK_STR(log_decoder_error(&dec), msg);
    CHECK_STR(log_error_name(LOG_ERR_CRC), "CRC mismatch");
    CHECK_STR(log_error_name(12345), "unknown");
    CHECK_STR(log_record_name(LOG_REC_DMA), "DMA");
    CHECK_STR(log_record_name(0), "?");
    CHECK_STR(log_record_name(200), "?");
    log_decoder_reset(&dec);
    CHECK_STR(log_decoder_error(&dec), "");
    CHECK_EQ(dec.err, 0);
}

/* ---- decoder errors: records ---------------------------------------------------- */

TEST(record_unknown_type)
{
    uint8_t b0[] = { 0 };
    CHECK_EQ(decode_body(b0, 1), LOG_ERR_REC_TYPE);
    CHECK_STR(log_decoder_error(&dec), "frame 1, body offset 0, record 0: unknown record type 0");
    uint8_t b1[] = { 1, 0, 0, 1, 5, 5, 12, 0, 0 };
    CHECK_EQ(decode_body(b1, sizeof(b1)), LOG_ERR_REC_TYPE);
    CHECK_STR(log_decoder_error(&dec), "frame 1, body offset 6, record 2: unknown record type 12");
    CHECK_EQ(dec.err_frame, 1);
    CHECK_EQ(dec.err_body_off, 6);
    CHECK_EQ(dec.err_record, 2);
    uint8_t b2[] = { 255 };
    CHECK_EQ(decode_body(b2, 1), LOG_ERR_REC_TYPE);
    CHECK_MSG("unknown record type 255");
}

TEST(record_truncated)
{
    uint8_t b[64];
    /* TIME missing d_ns */
    uint8_t t1[] = { 1, 5 };
    CHECK_EQ(decode_body(t1, sizeof(t1)), LOG_ERR_REC_TRUNCATED);
    CHECK_STR(log_decoder_error(&dec),
              "frame 1, body offset 2, record 0 (TIME): d_ns runs past the end of the body (2 bytes)");
    /* a varint cut inside */
    uint8_t t2[] = { 1, 0, 0, 1, 0x80 };
    CHECK_EQ(decode_body(t2, sizeof(t2)), LOG_ERR_REC_TRUNCATED);
    CHECK_STR(log_decoder_error(&dec),
              "frame 1, body offset 4, record 1 (TIME): d_exit runs past the end of the body (5 bytes)");
    /* raw fields */
    uint8_t t3[] = { 2, 0, 0, 0, 0, 0xaa, 0xbb };
    CHECK_EQ(decode_body(t3, sizeof(t3)), LOG_ERR_REC_TRUNCATED);
    CHECK_STR(log_decoder_error(&dec),
              "frame 1, body offset 5, record 0 (ASYNC): regs digest (4 bytes) runs past the end of the body (7 bytes)");
    uint8_t t4[] = { 3 };
    CHECK_EQ(decode_body(t4, sizeof(t4)), LOG_ERR_REC_TRUNCATED);
    CHECK_MSG("record 0 (OUTPUT): stream id (1 bytes) runs past");
    uint8_t t5[] = { 7, 0, 1, 2, 3, 4, 5, 6, 7 };
    CHECK_EQ(decode_body(t5, sizeof(t5)), LOG_ERR_REC_TRUNCATED);
    CHECK_STR(log_decoder_error(&dec),
              "frame 1, body offset 2, record 0 (RANDOM): value (8 bytes) runs past the end of the body (9 bytes)");
    uint8_t t6[] = { 8, 0 };
    CHECK_EQ(decode_body(t6, sizeof(t6)), LOG_ERR_REC_TRUNCATED);
    CHECK_MSG("record 0 (END): reason (1 bytes) runs past");

    /* every proper prefix of every record type is truncated */
    struct log_record all[8] = {
        { .type = LOG_REC_TIME, .exit = 300, .vtime_ns = 300 },
        { .type = LOG_REC_ASYNC, .exit = 300, .icount = 300, .rip = 300, .rcx = 300, .regs_crc = 1, .vtime_ns = 300 },
        { .type = LOG_REC_OUTPUT, .stream = 1, .exit = 300, .bytes = 300, .crc = 2 },
        { .type = LOG_REC_STATE, .exit = 300, .icount = 300 },
        { .type = LOG_REC_DMA, .exit = 300, .gpa = 300, .len = 3, .data = (const uint8_t *)"abc" },
        { .type = LOG_REC_INPUT, .exit = 300, .len = 3, .data = (const uint8_t *)"abc" },
        { .type = LOG_REC_RANDOM, .exit = 300, .value = 300 },
        { .type = LOG_REC_END, .exit = 300, .reason = 3 },
    };
    for (int i = 0; i < 8; i++) {
        size_t len = std_log(), sz;
        log_frame_begin(&enc, S + len, 1000);
        CHECK_EQ(log_put(&enc, &all[i]), LOG_OK);
        log_frame_end(&enc, &sz);
        size_t body = sz - 20;
        memcpy(b, S + len + 16, body);
        CHECK_EQ(decode_body(b, body), LOG_EOF);
        for (size_t cut = 1; cut < body; cut++) {
            int code = decode_body(b, cut);
            /* DMA/INPUT cut in the data: the length is over the body */
            if ((all[i].type == LOG_REC_DMA || all[i].type == LOG_REC_INPUT) && cut >= body - 3)
                CHECK_EQ(code, LOG_ERR_DATA_LENGTH);
            else
                CHECK_EQ(code, LOG_ERR_REC_TRUNCATED);
            CHECK_EQ(dec.err_record, 0);
            CHECK(dec.err_body_off >= 1 && dec.err_body_off <= (int64_t)cut);
        }
    }
}

TEST(record_bad_varints)
{
    uint8_t l[] = { 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0 };
    CHECK_EQ(decode_body(l, sizeof(l)), LOG_ERR_VARINT_LONG);
    CHECK_STR(log_decoder_error(&dec), "frame 1, body offset 1, record 0 (TIME): d_exit: varint longer than 10 bytes");
    uint8_t o[] = { 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 };
    CHECK_EQ(decode_body(o, sizeof(o)), LOG_ERR_VARINT_OVERFLOW);
    CHECK_STR(log_decoder_error(&dec), "frame 1, body offset 2, record 0 (TIME): d_ns: varint value over 64 bits");
    uint8_t m[] = { 2, 0, 0, 0x80, 0x00, 0, 1, 2, 3, 4, 0 };
    CHECK_EQ(decode_body(m, sizeof(m)), LOG_ERR_VARINT_NONMINIMAL);
    CHECK_STR(log_decoder_error(&dec),
              "frame 1, body offset 3, record 0 (ASYNC): rip: varint not minimal (a zero last byte)");
    uint8_t g[] = { 5, 0, 0x81, 0x00, 0 };
    CHECK_EQ(decode_body(g, sizeof(g)), LOG_ERR_VARINT_NONMINIMAL);
    CHECK_MSG("record 0 (DMA): gpa: varint not minimal");
    uint8_t n[] = { 6, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80 };
    CHECK_EQ(decode_body(n, sizeof(n)), LOG_ERR_VARINT_LONG);
    CHECK_MSG("body offset 2, record 0 (INPUT): length: varint longer");
}

/* Varint UINT64_MAX as 10 bytes. */
#define VMAX 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01

TEST(record_wraps)
{
    uint8_t e[] = { 1, VMAX, 0, 1, 1, 0 };
    CHECK_EQ(decode_body(e, sizeof(e)), LOG_ERR_WRAP);
    CHECK_STR(log_decoder_error(&dec),
              "frame 1, body offset 13, record 1 (TIME): exit ordinal wraps: 18446744073709551615 + 1");
    uint8_t t[] = { 1, 0, VMAX, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
    CHECK_EQ(decode_body(t, sizeof(t)), LOG_ERR_WRAP);
    CHECK_STR(log_decoder_error(&dec),
              "frame 1, body offset 21, record 1 (ASYNC): virtual time wraps: 18446744073709551615 + 1");
    uint8_t i[] = { 4, 0, VMAX, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                    2, 0, 1, 0, 0, 0, 0, 0, 0, 0 };
    CHECK_EQ(decode_body(i, sizeof(i)), LOG_ERR_WRAP);
    CHECK_STR(log_decoder_error(&dec),
              "frame 1, body offset 30, record 1 (ASYNC): instruction count wraps: 18446744073709551615 + 1");
    uint8_t s[] = { 2, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0, 0, 0, 0, 0, 0,
                    4, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
                    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
    CHECK_EQ(decode_body(s, sizeof(s)), LOG_ERR_WRAP);
    CHECK_MSG("body offset 21, record 1 (STATE): instruction count wraps: 9223372036854775808 + 9223372036854775808");
    uint8_t o[] = { 3, 1, 0, VMAX, 0, 0, 0, 0,
                    3, 0, 0, 1, 0, 0, 0, 0,      /* another stream: fine */
                    3, 1, 0, 0, 0, 0, 0, 0,      /* 0 more: fine */
                    3, 1, 0, 1, 0, 0, 0, 0 };
    CHECK_EQ(decode_body(o, sizeof(o)), LOG_ERR_WRAP);
    CHECK_STR(log_decoder_error(&dec),
              "frame 1, body offset 36, record 3 (OUTPUT): output byte count of stream 1 wraps: 18446744073709551615 + 1");
    uint8_t d[] = { 5, 0, VMAX, 2, 0xaa, 0xbb };
    CHECK_EQ(decode_body(d, sizeof(d)), LOG_ERR_WRAP);
    CHECK_STR(log_decoder_error(&dec),
              "frame 1, body offset 2, record 0 (DMA): DMA range wraps past 2^64: gpa 0xffffffffffffffff, length 2");
    uint8_t d1[] = { 5, 0, VMAX, 1, 0xaa, 5, 0, VMAX, 0 };   /* ends at 2^64 exactly: fine */
    CHECK_EQ(decode_body(d1, sizeof(d1)), LOG_EOF);
}

TEST(record_data_lengths)
{
    uint8_t d[] = { 5, 0, 0, 10, 1, 2, 3 };
    CHECK_EQ(decode_body(d, sizeof(d)), LOG_ERR_DATA_LENGTH);
    CHECK_STR(log_decoder_error(&dec),
              "frame 1, body offset 3, record 0 (DMA): length 10 over the 3 bytes left in the body");
    uint8_t in[] = { 1, 0, 0, 6, 0, 4, 1, 2, 3 };
    CHECK_EQ(decode_body(in, sizeof(in)), LOG_ERR_DATA_LENGTH);
    CHECK_STR(log_decoder_error(&dec),
              "frame 1, body offset 5, record 1 (INPUT): length 4 over the 3 bytes left in the body");
    uint8_t huge[] = { 6, 0, VMAX };
    CHECK_EQ(decode_body(huge, sizeof(huge)), LOG_ERR_DATA_LENGTH);
    CHECK_MSG("length 18446744073709551615 over the 0 bytes left in the body");
    /* within the body but over LOG_MAX_DATA */
    static uint8_t big[LOG_MAX_BODY];
    memset(big, 0x5a, sizeof(big));
    big[0] = 6;
    big[1] = 0;
    size_t n = 2 + log_varint_put(big + 2, LOG_MAX_DATA + 1);
    CHECK_EQ(decode_body(big, n + LOG_MAX_DATA + 1), LOG_ERR_DATA_LENGTH);
    CHECK_STR(log_decoder_error(&dec),
              "frame 1, body offset 2, record 0 (INPUT): length 65513 over the maximum 65512");
    /* LOG_MAX_DATA itself is fine */
    memset(big, 0x5a, sizeof(big));
    big[0] = 6;
    big[1] = 0;
    n = 2 + log_varint_put(big + 2, LOG_MAX_DATA);
    CHECK_EQ(decode_body(big, n + LOG_MAX_DATA), LOG_EOF);
}

TEST(record_bad_stream)
{
    uint8_t b[] = { 3, 3, 0, 0, 0, 0, 0, 0 };
    CHECK_EQ(decode_body(b, sizeof(b)), LOG_ERR_FIELD);
    CHECK_STR(log_decoder_error(&dec), "frame 1, body offset 1, record 0 (OUTPUT): unknown output stream 3");
    b[1] = 255;
    CHECK_EQ(decode_body(b, sizeof(b)), LOG_ERR_FIELD);
}

TEST(device_records_bytes_and_limits)
{
    /* The documented bytes (docs/log-format.md): DEVDATA at exit 4 of
     * device 1, tag 3, offset 512, "abc"; DEVDONE of it, status 0. */
    size_t len = std_log(), sz;
    static uint8_t fr[LOG_MAX_FRAME];
    CHECK_EQ(log_frame_begin(&enc, fr, sizeof(fr)), LOG_OK);
    CHECK_EQ(log_put_devdata(&enc, 4, LOG_DEV_BLK, 3, 512, "abc", 3), LOG_OK);
    CHECK_EQ(log_put_devdone(&enc, 4, LOG_DEV_BLK, 3, 0), LOG_OK);
    CHECK_EQ(log_put_devdone(&enc, 4, LOG_DEV_NET, LOG_DEV_TAG_MAX, 0xffffffffu), LOG_OK);
    static const uint8_t want[] = { 9, 4, 1, 3, 0x80, 0x04, 3, 'a', 'b', 'c', 10, 0, 1, 3, 0,
                                    10, 0, 2, 0xff, 0xff, 0x03, 0xff, 0xff, 0xff, 0xff, 0x0f };
    CHECK_EQ(log_frame_body(&enc), sizeof(want));
    CHECK(memcmp(fr + LOG_FRAME_HEADER, want, sizeof(want)) == 0);
    CHECK_EQ(log_frame_end(&enc, &sz), LOG_OK);
    memcpy(S + len, fr, sz);
    struct log_record exp[3] = {
        { .type = LOG_REC_DEVDATA, .exit = 4, .device = 1, .tag = 3, .offset = 512, .len = 3,
          .data = (const uint8_t *)"abc" },
        { .type = LOG_REC_DEVDONE, .exit = 4, .device = 1, .tag = 3, .status = 0 },
        { .type = LOG_REC_DEVDONE, .exit = 4, .device = 2, .tag = 65535, .status = 0xffffffffu },
    };
    struct result r = decode(S, len + sz, 1, exp, 3);
    CHECK_EQ(r.records, 3);
    CHECK_EQ(r.mismatch, -1);
    CHECK_STR(log_record_name(LOG_REC_DEVDATA), "DEVDATA");
    CHECK_STR(log_record_name(LOG_REC_DEVDONE), "DEVDONE");

    /* The encoder refuses what the decoder would. */
    std_log();
    CHECK_EQ(log_frame_begin(&enc, fr, sizeof(fr)), LOG_OK);
    CHECK_EQ(log_put_devdone(&enc, 1, 0, 0, 0), LOG_ERR_ARG);
    CHECK_EQ(log_put_devdone(&enc, 1, LOG_DEV_LAST + 1, 0, 0), LOG_ERR_ARG);
    CHECK_EQ(log_put_devdone(&enc, 1, 1, LOG_DEV_TAG_MAX + 1, 0), LOG_ERR_ARG);
    CHECK_EQ(log_put_devdata(&enc, 1, 1, 0, LOG_DEV_OFFSET_MAX + 1, "x", 1), LOG_ERR_ARG);
    CHECK_EQ(log_put_devdata(&enc, 1, 1, 0, 0, pool, LOG_MAX_DATA + 1), LOG_ERR_ARG);
    CHECK_EQ(log_put_devdata(&enc, 1, 1, 0, 0, NULL, 1), LOG_ERR_ARG);
    /* The largest DEVDATA fits an empty maximum frame. */
    CHECK_EQ(log_put_devdata(&enc, UINT64_MAX, 1, LOG_DEV_TAG_MAX, LOG_DEV_OFFSET_MAX, pool, LOG_MAX_DATA), LOG_OK);

    /* The decoder's limits. */
    uint8_t b0[] = { 10, 0, 0, 0, 0 };
    CHECK_EQ(decode_body(b0, sizeof(b0)), LOG_ERR_FIELD);
    CHECK_STR(log_decoder_error(&dec), "frame 1, body offset 2, record 0 (DEVDONE): unknown device 0");
    uint8_t b1[] = { 10, 0, 3, 0, 0 };
    CHECK_EQ(decode_body(b1, sizeof(b1)), LOG_ERR_FIELD);
    CHECK_MSG("unknown device 3");
    uint8_t b2[] = { 10, 0, 1, 0x80, 0x80, 0x04, 0 };
    CHECK_EQ(decode_body(b2, sizeof(b2)), LOG_ERR_FIELD);
    CHECK_MSG("tag 65536 over the maximum 65535");
    uint8_t b3[] = { 10, 0, 1, 0, 0x80, 0x80, 0x80, 0x80, 0x10 };
    CHECK_EQ(decode_body(b3, sizeof(b3)), LOG_ERR_FIELD);
    CHECK_MSG("status 4294967296 out of range");
    uint8_t b4[] = { 9, 0, 1, 0, 0x80, 0x80, 0x80, 0x08, 0 };
    CHECK_EQ(decode_body(b4, sizeof(b4)), LOG_ERR_FIELD);
    CHECK_MSG("offset 16777216 out of range");
    uint8_t b5[] = { 9, 0, 1, 0, 0, 4, 'a', 'b', 'c' };
    CHECK_EQ(decode_body(b5, sizeof(b5)), LOG_ERR_DATA_LENGTH);
    uint8_t b6[] = { 9, 0, 1, 0, 0, 3, 'a', 'b', 'c' };
    CHECK_EQ(decode_body(b6, sizeof(b6)), LOG_EOF);
    uint8_t b7[] = { 10, 0, 1, 0 };
    CHECK_EQ(decode_body(b7, sizeof(b7)), LOG_ERR_REC_TRUNCATED);
}

TEST(devcheck_bytes_and_limits)
{
    /* docs/log-format.md: DEVCHECK at exit 2 of device 1, tag 5, 4096
     * bytes read, CRC 0x11223344 (a read the backup performs itself). */
    size_t len = std_log(), sz;
    static uint8_t fr[LOG_MAX_FRAME];
    CHECK_EQ(log_frame_begin(&enc, fr, sizeof(fr)), LOG_OK);
    CHECK_EQ(log_put_devcheck(&enc, 2, LOG_DEV_BLK, 5, 4096, 0x11223344u), LOG_OK);
    CHECK_EQ(log_put_devdone(&enc, 2, LOG_DEV_BLK, 5, 0), LOG_OK);
    CHECK_EQ(log_put_devcheck(&enc, 2, LOG_DEV_BLK, 0, 0xffffffffu, 0), LOG_OK);
    static const uint8_t want[] = { 11, 2, 1, 5, 0x80, 0x20, 0x44, 0x33, 0x22, 0x11, 10, 0, 1, 5, 0,
                                    11, 0, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0 };
    CHECK_EQ(log_frame_body(&enc), sizeof(want));
    CHECK(memcmp(fr + LOG_FRAME_HEADER, want, sizeof(want)) == 0);
    CHECK_EQ(log_frame_end(&enc, &sz), LOG_OK);
    memcpy(S + len, fr, sz);
    struct log_record exp[3] = {
        { .type = LOG_REC_DEVCHECK, .exit = 2, .device = 1, .tag = 5, .bytes = 4096, .crc = 0x11223344u },
        { .type = LOG_REC_DEVDONE, .exit = 2, .device = 1, .tag = 5, .status = 0 },
        { .type = LOG_REC_DEVCHECK, .exit = 2, .device = 1, .tag = 0, .bytes = 0xffffffffu, .crc = 0 },
    };
    struct result r = decode(S, len + sz, 1, exp, 3);
    CHECK_EQ(r.records, 3);
    CHECK_EQ(r.mismatch, -1);
    CHECK_STR(log_record_name(LOG_REC_DEVCHECK), "DEVCHECK");

    std_log();
    CHECK_EQ(log_frame_begin(&enc, fr, sizeof(fr)), LOG_OK);
    CHECK_EQ(log_put_devcheck(&enc, 1, 0, 0, 1, 0), LOG_ERR_ARG);
    CHECK_EQ(log_put_devcheck(&enc, 1, 1, LOG_DEV_TAG_MAX + 1, 1, 0), LOG_ERR_ARG);
    CHECK_EQ(log_put_devcheck(&enc, 1, 1, 0, 1ull << 32, 0), LOG_ERR_ARG);

    uint8_t b0[] = { 11, 0, 1, 0, 0x80, 0x80, 0x80, 0x80, 0x10, 0, 0, 0, 0 };
    CHECK_EQ(decode_body(b0, sizeof(b0)), LOG_ERR_FIELD);
    CHECK_MSG("length 4294967296 out of range");
    uint8_t b1[] = { 11, 0, 1, 0, 1, 0, 0, 0 };
    CHECK_EQ(decode_body(b1, sizeof(b1)), LOG_ERR_REC_TRUNCATED);
    uint8_t b2[] = { 11, 0, 4, 0, 1, 0, 0, 0, 0 };
    CHECK_EQ(decode_body(b2, sizeof(b2)), LOG_ERR_FIELD);
    CHECK_MSG("unknown device 4");
}

/* ---- corruption ----------------------------------------------------------- */

TEST(every_bit_flip_is_caught)
{
    for (size_t i = 0; i < sizeof(pool); i++)
        pool[i] = (uint8_t)rnd();
    /* a small log with every record type */
    static uint8_t orig[2048];
    size_t len = std_log(), sz;
    log_frame_begin(&enc, S + len, 100);
    log_put_time(&enc, 1, 100);
    log_put_async(&enc, 2, 1000, 0xffffffff81001234ull, 7, 0x12345678, 150);
    log_put_output(&enc, 1, 3, 60, 0xabcdef01);
    log_frame_end(&enc, &sz);
    len += sz;
    size_t second = len;
    log_frame_begin(&enc, S + len, 200);
    log_put_state(&enc, 4, 2000, pool);
    log_put_dma(&enc, 5, 0x10000, pool + 16, 40);
    log_put_input(&enc, 6, "x", 1);
    log_put_random(&enc, 7, 0x0123456789abcdefull);
    log_put_end(&enc, 8, 0);
    log_frame_end(&enc, &sz);
    len += sz;
    memcpy(orig, S, len);
    struct result ok = decode(orig, len, 0, NULL, 0);
    CHECK_EQ(ok.code, LOG_EOF);
    CHECK_EQ(ok.records, 8);
    int flips = 0;
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(S, orig, len);
            S[i] ^= (uint8_t)(1 << bit);
            struct result r = decode(S, len, i % 3 ? 0 : 13, NULL, 0);
            if (r.code >= 0) {
                TEST_FAIL("flip of byte %zu bit %d not caught", i, bit);
                return;
            }
            /* nothing of a damaged frame comes out */
            CHECK(r.records <= (i < 168 ? 0 : i < second ? 0 : 3));
            flips++;
        }
    }
    CHECK_EQ(flips, (int)len * 8);
}

TEST(header_then_garbage)
{
    size_t len = std_log();
    for (int k = 0; k < 2000; k++) {
        size_t n = 1 + rnd() % 300;
        for (size_t i = 0; i < n; i++)
            S[len + i] = (uint8_t)rnd();
        if (k % 4 == 1)
            memcpy(S + len, "FTLG\x01\x02\0\0\x01\0\0\0", 12 < n ? 12 : n); /* plausible start */
        struct result r = decode(S, len + n, k % 2 ? 0 : 1 + k % 50, NULL, 0);
        CHECK(r.header);
        CHECK(r.code < 0);
        CHECK_EQ(r.records, 0);
        CHECK(strncmp(log_decoder_error(&dec), "frame 1 (stream offset 168): ", 29) == 0);
    }
}

TEST(random_bytes_never_crash)
{
    /* arbitrary input after a valid header and a valid records-frame
     * start with a right CRC: exercises the record parser */
    static uint8_t body[600];
    int ok = 0, bad = 0;
    for (int k = 0; k < 5000; k++) {
        size_t n = rnd() % sizeof(body);
        for (size_t i = 0; i < n; i++) {
            uint64_t x = rnd();
            body[i] = (uint8_t)(x % 4 == 0 ? x >> 8 & 0x0f : x % 4 == 1 ? 0x80 | (x >> 8) : x >> 16);
        }
        int code = decode_body(body, n);
        if (code == LOG_EOF)
            ok++;
        else
            bad++;
        CHECK(code == LOG_EOF || code < 0);
    }
    CHECK(bad > 0);
}

/* ---- digests ---------------------------------------------------------------- */

TEST(digests)
{
    uint64_t gpr[16];
    uint8_t b[128];
    for (int i = 0; i < 16; i++) {
        gpr[i] = 0x0101010101010101ull * (uint64_t)i + 0xf000000000000000ull;
        for (int k = 0; k < 8; k++)
            b[8 * i + k] = (uint8_t)(gpr[i] >> (8 * k));
    }
    CHECK_EQ(log_regs_crc(gpr), crc32c(0, b, 128));

    static uint8_t page[2][4096], msg[4 + 4 + 10 + 2 * (8 + 4096)];
    memset(page[0], 0x11, 4096);
    memset(page[1], 0x22, 4096);
    struct log_state_digest s;
    uint8_t out[16], full[32];
    log_state_digest_begin(&s, "0123456789", 10);
    log_state_digest_page(&s, 0x1000, page[0]);
    log_state_digest_page(&s, 0x100000000ull, page[1]);
    log_state_digest_end(&s, out);
    size_t n = 0;
    memcpy(msg, "FTST\x0a\0\0\0" "0123456789", 18);
    n = 18;
    memcpy(msg + n, "\x00\x10\0\0\0\0\0\0", 8);
    memcpy(msg + n + 8, page[0], 4096);
    n += 8 + 4096;
    memcpy(msg + n, "\0\0\0\0\x01\0\0\0", 8);
    memcpy(msg + n + 8, page[1], 4096);
    n += 8 + 4096;
    CHECK_EQ(n, sizeof(msg));
    sha256(msg, n, full);
    CHECK(memcmp(out, full, 16) == 0);
}

int main(void)
{
    log_decoder_init(&dec);
    return test_main();
}
