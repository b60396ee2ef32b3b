/* The virtual local APIC; see lapic.h for the model's contract and choices.
 * Section numbers refer to Intel SDM Vol. 3A, chapter "Advanced
 * Programmable Interrupt Controller (APIC)" (10.x numbering). */
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <string.h>
#include "vdev.h"
#include "lapic.h"

#define NS_PER_S 1000000000u
#define BASE_DEFAULT ((uint64_t)VLAPIC_BASE_ADDR)

#define SVR_ENABLE (1u << 8)
/* Vector, software enable, focus-checking bit (stored, no effect). EOI
 * broadcast suppression (bit 12) is not offered (version bit 24 = 0). */
#define SVR_MASK 0x3FFu

enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR };

/* Bits each LVT stores (Figure 10-8): vector, delivery mode where the
 * entry has one, polarity and trigger for LINTs, mask, timer mode.
 * Delivery status (bit 12) always reads 0: delivery is instantaneous. */
static const uint32_t lvt_store_mask[VLAPIC_LVT_N] = {
    0x000600FFu | VLAPIC_LVT_MASKED,             /* timer: vector, mode 18:17 */
    0x000007FFu | VLAPIC_LVT_MASKED,             /* thermal: vector, delivery mode */
    0x000007FFu | VLAPIC_LVT_MASKED,             /* perfmon */
    0x0000A7FFu | VLAPIC_LVT_MASKED,             /* LINT0: + polarity 13, trigger 15 */
    0x0000A7FFu | VLAPIC_LVT_MASKED,             /* LINT1 */
    0x000000FFu | VLAPIC_LVT_MASKED,             /* error */
};

/* ------------------------------------------------------- bit vectors ---- */

static inline bool vec_test(const uint32_t r[8], unsigned v) { return (r[v >> 5] >> (v & 31)) & 1; }
static inline void vec_set(uint32_t r[8], unsigned v) { r[v >> 5] |= 1u << (v & 31); }
static inline void vec_clear(uint32_t r[8], unsigned v) { r[v >> 5] &= ~(1u << (v & 31)); }

static int vec_highest(const uint32_t r[8])
{
    for (int i = 7; i >= 0; i--)
        if (r[i])
            return i * 32 + 31 - __builtin_clz(r[i]);
    return -1;
}

/* ------------------------------------------------------------ state ---- */

bool vlapic_hw_enabled(const struct vlapic *l) { return (l->apic_base & VLAPIC_BASE_EN) != 0; }
bool vlapic_x2apic_mode(const struct vlapic *l)
{
    return (l->apic_base & (VLAPIC_BASE_EN | VLAPIC_BASE_EXTD)) == (VLAPIC_BASE_EN | VLAPIC_BASE_EXTD);
}
bool vlapic_sw_enabled(const struct vlapic *l) { return (l->svr & SVR_ENABLE) != 0; }

/* Register state after power-up or RESET (10.4.7.1, 10.12.5.1): IRR, ISR,
 * TMR, ICR, LDR, TPR, divide configuration, initial and current count
 * zero; DFR all ones; LVTs masked; SVR 0xFF (software-disabled). Leaves
 * IA32_APIC_BASE, configuration, callbacks, statistics and the external
 * LINT input levels alone. */
static void reset_regs(struct vlapic *l)
{
    l->tpr = 0;
    l->ldr = 0;
    l->dfr = 0xFFFFFFFFu;
    l->svr = 0xFFu;
    memset(l->isr, 0, sizeof(l->isr));
    memset(l->tmr, 0, sizeof(l->tmr));
    memset(l->irr, 0, sizeof(l->irr));
    l->esr = 0;
    l->esr_pending = 0;
    l->esr_armed = true;
    l->icr = 0;
    for (int i = 0; i < VLAPIC_LVT_N; i++)
        l->lvt[i] = VLAPIC_LVT_MASKED;
    l->tmict = 0;
    l->tdcr = 0;
    l->tsc_deadline = 0;
    l->timer_armed = false;
    l->timer_start = l->timer_first = l->timer_next = 0;
}

void vlapic_init(struct vlapic *l, uint64_t bus_hz, uint64_t tsc_hz, const struct vlapic_cb *cb)
{
    memset(l, 0, sizeof(*l));
    l->bus_hz = bus_hz;
    l->tsc_hz = tsc_hz;
    if (cb)
        l->cb = *cb;
    vlapic_reset(l);
}

