/* The FT logging channel's frame codec: see net/frame.h for the API and
 * docs/channel-frames.md for the format and the decoder's behaviour.
 *
 * Decoder outline: bytes are copied into d->buf only as far as the current
 * candidate frame (at d->off) needs them: its 4 magic bytes, then 16 bytes
 * for the header checks, then 24, then the whole frame. A candidate that
 * fails loses its first byte, and the hunt for the next "FTVF" restarts in
 * the bytes already held (drop()), so a real frame hidden behind a false
 * start or a corrupted length is never lost. Every step consumes input or
 * discards at least one held byte, so the loop always ends. */
#include "frame.h"
#include "../kernel/crc32c.h"
#include "../kernel/blake2b.h"
#include "../kernel/sha256.h"

#include <string.h>

static inline uint16_t get_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static inline uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t get_le64(const uint8_t *p) { return get_le32(p) | (uint64_t)get_le32(p + 4) << 32; }

static inline void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

size_t frame_size(uint32_t len)
{
    if (len > FRAME_MAX_PAYLOAD)
        return 0;
    return FRAME_HEADER + (size_t)len + FRAME_TRAILER;
}

/* ------------------------------------------------------------ encoder ---- */

size_t frame_encode_header(uint8_t *out, size_t outlen, uint8_t type, uint16_t flags, uint64_t seq,
                           uint32_t len)
{
    size_t size = frame_size(len);
    if (!size || outlen < size)
        return 0;
    memcpy(out, FRAME_MAGIC, 4);
    out[4] = FRAME_VERSION;
    out[5] = type;
    put_le16(out + 6, flags);
    put_le32(out + 8, len);
    put_le32(out + 12, 0);
    put_le64(out + 16, seq);
    return size;
}

void frame_key_init(struct frame_key *k, const uint8_t key[FRAME_KEY_SIZE])
{
    memset(k, 0, sizeof(*k));
    blake2b_init(&k->mac, FRAME_MAC_SIZE, key, FRAME_KEY_SIZE);
    k->crc_hw = crc32c_hw_available();
}

void frame_key_init_session(struct frame_key *k, const uint8_t key[FRAME_KEY_SIZE], uint8_t direction)
{
    memset(k, 0, sizeof(*k));
    blake2b_init(&k->mac, POLY1305_KEY, key, FRAME_KEY_SIZE);
    k->crc_hw = crc32c_hw_available();
    k->session = true;
    k->direction = direction;
}

void frame_key_wipe(struct frame_key *k)
{
    volatile uint8_t *p = (volatile uint8_t *)k;
    for (size_t i = 0; i < sizeof(*k); i++)
        p[i] = 0;
}

/* The MAC of the next frame (n bytes at p) under k. A fixed key: keyed
 * BLAKE2b-128 (RFC 7693, 2.9). A session key: Poly1305 (RFC 8439, 2.5),
 * whose key must authenticate one message only: frame i of this direction
 * gets BLAKE2b-256(key; "FTVF" | direction | i as le64), a PRF of a value
 * no other frame under this key has. */
static void frame_mac(const struct frame_key *k, const uint8_t *p, size_t n, uint8_t mac[FRAME_MAC_SIZE])
{
    struct blake2b_ctx c = k->mac;
    if (!k->session) {
        blake2b_update(&c, p, n);
        blake2b_final(&c, mac);
        return;
    }
    uint8_t nonce[13], otk[POLY1305_KEY];
    memcpy(nonce, FRAME_MAGIC, 4);
    nonce[4] = k->direction;
    put_le64(nonce + 5, k->count);
    blake2b_update(&c, nonce, sizeof(nonce));
    blake2b_final(&c, otk);
    poly1305(mac, otk, p, n);
    volatile uint8_t *v = otk;
    for (size_t i = 0; i < sizeof(otk); i++)
        v[i] = 0;
}

static uint32_t frame_crc(const struct frame_key *k, const uint8_t *p, size_t n)
{
    return k->crc_hw ? crc32c_hw(0, p, n) : crc32c_sw(0, p, n);
}

size_t frame_encode_trailer_key(uint8_t *out, size_t outlen, struct frame_key *k)
{
    if (outlen < FRAME_HEADER)
        return 0;
    uint32_t len = get_le32(out + 8);
    size_t size = frame_size(len);
    if (!size || outlen < size)
        return 0;

    frame_mac(k, out, FRAME_HEADER + (size_t)len, out + FRAME_HEADER + len);
    k->count++;
    put_le32(out + size - FRAME_CRC_SIZE, frame_crc(k, out, size - FRAME_CRC_SIZE));
    return size;
}

