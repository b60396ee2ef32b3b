/* The guest's virtual local APIC: one CPU, APIC ID 0, xAPIC and x2APIC.
 *
 * Written from the Intel SDM Vol. 3A chapter "Advanced Programmable
 * Interrupt Controller (APIC)" (section numbers below are those of the
 * 10.x edition of that chapter). A pure state machine under the rules of
 * vdev.h: every entry point that depends on time takes `now`; interrupts
 * leave through the callbacks in struct vlapic_cb; nothing else.
 *
 * How the integrator wires it:
 *   - MMIO at VLAPIC_BASE_ADDR (one 4 KiB page): 32-bit accesses go to
 *     vlapic_mmio_read/write; accesses of any other size to
 *     vlapic_mmio_bad_access (they read 0 and are dropped, counted).
 *   - MSRs: IA32_APIC_BASE (0x1B) to vlapic_base_read/write; 0x800-0x8FF to
 *     vlapic_msr_read/write; IA32_TSC_DEADLINE (0x6E0) to
 *     vlapic_tsc_deadline_read/write. A negative return value means "inject
 *     #GP(0)" (VLAPIC_GP_RELOCATE additionally means "the guest tried to
 *     move the APIC page", worth a log line).
 *   - The IOAPIC's deliver callback calls vlapic_set_irq; cb.eoi goes to
 *     vioapic_eoi (level-triggered EOIs are broadcast to the I/O APIC,
 *     10.8.5); cb.nmi injects an NMI.
 *   - The 8259 PIC's INTR output drives vlapic_set_lint(l, 0, level).
 *   - Before injecting: if vlapic_extint_pending() is true, take the vector
 *     from the PIC (INTA) and inject it (ExtINT bypasses IRR/ISR/PPR,
 *     10.5.1); otherwise if vlapic_pending_vector() >= 0 and the guest can
 *     take an interrupt, inject that vector and call vlapic_ack().
 *   - Timer: call vlapic_tick(now) when the deadline it last returned is
 *     reached and after every call into the model (any register write can
 *     move the deadline; vlapic_next_deadline gives it without side
 *     effects). Call vlapic_tick before vlapic_pending_vector so timer
 *     interrupts due are in IRR.
 *   - CPUID: the guest must be told the timer's input clock (bus_hz, leaf
 *     0x15), TSC-deadline support (leaf 1 ECX[24]) and x2APIC support (leaf
 *     1 ECX[21]); leaf 1 EDX[9] (APIC present) follows vlapic_hw_enabled
 *     (10.4.3: clearing IA32_APIC_BASE[11] also clears the CPUID flag).
 *   - Firmware-less boot: a PC BIOS leaves the APIC in virtual-wire mode
 *     (LINT0 ExtINT, LINT1 NMI, software-enabled); vlapic_virtual_wire does
 *     the same for guests started without firmware.
 *
 * Choices and limitations (all deliberate, see lapic.c for the sections):
 *   - One CPU: IPIs are delivered only when their destination includes
 *     this APIC. Fixed / lowest-priority to self set IRR (edge), NMI to self
 *     calls cb.nmi; INIT, SIPI, SMI, reserved delivery modes and IPIs to
 *     other CPUs are counted in stats.ipi_ignored and otherwise ignored.
 *   - The APIC page cannot move: a write to IA32_APIC_BASE with another
 *     base returns VLAPIC_GP_RELOCATE and changes nothing.
 *   - The xAPIC ID register is read-only (reads 0).
 *   - No CMCI LVT (max LVT entry 5: timer, thermal, perfmon, LINT0, LINT1,
 *     error), no EOI-broadcast suppression, no focus-processor checking;
 *     thermal and perfmon LVTs are registers only (nothing raises them).
 *   - While the APIC is hardware-disabled (IA32_APIC_BASE[11] = 0) or in
 *     x2APIC mode, MMIO reads return all-ones and writes are dropped: the
 *     page is not decoded, like an absent APIC (10.4.3, 10.12.2).
 *     Hardware-disabled, LINT0 is the CPU's INTR (the PIC passes straight
 *     through) and LINT1 its NMI pin.
 *   - Fixed interrupts arriving while the APIC is software-disabled are
 *     dropped (counted); IRR/ISR contents are held and still delivered
 *     (10.4.7.2).
 *   - LINT inputs are logical levels (1 = asserted); the polarity bit is
 *     stored but not applied to these virtual wires.
 *   - Periodic timer: when tick() finds one or more periods elapsed it
 *     raises one interrupt and the next deadline is the next period
 *     boundary after `now` on the original grid (no catch-up storm, no
 *     drift). A divide-configuration change while counting restarts the
 *     countdown at the current count with the new divider (loses < 1 tick).
 *   - A masked timer keeps counting but tick()/next_deadline() report
 *     VTIME_NEVER for it: its state catches up at the next access.
 *   - Reserved timer mode 11b counts like one-shot. Switching into or out
 *     of TSC-deadline mode disarms the timer and zeroes the initial count
 *     and IA32_TSC_DEADLINE (10.5.4.1).
 *
 * Snapshots: struct vlapic holds all state; the only pointers are the
 * callbacks and their context in `cb` (re-set them after restoring). */