void vlapic_reset(struct vlapic *l)
{
    /* Out of reset the APIC is enabled in xAPIC mode at the default base;
     * the BSP flag is set on the (only) bootstrap processor (10.4.4). */
    l->apic_base = BASE_DEFAULT | VLAPIC_BASE_EN | VLAPIC_BASE_BSP;
    reset_regs(l);
}

void vlapic_virtual_wire(struct vlapic *l)
{
    if (!vlapic_hw_enabled(l))
        return;
    l->svr = SVR_ENABLE | 0xFFu;
    l->lvt[LVT_LINT0] = VLAPIC_DM_EXTINT << 8;
    l->lvt[LVT_LINT1] = VLAPIC_DM_NMI << 8;
}

/* -------------------------------------------------- priority, delivery -- */

/* 10.8.3.1: PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4]:0. */
uint32_t vlapic_ppr(const struct vlapic *l)
{
    int isrv = vec_highest(l->isr);
    uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xF0u;
    if ((l->tpr & 0xF0u) >= isr_class)
        return l->tpr & 0xFFu;
    return isr_class;
}

static void signal_error(struct vlapic *l, uint32_t bits);

/* Accept a fixed interrupt into IRR (10.8.4: TMR cleared for edge, set for
 * level). Returns whether it was accepted. */
static bool accept(struct vlapic *l, unsigned vector, bool level)
{
    if (!vlapic_hw_enabled(l) || !vlapic_sw_enabled(l)) {
        /* Absent, or software-disabled: only INIT/NMI/SMI/SIPI are
         * answered (10.4.7.2). */
        l->stats.irq_dropped++;
        return false;
    }
    if (vector < 16) {
        /* 10.5.2: vectors 0-15 are illegal and are logged, not accepted. */
        signal_error(l, VLAPIC_ESR_RECV_ILLEGAL);
        return false;
    }
    vec_set(l->irr, vector);
    if (level)
        vec_set(l->tmr, vector);
    else
        vec_clear(l->tmr, vector);
    return true;
}

/* 10.5.3: errors accumulate until the next ESR write; the error interrupt
 * fires once and is re-armed by that write. The guard also bounds the
 * recursion when the error LVT itself holds an illegal vector. */
static void signal_error(struct vlapic *l, uint32_t bits)
{
    l->esr_pending |= bits;
    if (!l->esr_armed)
        return;
    l->esr_armed = false;
    uint32_t lvt = l->lvt[LVT_ERROR];
    if (!(lvt & VLAPIC_LVT_MASKED))
        accept(l, lvt & 0xFFu, false);
}

static void deliver_nmi(struct vlapic *l)
{
    if (l->cb.nmi)
        l->cb.nmi(l->cb.ctx);
}

void vlapic_set_irq(struct vlapic *l, uint8_t vector, bool level)
{
    accept(l, vector, level);
}

int vlapic_pending_vector(const struct vlapic *l)
{
    if (!vlapic_hw_enabled(l))
        return -1;
    int v = vec_highest(l->irr);
    if (v < 0)
        return -1;
    /* 10.8.3.1: only a priority class above the processor's is delivered. */
    if (((uint32_t)v & 0xF0u) <= (vlapic_ppr(l) & 0xF0u))
        return -1;
    return v;
}

void vlapic_ack(struct vlapic *l, uint8_t vector)
{
    if (!vec_test(l->irr, vector)) {
        l->stats.spurious_ack++;
        return;
    }
    vec_clear(l->irr, vector);
    vec_set(l->isr, vector);
}

uint8_t vlapic_cr8_read(const struct vlapic *l) { return (uint8_t)((l->tpr >> 4) & 0xFu); }
void vlapic_cr8_write(struct vlapic *l, uint8_t cr8) { l->tpr = ((uint32_t)cr8 & 0xFu) << 4; }

/* ------------------------------------------------------------ LINT ---- */

/* Evaluate LINTn after its level or LVT changed; `was` is the previous
 * level (equal to the current one when only the LVT changed). */
