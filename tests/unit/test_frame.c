/* net/frame.c: the logging channel's frame encoder and streaming decoder. */
#include "test.h"
#include <stdint.h>
#include <stdbool.h>
#include "../../net/frame.h"
#include "../../kernel/crc32c.h"
#include "../../kernel/blake2b.h"
#include "../../kernel/poly1305.h"

static const uint8_t key1[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t key2[32] = "fedcba9876543210fedcba9876543210";

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd();
}

static uint64_t fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    while (n--)
        h = (h ^ *p++) * 0x100000001b3ull;
    return h;
}

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes the CRC of a frame at p (what a forger without the key can do). */
static void fix_crc(uint8_t *p)
{
    size_t size = frame_size(le32(p + 8));
    put32(p + size - 4, crc32c(0, p, size - 4));
}

/* One decoder for all tests: it is about 256 KiB. */
static struct frame_decoder dec;

/* What came out of a stream: a result code and, for frames, a summary. */
struct ev {
    int r;
    uint8_t type;
    uint16_t flags;
    uint64_t seq;
    uint32_t len;
    uint64_t hash;
};
#define MAXEV 4096
static struct ev evs[MAXEV];
static int nev;

/* Chunking: 0 whole, 1 byte by byte, 2 random up to 100, 3 random up to 70000. */
enum { WHOLE, BYTES, SMALL, LARGE, NMODES };

static size_t fed_total, delivered_total;

static void check_accounting(void)
{
    if (fed_total != delivered_total + dec.bytes_skipped + frame_decoder_buffered(&dec))
        TEST_FAIL("accounting: fed %zu != delivered %zu + skipped %llu + buffered %zu", fed_total,
                  delivered_total, (unsigned long long)dec.bytes_skipped, frame_decoder_buffered(&dec));
}

static void record(int r, const struct frame *f)
{
    if (nev >= MAXEV) {
        TEST_FAIL("too many events");
        return;
    }
    struct ev e = { .r = r };
    if (r == FRAME_OK) {
        e.type = f->type;
        e.flags = f->flags;
        e.seq = f->seq;
        e.len = f->len;
        e.hash = fnv(f->payload, f->len);
        if (f->len > FRAME_MAX_PAYLOAD)
            TEST_FAIL("frame longer than the maximum");
        delivered_total += frame_size(f->len);
    }
    evs[nev++] = e;
}

static void start(const uint8_t *key)
{
    frame_decoder_init(&dec, key);
    nev = 0;
    fed_total = delivered_total = 0;
}

/* Feeds s[0..n) in the given chunking, looping on each chunk until
 * FRAME_NEED_MORE, and records every result but NEED_MORE. */
static void feed(const uint8_t *s, size_t n, int mode)
{
    size_t pos = 0;
    while (pos < n) {
        size_t chunk = n - pos;
        if (mode == BYTES)
            chunk = 1;
        else if (mode == SMALL)
            chunk = 1 + rnd() % 100;
        else if (mode == LARGE)
            chunk = 1 + rnd() % 70000;
        if (chunk > n - pos)
            chunk = n - pos;
        const uint8_t *p = s + pos;
        size_t left = chunk;
        for (int guard = 0;; guard++) {
            size_t c = 12345;
            struct frame f = { 0 };
            int r = frame_decoder_feed(&dec, p, left, &c, &f);
            if (c > left) {
                TEST_FAIL("consumed %zu of %zu", c, left);
                return;
            }
            p += c;
            left -= c;
            fed_total += c;
            if (r == FRAME_NEED_MORE) {
                if (left)
                    TEST_FAIL("NEED_MORE with %zu bytes left", left);
                break;
            }
            record(r, &f);
            if (guard > 1000000) {
                TEST_FAIL("no progress");
                return;
            }
        }
        pos += chunk;
    }
    check_accounting();
}

static void finish(void)
{
    for (;;) {
        struct frame f = { 0 };
        int r = frame_decoder_finish(&dec, &f);
        if (r == FRAME_NEED_MORE)
            break;
        record(r, &f);
    }
    CHECK_EQ(frame_decoder_buffered(&dec), 0);
    check_accounting();
}

/* An expected frame */
struct want {
    uint8_t type;
    uint16_t flags;
    uint64_t seq;
    uint32_t len;
    uint64_t hash;
};

static size_t enc(uint8_t *out, size_t outlen, struct want *w, uint8_t type, uint16_t flags, uint64_t seq,
                  const uint8_t *payload, uint32_t len, const uint8_t *key)
{
    size_t n = frame_encode(out, outlen, type, flags, seq, payload, len, key);
    if (w)
        *w = (struct want){ type, flags, seq, len, fnv(payload, len) };
    return n;
}

static bool ev_is_frame(int i, const struct want *w)
{
    return i < nev && evs[i].r == FRAME_OK && evs[i].type == w->type && evs[i].flags == w->flags &&
           evs[i].seq == w->seq && evs[i].len == w->len && evs[i].hash == w->hash;
}

static const char *ev_name(int i) { return i < nev ? frame_error_name(evs[i].r) : "(none)"; }

#define CHECK_FRAME(i, w) \
    do { \
        if (!ev_is_frame(i, w)) \
            TEST_FAIL("event %d is %s, not frame seq %llu", i, ev_name(i), (unsigned long long)(w)->seq); \
    } while (0)
