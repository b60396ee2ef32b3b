/* The witness protocol (tools/ftwitness, docs/witness.md): before a host
 * of a pair goes live (or keeps a guest whose backup it lost) it asks the
 * witness, which grants the first host that asks in each pair epoch and
 * refuses the other, so a partition never leaves two live guests.
 *
 * One UDP datagram each way, 64 bytes, little-endian:
 *   0  "FTWQ" (query) or "FTWA" (answer)
 *   4  version 1
 *   5  asker: the host index of the asking host (0 or 1)
 *   6  holder: answer only, the host index the epoch belongs to; 0xff in a query
 *   7  verdict: 0 query, 1 granted, 2 refused
 *   8  epoch (u64): the pair epoch, chosen by the primary when protection began
 *   16 nonce (16 bytes), chosen by the asker, echoed in the answer
 *   32 HMAC-SHA256(K_w, bytes 0..31), K_w = HMAC-SHA256(pair key, "ftvisor witness v1")
 * An answer is accepted only with the asker's own nonce, so it cannot be
 * replayed into another question. The code is pure (the kernel's arbiter
 * client and the host tool share it). */
#ifndef FT_WITNESS_H
#define FT_WITNESS_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

#define WITNESS_MSG_LEN 64
#define WITNESS_NO_HOLDER 0xff

enum witness_verdict { WITNESS_QUERY = 0, WITNESS_GRANTED = 1, WITNESS_REFUSED = 2 };

struct witness_msg {
    bool answer;
    uint8_t asker, holder;
    enum witness_verdict verdict;
    uint64_t epoch;
    uint8_t nonce[16];
};

/* K_w from the pair key. */
void witness_key(const char *pair_key, uint8_t kw[32]);
void witness_encode(const uint8_t kw[32], const struct witness_msg *m, uint8_t out[WITNESS_MSG_LEN]);
/* 0, or -1 with why (a static string): length, magic, version, MAC or a
 * field out of range. */
int witness_decode(const uint8_t kw[32], const uint8_t *in, size_t len, struct witness_msg *m, const char **why);

#endif
