/* The FT logging channel's frames: encoder and streaming decoder.
 *
 * The byte format is specified in docs/channel-frames.md:
 *
 *   0  "FTVF" | 4 version=1 | 5 type | 6 flags (le16) | 8 payload length N (le32)
 *  12  reserved=0 (le32) | 16 sequence (le64) | 24 payload (N bytes)
 *  24+N MAC(bytes 0..24+N-1) (16 bytes) | 40+N CRC32C(bytes 0..40+N-1) (le32)
 *
 * Pure code (no allocation, no mutable globals): the caller owns every
 * buffer, including the decoder, which holds one maximum-size frame
 * (about 256 KiB: keep it in a static, not on a stack). */
#ifndef NET_FRAME_H
#define NET_FRAME_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "../kernel/blake2b.h"
#include "../kernel/poly1305.h"

#define FRAME_MAGIC "FTVF"
#define FRAME_VERSION 3             /* 1: HMAC-SHA256; 2: BLAKE2b-256 for every frame */
#define FRAME_HEADER 24             /* magic .. sequence */
#define FRAME_MAC_SIZE 16           /* Poly1305 (session keys) or BLAKE2b-128 (fixed keys) */
#define FRAME_CRC_SIZE 4            /* CRC32C */
#define FRAME_TRAILER (FRAME_MAC_SIZE + FRAME_CRC_SIZE)
#define FRAME_MAX_PAYLOAD 262144u
#define FRAME_MAX_SIZE (FRAME_HEADER + FRAME_MAX_PAYLOAD + FRAME_TRAILER)
#define FRAME_KEY_SIZE 32

/* frame_decoder_feed() and frame_decoder_finish() results. */
enum {
    FRAME_OK = 0,           /* *out holds a valid frame */
    FRAME_NEED_MORE = 1,    /* all input consumed, no frame completed */
    FRAME_ERR_CRC = -1,     /* CRC32C mismatch: corruption */
    FRAME_ERR_MAC = -2,    /* CRC fine, MAC wrong: forged or other key */
    FRAME_ERR_VERSION = -3, /* version byte is not FRAME_VERSION */
    FRAME_ERR_LENGTH = -4,  /* payload length over FRAME_MAX_PAYLOAD */
    FRAME_ERR_RESERVED = -5, /* reserved field not zero */
    FRAME_ERR_TRUNCATED = -6, /* finish(): the stream ended inside a frame */
};

/* A decoded frame. payload points into the decoder and stays valid until
 * the next feed/finish/reset call on it. */
struct frame {
    uint8_t type;
    uint16_t flags;
    uint64_t seq;
    const uint8_t *payload;
    uint32_t len;
};

/* Bytes a frame with len payload bytes occupies; 0 if len > FRAME_MAX_PAYLOAD. */
size_t frame_size(uint32_t len);

/* Encodes one frame into out. Returns its size, or 0 (nothing written) if
 * len > FRAME_MAX_PAYLOAD or outlen < frame_size(len). payload may lie
 * anywhere, also inside out (it is moved, not copied). Prepares the key
 * each time (two SHA-256 compressions and a CPUID): for a stream of frames
 * prepare it once and use frame_encode_key() (below). */
size_t frame_encode(uint8_t *out, size_t outlen, uint8_t type, uint16_t flags, uint64_t seq,
                    const void *payload, uint32_t len, const uint8_t key[FRAME_KEY_SIZE]);

/* Zero-copy encoding in two steps, for frames built in place in a send
 * buffer: frame_encode_header() writes the header and returns
 * frame_size(len) (0, writing nothing, if len is too big or the frame does
 * not fit); the caller writes the len payload bytes at out + FRAME_HEADER;
 * frame_encode_trailer() appends MAC and CRC, taking the length from the
 * header, and returns the frame size (0 if outlen is too small for it). The
 * result is byte for byte what frame_encode() gives. */
size_t frame_encode_header(uint8_t *out, size_t outlen, uint8_t type, uint16_t flags, uint64_t seq,
                           uint32_t len);
size_t frame_encode_trailer(uint8_t *out, size_t outlen, const uint8_t key[FRAME_KEY_SIZE]);