#define CHECK_ERR(i, err) \
    do { \
        if ((i) >= nev || evs[i].r != (err)) \
            TEST_FAIL("event %d is %s, not %s", i, ev_name(i), frame_error_name(err)); \
    } while (0)

static uint8_t stream[3 * FRAME_MAX_SIZE];
static uint8_t payload[FRAME_MAX_PAYLOAD + 8];

/* ------------------------------------------------------------ encoder ---- */

TEST(frame_size_and_limits)
{
    CHECK_EQ(FRAME_HEADER, 24);
    CHECK_EQ(FRAME_TRAILER, 20);
    CHECK_EQ(frame_size(0), 44);
    CHECK_EQ(frame_size(100), 144);
    CHECK_EQ(frame_size(FRAME_MAX_PAYLOAD), FRAME_MAX_SIZE);
    CHECK_EQ(frame_size(FRAME_MAX_PAYLOAD + 1), 0);
    CHECK_EQ(frame_size(0xffffffffu), 0);

    uint8_t out[200];
    memset(out, 0xee, sizeof(out));
    CHECK_EQ(frame_encode(out, 143, 1, 2, 3, payload, 100, key1), 0);
    CHECK_EQ(frame_encode_header(out, 143, 1, 2, 3, 100), 0);
    CHECK_EQ(frame_encode(out, 200, 1, 2, 3, payload, FRAME_MAX_PAYLOAD + 1, key1), 0);
    CHECK_EQ(out[0], 0xee); /* nothing written */
    CHECK_EQ(frame_encode(out, 144, 1, 2, 3, payload, 100, key1), 144);
    CHECK_EQ(frame_encode_trailer(out, 143, key1), 0);
    CHECK_EQ(frame_encode_trailer(out, 23, key1), 0);
}

TEST(frame_encode_layout)
{
    uint8_t out[100], p[5] = { 'h', 'e', 'l', 'l', 'o' };
    CHECK_EQ(frame_encode(out, sizeof(out), 0xab, 0x1234, 0x0102030405060708ull, p, 5, key1), 49);
    CHECK(memcmp(out, "FTVF", 4) == 0);
    CHECK_EQ(out[4], 3);
    CHECK_EQ(out[5], 0xab);
    CHECK_EQ(out[6], 0x34);
    CHECK_EQ(out[7], 0x12);
    CHECK_EQ(le32(out + 8), 5);
    CHECK_EQ(le32(out + 12), 0);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(out[16 + i], 8 - i);
    CHECK(memcmp(out + 24, "hello", 5) == 0);
    uint8_t mac[16]; /* a fixed key: keyed BLAKE2b-128 */
    blake2b(mac, 16, key1, 32, out, 29);
    CHECK(memcmp(out + 29, mac, 16) == 0);
    CHECK_EQ(le32(out + 45), crc32c(0, out, 45));
}

/* The example in docs/channel-frames.md (cross-checked there with an
 * independent BLAKE2b, Python's hashlib, and a bitwise CRC). */
TEST(example_frame_from_the_spec)
{
    static const uint8_t want[49] = {
        0x46, 0x54, 0x56, 0x46, 0x03, 0x01, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x3b, 0xf6, 0x6c,
        0xc4, 0x2c, 0x8a, 0x78, 0x66, 0xb1, 0xa5, 0x4c, 0xdb, 0xf5, 0x6a, 0x15, 0x93, 0x22, 0x61, 0x38,
        0x53,
    };
    uint8_t key[32], out[100];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)i;
    CHECK_EQ(frame_encode(out, sizeof(out), 1, 0, 1, "hello", 5, key), 49);
    CHECK(memcmp(out, want, 49) == 0);
    CHECK_EQ(le32(out + 45), 0x53386122u);

    /* and it decodes, also with a key prepared on the sending side */
    struct frame_key k;
    frame_key_init(&k, key);
    start(key1);
    frame_decoder_set_prepared_key(&dec, &k);
    feed(want, sizeof(want), BYTES);
    CHECK_EQ(nev, 1);
    CHECK(nev == 1 && evs[0].r == FRAME_OK && evs[0].seq == 1 && evs[0].len == 5 && evs[0].type == 1);
    frame_key_wipe(&k);
    static const struct blake2b_ctx zero;
    CHECK(memcmp(&k.mac, &zero, sizeof(zero)) == 0);
}