static void lint_eval(struct vlapic *l, int pin, int was)
{
    uint32_t *lvt = &l->lvt[LVT_LINT0 + pin];
    int cur = l->lint_level[pin];
    bool rising = !was && cur;
    if (*lvt & VLAPIC_LVT_MASKED)
        return;
    switch ((*lvt >> 8) & 7u) {
    case VLAPIC_DM_FIXED:
        /* 10.5.1: trigger mode applies to fixed delivery only, and LINT1
         * does not support level-sensitive interrupts. Remote IRR is set
         * when a level interrupt is accepted and cleared by its EOI. */
        if (pin == 0 && (*lvt & VLAPIC_LVT_LEVEL)) {
            if (cur && !(*lvt & VLAPIC_LVT_REMOTE_IRR) && accept(l, *lvt & 0xFFu, true))
                *lvt |= VLAPIC_LVT_REMOTE_IRR;
        } else if (rising) {
            accept(l, *lvt & 0xFFu, false);
        }
        break;
    case VLAPIC_DM_NMI:
        if (rising)
            deliver_nmi(l);
        break;
    case VLAPIC_DM_EXTINT:
        break; /* polled through vlapic_extint_pending */
    default:
        if (rising)
            l->stats.lint_ignored++;
        break;
    }
}

void vlapic_set_lint(struct vlapic *l, int pin, int level)
{
    if (pin != 0 && pin != 1) {
        l->stats.lint_ignored++;
        return;
    }
    int was = l->lint_level[pin];
    l->lint_level[pin] = level ? 1 : 0;
    if (!vlapic_hw_enabled(l)) {
        /* 10.4.3: without an APIC, LINT0 is INTR (see extint_routed) and
         * LINT1 is NMI. */
        if (pin == 1 && !was && level)
            deliver_nmi(l);
        return;
    }
    lint_eval(l, pin, was);
}

bool vlapic_extint_routed(const struct vlapic *l)
{
    if (!vlapic_hw_enabled(l))
        return true;
    uint32_t lvt = l->lvt[LVT_LINT0];
    return !(lvt & VLAPIC_LVT_MASKED) && ((lvt >> 8) & 7u) == VLAPIC_DM_EXTINT;
}

bool vlapic_extint_pending(const struct vlapic *l) { return l->lint_level[0] && vlapic_extint_routed(l); }

/* ------------------------------------------------------------- EOI ---- */

/* 10.8.5: EOI retires the highest-priority in-service vector; for a
 * level-triggered one (TMR set) the EOI is broadcast to the I/O APIC. */
static void do_eoi(struct vlapic *l)
{
    int v = vec_highest(l->isr);
    if (v < 0)
        return;
    vec_clear(l->isr, (unsigned)v);
    if (!vec_test(l->tmr, (unsigned)v))
        return;
    for (int pin = 0; pin < 2; pin++) {
        uint32_t *lvt = &l->lvt[LVT_LINT0 + pin];
        if ((*lvt & VLAPIC_LVT_REMOTE_IRR) && (*lvt & 0xFFu) == (uint32_t)v) {
            *lvt &= ~VLAPIC_LVT_REMOTE_IRR;
            lint_eval(l, pin, l->lint_level[pin]); /* still asserted: again */
        }
    }
    if (l->cb.eoi)
        l->cb.eoi(l->cb.ctx, (uint8_t)v);
}

/* ------------------------------------------------------------ timer ---- */

static unsigned timer_mode(const struct vlapic *l) { return (l->lvt[LVT_TIMER] >> 17) & 3u; }
#define MODE_PERIODIC 1u
#define MODE_TSCDL 2u

/* Figure 10-10: DCR bits 3,1:0 = 000 -> /2 ... 110 -> /128, 111 -> /1. */
static unsigned timer_shift(const struct vlapic *l)
{
    unsigned code = (l->tdcr & 3u) | ((l->tdcr >> 1) & 4u);
    return (code + 1) & 7u;
}

static uint64_t bus_cycles(const struct vlapic *l, vtime_t now) { return muldiv64(now, l->bus_hz, NS_PER_S); }

/* Timer ticks since the countdown started. */
static uint64_t timer_ticks(const struct vlapic *l, vtime_t now)
{
    uint64_t c = bus_cycles(l, now);
    return c <= l->timer_start ? 0 : (c - l->timer_start) >> timer_shift(l);
}

/* The virtual time at which `tick` ticks have elapsed (rounded up, so the
 * count is really there at that time). */
static vtime_t timer_tick_time(const struct vlapic *l, uint64_t tick)
{
    unsigned sh = timer_shift(l);
    if (tick > (UINT64_MAX >> sh))
        return VTIME_NEVER;
    uint64_t cyc = tick << sh;
    if (cyc > UINT64_MAX - l->timer_start)
        return VTIME_NEVER;
    return ticks_to_vtime(l->timer_start + cyc, l->bus_hz);
}

static uint64_t vtsc(const struct vlapic *l, vtime_t now) { return muldiv64(now, l->tsc_hz, NS_PER_S); }

