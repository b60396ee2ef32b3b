/* libFuzzer target for net/frame.c.
 *
 * (a) The input, as a byte stream, goes into a decoder in chunks whose
 *     sizes come from the input; every call's result is checked against
 *     the decoder's contract (consumption, progress, counters, bounds).
 * (b) The input also drives a generator: payloads cut from it are encoded
 *     into frames, with input bytes as garbage between them and bit flips
 *     in some; after decoding (and finish()), exactly the frames that were
 *     not touched must have come out, each once, in order.
 *
 *   make fuzz-tests && build/tests/fuzz/fuzz_frame -runs=200000 -seed=1 */
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../net/frame.h"
#include "../../kernel/crc32c.h"

#define REQUIRE(c)                                                                  \
    do {                                                                            \
        if (!(c)) {                                                                 \
            fprintf(stderr, "fuzz_frame.c:%d: requirement failed: %s\n", __LINE__, #c); \
            abort();                                                                \
        }                                                                           \
    } while (0)

/* (a) uses a fixed key, so frames that (b) shows libFuzzer (its memcmp
 * hooks see them) can come back in inputs and take (a) down the FRAME_OK
 * path. (b) keys with a hash of the whole input: any mutation changes the
 * key, so an input cannot carry a frame that is valid under its own key
 * (and the garbage can never pass). */
static const uint8_t fixed_key[FRAME_KEY_SIZE] = "fuzz-key-fuzz-key-fuzz-key-fuzz";
/* The decoder under test: (a) and (b) each have their own. */
static struct frame_decoder *dec;

/* Reads decisions from the input; zeros once it is used up. */
struct src {
    const uint8_t *p;
    size_t n, i;
};

static uint32_t take(struct src *s, int bytes)
{
    uint32_t v = 0;
    for (int k = 0; k < bytes; k++)
        v |= (uint32_t)(s->i < s->n ? s->p[s->i++] : 0) << (8 * k);
    return v;
}

/* Chunk sizes: a small generator seeded from the input. */
struct chunker {
    uint64_t x;
    uint32_t max;
};

static void chunker_init(struct chunker *c, struct src *s)
{
    static const uint32_t maxes[] = { 1, 2, 3, 7, 16, 61, 100, 1000, 4096, 100000 };
    c->max = maxes[take(s, 1) % (sizeof(maxes) / sizeof(maxes[0]))];
    c->x = ((uint64_t)take(s, 4) << 32 | take(s, 4)) | 1;
}

/* Chunks of n/256 bytes or more on average: byte-at-a-time feeding of a long
 * stream would cost much time and find little that a short one does not. */
static size_t chunk_next(struct chunker *c, size_t n)
{
    uint32_t max = c->max;
    if (max < n / 128)
        max = (uint32_t)(n / 128);
    c->x ^= c->x << 13;
    c->x ^= c->x >> 7;
    c->x ^= c->x << 17;
    return 1 + (size_t)(c->x % max);
}

/* What the checks track across calls. */
struct tally {
    size_t fed, delivered, errors, results;
};

static uint64_t error_sum(void)
{
    return dec->crc_errors + dec->mac_errors + dec->version_errors + dec->length_errors +
           dec->reserved_errors + dec->truncated;
}

/* Checks one call's result; returns true for FRAME_NEED_MORE. */
static bool check_result(struct tally *t, int r, size_t consumed, size_t left, const struct frame *f,
                         uint64_t ok_before, uint64_t skipped_before, uint64_t errors_before)
{
    uint64_t errors = error_sum(), ok = dec->frames_ok, skipped = dec->bytes_skipped;
    size_t buffered = frame_decoder_buffered(dec);

    REQUIRE(consumed <= left);
    t->fed += consumed;
    if (r == FRAME_NEED_MORE) {
        REQUIRE(consumed == left);
        REQUIRE(ok == ok_before && errors == errors_before);
    } else if (r == FRAME_OK) {
        REQUIRE(ok == ok_before + 1 && errors == errors_before);
        REQUIRE(f->len <= FRAME_MAX_PAYLOAD);
        REQUIRE(f->payload >= dec->buf + FRAME_HEADER);
        REQUIRE(f->payload + f->len + FRAME_TRAILER <= dec->buf + sizeof(dec->buf));
        t->delivered += frame_size(f->len);
    } else {
        REQUIRE(r >= FRAME_ERR_TRUNCATED && r <= FRAME_ERR_CRC);
        REQUIRE(errors == errors_before + 1 && ok == ok_before);
        /* a rejected frame always loses at least its first byte */
        REQUIRE(skipped > skipped_before);
        t->errors++;
    }
    /* Progress: each result but NEED_MORE delivers a frame (60 bytes or
     * more) or skips a byte, and no byte is delivered or skipped twice,
     * so there are never more such results than bytes fed. */
    if (r != FRAME_NEED_MORE)
        t->results++;
    REQUIRE(t->results <= t->fed);
    REQUIRE(skipped >= skipped_before);
    REQUIRE(buffered <= FRAME_MAX_SIZE);
    REQUIRE(t->fed == t->delivered + skipped + buffered);
    REQUIRE(errors == t->errors);
    REQUIRE(dec->resyncs <= skipped && dec->resyncs <= ok + 1);
    return r == FRAME_NEED_MORE;
}

/* Feeds data[0..n) in chunks; calls on_frame for each frame. */
static void run(struct tally *t, const uint8_t *data, size_t n, struct chunker *ch,
                void (*on_frame)(const struct frame *))
{
    size_t pos = 0;
    while (pos < n) {
        size_t chunk = chunk_next(ch, n);
        if (chunk > n - pos)
            chunk = n - pos;
        const uint8_t *p = data + pos;
        size_t left = chunk;
        for (;;) {
            size_t consumed = (size_t)-1;
            struct frame f;
            uint64_t ok = dec->frames_ok, sk = dec->bytes_skipped, er = error_sum();
            int r = frame_decoder_feed(dec, p, left, &consumed, &f);
            if (check_result(t, r, consumed, left, &f, ok, sk, er))
                break;
            if (r == FRAME_OK && on_frame)
                on_frame(&f);
            p += consumed;
            left -= consumed;
        }
        pos += chunk;
    }
    for (;;) {
        struct frame f;
        uint64_t ok = dec->frames_ok, sk = dec->bytes_skipped, er = error_sum();
        int r = frame_decoder_finish(dec, &f);
        if (check_result(t, r, 0, 0, &f, ok, sk, er))
            break;
        if (r == FRAME_OK && on_frame)
            on_frame(&f);
    }
    REQUIRE(frame_decoder_buffered(dec) == 0);
    REQUIRE(t->fed == n);
    REQUIRE(t->delivered + dec->bytes_skipped == n);
}

/* A decoder as after frame_decoder_init(d, fixed_key), more cheaply: a
 * key costs two compressions and a CPUID (a VM exit when this runs in a
 * VM), so each decoder gets one the first time only. */
static void restart(struct frame_decoder *d)
{
    static struct frame_key k;
    static bool ready;
    if (!ready) {
        frame_key_init(&k, fixed_key);
        ready = true;
    }
    frame_decoder_reset(d);
    d->frames_ok = d->crc_errors = d->mac_errors = d->version_errors = 0;
    d->length_errors = d->reserved_errors = d->truncated = 0;
    d->bytes_skipped = d->resyncs = 0;
    frame_decoder_set_prepared_key(d, &k);
}

/* ---------------------------------------------------------------- (b) ---- */

/* Small enough for 200000 runs in well under a minute: instrumented for
 * ASan, UBSan and coverage, a SHA-256 compression takes over a microsecond,
 * and each frame is hashed twice; the unit tests cover big frames. */
#define MAX_FRAMES 8
#define MAX_PAYLOAD 1024
#define MAX_TOTAL 2048

struct sent {
    uint8_t type;
    uint16_t flags;
    uint64_t seq;
    uint32_t len;
    const uint8_t *payload;
    bool touched;
};

static struct sent sent[MAX_FRAMES];
static int nsent, next_out;
static uint8_t arena[MAX_TOTAL];
static uint8_t stream[MAX_TOTAL + MAX_FRAMES * (FRAME_HEADER + FRAME_TRAILER + 64) + 64];

/* Does bit b end up flipped (an odd number of times)? */
static bool bit_changed(const uint32_t *bits, int n, uint32_t b)
{
    int odd = 0;
    for (int k = 0; k < n; k++)
        odd ^= bits[k] == b;
    return odd;
}

static void expect_frame(const struct frame *f)
{
    while (next_out < nsent && sent[next_out].touched)
        next_out++;
    REQUIRE(next_out < nsent);
    const struct sent *s = &sent[next_out++];
    REQUIRE(f->seq == s->seq && f->type == s->type && f->flags == s->flags && f->len == s->len);
    REQUIRE(memcmp(f->payload, s->payload, f->len) == 0);
}

static void structured(const uint8_t *data, size_t size)
{
    uint8_t key[FRAME_KEY_SIZE];
    uint64_t hash = 0xcbf29ce484222325ull;   /* FNV-1a */
    for (size_t i = 0; i < size; i++)
        hash = (hash ^ data[i]) * 0x100000001b3ull;
    for (int i = 0; i < FRAME_KEY_SIZE; i++) {
        hash = (hash ^ (uint64_t)i) * 0x100000001b3ull;
        key[i] = (uint8_t)(hash >> 56);
    }
    struct src s = { data, size, 0 };
    struct chunker ch;
    chunker_init(&ch, &s);
    /* frame_key_init() by hand, to ask CPUID once, not per input, and to
     * take either CRC implementation. */
    static int hw = -1;
    if (hw < 0)
        hw = crc32c_hw_available();
    struct frame_key fk;
    memset(&fk, 0, sizeof(fk)); /* a fixed key (not a session one) */
    blake2b_init(&fk.mac, FRAME_MAC_SIZE, key, FRAME_KEY_SIZE);
    fk.crc_hw = hw && (take(&s, 1) & 1);
    size_t n = 0, arena_used = 0;
    int frames = (int)(take(&s, 1) % (MAX_FRAMES + 1));

    nsent = next_out = 0;
    for (int i = 0; i < frames; i++) {
        uint32_t ctl = take(&s, 2);
        /* Garbage first: input bytes, possibly none. */
        size_t g = (ctl & 3) == 0 ? take(&s, 1) % 64 : 0;
        for (size_t k = 0; k < g; k++)
            stream[n++] = (uint8_t)take(&s, 1);

        /* A payload: a slice of the input, repeated up to the length. */
        uint32_t len = take(&s, 2);
        len = (ctl & 4) ? len % (MAX_PAYLOAD + 1) : len % 120;
        if (len > MAX_TOTAL - arena_used)
            len = (uint32_t)(MAX_TOTAL - arena_used);
        size_t from = size ? take(&s, 2) % size : 0;
        uint8_t *pl = arena + arena_used;
        for (uint32_t k = 0; k < len; k++)
            pl[k] = size ? data[(from + k) % size] : 0;
        arena_used += len;

        struct sent *e = &sent[nsent++];
        *e = (struct sent){ (uint8_t)take(&s, 1), (uint16_t)take(&s, 2), (uint64_t)i * 0x9e3779b97f4a7c15ull,
                            len, pl, false };
        size_t fs;
        /* With the prepared key, in one step or zero-copy in two; now and
         * then the first frame also through frame_encode(), which must give
         * the same bytes (not always: a key costs as much as a small frame). */
        if (ctl & 8) {
            fs = frame_encode_key(stream + n, sizeof(stream) - n, e->type, e->flags, e->seq, pl, len, &fk);
        } else {
            fs = frame_encode_header(stream + n, sizeof(stream) - n, e->type, e->flags, e->seq, len);
            memcpy(stream + n + FRAME_HEADER, pl, len);
            REQUIRE(frame_encode_trailer_key(stream + n, fs, &fk) == fs);
        }
        REQUIRE(fs == frame_size(len));
        if (i == 0 && (ctl & 0x700) == 0x700) {
            static uint8_t again[FRAME_HEADER + MAX_PAYLOAD + FRAME_TRAILER];
            REQUIRE(frame_encode(again, sizeof(again), e->type, e->flags, e->seq, pl, len, key) == fs);
            REQUIRE(memcmp(again, stream + n, fs) == 0);
        }
        /* Bit flips: any change to a frame's bytes must sink it. */
        if ((ctl & 0x30) == 0x30) {
            int flips = 1 + (int)((ctl >> 6) & 3);
            uint32_t bits[4];
            for (int k = 0; k < flips; k++) {
                bits[k] = take(&s, 3) % (uint32_t)(fs * 8);
                stream[n + bits[k] / 8] ^= (uint8_t)(1u << (bits[k] % 8));
            }
            /* Flips of one bit may cancel out. */
            for (int k = 0; k < flips && !e->touched; k++)
                e->touched = bit_changed(bits, flips, bits[k]);
        }
        n += fs;
    }
    /* Trailing garbage */
    size_t g = take(&s, 1) % 32;
    for (size_t k = 0; k < g; k++)
        stream[n++] = (uint8_t)take(&s, 1);

    struct tally t = { 0 };
    static struct frame_decoder per_input;
    restart(&per_input);
    frame_decoder_set_prepared_key(&per_input, &fk);
    dec = &per_input;
    run(&t, stream, n, &ch, expect_frame);
    while (next_out < nsent && sent[next_out].touched)
        next_out++;
    REQUIRE(next_out == nsent);          /* every untouched frame came out */
}

/* ---------------------------------------------------------------- (a) ---- */

static void raw(const uint8_t *data, size_t size)
{
    struct src s = { data, size, 0 };
    struct chunker ch;
    chunker_init(&ch, &s);
    struct tally t = { 0 };
    static struct frame_decoder fixed;
    restart(&fixed);
    dec = &fixed;
    run(&t, data, size, &ch, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    raw(data, size);
    structured(data, size);
    return 0;
}
