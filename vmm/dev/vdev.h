/* The virtual platform's common vocabulary.
 *
 * Every device model is data plus pure step functions: a state struct,
 * register access functions, and a tick function driven by virtual time.
 * Models never read a host clock, never touch host hardware, never
 * allocate and never log: time comes in as an argument (from the FT layer's
 * virtual clock), interrupts go out through irq_out callbacks, bytes leave
 * through callbacks. So the same model runs under record, replay, plain
 * execution and in host unit tests, and behaves identically in all four.
 *
 * A model must survive any guest input: every register offset and value a
 * guest can write is handled (ignored, masked or emulated), never trusted as
 * an index. */
#ifndef VMM_DEV_VDEV_H
#define VMM_DEV_VDEV_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

/* Virtual time: nanoseconds since the guest was created. */
typedef uint64_t vtime_t;
#define VTIME_NEVER UINT64_MAX

/* An interrupt request output. `irq` is the ISA IRQ number (or IOAPIC pin
 * for PCI devices); level 1 = asserted. Edge-triggered sources pulse it
 * (raise then lower); level-triggered ones hold it. The platform
 * (vmm/dev/platform.c) routes ISA IRQ n to PIC input n and to IOAPIC pin n,
 * except IRQ0, which goes to IOAPIC pin 2 (the MADT's interrupt source
 * override, as on every PC). */
typedef void (*irq_set_fn)(void *ctx, unsigned irq, int level);

struct irq_out {
    irq_set_fn set;
    void *ctx;
    unsigned irq;
};

static inline void irq_out_set(const struct irq_out *o, int level)
{
    if (o && o->set)
        o->set(o->ctx, o->irq, level);
}

static inline void irq_out_pulse(const struct irq_out *o)
{
    irq_out_set(o, 1);
    irq_out_set(o, 0);
}

/* Little-endian fields of n <= 8 bytes (guest-visible registers and
 * structures in memory). */
static inline void le_put(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t le_get(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* a * b / c with a 128-bit intermediate, saturating at UINT64_MAX. Written
 * with DIV rather than __int128 division so the hypervisor needs no libgcc
 * (whose objects assume a red zone, unsafe in interrupt-enabled code). */
static inline uint64_t muldiv64(uint64_t a, uint64_t b, uint64_t c)
{
    unsigned __int128 p = (unsigned __int128)a * b;
    uint64_t hi = (uint64_t)(p >> 64), lo = (uint64_t)p, q, r;
    if (c == 0 || hi >= c)
        return UINT64_MAX;
    __asm__("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "rm"(c));
    (void)r;
    return q;
}

/* Convert between virtual nanoseconds and ticks of a clock of hz. */
static inline uint64_t vtime_to_ticks(vtime_t ns, uint64_t hz) { return muldiv64(ns, hz, 1000000000u); }

/* Rounded up, so a deadline computed from a tick count is never early. */
static inline vtime_t ticks_to_vtime(uint64_t ticks, uint64_t hz)
{
    uint64_t ns = muldiv64(ticks, 1000000000u, hz);
    return ns != UINT64_MAX && muldiv64(ns, hz, 1000000000u) < ticks ? ns + 1 : ns;
}

#endif