static void timer_fire(struct vlapic *l)
{
    uint32_t lvt = l->lvt[LVT_TIMER];
    /* 10.5.1: a masked timer counts but raises nothing. */
    if (!(lvt & VLAPIC_LVT_MASKED))
        accept(l, lvt & 0xFFu, false);
}

/* Bring the timer up to `now`: raise at most one interrupt for the
 * expiries due (see lapic.h on late periodic timers). */
static void timer_update(struct vlapic *l, vtime_t now)
{
    if (timer_mode(l) == MODE_TSCDL) {
        /* 10.5.4.1: fires when the TSC reaches the deadline, then disarms
         * itself by clearing IA32_TSC_DEADLINE. */
        if (l->tsc_deadline && vtsc(l, now) >= l->tsc_deadline) {
            l->tsc_deadline = 0;
            timer_fire(l);
        }
        return;
    }
    if (!l->timer_armed)
        return;
    uint64_t t = timer_ticks(l, now);
    if (t < l->timer_next)
        return;
    if (timer_mode(l) == MODE_PERIODIC && l->tmict) {
        /* 10.5.4: periodic mode reloads the initial count at zero. The next
         * expiry is the first grid point after t. */
        uint64_t k = (t - l->timer_first) / l->tmict + 1;
        uint64_t next = l->timer_first + k * l->tmict;
        l->timer_next = next < t ? UINT64_MAX : next;
    } else {
        /* One-shot: stays at zero until reprogrammed. */
        l->timer_armed = false;
    }
    timer_fire(l);
}

vtime_t vlapic_next_deadline(const struct vlapic *l)
{
    if (!vlapic_hw_enabled(l) || (l->lvt[LVT_TIMER] & VLAPIC_LVT_MASKED))
        return VTIME_NEVER;
    if (timer_mode(l) == MODE_TSCDL)
        return l->tsc_deadline ? ticks_to_vtime(l->tsc_deadline, l->tsc_hz) : VTIME_NEVER;
    if (!l->timer_armed)
        return VTIME_NEVER;
    return timer_tick_time(l, l->timer_next);
}

vtime_t vlapic_tick(struct vlapic *l, vtime_t now)
{
    timer_update(l, now);
    return vlapic_next_deadline(l);
}

static void timer_start_count(struct vlapic *l, uint64_t count, vtime_t now)
{
    l->timer_armed = true;
    l->timer_start = bus_cycles(l, now);
    l->timer_first = l->timer_next = count;
}

/* Initial-count write (10.5.4): copies into the current count and starts
 * counting; 0 stops the timer. Ignored in TSC-deadline mode. */
static void write_tmict(struct vlapic *l, uint32_t v, vtime_t now)
{
    if (timer_mode(l) == MODE_TSCDL)
        return;
    l->tmict = v;
    if (v == 0)
        l->timer_armed = false;
    else
        timer_start_count(l, v, now);
}

static uint32_t read_tmccr(struct vlapic *l, vtime_t now)
{
    /* 10.5.4.1: the current count reads 0 in TSC-deadline mode. */
    if (timer_mode(l) == MODE_TSCDL || !l->timer_armed)
        return 0;
    uint64_t t = timer_ticks(l, now);
    uint64_t rem = t < l->timer_next ? l->timer_next - t : 0;
    return rem > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)rem;
}

static void write_tdcr(struct vlapic *l, uint32_t v, vtime_t now)
{
    uint32_t rem = read_tmccr(l, now);
    l->tdcr = v & 0xBu;
    /* The SDM does not say what a divider change does mid-count: carry on
     * from the current count at the new rate. */
    if (timer_mode(l) != MODE_TSCDL && l->timer_armed && rem)
        timer_start_count(l, rem, now);
}

uint64_t vlapic_tsc_deadline_read(struct vlapic *l, vtime_t now)
{
    timer_update(l, now);
    /* 10.5.4.1: reads zero outside TSC-deadline mode. */
    return timer_mode(l) == MODE_TSCDL ? l->tsc_deadline : 0;
}

void vlapic_tsc_deadline_write(struct vlapic *l, uint64_t val, vtime_t now)
{
    timer_update(l, now);
    /* Writes are ignored outside TSC-deadline mode; 0 disarms; a deadline
     * already passed fires at once (10.5.4.1). */
    if (timer_mode(l) != MODE_TSCDL)
        return;
    l->tsc_deadline = val;
    timer_update(l, now);
}

/* ------------------------------------------------------------- LVTs ---- */