size_t frame_encode_trailer(uint8_t *out, size_t outlen, const uint8_t key[FRAME_KEY_SIZE])
{
    struct frame_key k;
    frame_key_init(&k, key);
    size_t size = frame_encode_trailer_key(out, outlen, &k);
    frame_key_wipe(&k);
    return size;
}

size_t frame_encode_key(uint8_t *out, size_t outlen, uint8_t type, uint16_t flags, uint64_t seq,
                        const void *payload, uint32_t len, struct frame_key *k)
{
    size_t size = frame_size(len);
    if (!size || outlen < size)
        return 0;
    /* The payload first: it may sit where the header goes. */
    if (len && payload != out + FRAME_HEADER)
        memmove(out + FRAME_HEADER, payload, len);
    frame_encode_header(out, outlen, type, flags, seq, len);
    return frame_encode_trailer_key(out, outlen, k);
}

size_t frame_encode(uint8_t *out, size_t outlen, uint8_t type, uint16_t flags, uint64_t seq,
                    const void *payload, uint32_t len, const uint8_t key[FRAME_KEY_SIZE])
{
    struct frame_key k;
    frame_key_init(&k, key);
    size_t size = frame_encode_key(out, outlen, type, flags, seq, payload, len, &k);
    frame_key_wipe(&k);
    return size;
}

/* ------------------------------------------------------------ decoder ---- */

void frame_decoder_set_key(struct frame_decoder *d, const uint8_t key[FRAME_KEY_SIZE])
{
    frame_key_init(&d->key, key);
}

void frame_decoder_set_prepared_key(struct frame_decoder *d, const struct frame_key *k)
{
    d->key = *k;
}

void frame_decoder_reset(struct frame_decoder *d)
{
    d->off = d->have = d->done = 0;
    d->hunting = false;
}

void frame_decoder_init(struct frame_decoder *d, const uint8_t key[FRAME_KEY_SIZE])
{
    /* Everything but the buffer, whose old contents are never read. */
    memset(d, 0, offsetof(struct frame_decoder, buf));
    frame_decoder_set_key(d, key);
}

size_t frame_decoder_buffered(const struct frame_decoder *d) { return d->have - d->off - d->done; }

static void skipped(struct frame_decoder *d, size_t n)
{
    if (!d->hunting) {
        d->hunting = true;
        d->resyncs++;
    }
    d->bytes_skipped += n;
}

/* Could a frame start at p, with n bytes known? */
static bool magic_prefix(const uint8_t *p, size_t n)
{
    return memcmp(p, FRAME_MAGIC, n < 4 ? n : 4) == 0;
}

/* Rejects the candidate at off: skips its first byte and every following
 * held byte that cannot start a frame. */
static void drop(struct frame_decoder *d)
{
    size_t p = d->off + 1;
    while (p < d->have && (d->buf[p] != 'F' || !magic_prefix(d->buf + p, d->have - p)))
        p++;
    skipped(d, p - d->off);
    d->off = p;
    if (d->off == d->have)
        d->off = d->have = 0;
}

/* Checks the header fields held (avail bytes at h) and sets *need to the
 * bytes to wait for next. 1 means "not a magic": skip without a report. */
static int check_header(const uint8_t *h, size_t avail, size_t *need)
{
    if (!magic_prefix(h, avail))
        return 1;
    if (avail < 4) {
        *need = 4;
        return FRAME_OK;
    }
    if (avail < 16) {
        *need = 16;
        return FRAME_OK;
    }
    if (h[4] != FRAME_VERSION)
        return FRAME_ERR_VERSION;
    if (get_le32(h + 8) > FRAME_MAX_PAYLOAD)
        return FRAME_ERR_LENGTH;
    if (get_le32(h + 12) != 0)
        return FRAME_ERR_RESERVED;
    *need = avail < FRAME_HEADER ? FRAME_HEADER : frame_size(get_le32(h + 8));
    return FRAME_OK;
}

/* CRC first (cheap, and catches a wrong length), then the MAC; a good
 * frame advances a session key's count (the next frame's one-time key). */
