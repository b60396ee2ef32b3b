/* Pre-copy convergence control (converge.h).
 *
 * Each round sends what the guest dirtied during the one before. The
 * rounds converge when the guest dirties less per round than the link
 * carries; the last copy (guest stopped) then takes remaining / link
 * rate, and it starts as soon as that fits the downtime target. A guest
 * that dirties memory faster never converges by itself: after two rounds
 * in a row that each dirtied more than half of what they sent, the vCPU
 * loses a share of its time (auto-converge, as QEMU does it: 20% at
 * first, 10% more each further such round), which slows its dirtying;
 * the round cap bounds the whole. */
#include "converge.h"
#include "../vmm/dev/vdev.h"
#include "../kernel/format.h"

void converge_default_cfg(struct converge_cfg *cfg)
{
    cfg->downtime_ns = 100000000ull; /* QEMU's default is 300 ms; the blackout target here is p99 150 ms */
    cfg->max_rounds = 30;
    cfg->throttle_initial = 20;
    cfg->throttle_step = 10;
    cfg->throttle_max = 99;
}

void converge_init(struct converge *c, const struct converge_cfg *cfg)
{
    *c = (struct converge){ .cfg = *cfg };
    if (c->cfg.max_rounds == 0)
        c->cfg.max_rounds = 1;
    if (c->cfg.throttle_max > 99)
        c->cfg.throttle_max = 99; /* the guest must keep running */
}

/* a * b / d without overflow, saturating at UINT64_MAX (no libgcc in
 * the kernel: vdev.h's DIV-based helper). */
static uint64_t muldiv(uint64_t a, uint64_t b, uint64_t d) { return muldiv64(a, b, d ? d : 1); }

uint64_t converge_downtime_ns(const struct converge *c, uint64_t bytes)
{
    if (!bytes)
        return 0;
    if (!c->link_Bps)
        return UINT64_MAX;
    return muldiv(bytes, 1000000000ull, c->link_Bps);
}

static unsigned long long ms(uint64_t ns) { return (unsigned long long)(ns / 1000000u); }
static unsigned long long kib(uint64_t b) { return (unsigned long long)((b + 1023) / 1024); }
/* Rates in kB/s (1000 bytes) keep small links readable. */
static unsigned long long kBps(uint64_t Bps) { return (unsigned long long)(Bps / 1000u); }

enum converge_next converge_round_done(struct converge *c, uint64_t sent, uint64_t ns, uint64_t dirty, char *why,
                                       size_t n)
{
    if (!ns)
        ns = 1;
    c->rounds++;
    c->sent_total += sent;
    uint64_t rate = muldiv(sent, 1000000000ull, ns);
    /* The first round (all of memory) sets the rate; later, shorter rounds
     * move it halfway, so one unlucky round does not swing the decision. */
    if (sent)
        c->link_Bps = c->link_Bps ? c->link_Bps / 2 + rate / 2 : rate;
    c->dirty_Bps = muldiv(dirty, 1000000000ull, ns);
    c->remaining = dirty;
    uint64_t down = converge_downtime_ns(c, dirty);

    if (down <= c->cfg.downtime_ns) {
        fmt_snprintf(why, n, "round %u: %llu KiB left, about %llu ms at %llu kB/s: within the %llu ms target",
                     c->rounds, kib(dirty), ms(down), kBps(c->link_Bps), ms(c->cfg.downtime_ns));
        return CONVERGE_STOP_COPY;
    }
    if (c->rounds >= c->cfg.max_rounds) {
        fmt_snprintf(why, n, "round %u is the cap: %llu KiB left, about %llu ms at %llu kB/s (target %llu ms)",
                     c->rounds, kib(dirty), down == UINT64_MAX ? 0 : ms(down), kBps(c->link_Bps),
                     ms(c->cfg.downtime_ns));
        return CONVERGE_STOP_COPY;
    }
    /* Dirtied more than half of what the round could send: at that pace
     * the rounds shrink too slowly (or grow). */
    if (dirty > sent / 2) {
        if (++c->outran >= 2) {
            unsigned t = c->throttle ? c->throttle + c->cfg.throttle_step : c->cfg.throttle_initial;
            c->throttle = t > c->cfg.throttle_max ? c->cfg.throttle_max : t;
        }
    } else {
        c->outran = 0;
    }
    fmt_snprintf(why, n,
                 "round %u: %llu KiB dirtied at %llu kB/s against %llu kB/s sent: about %llu ms, over the %llu ms "
                 "target; %s%u%%",
                 c->rounds, kib(dirty), kBps(c->dirty_Bps), kBps(c->link_Bps), down == UINT64_MAX ? 0 : ms(down),
                 ms(c->cfg.downtime_ns), "vCPU throttle ", c->throttle);
    return CONVERGE_ROUND;
}