static void write_lvt(struct vlapic *l, int i, uint32_t v)
{
    uint32_t old = l->lvt[i];
    uint32_t nv = v & lvt_store_mask[i];
    /* 10.4.7.2: while software-disabled the mask bits stay set. */
    if (!vlapic_sw_enabled(l))
        nv |= VLAPIC_LVT_MASKED;
    if (i == LVT_LINT0 || i == LVT_LINT1)
        nv |= old & VLAPIC_LVT_REMOTE_IRR; /* read-only */
    if (i == LVT_TIMER) {
        bool was_dl = ((old >> 17) & 3u) == MODE_TSCDL;
        bool is_dl = ((nv >> 17) & 3u) == MODE_TSCDL;
        /* 10.5.4.1: transitions between TSC-deadline and the other modes
         * disarm the timer. Between one-shot and periodic the countdown
         * continues (a mode change alone does not start the timer). */
        if (was_dl != is_dl) {
            l->timer_armed = false;
            l->tmict = 0;
            l->tsc_deadline = 0;
        }
    }
    l->lvt[i] = nv;
    if (i == LVT_LINT0 || i == LVT_LINT1)
        lint_eval(l, i - LVT_LINT0, l->lint_level[i - LVT_LINT0]); /* level input on unmask */
}

static void write_svr(struct vlapic *l, uint32_t v)
{
    l->svr = v & SVR_MASK;
    if (!(l->svr & SVR_ENABLE)) {
        /* 10.4.7.2: software-disabling sets every LVT mask bit. */
        for (int i = 0; i < VLAPIC_LVT_N; i++)
            l->lvt[i] |= VLAPIC_LVT_MASKED;
    }
}

/* ------------------------------------------------------------- IPIs ---- */

/* 10.6.2 (xAPIC) and 10.12.10 (x2APIC): does `dest` address this APIC? */
static bool dest_is_me(const struct vlapic *l, uint32_t dest, bool logical)
{
    if (vlapic_x2apic_mode(l)) {
        if (dest == 0xFFFFFFFFu)
            return true; /* broadcast */
        if (!logical)
            return dest == 0; /* x2APIC ID 0 */
        /* Logical: cluster in 31:16, member bitmap in 15:0. */
        return (dest >> 16) == (l->ldr >> 16) && (dest & l->ldr & 0xFFFFu);
    }
    uint32_t d = dest & 0xFFu, ldr = l->ldr >> 24;
    if (d == 0xFFu)
        return true;
    if (!logical)
        return d == 0; /* APIC ID 0 */
    if ((l->dfr >> 28) == 0) /* cluster model: cluster 7:4, members 3:0 */
        return (d >> 4) == (ldr >> 4) && (d & ldr & 0xFu);
    return (d & ldr) != 0; /* flat model (any other DFR model value too) */
}

/* Send the IPI described by ICR low `lo` to `dest` (10.6.1). */
static void send_ipi(struct vlapic *l, uint32_t lo, uint32_t dest)
{
    unsigned vector = lo & 0xFFu, dm = (lo >> 8) & 7u, shorthand = (lo >> 18) & 3u;
    bool me;
    if ((dm == VLAPIC_DM_FIXED || dm == VLAPIC_DM_LOWPRI) && vector < 16) {
        signal_error(l, VLAPIC_ESR_SEND_ILLEGAL); /* 10.5.2 */
        return;
    }
    switch (shorthand) {
    case 0: me = dest_is_me(l, dest, (lo >> 11) & 1u); break;
    case 1: /* self */
    case 2: me = true; break; /* all including self */
    default: me = false; break; /* all excluding self: nobody else here */
    }
    if (!me) {
        l->stats.ipi_ignored++;
        return;
    }
    switch (dm) {
    case VLAPIC_DM_FIXED:
    case VLAPIC_DM_LOWPRI: /* the lowest-priority CPU of a set of one */
        accept(l, vector, false); /* IPIs are edge (ICR trigger bit, 10.6.1) */
        break;
    case VLAPIC_DM_NMI:
        deliver_nmi(l);
        break;
    default: /* SMI, INIT, SIPI, reserved */
        l->stats.ipi_ignored++;
        break;
    }
}

/* ------------------------------------------------ register file access -- */

enum { REG_OK, REG_RESERVED, REG_WRITE_ONLY, REG_READ_ONLY };