static int check_frame(struct frame_decoder *d, const uint8_t *h, size_t size)
{
    if (frame_crc(&d->key, h, size - FRAME_CRC_SIZE) != get_le32(h + size - FRAME_CRC_SIZE))
        return FRAME_ERR_CRC;

    uint8_t mac[FRAME_MAC_SIZE];
    frame_mac(&d->key, h, size - FRAME_TRAILER, mac);
    if (!ct_equal(mac, h + size - FRAME_TRAILER, FRAME_MAC_SIZE))
        return FRAME_ERR_MAC;
    d->key.count++;
    return FRAME_OK;
}

static void count_error(struct frame_decoder *d, int err)
{
    switch (err) {
    case FRAME_ERR_CRC: d->crc_errors++; break;
    case FRAME_ERR_MAC: d->mac_errors++; break;
    case FRAME_ERR_VERSION: d->version_errors++; break;
    case FRAME_ERR_LENGTH: d->length_errors++; break;
    case FRAME_ERR_RESERVED: d->reserved_errors++; break;
    case FRAME_ERR_TRUNCATED: d->truncated++; break;
    }
}

static int decode(struct frame_decoder *d, const uint8_t *data, size_t len, size_t *consumed,
                  struct frame *out, bool eof)
{
    size_t used = 0;
    int r;

    /* Release the frame delivered last. */
    d->off += d->done;
    d->done = 0;
    if (d->off == d->have)
        d->off = d->have = 0;

    for (;;) {
        size_t avail = d->have - d->off;

        if (avail == 0) {
            /* Nothing held: hunt for an 'F' in the input itself. */
            if (used == len) {
                r = FRAME_NEED_MORE;
                break;
            }
            size_t skip = 0;
            while (used + skip < len && data[used + skip] != 'F')
                skip++;
            if (skip) {
                skipped(d, skip);
                used += skip;
            }
            if (used < len) {
                d->buf[0] = data[used++];
                d->have = 1;
            }
            continue;
        }

        const uint8_t *h = d->buf + d->off;
        size_t need = 0;
        r = check_header(h, avail, &need);
        if (r == 1) {
            drop(d);
            continue;
        }
        if (r != FRAME_OK) {
            count_error(d, r);
            drop(d);
            break;
        }
        if (avail >= need && need > FRAME_HEADER) {
            r = check_frame(d, h, need);
            if (r != FRAME_OK) {
                count_error(d, r);
                drop(d);
                break;
            }
            out->type = h[5];
            out->flags = get_le16(h + 6);
            out->len = get_le32(h + 8);
            out->seq = get_le64(h + 16);
            out->payload = h + FRAME_HEADER;
            d->done = need;
            d->frames_ok++;
            d->hunting = false;
            break;
        }
        if (used == len) {
            if (!eof) {
                r = FRAME_NEED_MORE;
                break;
            }
            /* End of stream: this candidate can never complete. */
            if (avail < 4) {
                drop(d);
                continue;
            }
            r = FRAME_ERR_TRUNCATED;
            count_error(d, r);
            drop(d);
            break;
        }
        /* Take more input, as far as this candidate needs. */
        size_t n = need - avail;
        if (n > len - used)
            n = len - used;
        if (d->off + need > sizeof(d->buf)) {
            memmove(d->buf, d->buf + d->off, avail);
            d->off = 0;
            d->have = avail;
        }
        memcpy(d->buf + d->have, data + used, n);
        d->have += n;
        used += n;
    }

    *consumed = used;
    if (eof && r == FRAME_NEED_MORE)
        frame_decoder_reset(d);
    return r;
}

int frame_decoder_feed(struct frame_decoder *d, const uint8_t *data, size_t len, size_t *consumed,
                       struct frame *out)
{
    return decode(d, data, len, consumed, out, false);
}

int frame_decoder_finish(struct frame_decoder *d, struct frame *out)
{
    size_t consumed;
    return decode(d, NULL, 0, &consumed, out, true);
}

const char *frame_error_name(int err)
{
    switch (err) {
    case FRAME_OK: return "ok";
    case FRAME_NEED_MORE: return "need more";
    case FRAME_ERR_CRC: return "CRC mismatch";
    case FRAME_ERR_MAC: return "MAC mismatch";
    case FRAME_ERR_VERSION: return "unsupported version";
    case FRAME_ERR_LENGTH: return "payload length over maximum";
    case FRAME_ERR_RESERVED: return "reserved field not zero";
    case FRAME_ERR_TRUNCATED: return "stream ended inside a frame";
    }
    return "unknown";
}
