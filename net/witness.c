/* The witness protocol's codec (ft/witness.h). */
#include "witness.h"
#include "../kernel/sha256.h"
#include <string.h>

void witness_key(const char *pair_key, uint8_t kw[32])
{
    hmac_sha256(pair_key, strlen(pair_key), "ftvisor witness v1", 18, kw);
}

void witness_encode(const uint8_t kw[32], const struct witness_msg *m, uint8_t out[WITNESS_MSG_LEN])
{
    memset(out, 0, WITNESS_MSG_LEN);
    memcpy(out, m->answer ? "FTWA" : "FTWQ", 4);
    out[4] = 1;
    out[5] = m->asker;
    out[6] = m->answer ? m->holder : WITNESS_NO_HOLDER;
    out[7] = m->answer ? (uint8_t)m->verdict : WITNESS_QUERY;
    for (int i = 0; i < 8; i++)
        out[8 + i] = (uint8_t)(m->epoch >> (8 * i));
    memcpy(out + 16, m->nonce, 16);
    hmac_sha256(kw, 32, out, 32, out + 32);
}

int witness_decode(const uint8_t kw[32], const uint8_t *in, size_t len, struct witness_msg *m, const char **why)
{
    if (len != WITNESS_MSG_LEN) {
        *why = "wrong length";
        return -1;
    }
    bool q = memcmp(in, "FTWQ", 4) == 0, a = memcmp(in, "FTWA", 4) == 0;
    if (!q && !a) {
        *why = "not a witness message";
        return -1;
    }
    if (in[4] != 1) {
        *why = "unknown version";
        return -1;
    }
    uint8_t mac[32];
    hmac_sha256(kw, 32, in, 32, mac);
    if (!ct_equal(mac, in + 32, 32)) {
        *why = "bad MAC (another pair's key, or forged)";
        return -1;
    }
    m->answer = a;
    m->asker = in[5];
    m->holder = in[6];
    m->verdict = (enum witness_verdict)in[7];
    m->epoch = 0;
    for (int i = 0; i < 8; i++)
        m->epoch |= (uint64_t)in[8 + i] << (8 * i);
    memcpy(m->nonce, in + 16, 16);
    if (m->asker > 1 || (q && (m->verdict != WITNESS_QUERY || m->holder != WITNESS_NO_HOLDER)) ||
        (a && ((m->verdict != WITNESS_GRANTED && m->verdict != WITNESS_REFUSED) || m->holder > 1 ||
               (m->verdict == WITNESS_GRANTED) != (m->holder == m->asker)))) {
        *why = "a field is out of range";
        return -1;
    }
    return 0;
}