/* Read a register by its xAPIC offset; shared by MMIO and MSR paths. */
static int reg_read(struct vlapic *l, uint32_t off, vtime_t now, uint32_t *out)
{
    *out = 0;
    if (off >= VLAPIC_ISR && off < VLAPIC_ISR + 0x80) {
        *out = l->isr[(off - VLAPIC_ISR) >> 4];
        return REG_OK;
    }
    if (off >= VLAPIC_TMR && off < VLAPIC_TMR + 0x80) {
        *out = l->tmr[(off - VLAPIC_TMR) >> 4];
        return REG_OK;
    }
    if (off >= VLAPIC_IRR && off < VLAPIC_IRR + 0x80) {
        *out = l->irr[(off - VLAPIC_IRR) >> 4];
        return REG_OK;
    }
    switch (off) {
    case VLAPIC_ID: *out = 0; return REG_OK; /* ID 0 in bits 31:24 */
    case VLAPIC_VERSION: *out = VLAPIC_VERSION_VALUE; return REG_OK;
    case VLAPIC_TPR: *out = l->tpr; return REG_OK;
    case VLAPIC_APR: *out = 0; return REG_OK; /* arbitration: unused on one CPU */
    case VLAPIC_PPR: *out = vlapic_ppr(l); return REG_OK;
    case VLAPIC_EOI: return REG_WRITE_ONLY;
    case VLAPIC_RRD: *out = 0; return REG_OK;
    case VLAPIC_LDR: *out = l->ldr; return REG_OK;
    case VLAPIC_DFR: *out = l->dfr; return REG_OK;
    case VLAPIC_SVR: *out = l->svr; return REG_OK;
    case VLAPIC_ESR: *out = l->esr; return REG_OK;
    case VLAPIC_ICR_LO: *out = (uint32_t)l->icr; return REG_OK; /* delivery status: idle */
    case VLAPIC_ICR_HI: *out = (uint32_t)(l->icr >> 32); return REG_OK;
    case VLAPIC_LVT_TIMER: case VLAPIC_LVT_THERMAL: case VLAPIC_LVT_PERF:
    case VLAPIC_LVT_LINT0: case VLAPIC_LVT_LINT1: case VLAPIC_LVT_ERROR:
        *out = l->lvt[(off - VLAPIC_LVT_TIMER) >> 4];
        return REG_OK;
    case VLAPIC_TIMER_ICR: *out = l->tmict; return REG_OK;
    case VLAPIC_TIMER_CCR: *out = read_tmccr(l, now); return REG_OK;
    case VLAPIC_TIMER_DCR: *out = l->tdcr; return REG_OK;
    case VLAPIC_SELF_IPI: return vlapic_x2apic_mode(l) ? REG_WRITE_ONLY : REG_RESERVED;
    default: return REG_RESERVED;
    }
}

static int reg_write(struct vlapic *l, uint32_t off, uint32_t v, vtime_t now)
{
    if (off >= VLAPIC_ISR && off < VLAPIC_IRR + 0x80)
        return REG_READ_ONLY;
    switch (off) {
    case VLAPIC_ID:
    case VLAPIC_VERSION:
    case VLAPIC_APR:
    case VLAPIC_PPR:
    case VLAPIC_RRD:
    case VLAPIC_TIMER_CCR:
        return REG_READ_ONLY;
    case VLAPIC_TPR: l->tpr = v & 0xFFu; return REG_OK;
    case VLAPIC_EOI: do_eoi(l); return REG_OK;
    case VLAPIC_LDR:
        if (vlapic_x2apic_mode(l))
            return REG_READ_ONLY; /* 10.12.10.2: derived from the x2APIC ID */
        l->ldr = v & 0xFF000000u;
        return REG_OK;
    case VLAPIC_DFR: l->dfr = (v & 0xF0000000u) | 0x0FFFFFFFu; return REG_OK;
    case VLAPIC_SVR: write_svr(l, v); return REG_OK;
    case VLAPIC_ESR:
        /* 10.5.3: the write latches the errors since the last write. */
        l->esr = l->esr_pending;
        l->esr_pending = 0;
        l->esr_armed = true;
        return REG_OK;
    case VLAPIC_ICR_LO:
        l->icr = (l->icr & 0xFFFFFFFF00000000ull) | (v & 0x000CCFFFu);
        send_ipi(l, (uint32_t)l->icr, (uint32_t)(l->icr >> 56));
        return REG_OK;
    case VLAPIC_ICR_HI: l->icr = (l->icr & 0xFFFFFFFFull) | ((uint64_t)(v & 0xFF000000u) << 32); return REG_OK;
    case VLAPIC_LVT_TIMER: case VLAPIC_LVT_THERMAL: case VLAPIC_LVT_PERF:
    case VLAPIC_LVT_LINT0: case VLAPIC_LVT_LINT1: case VLAPIC_LVT_ERROR:
        write_lvt(l, (int)((off - VLAPIC_LVT_TIMER) >> 4), v);
        return REG_OK;
    case VLAPIC_TIMER_ICR: write_tmict(l, v, now); return REG_OK;
    case VLAPIC_TIMER_DCR: write_tdcr(l, v, now); return REG_OK;
    case VLAPIC_SELF_IPI:
        if (!vlapic_x2apic_mode(l))
            return REG_RESERVED;
        send_ipi(l, (v & 0xFFu) | (1u << 18), 0); /* 10.12.11: fixed, edge, self */
        return REG_OK;
    default: return REG_RESERVED;
    }
}

