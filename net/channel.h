/* The logging channel between the two hosts of a pair: a reliable, ordered,
 * authenticated message stream over TCP (port 7700), built from
 * net/frame.c's frames (docs/channel-frames.md).
 *
 * - One TCP connection; the host listed first in the config connects, the
 *   other accepts. A lost connection is re-established and the stream
 *   resumes exactly where the peer's acknowledgements left it: messages are
 *   kept until acknowledged and re-sent, duplicates are dropped.
 * - Every frame is checked by CRC32C and a MAC (the handshake's keyed
 *   BLAKE2b under a key from the pair key; then Poly1305 under one-time keys
 *   from a per-session key derived from the pair key and two fresh nonces);
 *   a frame that fails either check is reported and the connection is
 *   dropped and resumed, so nothing corrupt, forged or replayed is ever
 *   delivered.
 * - The receiver acknowledges what it has received (the output rule of the
 *   FT layer waits on these acknowledgements). */
#ifndef NET_CHANNEL_H
#define NET_CHANNEL_H

#include <stdint.h>
#include <stdbool.h>

#define CHAN_PORT 7700
#define CHAN_MAX_MSG 131072
/* Message types 0-15 belong to the channel; users take 16 and up. */
#define CHAN_TYPE_USER 16

struct chan_user {
    /* A message from the peer, in order, exactly once. */
    void (*recv)(void *ctx, uint8_t type, const uint8_t *data, uint32_t len, uint64_t seq);
    /* The peer has everything up to and including seq. */
    void (*acked)(void *ctx, uint64_t seq);
    void (*up)(void *ctx);
    void (*down)(void *ctx);
    void *ctx;
};

void chan_set_user(const struct chan_user *u);
/* Queue a message. Returns its sequence number, or 0 when the send queue
 * is full (the caller retries later: the queue frees as the peer acks). */
uint64_t chan_send(uint8_t type, const void *data, uint32_t len);
bool chan_up(void);
uint64_t chan_acked(void);   /* highest seq the peer acknowledged */
uint64_t chan_queued(void);  /* bytes waiting for acknowledgement */
int chan_peer(void);         /* the peer's host index, -1 if none */
/* The peer's boot id from its last HELLO (0: never heard); it changes when
 * the peer restarts, and its stream then starts again from seq 1. */
uint64_t chan_peer_boot(void);
/* ms since the last authenticated frame from the peer (pings come every
 * 100 ms on an idle channel); UINT64_MAX if none yet. */
uint64_t chan_silence_ms(void);
/* Acknowledge what has arrived at the next chance, not at the usual pace
 * (every 20 ms): the peer waits on it. */
void chan_ack_now(void);
/* Everything received has been acknowledged to the peer. */
bool chan_all_acked_to_peer(void);

struct chan_stats {
    uint64_t frames_sent, frames_received, bytes_sent, bytes_received;
    uint64_t crc_errors, mac_errors, other_errors, resyncs, connects, handshake_failures, duplicates;
};
const struct chan_stats *chan_stats(void);

#endif
