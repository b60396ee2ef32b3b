/* Pre-copy live migration: when to stop copying rounds of dirty memory
 * and stop the guest for the last copy, and how hard to throttle a guest
 * that dirties memory faster than the link carries it (docs/migration.md).
 * Pure code: the caller measures, this decides. */
#ifndef FT_CONVERGE_H
#define FT_CONVERGE_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

struct converge_cfg {
    uint64_t downtime_ns;       /* the blackout the operator accepts: stop when the rest fits */
    unsigned max_rounds;        /* rounds after which the last copy starts whatever remains */
    unsigned throttle_initial;  /* % of the vCPU's time taken away when auto-converge starts */
    unsigned throttle_step;     /* % added each further round that still outruns the link */
    unsigned throttle_max;      /* % never exceeded */
};

/* The defaults: 300 ms (QEMU's downtime-limit), 30 rounds, 20% then
 * +10% per round up to 99% (QEMU's cpu-throttle-initial/-increment). */
void converge_default_cfg(struct converge_cfg *cfg);

enum converge_next {
    CONVERGE_ROUND,     /* copy another round of what was dirtied */
    CONVERGE_STOP_COPY, /* stop the guest and copy the rest with its state */
};

struct converge {
    struct converge_cfg cfg;
    unsigned rounds;       /* rounds finished */
    uint64_t link_Bps;     /* bytes per second the link carried (smoothed) */
    uint64_t dirty_Bps;    /* bytes per second the guest dirtied in the last round */
    uint64_t remaining;    /* bytes dirty after the last round */
    unsigned throttle;     /* % of vCPU time taken away now (0: none) */
    unsigned outran;       /* rounds in a row in which dirtying outran half the link */
    uint64_t sent_total;   /* bytes sent in all rounds */
};

void converge_init(struct converge *c, const struct converge_cfg *cfg);

/* A round is done: it sent SENT bytes in NS nanoseconds, and DIRTY bytes
 * were dirtied meanwhile (what the next round or the last copy must send).
 * Returns what comes next and writes why, in words, to WHY (N bytes). */
enum converge_next converge_round_done(struct converge *c, uint64_t sent, uint64_t ns, uint64_t dirty, char *why,
                                       size_t n);

/* The blackout the last copy of BYTES would take at the link's rate
 * (UINT64_MAX while no rate is known). */
uint64_t converge_downtime_ns(const struct converge *c, uint64_t bytes);

#endif
