/* The one-host checkpoint test ([debug] checkpoint_every_ms): the state a
 * live migration's stop-and-copy carries (vmm/vmstate.h), proven on one
 * host. Every N ms of virtual time, between two slices of a guest run
 * alone, with no disk request in flight:
 *   1. save the machine state;
 *   2. throw the vCPU (its VMCS, registers and CPU-held state) and every
 *      device away and build them fresh, as a destination host would
 *      (vm_rewire(): power-on values everywhere);
 *   3. restore the state into them;
 *   4. save again and compare, byte for byte.
 * The guest then runs on. Whatever the state missed, the guest finds
 * reset, and a workload that checks itself (tests/guests/cpustate.c, the
 * Linux guest's disk and network tests) says so. RAM stays in place: its
 * transfer is the migration's page rounds (ft/migrate_wire.c). */
#include "engine.h"
#include "../vmm/vm.h"
#include "../vmm/vmstate.h"
#include "../kernel/kernel.h"
#include "../kernel/log.h"
#include "../kernel/service.h"
#include <string.h>

static struct {
    uint64_t next_ns, done, deferred, last_deferred_report;
    uint64_t bytes;
} C;

static uint8_t saved[VMSTATE_MAX], again[VMSTATE_MAX];

/* Host statistics of the vCPU (not guest state: a destination starts its
 * own): kept across the rebuild so this host's report stays whole. */
struct vcpu_stats {
    uint64_t exits, exits_by_reason[80], host_ticks_by_reason[80], run_ticks, runs;
};

static void checkpoint(struct vm *vm, uint64_t now)
{
    char err[200];
    size_t len = vmstate_save(vm, now, saved, sizeof(saved), err, sizeof(err));
    if (!len) {
        /* A disk request in flight, say: try again at the next pass. */
        C.deferred++;
        if (C.deferred - C.last_deferred_report >= 1000) {
            C.last_deferred_report = C.deferred;
            log_info("checkpoint", "%llu checkpoint attempts put off so far (last: %s)",
                     (unsigned long long)C.deferred, err);
        }
        return;
    }
    struct vcpu *v = &vm->vcpu;
    static struct vcpu_stats st;
    st.exits = v->exits;
    memcpy(st.exits_by_reason, v->exits_by_reason, sizeof(st.exits_by_reason));
    memcpy(st.host_ticks_by_reason, v->host_ticks_by_reason, sizeof(st.host_ticks_by_reason));
    st.run_ticks = v->run_ticks;
    st.runs = v->runs;
    if (vm_rewire(vm, err, sizeof(err))) {
        vcpu_stop(v, VCPU_STOP_FAILED, "checkpoint %llu: rebuilding the vCPU failed: %s",
                  (unsigned long long)C.done + 1, err);
        return;
    }
    if (vmstate_load(vm, saved, len, err, sizeof(err))) {
        vcpu_stop(v, VCPU_STOP_FAILED, "checkpoint %llu: the saved state was refused: %s",
                  (unsigned long long)C.done + 1, err);
        return;
    }
    v->exits = st.exits;
    memcpy(v->exits_by_reason, st.exits_by_reason, sizeof(st.exits_by_reason));
    memcpy(v->host_ticks_by_reason, st.host_ticks_by_reason, sizeof(st.host_ticks_by_reason));
    v->run_ticks = st.run_ticks;
    v->runs = st.runs;
    size_t len2 = vmstate_save(vm, now, again, sizeof(again), err, sizeof(err));
    if (!len2 || vmstate_compare(saved, len, again, len2, err, sizeof(err))) {
        vcpu_stop(v, VCPU_STOP_FAILED, "checkpoint %llu: the restored state is not what was saved: %s",
                  (unsigned long long)C.done + 1, err);
        return;
    }
    C.done++;
    C.bytes = len;
    log_info("checkpoint", "checkpoint %llu at %llu ms: %llu bytes of machine state saved, vCPU and devices "
                           "rebuilt, state restored and equal",
             (unsigned long long)C.done, (unsigned long long)(now / 1000000), (unsigned long long)len);
}

static bool checkpoint_poll(void)
{
    uint32_t every = kernel_config()->debug.checkpoint_every_ms;
    struct vm *vm = &the_vm;
    if (!every || !vm->created || vm->vcpu.stop != VCPU_RUNNING || !engine_is_live())
        return false;
    uint64_t now = vm->in->now(vm->in_ctx);
    if (now < vm->time_now)
        now = vm->time_now;
    if (!C.next_ns)
        C.next_ns = (uint64_t)every * 1000000;
    if (now < C.next_ns)
        return false;
    uint64_t before = C.done;
    checkpoint(vm, now);
    if (C.done != before)
        C.next_ns = now + (uint64_t)every * 1000000;
    return C.done != before;
}

static void checkpoint_init(void)
{
    uint32_t every = kernel_config()->debug.checkpoint_every_ms;
    if (every)
        log_info("checkpoint", "every %u ms of virtual time: save the machine state, rebuild the vCPU and devices, "
                               "restore it ([debug] checkpoint_every_ms)",
                 every);
}

SERVICE(39, checkpoint, checkpoint_init, checkpoint_poll);