TEST(zero_copy_encode_gives_same_bytes)
{
    static uint8_t a[FRAME_MAX_SIZE], b[FRAME_MAX_SIZE];
    static const uint32_t lens[] = { 0, 1, 55, 56, 63, 64, 65, 4096, FRAME_MAX_PAYLOAD };
    struct frame_key k;
    frame_key_init(&k, key1);
    fill_random(payload, FRAME_MAX_PAYLOAD);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        uint32_t len = lens[i];
        size_t n = frame_encode(a, sizeof(a), 7, 0xbeef, 99 + i, payload, len, key1);
        CHECK_EQ(n, frame_size(len));

        memset(b, 0x5a, sizeof(b));
        CHECK_EQ(frame_encode_header(b, sizeof(b), 7, 0xbeef, 99 + i, len), n);
        memcpy(b + FRAME_HEADER, payload, len);
        CHECK_EQ(frame_encode_trailer(b, n, key1), n);
        CHECK(memcmp(a, b, n) == 0);

        /* Prepared key, with either CRC implementation */
        for (int hw = 0; hw < 2; hw++) {
            if (hw && !crc32c_hw_available())
                break;
            k.crc_hw = hw;
            memset(b + n - FRAME_TRAILER, 0, FRAME_TRAILER);
            CHECK_EQ(frame_encode_trailer_key(b, n, &k), n);
            CHECK(memcmp(a, b, n) == 0);
        }

        /* frame_encode_key() */
        memset(b, 0x5a, sizeof(b));
        CHECK_EQ(frame_encode_key(b, sizeof(b), 7, 0xbeef, 99 + i, payload, len, &k), n);
        CHECK(memcmp(a, b, n) == 0);
        CHECK_EQ(frame_encode_key(b, n - 1, 7, 0xbeef, 99 + i, payload, len, &k), 0);

        /* frame_encode with the payload already in place, or overlapping
         * the header (it is moved, not copied). */
        memcpy(b + FRAME_HEADER, payload, len);
        CHECK_EQ(frame_encode(b, n, 7, 0xbeef, 99 + i, b + FRAME_HEADER, len, key1), n);
        CHECK(memcmp(a, b, n) == 0);
        memcpy(b + 3, payload, len);
        CHECK_EQ(frame_encode(b, n, 7, 0xbeef, 99 + i, b + 3, len, key1), n);
        CHECK(memcmp(a, b, n) == 0);
    }
}

/* --------------------------------------------------------- round trips ---- */

TEST(round_trip_every_length_class_and_chunking)
{
    static const uint32_t lens[] = { 0, 1, 55, 56, 63, 64, 65, 4096, FRAME_MAX_PAYLOAD };
    fill_random(payload, FRAME_MAX_PAYLOAD);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        for (int mode = 0; mode < NMODES; mode++) {
            struct want w;
            size_t n = enc(stream, sizeof(stream), &w, (uint8_t)i, (uint16_t)(mode * 1000), 1000 + i,
                           payload, lens[i], key1);
            start(key1);
            feed(stream, n, mode);
            if (nev != 1) {
                TEST_FAIL("length %u mode %d: %d events", lens[i], mode, nev);
                continue;
            }
            CHECK_FRAME(0, &w);
            CHECK_EQ(dec.frames_ok, 1);
            CHECK_EQ(dec.bytes_skipped, 0);
            CHECK_EQ(dec.resyncs, 0);
            CHECK_EQ(frame_decoder_buffered(&dec), 0);
        }
    }
}

TEST(decoder_with_either_crc_implementation)
{
    struct want w;
    fill_random(payload, 5000);
    size_t n = enc(stream, sizeof(stream), &w, 1, 2, 3, payload, 5000, key1);
    for (int hw = 0; hw < 2; hw++) {
        if (hw && !crc32c_hw_available())
            break;
        start(key1);
        dec.key.crc_hw = hw;
        feed(stream, n, SMALL);
        CHECK_EQ(nev, 1);
        CHECK_FRAME(0, &w);
        stream[100] ^= 4;
        start(key1);
        dec.key.crc_hw = hw;
        feed(stream, n, WHOLE);
        CHECK_EQ(nev, 1);
        CHECK_ERR(0, FRAME_ERR_CRC);
        stream[100] ^= 4;
    }
}

TEST(payload_points_into_decoder_and_is_exact)
{
    uint8_t p[300];
    fill_random(p, sizeof(p));
    size_t n = frame_encode(stream, sizeof(stream), 1, 2, 3, p, sizeof(p), key1);
    start(key1);
    size_t c;
    struct frame f = { 0 };
    CHECK_EQ(frame_decoder_feed(&dec, stream, n, &c, &f), FRAME_OK);
    CHECK_EQ(c, n);
    CHECK_EQ(f.len, sizeof(p));
    CHECK(f.payload >= dec.buf && f.payload + f.len <= dec.buf + sizeof(dec.buf));
    CHECK(f.len == sizeof(p) && memcmp(f.payload, p, sizeof(p)) == 0);
    CHECK_EQ(frame_decoder_feed(&dec, stream, 0, &c, &f), FRAME_NEED_MORE);
    CHECK_EQ(c, 0);
    CHECK_EQ(frame_decoder_feed(&dec, NULL, 0, &c, &f), FRAME_NEED_MORE);
}

TEST(many_frames_back_to_back)
{
    static struct want w[2000];
    for (int mode = 0; mode < NMODES; mode++) {
        size_t n = 0;
        int count = 0;
        while (count < 2000 && n + frame_size(2000) <= sizeof(stream)) {
            uint32_t len = (uint32_t)(rnd() % (count % 50 == 0 ? 2000 : 120));
            fill_random(payload, len);
            n += enc(stream + n, sizeof(stream) - n, &w[count], (uint8_t)rnd(), (uint16_t)rnd(), rnd(),
                     payload, len, key1);
            count++;
        }
        start(key1);
        feed(stream, n, mode);
        CHECK_EQ(nev, count);
        for (int i = 0; i < count && i < nev; i++)
            CHECK_FRAME(i, &w[i]);
        CHECK_EQ(dec.frames_ok, count);
        CHECK_EQ(dec.bytes_skipped, 0);
    }
}

