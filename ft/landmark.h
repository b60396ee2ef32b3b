/* Landmarks: where in the guest's instruction stream an asynchronous event
 * happened, precisely enough to make it happen at the same instruction in a
 * replay. A landmark is (synchronous-exit ordinal, guest progress count,
 * RIP, RCX, a CRC of the general registers). The progress count comes from
 * one of three backends:
 *
 *  - emulator: exact guest instructions from TSC deltas around each run,
 *    where the TSC counts instructions (Bochs; vcpu_probe_counting()).
 *    Replay arms the VMX-preemption timer 64 instructions short of the
 *    target and single-steps with MTF to it.
 *  - pmu: retired conditional branches counted in VMX non-root operation
 *    (real hardware; not available yet).
 *  - exits: no counting; asynchronous events wait for the next synchronous
 *    exit (always correct, later interrupts for CPU-bound guests). */
#ifndef FT_LANDMARK_H
#define FT_LANDMARK_H

#include <stdint.h>
#include <stddef.h>
#include "../kernel/config.h"

struct vm;
struct vcpu;

enum lm_backend { LM_EXITS = 0, LM_EMULATOR = 1, LM_PMU = 2 }; /* = LOG_BACKEND_* */

struct landmark {
    uint64_t exit, icount, rip, rcx;
    uint32_t regs_crc;
};

/* Choose the backend for want (config); 0, or -1 with the reason. */
int landmark_select(struct vm *vm, enum cfg_landmark want, enum lm_backend *out, char *why, size_t n);
const char *landmark_backend_name(enum lm_backend b);
uint64_t landmark_icount(struct vm *vm, enum lm_backend b);
void landmark_here(struct vm *vm, enum lm_backend b, struct landmark *l);
/* The same from registers the caller already read. */
void landmark_of(struct vm *vm, enum lm_backend b, uint64_t rip, const uint64_t gpr[16], struct landmark *l);
/* The 16 general registers in SDM order (RSP from the vCPU's copy). */
void landmark_gprs(struct vcpu *v, uint64_t gpr[16]);

#endif