/* A key prepared once: BLAKE2b's state with the key taken in, and whether
 * the CPU has the SSE4.2 CRC32 instruction (one CPUID per session, not
 * per frame: CPUID is serialising, and a VM exit when the hypervisor
 * itself runs nested). Two kinds (docs/channel-frames.md, "MAC"):
 *  - fixed (frame_key_init()): a key used across sessions (the channel's
 *    handshake key); the MAC is keyed BLAKE2b-128 of the frame.
 *  - session (frame_key_init_session()): a key of one session and one
 *    direction; frame i's MAC is Poly1305 under the one-time key
 *    BLAKE2b-256(key; "FTVF" | direction | i), so the sender and the
 *    receiver each count the frames of that direction: a frame lost,
 *    reordered or replayed fails the MAC of every frame after it.
 * Secret: frame_key_wipe() it when the session ends. */
struct frame_key {
    struct blake2b_ctx mac;
    bool crc_hw;
    bool session;
    uint8_t direction; /* session keys: which side sends (1 or 2) */
    uint64_t count;    /* session keys: frames MACed so far */
};

void frame_key_init(struct frame_key *k, const uint8_t key[FRAME_KEY_SIZE]);
void frame_key_init_session(struct frame_key *k, const uint8_t key[FRAME_KEY_SIZE], uint8_t direction);
void frame_key_wipe(struct frame_key *k);
/* frame_encode() and frame_encode_trailer() with a prepared key: what a
 * sender should use for every frame of a session. */
size_t frame_encode_key(uint8_t *out, size_t outlen, uint8_t type, uint16_t flags, uint64_t seq,
                        const void *payload, uint32_t len, struct frame_key *k);
size_t frame_encode_trailer_key(uint8_t *out, size_t outlen, struct frame_key *k);

/* A streaming decoder for one TCP byte stream. Counters are public and
 * only ever grow (init zeroes them; reset keeps them):
 *   every byte fed = bytes of delivered frames + bytes_skipped
 *                    + frame_decoder_buffered()
 * resyncs counts losses of sync: stretches of skipped bytes (garbage, or a
 * rejected frame and whatever is skipped after it) that begin right after a
 * delivered frame or at the start of the stream. */
struct frame_decoder {
    uint64_t frames_ok;
    uint64_t crc_errors;
    uint64_t mac_errors;
    uint64_t version_errors;
    uint64_t length_errors;
    uint64_t reserved_errors;
    uint64_t truncated;
    uint64_t bytes_skipped;
    uint64_t resyncs;

    /* Private. buf[off, have) is the candidate frame and what follows it;
     * done is the size of the frame delivered last (released on the next
     * call). The buffer must stay last (init does not clear it). */
    struct frame_key key;
    size_t off, have, done;
    bool hunting;
    uint8_t buf[FRAME_MAX_SIZE];
};

void frame_decoder_init(struct frame_decoder *d, const uint8_t key[FRAME_KEY_SIZE]);
/* A new key for frames not yet delivered (buffered bytes are kept); the
 * _prepared variant copies a frame_key the sender side prepared already. */
void frame_decoder_set_key(struct frame_decoder *d, const uint8_t key[FRAME_KEY_SIZE]);
void frame_decoder_set_prepared_key(struct frame_decoder *d, const struct frame_key *k);
/* Forgets buffered bytes (a new stream); counters and key stay. */
void frame_decoder_reset(struct frame_decoder *d);

/* Consumes bytes of the stream, in chunks of any size. *consumed is set to
 * how many of data[0..len) were taken. Returns
 *   FRAME_OK          a valid frame is in *out (more input may be left);
 *   FRAME_NEED_MORE   everything was consumed, no frame completed;
 *   FRAME_ERR_*       a bad frame was rejected and counted; the decoder has
 *                     already resynchronised (dropped the bad frame's first
 *                     byte and moved to the next "FTVF" in what it holds).
 * Bytes may stay buffered after an error, even whole frames, so call again
 * with the rest (data + *consumed, possibly 0 bytes) until FRAME_NEED_MORE.
 * Header errors (version, length, reserved) are reported as soon as the
 * first 16 bytes are in; CRC then MAC once the whole frame is. */
int frame_decoder_feed(struct frame_decoder *d, const uint8_t *data, size_t len, size_t *consumed,
                       struct frame *out);

/* The stream has ended: delivers any valid frames still buffered (behind a
 * false start, say). Call until it returns FRAME_NEED_MORE; a frame cut off
 * by the end gives FRAME_ERR_TRUNCATED. Afterwards the decoder is empty and
 * in sync, as after frame_decoder_reset(). */
int frame_decoder_finish(struct frame_decoder *d, struct frame *out);

/* Bytes held and not yet delivered or skipped (the frame delivered last,
 * still in the buffer until the next call, does not count). */
size_t frame_decoder_buffered(const struct frame_decoder *d);

/* "CRC mismatch", "MAC mismatch", ...; "unknown" for other values. */
const char *frame_error_name(int err);

#endif