TEST(one_call_returns_one_frame_at_a_time)
{
    struct want a, b;
    size_t n = enc(stream, sizeof(stream), &a, 1, 0, 1, (const uint8_t *)"first", 5, key1);
    n += enc(stream + n, sizeof(stream) - n, &b, 1, 0, 2, (const uint8_t *)"second", 6, key1);
    start(key1);
    size_t c;
    struct frame f = { 0 };
    CHECK_EQ(frame_decoder_feed(&dec, stream, n, &c, &f), FRAME_OK);
    CHECK_EQ(c, frame_size(5));
    CHECK(f.len == 5 && memcmp(f.payload, "first", 5) == 0);
    size_t c2;
    CHECK_EQ(frame_decoder_feed(&dec, stream + c, n - c, &c2, &f), FRAME_OK);
    CHECK_EQ(c2, frame_size(6));
    CHECK(f.len == 6 && memcmp(f.payload, "second", 6) == 0 && f.seq == 2);
}

/* ----------------------------------------------------------- corruption ---- */

/* Every single-bit flip of a small frame A, followed by a good frame B:
 * A is rejected (how depends on the field hit) and B still comes out. */
TEST(every_single_bit_flip_is_caught_and_next_frame_decoded)
{
    static uint8_t zeros[FRAME_MAX_SIZE];
    const uint8_t pa[10] = "0123456789";
    uint8_t good[200];
    struct want wb;
    size_t na = frame_encode(good, sizeof(good), 5, 0x0101, 77, pa, sizeof(pa), key1);
    for (size_t bit = 0; bit < na * 8; bit++) {
        memcpy(stream, good, na);
        stream[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        size_t nb = enc(stream + na, sizeof(stream) - na, &wb, 6, 0x0202, 78, (const uint8_t *)"next", 4, key1);
        start(key1);
        feed(stream, na + nb, (int)(bit % NMODES));
        size_t extra = 0;
        if (!(nev >= 1 && evs[nev - 1].r == FRAME_OK)) {
            /* A length made larger but still in range: the CRC can only be
             * checked once that many bytes are in. */
            feed(zeros, sizeof(zeros), WHOLE);
            extra = sizeof(zeros);
        }
        finish();

        size_t off = bit / 8;
        int want_err;
        if (off < 4)
            want_err = 0;                 /* no magic: plain garbage */
        else if (off == 4)
            want_err = FRAME_ERR_VERSION;
        else if (off >= 8 && off < 12)
            want_err = le32(stream + 8) > FRAME_MAX_PAYLOAD ? FRAME_ERR_LENGTH : FRAME_ERR_CRC;
        else if (off >= 12 && off < 16)
            want_err = FRAME_ERR_RESERVED;
        else
            want_err = FRAME_ERR_CRC;     /* type, flags, seq, payload, MAC, CRC */

        if (want_err) {
            if (nev != 2) {
                TEST_FAIL("bit %zu: %d events (first %s)", bit, nev, ev_name(0));
                return;
            }
            CHECK_ERR(0, want_err);
            CHECK_FRAME(1, &wb);
        } else {
            if (nev != 1) {
                TEST_FAIL("bit %zu: %d events (first %s)", bit, nev, ev_name(0));
                return;
            }
            CHECK_FRAME(0, &wb);
        }
        CHECK_EQ(dec.bytes_skipped, na + extra);
        CHECK_EQ(dec.mac_errors, 0);
        CHECK_EQ(dec.resyncs, extra ? 2 : 1); /* the filler after B is a second stretch */
    }
}

TEST(forged_frame_with_recomputed_crc_fails_hmac)
{
    uint8_t p[64];
    fill_random(p, sizeof(p));
    struct want wb;
    for (size_t i = 0; i < frame_size(64) - 4; i++) {
        if (i < 16 && i != 5 && i != 6 && i != 7)
            continue;    /* magic, version, length, reserved: header errors */
        size_t na = frame_encode(stream, sizeof(stream), 1, 2, 3, p, sizeof(p), key1);
        stream[i] ^= 0x40;
        fix_crc(stream);
        size_t nb = enc(stream + na, sizeof(stream) - na, &wb, 1, 2, 4, p, 10, key1);
        start(key1);
        feed(stream, na + nb, (int)(i % NMODES));
        if (nev != 2) {
            TEST_FAIL("byte %zu: %d events", i, nev);
            return;
        }
        CHECK_ERR(0, FRAME_ERR_MAC);
        CHECK_FRAME(1, &wb);
        CHECK_EQ(dec.mac_errors, 1);
        CHECK_EQ(dec.crc_errors, 0);
    }
}

TEST(frame_under_another_key_fails_hmac)
{
    struct want w1, w2;
    size_t n = enc(stream, sizeof(stream), &w1, 1, 0, 10, (const uint8_t *)"secret", 6, key2);
    n += enc(stream + n, sizeof(stream) - n, &w2, 1, 0, 11, (const uint8_t *)"secret", 6, key1);
    start(key1);
    feed(stream, n, WHOLE);
    CHECK_EQ(nev, 2);
    CHECK_ERR(0, FRAME_ERR_MAC);
    CHECK_FRAME(1, &w2);

    /* The same stream with the decoder switched to key2 */
    start(key1);
    frame_decoder_set_key(&dec, key2);
    feed(stream, n, BYTES);
    CHECK_EQ(nev, 2);
    CHECK_FRAME(0, &w1);
    CHECK_ERR(1, FRAME_ERR_MAC);

    /* A key change mid-stream applies to the frames after it. */
    start(key2);
    size_t c;
    struct frame f = { 0 };
    CHECK_EQ(frame_decoder_feed(&dec, stream, n, &c, &f), FRAME_OK);
    frame_decoder_set_key(&dec, key1);
    CHECK_EQ(frame_decoder_feed(&dec, stream + c, n - c, &c, &f), FRAME_OK);
    CHECK_EQ(f.seq, 11);
}

/* Garbage without 'F' before, between and after frames: skipped exactly. */
TEST(garbage_is_skipped_and_counted)
{
    static struct want w[50];
    for (int mode = 0; mode < NMODES; mode++) {
        size_t n = 0, garbage = 0;
        for (int i = 0; i <= 50; i++) {
            size_t g = (i == 0 || i == 50) ? 1000 : rnd() % 300;
            for (size_t k = 0; k < g; k++) {
                uint8_t b;
                do
                    b = (uint8_t)rnd();
                while (b == 'F');
                stream[n++] = b;
            }
            garbage += g;
            if (i < 50) {
                uint32_t len = (uint32_t)(rnd() % 200);
                fill_random(payload, len);
                n += enc(stream + n, sizeof(stream) - n, &w[i], 3, 3, (uint64_t)i, payload, len, key1);
            }
        }
        start(key1);
        feed(stream, n, mode);
        CHECK_EQ(nev, 50);
        for (int i = 0; i < 50 && i < nev; i++)
            CHECK_FRAME(i, &w[i]);
        CHECK_EQ(dec.bytes_skipped, garbage);
        CHECK_EQ(dec.crc_errors + dec.version_errors + dec.length_errors + dec.reserved_errors, 0);
        /* one loss of sync per stretch of garbage (none is empty here but
         * possibly some in the middle) */
        CHECK(dec.resyncs >= 2 && dec.resyncs <= 51);
    }
}

/* Garbage made of magic fragments and near-headers: errors may be
 * reported, but every frame comes out and only garbage is skipped. */
TEST(hostile_garbage_never_hides_a_frame)
{
    static struct want w[200];
    static const struct { const char *s; size_t n; } bits[] = {
        { "F", 1 }, { "FT", 2 }, { "FTV", 3 }, { "FTVF", 4 }, { "FTVFTVF", 7 }, { "FFTVF", 5 },
        { "FTVF\x01", 5 }, { "FTVF\x02", 5 }, { "FTVF\x01\x00\x00\x00", 8 },
        { "FTVF\x01\x00\x00\x00\x10\x00\x00\x00", 12 },
    };
    for (int mode = 0; mode < NMODES; mode++) {
        size_t n = 0, garbage = 0;
        int count = 0;
        for (int i = 0; i < 200; i++) {
            int parts = (int)(rnd() % 4);
            for (int k = 0; k < parts; k++) {
                size_t pick = rnd() % (sizeof(bits) / sizeof(bits[0]));
                memcpy(stream + n, bits[pick].s, bits[pick].n);
                n += bits[pick].n;
                garbage += bits[pick].n;
                if (rnd() & 1) {   /* zeros: a reserved field that passes */
                    size_t z = 4 + rnd() % 20;
                    memset(stream + n, 0, z);
                    n += z;
                    garbage += z;
                }
            }
            uint32_t len = (uint32_t)(rnd() % 100);
            fill_random(payload, len);
            n += enc(stream + n, sizeof(stream) - n, &w[count++], 9, 9, (uint64_t)i, payload, len, key1);
        }
        start(key1);
        feed(stream, n, mode);
        finish();
        int got = 0;
        for (int i = 0; i < nev; i++) {
            if (evs[i].r != FRAME_OK)
                continue;
            if (got >= count || !ev_is_frame(i, &w[got])) {
                TEST_FAIL("mode %d: frame %d wrong", mode, got);
                break;
            }
            got++;
        }
        CHECK_EQ(got, count);
        CHECK_EQ(dec.bytes_skipped, garbage);
        CHECK_EQ(dec.mac_errors, 0);
    }
}

TEST(truncated_stream_never_gives_a_frame)
{
    uint8_t p[100];
    fill_random(p, sizeof(p));
    struct want w;
    size_t n = enc(stream, sizeof(stream), &w, 1, 1, 1, p, sizeof(p), key1);
    for (size_t cut = 0; cut < n; cut++) {
        start(key1);
        feed(stream, cut, (int)(cut % NMODES));
        CHECK_EQ(nev, 0);
        CHECK_EQ(frame_decoder_buffered(&dec), cut);
        /* The rest arrives: the frame is complete after all. */
        feed(stream + cut, n - cut, WHOLE);
        CHECK_EQ(nev, 1);
        CHECK_FRAME(0, &w);

        /* Or the stream ends: finish() says so (for a complete magic). */
        start(key1);
        feed(stream, cut, WHOLE);
        finish();
        if (cut >= 4) {
            CHECK_EQ(nev, 1);
            CHECK_ERR(0, FRAME_ERR_TRUNCATED);
            CHECK_EQ(dec.truncated, 1);
        } else {
            CHECK_EQ(nev, 0);
        }
        CHECK_EQ(dec.bytes_skipped, cut);
    }
}

TEST(finish_finds_frames_behind_a_false_start)
{
    /* A plausible header claiming 1000 bytes, then real frames: they sit
     * in the buffer until the stream ends, then come out. */
    uint8_t hdr[24] = { 'F', 'T', 'V', 'F', FRAME_VERSION, 0, 0, 0, 0xe8, 0x03, 0, 0 };
    struct want w1, w2;
    memcpy(stream, hdr, 24);
    size_t n = 24;
    n += enc(stream + n, sizeof(stream) - n, &w1, 1, 0, 1, (const uint8_t *)"one", 3, key1);
    n += enc(stream + n, sizeof(stream) - n, &w2, 1, 0, 2, (const uint8_t *)"two", 3, key1);
    start(key1);
    feed(stream, n, WHOLE);
    CHECK_EQ(nev, 0);
    finish();
    CHECK_EQ(nev, 3);
    CHECK_ERR(0, FRAME_ERR_TRUNCATED);
    CHECK_FRAME(1, &w1);
    CHECK_FRAME(2, &w2);
    CHECK_EQ(dec.bytes_skipped, 24);

    /* Without finish(), the frames come out once the false start's length
     * is complete and its CRC fails, and that in a zero-length feed call
     * when the last byte needed ended the input. */
    start(key1);
    static uint8_t fill[2000];
    memset(fill, 'x', sizeof(fill));
    memcpy(stream + n, fill, 1044 - n);
    size_t c;
    struct frame f = { 0 };
    CHECK_EQ(frame_decoder_feed(&dec, stream, 1044, &c, &f), FRAME_ERR_CRC);
    CHECK_EQ(c, 1044);
    CHECK_EQ(frame_decoder_feed(&dec, NULL, 0, &c, &f), FRAME_OK);
    CHECK_EQ(f.seq, 1);
    CHECK_EQ(frame_decoder_feed(&dec, NULL, 0, &c, &f), FRAME_OK);
    CHECK_EQ(f.seq, 2);
    CHECK_EQ(frame_decoder_feed(&dec, NULL, 0, &c, &f), FRAME_NEED_MORE);
    CHECK_EQ(frame_decoder_buffered(&dec), 0);
}

/* A rejected frame whose (corrupted) length reached into a maximum-size
 * frame: that frame is found in the held bytes, at an offset, and must be
 * moved to the front of the buffer to fit. */
TEST(maximum_frame_found_behind_a_bad_one)
{
    struct want wb;
    size_t na = frame_encode(stream, sizeof(stream), 1, 0, 1, (const uint8_t *)"bad", 3, key1);
    put32(stream + 8, 3 + 1000);      /* reaches 1000 bytes into B */
    fill_random(payload, FRAME_MAX_PAYLOAD);
    size_t nb = enc(stream + na, sizeof(stream) - na, &wb, 2, 0, 2, payload, FRAME_MAX_PAYLOAD, key1);
    for (int mode = 0; mode < NMODES; mode++) {
        start(key1);
        feed(stream, na + nb, mode);
        CHECK_EQ(nev, 2);
        CHECK_ERR(0, FRAME_ERR_CRC);
        CHECK_FRAME(1, &wb);
        CHECK_EQ(dec.bytes_skipped, na);
        CHECK_EQ(frame_decoder_buffered(&dec), 0);
    }
}

TEST(oversized_length_rejected_at_once)
{
    static const uint32_t bad[] = { FRAME_MAX_PAYLOAD + 1, 0x80000000u, 0xffffffffu };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t h[FRAME_HEADER];
        frame_encode_header(h, sizeof(h) + FRAME_MAX_SIZE, 1, 0, 0, 0);
        put32(h + 8, bad[i]);
        start(key1);
        size_t c;
        struct frame f = { 0 };
        /* 15 bytes: not yet known (the reserved field is checked too) */
        CHECK_EQ(frame_decoder_feed(&dec, h, 15, &c, &f), FRAME_NEED_MORE);
        CHECK_EQ(frame_decoder_feed(&dec, h + 15, 1, &c, &f), FRAME_ERR_LENGTH);
        CHECK_EQ(c, 1);
        CHECK_EQ(dec.length_errors, 1);
        CHECK_EQ(frame_decoder_feed(&dec, NULL, 0, &c, &f), FRAME_NEED_MORE);
        CHECK_EQ(dec.bytes_skipped, 16);
    }
    /* Exactly the maximum is fine (the round trip test decodes one). */
    uint8_t h[FRAME_HEADER];
    frame_encode_header(h, FRAME_MAX_SIZE, 1, 0, 0, FRAME_MAX_PAYLOAD);
    start(key1);
    size_t c;
    struct frame f = { 0 };
    CHECK_EQ(frame_decoder_feed(&dec, h, sizeof(h), &c, &f), FRAME_NEED_MORE);
}