#ifndef VMM_DEV_LAPIC_H
#define VMM_DEV_LAPIC_H

#include "vdev.h"

#define VLAPIC_BASE_ADDR 0xFEE00000u
#define VLAPIC_MMIO_SIZE 0x1000u

/* MSR numbers the integrator routes here. */
#define VLAPIC_MSR_APIC_BASE   0x1Bu
#define VLAPIC_MSR_TSC_DEADLINE 0x6E0u
#define VLAPIC_MSR_X2APIC_FIRST 0x800u
#define VLAPIC_MSR_X2APIC_LAST  0x8FFu

/* Return values of the MSR accessors. */
#define VLAPIC_OK          0
#define VLAPIC_GP          (-1) /* inject #GP(0) */
#define VLAPIC_GP_RELOCATE (-2) /* inject #GP(0): attempt to move the APIC base */

/* IA32_APIC_BASE bits (SDM 10.4.4, Figure 10-5). */
#define VLAPIC_BASE_BSP  (1ull << 8)
#define VLAPIC_BASE_EXTD (1ull << 10)
#define VLAPIC_BASE_EN   (1ull << 11)

/* xAPIC register offsets (SDM Table 10-1). */
#define VLAPIC_ID       0x020u
#define VLAPIC_VERSION  0x030u
#define VLAPIC_TPR      0x080u
#define VLAPIC_APR      0x090u
#define VLAPIC_PPR      0x0A0u
#define VLAPIC_EOI      0x0B0u
#define VLAPIC_RRD      0x0C0u
#define VLAPIC_LDR      0x0D0u
#define VLAPIC_DFR      0x0E0u
#define VLAPIC_SVR      0x0F0u
#define VLAPIC_ISR      0x100u /* 8 registers, 0x10 apart */
#define VLAPIC_TMR      0x180u
#define VLAPIC_IRR      0x200u
#define VLAPIC_ESR      0x280u
#define VLAPIC_ICR_LO   0x300u
#define VLAPIC_ICR_HI   0x310u
#define VLAPIC_LVT_TIMER   0x320u
#define VLAPIC_LVT_THERMAL 0x330u
#define VLAPIC_LVT_PERF    0x340u
#define VLAPIC_LVT_LINT0   0x350u
#define VLAPIC_LVT_LINT1   0x360u
#define VLAPIC_LVT_ERROR   0x370u
#define VLAPIC_TIMER_ICR   0x380u /* initial count */
#define VLAPIC_TIMER_CCR   0x390u /* current count */
#define VLAPIC_TIMER_DCR   0x3E0u /* divide configuration */
#define VLAPIC_SELF_IPI    0x3F0u /* x2APIC only (MSR 0x83F) */

#define VLAPIC_VERSION_VALUE 0x00050014u /* version 0x14, max LVT entry 5 */

/* LVT / ICR fields (SDM Figure 10-8, 10-12). */
#define VLAPIC_LVT_MASKED      (1u << 16)
#define VLAPIC_LVT_LEVEL       (1u << 15)
#define VLAPIC_LVT_REMOTE_IRR  (1u << 14)
#define VLAPIC_DM_FIXED  0u
#define VLAPIC_DM_LOWPRI 1u
#define VLAPIC_DM_SMI    2u
#define VLAPIC_DM_NMI    4u
#define VLAPIC_DM_INIT   5u
#define VLAPIC_DM_SIPI   6u
#define VLAPIC_DM_EXTINT 7u
#define VLAPIC_TIMER_ONESHOT  (0u << 17)
#define VLAPIC_TIMER_PERIODIC (1u << 17)
#define VLAPIC_TIMER_TSCDL    (2u << 17)

/* ESR bits (SDM Figure 10-9). */
#define VLAPIC_ESR_SEND_ILLEGAL (1u << 5)
#define VLAPIC_ESR_RECV_ILLEGAL (1u << 6)
#define VLAPIC_ESR_ILLEGAL_REG  (1u << 7)

enum { VLAPIC_LVT_N = 6 }; /* timer, thermal, perfmon, LINT0, LINT1, error */

struct vlapic_cb {
    void (*eoi)(void *ctx, uint8_t vector); /* EOI of a level-triggered vector */
    void (*nmi)(void *ctx);                 /* deliver an NMI to the CPU */
    void *ctx;
};

/* Things a guest did that the model ignored or refused; for logging. */
struct vlapic_stats {
    uint64_t bad_mmio;     /* unaligned, wrong-size or out-of-page MMIO; MMIO while disabled/x2APIC */
    uint64_t reserved_reg; /* xAPIC accesses to reserved registers (ESR bit 7) */
    uint64_t msr_gp;       /* x2APIC/APIC_BASE MSR accesses refused with #GP */
    uint64_t ipi_ignored;  /* INIT/SIPI/SMI/reserved-mode IPIs, IPIs to other CPUs */
    uint64_t irq_dropped;  /* interrupts arriving while hardware- or software-disabled */
    uint64_t spurious_ack; /* vlapic_ack of a vector not in IRR */
    uint64_t lint_ignored; /* LINT edges in SMI/INIT/reserved delivery modes; bad pin numbers */
};

