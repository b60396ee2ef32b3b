/* The pair's arbiter client ([pair] arbiter, docs/config.md): asks, before
 * this host goes live or keeps a guest whose peer it lost, whether it may.
 * witness: tools/ftwitness over UDP (net/witness.h), asked again every
 * 250 ms until it answers; none: always granted (heartbeat loss alone
 * decides, and a partition can make both hosts live); disk: the first
 * sector of a shared drive or partition ([pair] arbiter = disk:SERIAL[:N]),
 * used as a test-and-set register (net/arbiter.c). */
#ifndef NET_ARBITER_H
#define NET_ARBITER_H

#include <stdint.h>
#include <stdbool.h>

enum arb_state { ARB_IDLE, ARB_ASKING, ARB_GRANTED, ARB_REFUSED };

/* Ask for epoch (once per epoch; asking again for the same epoch keeps the
 * answer). */
void arbiter_ask(uint64_t epoch);
enum arb_state arbiter_state(void);
/* While ASKING: ms since the question was first sent. */
uint64_t arbiter_asking_ms(void);
/* The holder of the epoch by the witness's answer (REFUSED: the peer). */
int arbiter_holder(void);
const char *arbiter_describe(void); /* "witness 10.0.0.9:7700", "none", ... */

#endif