TEST(version_and_reserved_rejected)
{
    struct want w;
    for (int field = 0; field < 2; field++) {
        size_t na = frame_encode(stream, sizeof(stream), 1, 0, 1, (const uint8_t *)"abc", 3, key1);
        if (field == 0)
            stream[4] = 1; /* version 1 (HMAC-SHA256 frames): not ours any more */
        else
            stream[13] = 1;
        fix_crc(stream);   /* a well-formed frame of another kind */
        size_t nb = enc(stream + na, sizeof(stream) - na, &w, 1, 0, 2, (const uint8_t *)"def", 3, key1);
        start(key1);
        feed(stream, na + nb, SMALL);
        CHECK_EQ(nev, 2);
        CHECK_ERR(0, field == 0 ? FRAME_ERR_VERSION : FRAME_ERR_RESERVED);
        CHECK_FRAME(1, &w);
        CHECK_EQ(field == 0 ? dec.version_errors : dec.reserved_errors, 1);
    }
    /* Version 0 and 255 too, detected from the first 16 bytes alone */
    for (int v = 0; v < 256; v += 255) {
        frame_encode(stream, sizeof(stream), 1, 0, 1, NULL, 0, key1);
        stream[4] = (uint8_t)v;
        start(key1);
        size_t c;
        struct frame f = { 0 };
        CHECK_EQ(frame_decoder_feed(&dec, stream, 16, &c, &f), FRAME_ERR_VERSION);
    }
}