/* ------------------------------------------------------------- MMIO ---- */

static bool mmio_decoded(struct vlapic *l, uint32_t offset)
{
    /* Hardware-disabled or in x2APIC mode the page is not decoded (10.4.3,
     * 10.12.2); registers are 32 bits at 16-byte boundaries (10.4.1). */
    if (!vlapic_hw_enabled(l) || vlapic_x2apic_mode(l) || offset >= VLAPIC_MMIO_SIZE || (offset & 0xFu)) {
        l->stats.bad_mmio++;
        return false;
    }
    return true;
}

uint32_t vlapic_mmio_read(struct vlapic *l, uint32_t offset, vtime_t now)
{
    if (!vlapic_hw_enabled(l) || vlapic_x2apic_mode(l)) {
        l->stats.bad_mmio++;
        return 0xFFFFFFFFu;
    }
    if (!mmio_decoded(l, offset))
        return 0;
    timer_update(l, now);
    uint32_t v;
    int r = reg_read(l, offset, now, &v);
    if (r == REG_RESERVED) {
        l->stats.reserved_reg++;
        signal_error(l, VLAPIC_ESR_ILLEGAL_REG); /* 10.5.3 */
    }
    return r == REG_OK ? v : 0;
}

void vlapic_mmio_write(struct vlapic *l, uint32_t offset, uint32_t value, vtime_t now)
{
    if (!mmio_decoded(l, offset))
        return;
    timer_update(l, now);
    if (reg_write(l, offset, value, now) == REG_RESERVED) {
        l->stats.reserved_reg++;
        signal_error(l, VLAPIC_ESR_ILLEGAL_REG);
    }
}

void vlapic_mmio_bad_access(struct vlapic *l) { l->stats.bad_mmio++; }

/* -------------------------------------------------------------- MSRs ---- */

/* x2APIC registers (Table 10-6): the MSR is 0x800 + offset / 16, except
 * the ones without an MSR (APR, RRD, DFR, ICR high; 10.12.1.2). */
static bool x2_exists(uint32_t off)
{
    switch (off) {
    case VLAPIC_APR: case VLAPIC_RRD: case VLAPIC_DFR: case VLAPIC_ICR_HI:
        return false;
    default:
        return true;
    }
}

/* Bits a WRMSR may set without #GP (10.12.1.3: non-zero reserved bits
 * fault). Read-only status bits are not reserved: they are ignored. */
static uint32_t x2_writable_bits(uint32_t off)
{
    switch (off) {
    case VLAPIC_TPR: return 0xFFu;
    case VLAPIC_EOI: return 0; /* Table 10-6: non-zero EOI write faults */
    case VLAPIC_ESR: return 0; /* 10.5.3: only zero in x2APIC mode */
    case VLAPIC_SVR: return SVR_MASK;
    case VLAPIC_LVT_TIMER: return 0x000710FFu;
    case VLAPIC_LVT_THERMAL: case VLAPIC_LVT_PERF: return 0x000117FFu;
    case VLAPIC_LVT_LINT0: case VLAPIC_LVT_LINT1: return 0x0001F7FFu;
    case VLAPIC_LVT_ERROR: return 0x000110FFu;
    case VLAPIC_TIMER_ICR: return 0xFFFFFFFFu;
    case VLAPIC_TIMER_DCR: return 0xBu;
    case VLAPIC_SELF_IPI: return 0xFFu;
    default: return 0xFFFFFFFFu; /* read-only ones fault anyway */
    }
}

static int msr_gp(struct vlapic *l)
{
    l->stats.msr_gp++;
    return VLAPIC_GP;
}