struct vlapic {
    /* configuration */
    uint64_t bus_hz; /* timer input clock (before the divider) */
    uint64_t tsc_hz; /* virtual TSC: vTSC = now * tsc_hz / 1e9 */

    /* architectural registers */
    uint64_t apic_base;
    uint32_t tpr, ldr, dfr, svr;
    uint32_t isr[8], tmr[8], irr[8];
    uint32_t esr;         /* value visible to reads (latched by an ESR write) */
    uint32_t esr_pending; /* errors since the last ESR write */
    bool esr_armed;       /* error interrupt re-armed by an ESR write (10.5.3) */
    uint64_t icr;         /* low: command; high: destination (xAPIC: bits 63:56) */
    uint32_t lvt[VLAPIC_LVT_N];
    uint32_t tmict, tdcr;
    uint64_t tsc_deadline;

    /* timer countdown: ticks counted from bus cycle timer_start; the next
     * expiry is at tick timer_next; periodic expiries lie on the grid
     * timer_first + k * tmict. */
    bool timer_armed;
    uint64_t timer_start, timer_first, timer_next;

    /* LINT0/LINT1 input levels (external wires, survive resets) */
    uint8_t lint_level[2];

    struct vlapic_stats stats;
    struct vlapic_cb cb;
};

/* Power-up: IA32_APIC_BASE = 0xFEE00900 (enabled, xAPIC, BSP), all
 * registers at their reset values (10.4.7.1). `cb` may be NULL. */
void vlapic_init(struct vlapic *l, uint64_t bus_hz, uint64_t tsc_hz, const struct vlapic_cb *cb);
/* RESET of the CPU: back to the power-up state; keeps configuration,
 * callbacks, statistics and LINT input levels. */
void vlapic_reset(struct vlapic *l);
/* What a PC BIOS does (MP spec virtual-wire mode): software-enable with
 * spurious vector 0xFF, LINT0 = ExtINT, LINT1 = NMI, both unmasked. */
void vlapic_virtual_wire(struct vlapic *l);

uint32_t vlapic_mmio_read(struct vlapic *l, uint32_t offset, vtime_t now);
void vlapic_mmio_write(struct vlapic *l, uint32_t offset, uint32_t value, vtime_t now);
void vlapic_mmio_bad_access(struct vlapic *l); /* a non-32-bit access: counted only */

int vlapic_msr_read(struct vlapic *l, uint32_t msr, uint64_t *val, vtime_t now);
int vlapic_msr_write(struct vlapic *l, uint32_t msr, uint64_t val, vtime_t now);

uint64_t vlapic_base_read(const struct vlapic *l);
int vlapic_base_write(struct vlapic *l, uint64_t val, vtime_t now);

uint64_t vlapic_tsc_deadline_read(struct vlapic *l, vtime_t now);
void vlapic_tsc_deadline_write(struct vlapic *l, uint64_t val, vtime_t now);

/* CR8 is TPR[7:4] (10.8.6.1). */
uint8_t vlapic_cr8_read(const struct vlapic *l);
void vlapic_cr8_write(struct vlapic *l, uint8_t cr8);

/* A fixed interrupt from the I/O APIC or an MSI: `level` = level-triggered
 * (sets TMR, so its EOI calls cb.eoi). */
void vlapic_set_irq(struct vlapic *l, uint8_t vector, bool level);
/* Highest IRR vector whose priority class exceeds the PPR's, or -1. */
int vlapic_pending_vector(const struct vlapic *l);
/* The CPU took `vector` (IRR -> ISR). */
void vlapic_ack(struct vlapic *l, uint8_t vector);
/* Processor priority (10.8.3.1). */
uint32_t vlapic_ppr(const struct vlapic *l);

/* LINT0 (pin 0) / LINT1 (pin 1) input level. */
void vlapic_set_lint(struct vlapic *l, int pin, int level);
/* Whether the PIC's INTR reaches the CPU (LINT0 unmasked in ExtINT mode,
 * or the APIC hardware-disabled), regardless of its level. */
bool vlapic_extint_routed(const struct vlapic *l);
/* ...and is asserted now: take the vector from the PIC. */
bool vlapic_extint_pending(const struct vlapic *l);

/* Fire every timer expiry due at `now`; return the next deadline. */
vtime_t vlapic_tick(struct vlapic *l, vtime_t now);
vtime_t vlapic_next_deadline(const struct vlapic *l);

bool vlapic_hw_enabled(const struct vlapic *l); /* IA32_APIC_BASE[11] */
bool vlapic_x2apic_mode(const struct vlapic *l);
bool vlapic_sw_enabled(const struct vlapic *l); /* SVR[8] */

#endif