/* ------------------------------------------------------ magic in payload ---- */

TEST(payloads_containing_magic_decode_exactly)
{
    static struct want w[40];
    for (int mode = 0; mode < NMODES; mode++) {
        size_t n = 0;
        for (int i = 0; i < 40; i++) {
            uint32_t len = (uint32_t)(rnd() % 600);
            for (uint32_t k = 0; k < len; k++)
                payload[k] = "FTVF\x01\0"[rnd() % 6];
            /* and a whole plausible header now and then */
            if (len >= 40 && (i & 1)) {
                frame_encode_header(payload + 7, 100000, 1, 0, 0, (uint32_t)(rnd() % 50));
            }
            n += enc(stream + n, sizeof(stream) - n, &w[i], 2, 2, (uint64_t)i, payload, len, key1);
        }
        start(key1);
        feed(stream, n, mode);
        CHECK_EQ(nev, 40);
        for (int i = 0; i < 40 && i < nev; i++)
            CHECK_FRAME(i, &w[i]);
        CHECK_EQ(dec.bytes_skipped, 0);
    }
}

TEST(frames_inside_frames)
{
    /* Outer frame B carries two complete frames A1, A2 as its payload. */
    static uint8_t inner[1000];
    struct want a1, a2, b, c;
    size_t ni = enc(inner, sizeof(inner), &a1, 1, 0, 1, (const uint8_t *)"inner one", 9, key1);
    ni += enc(inner + ni, sizeof(inner) - ni, &a2, 1, 0, 2, (const uint8_t *)"inner two", 9, key1);
    size_t nb = enc(stream, sizeof(stream), &b, 2, 0, 10, inner, (uint32_t)ni, key1);
    size_t nc = enc(stream + nb, sizeof(stream) - nb, &c, 2, 0, 11, (const uint8_t *)"after", 5, key1);
    for (int mode = 0; mode < NMODES; mode++) {
        start(key1);
        feed(stream, nb + nc, mode);
        CHECK_EQ(nev, 2);
        CHECK_FRAME(0, &b);
        CHECK_FRAME(1, &c);
    }
    /* If the outer frame is corrupted, the frames inside it are frames of
     * the stream like any other. */
    stream[nb - 1] ^= 1;
    start(key1);
    feed(stream, nb + nc, SMALL);
    CHECK_EQ(nev, 4);
    CHECK_ERR(0, FRAME_ERR_CRC);
    CHECK_FRAME(1, &a1);
    CHECK_FRAME(2, &a2);
    CHECK_FRAME(3, &c);
    CHECK_EQ(dec.bytes_skipped, nb - ni);
}