int vlapic_msr_read(struct vlapic *l, uint32_t msr, uint64_t *val, vtime_t now)
{
    *val = 0;
    /* 10.12.2: the MSR interface exists only in x2APIC mode. */
    if (msr < VLAPIC_MSR_X2APIC_FIRST || msr > VLAPIC_MSR_X2APIC_LAST || !vlapic_x2apic_mode(l))
        return msr_gp(l);
    uint32_t off = (msr - VLAPIC_MSR_X2APIC_FIRST) << 4;
    if (!x2_exists(off))
        return msr_gp(l);
    timer_update(l, now);
    if (off == VLAPIC_ICR_LO) { /* one 64-bit register (10.12.9) */
        *val = l->icr;
        return VLAPIC_OK;
    }
    uint32_t v;
    if (reg_read(l, off, now, &v) != REG_OK) /* reserved, or EOI / SELF IPI */
        return msr_gp(l);
    if (off == VLAPIC_ID)
        v = 0; /* 32-bit x2APIC ID */
    *val = v;
    return VLAPIC_OK;
}

int vlapic_msr_write(struct vlapic *l, uint32_t msr, uint64_t val, vtime_t now)
{
    if (msr < VLAPIC_MSR_X2APIC_FIRST || msr > VLAPIC_MSR_X2APIC_LAST || !vlapic_x2apic_mode(l))
        return msr_gp(l);
    uint32_t off = (msr - VLAPIC_MSR_X2APIC_FIRST) << 4;
    if (!x2_exists(off))
        return msr_gp(l);
    if (off == VLAPIC_ICR_LO) {
        /* Low half as in xAPIC minus delivery status; 32-bit destination. */
        if ((uint32_t)val & ~0x000CCFFFu)
            return msr_gp(l);
        timer_update(l, now);
        l->icr = val;
        send_ipi(l, (uint32_t)val, (uint32_t)(val >> 32));
        return VLAPIC_OK;
    }
    /* Upper halves of 32-bit registers are reserved (10.12.1.2). */
    if ((val >> 32) || ((uint32_t)val & ~x2_writable_bits(off)))
        return msr_gp(l);
    /* Reserved registers fault before any side effect (reg_read is pure
     * apart from the output); read-only ones fault in reg_write, which
     * changes nothing for them. */
    uint32_t unused;
    if (reg_read(l, off, now, &unused) == REG_RESERVED)
        return msr_gp(l);
    timer_update(l, now);
    if (reg_write(l, off, (uint32_t)val, now) != REG_OK)
        return msr_gp(l);
    return VLAPIC_OK;
}

/* --------------------------------------------------------- APIC base ---- */

uint64_t vlapic_base_read(const struct vlapic *l) { return l->apic_base; }

/* 10.4.4 and 10.12.5 (Figure 10-27): the valid IA32_APIC_BASE transitions
 * are disabled <-> xAPIC, xAPIC -> x2APIC and x2APIC -> disabled; EN=0 with
 * EXTD=1 is invalid, and so are x2APIC -> xAPIC and disabled -> x2APIC. */
int vlapic_base_write(struct vlapic *l, uint64_t val, vtime_t now)
{
    /* Bits 7:0 and 9 are reserved; the BSP flag (8) is not writable. */
    if (val & 0x2FFull)
        return msr_gp(l);
    if ((val & ~0xFFFull) != BASE_DEFAULT) {
        l->stats.msr_gp++;
        return VLAPIC_GP_RELOCATE;
    }
    bool en = val & VLAPIC_BASE_EN, extd = val & VLAPIC_BASE_EXTD;
    bool old_en = vlapic_hw_enabled(l), old_x2 = vlapic_x2apic_mode(l);
    if (!en && extd)
        return msr_gp(l);
    if (old_x2 && en && !extd)
        return msr_gp(l);
    if (!old_en && en && extd)
        return msr_gp(l);

    timer_update(l, now);
    uint64_t keep = l->apic_base & VLAPIC_BASE_BSP;
    if (!en) {
        /* 10.4.3: disabling may lose all APIC state; we always return to
         * the power-up register state, as if absent. */
        if (old_en)
            reset_regs(l);
        l->apic_base = BASE_DEFAULT | keep;
        return VLAPIC_OK;
    }
    if (extd && !old_x2) {
        /* 10.12.5.1: entering x2APIC mode keeps the register state and
         * initialises the LDR from the x2APIC ID (10.12.10.2): ID 0 gives
         * cluster 0, member bit 0. */
        l->ldr = 1;
    }
    l->apic_base = BASE_DEFAULT | keep | VLAPIC_BASE_EN | (extd ? VLAPIC_BASE_EXTD : 0);
    return VLAPIC_OK;
}