/* ----------------------------------------------------- misc and counters ---- */

TEST(reset_forgets_a_partial_frame)
{
    struct want w;
    size_t n = enc(stream, sizeof(stream), &w, 1, 0, 5, (const uint8_t *)"xyz", 3, key1);
    start(key1);
    size_t c;
    struct frame f = { 0 };
    CHECK_EQ(frame_decoder_feed(&dec, stream, 30, &c, &f), FRAME_NEED_MORE);
    frame_decoder_reset(&dec);
    CHECK_EQ(frame_decoder_buffered(&dec), 0);
    CHECK_EQ(frame_decoder_feed(&dec, stream, n, &c, &f), FRAME_OK);
    CHECK_EQ(f.seq, 5);
    CHECK_EQ(c, n);
}

TEST(random_streams_keep_counters_consistent)
{
    /* Frames, garbage, flips and cuts at random; whatever happens, every
     * untouched frame comes out in order and the bytes add up. */
    static struct want w[300];
    static bool touched[300];
    for (int round = 0; round < 20; round++) {
        size_t n = 0;
        int count = 0;
        while (count < 300 && n < sizeof(stream) - 2 * FRAME_MAX_SIZE / 2) {
            uint32_t len = (uint32_t)(rnd() % 3 == 0 ? rnd() % 5000 : rnd() % 80);
            fill_random(payload, len);
            size_t fs = enc(stream + n, sizeof(stream) - n, &w[count], 4, 4, (uint64_t)count, payload, len, key1);
            touched[count] = false;
            if (rnd() % 8 == 0) {
                stream[n + rnd() % fs] ^= (uint8_t)(1 << (rnd() % 8));
                touched[count] = true;
            }
            n += fs;
            count++;
            if (rnd() % 4 == 0) {
                size_t g = rnd() % 50;
                fill_random(stream + n, g);
                n += g;
            }
        }
        start(key1);
        feed(stream, n, (int)(round % NMODES));
        finish();
        int want_i = 0;
        for (int i = 0; i < nev; i++) {
            if (evs[i].r != FRAME_OK)
                continue;
            while (want_i < count && touched[want_i])
                want_i++;
            if (want_i >= count || !ev_is_frame(i, &w[want_i])) {
                TEST_FAIL("round %d: unexpected frame seq %llu", round, (unsigned long long)evs[i].seq);
                return;
            }
            want_i++;
        }
        while (want_i < count && touched[want_i])
            want_i++;
        CHECK_EQ(want_i, count);
        CHECK_EQ(dec.mac_errors, 0);
    }
}

TEST(error_names)
{
    CHECK_STR(frame_error_name(FRAME_OK), "ok");
    CHECK_STR(frame_error_name(FRAME_NEED_MORE), "need more");
    CHECK_STR(frame_error_name(FRAME_ERR_CRC), "CRC mismatch");
    CHECK_STR(frame_error_name(FRAME_ERR_MAC), "MAC mismatch");
    CHECK_STR(frame_error_name(FRAME_ERR_VERSION), "unsupported version");
    CHECK_STR(frame_error_name(FRAME_ERR_LENGTH), "payload length over maximum");
    CHECK_STR(frame_error_name(FRAME_ERR_RESERVED), "reserved field not zero");
    CHECK_STR(frame_error_name(FRAME_ERR_TRUNCATED), "stream ended inside a frame");
    CHECK_STR(frame_error_name(42), "unknown");
}

/* ------------------------------------------------------ session keys ---- */

/* A session key's frame i: Poly1305 under BLAKE2b-256(key; "FTVF" |
 * direction | i), computed here from the primitives (each tested against
 * published vectors in test_crypto.c). */
static void session_mac(const uint8_t *key, uint8_t dir, uint64_t i, const uint8_t *frame, size_t n, uint8_t *mac)
{
    uint8_t nonce[13], otk[32];
    memcpy(nonce, "FTVF", 4);
    nonce[4] = dir;
    for (int b = 0; b < 8; b++)
        nonce[5 + b] = (uint8_t)(i >> (8 * b));
    blake2b(otk, 32, key, 32, nonce, sizeof(nonce));
    poly1305(mac, otk, frame, n);
}

TEST(session_frames_are_counted)
{
    struct frame_key tx, rx;
    frame_key_init_session(&tx, key1, 1);
    frame_key_init_session(&rx, key1, 1);
    size_t n = 0, at[4];
    struct want w[4];
    for (int i = 0; i < 4; i++) {
        at[i] = n;
        fill_random(payload, 300);
        size_t sz = frame_encode_key(stream + n, sizeof(stream) - n, 9, 0, 100 + i, payload, 100 * i, &tx);
        CHECK_EQ(sz, frame_size(100 * i));
        w[i] = (struct want){ 9, 0, 100 + i, 100 * i, fnv(payload, 100 * i) };
        uint8_t mac[16];
        session_mac(key1, 1, i, stream + n, FRAME_HEADER + 100 * i, mac);
        CHECK(memcmp(stream + n + FRAME_HEADER + 100 * i, mac, 16) == 0);
        n += sz;
    }
    CHECK_EQ(tx.count, 4);
    start(key2);
    frame_decoder_set_prepared_key(&dec, &rx);
    feed(stream, n, SMALL);
    CHECK_EQ(nev, 4);
    for (int i = 0; i < 4; i++)
        CHECK_FRAME(i, &w[i]);

    /* The same four again (a replay): the count has moved on, every MAC fails. */
    feed(stream, n, WHOLE);
    CHECK_EQ(nev, 8);
    for (int i = 4; i < 8; i++)
        CHECK_ERR(i, FRAME_ERR_MAC);

    /* One frame lost: the frames after it fail too. */
    start(key2);
    frame_decoder_set_prepared_key(&dec, &rx);
    feed(stream, at[1], WHOLE);
    feed(stream + at[2], n - at[2], WHOLE);
    CHECK_EQ(nev, 3);
    CHECK_FRAME(0, &w[0]);
    CHECK_ERR(1, FRAME_ERR_MAC);
    CHECK_ERR(2, FRAME_ERR_MAC);
}

TEST(session_directions_and_kinds_do_not_mix)
{
    struct frame_key a, b, fixed;
    frame_key_init_session(&a, key1, 1);
    frame_key_init_session(&b, key1, 2);
    frame_key_init(&fixed, key1);
    size_t n = frame_encode_key(stream, sizeof(stream), 1, 0, 1, "x", 1, &a);
    n += frame_encode_key(stream + n, sizeof(stream) - n, 1, 0, 2, "y", 1, &fixed);
    /* The other direction's key (same secret), and a fixed key. */
    start(key1);
    frame_decoder_set_prepared_key(&dec, &b);
    feed(stream, n, WHOLE);
    CHECK_EQ(nev, 2);
    CHECK_ERR(0, FRAME_ERR_MAC);
    CHECK_ERR(1, FRAME_ERR_MAC);
    start(key1); /* the fixed key accepts only its own frame */
    feed(stream, n, WHOLE);
    CHECK_EQ(nev, 2);
    CHECK_ERR(0, FRAME_ERR_MAC);
    CHECK(nev == 2 && evs[1].r == FRAME_OK && evs[1].seq == 2);
    frame_key_wipe(&a);
    CHECK_EQ(a.count, 0);
    CHECK(!a.session);
}

int main(void) { return test_main(); }
