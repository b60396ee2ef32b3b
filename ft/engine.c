/* The engine: runs the guest from the main loop and decides its event
 * points, the only places where nondeterminism (virtual time, later input
 * and DMA) enters it (docs/ARCHITECTURE.md, "Event points").
 *
 * Live mode: virtual time is host time (ft/live.c). The engine arms the
 * VMX-preemption timer at the next virtual device deadline; when it fires,
 * or a synchronous exit or a HLT wake-up finds a deadline due, the point
 * reads virtual time once, which advances every device, and pending
 * interrupts are injected at the next entry. Host interrupts and other
 * asynchronous exits never change the guest. */
#include "engine.h"
#include "guest_io.h"
#include "../vmm/vm.h"
#include "../vmm/vmcs.h"
#include "../kernel/clock.h"
#include "../kernel/kernel.h"
#include "../kernel/log.h"
#include "../kernel/power.h"
#include "../kernel/service.h"

#define SLICE_EXITS 256

static const struct engine_policy *policy;
static void *policy_ctx;
static bool (*gate)(void);

void engine_set_gate(bool (*hold)(void)) { gate = hold; }

void engine_set_policy(const struct engine_policy *p, void *ctx)
{
    policy = p;
    policy_ctx = ctx;
}

/* Preemption-timer ticks from virtual time now to the deadline (SDM
 * Vol. 3, "VMX-Preemption Timer": TSC >> IA32_VMX_MISC[4:0]). */
uint64_t engine_ticks_until(struct vm *vm, vtime_t deadline, vtime_t now)
{
    if (deadline == VTIME_NEVER)
        return ~0ull;
    uint64_t ns = deadline > now ? deadline - now : 0;
    return muldiv64(ns, vm->host_tsc_hz, 1000000000u) >> vm->preempt_shift;
}

/* After the handler of a synchronous exit that read the time: a device
 * register access may have moved a deadline; recompute it (ticking again
 * at the same time is a no-op otherwise). */
void engine_settle(struct vm *vm)
{
    if (vm_time_read(vm))
        platform_tick(vm, vm->time_now);
}

static bool yield_now;
void engine_yield(void) { yield_now = true; }

/* A host device's completion waits for an event point. */
static bool io_waits(void) { return policy->deliver && gio_pending(); }

static void deliver(struct vm *vm)
{
    if (io_waits() && vm->vcpu.stop == VCPU_RUNNING)
        policy->deliver(policy_ctx, vm);
}

bool engine_generic_slice(struct vm *vm)
{
    struct vcpu *v = &vm->vcpu;
    bool progress = false;
    for (int i = 0; i < SLICE_EXITS; i++) {
        vtime_t deadline = vm->plat.next_deadline;
        /* A waiting completion: enter with the timer at zero, which exits
         * before the first instruction (after any injection), an
         * asynchronous point right there (SDM Vol. 3C, 26.7.4). */
        struct run_opts o = { .preempt_ticks = !policy->async_points ? ~0ull
                                               : io_waits()          ? 0
                                                 : engine_ticks_until(vm, deadline, policy->peek(policy_ctx)),
                              .mtf = false };
        vm_new_point(vm);
        enum run_result r = vcpu_run(v, &o);
        if (r == RUN_STOPPED)
            break;
        if (r == RUN_HALTED) {
            /* Waiting in HLT: the wake-up is an event point at the HLT. */
            if (policy->peek(policy_ctx) >= deadline || io_waits()) {
                policy->point(policy_ctx, vm, POINT_HALT);
                if (policy->after)
                    policy->after(policy_ctx, vm);
                deliver(vm);
                progress = true;
                continue;
            }
            break; /* idle until the host's next interrupt */
        }
        progress = true;
        if (r == RUN_SYNC) {
            engine_settle(vm);
            if (policy->after)
                policy->after(policy_ctx, vm);
            if (!vm_time_read(vm) && policy->peek(policy_ctx) >= vm->plat.next_deadline) {
                policy->point(policy_ctx, vm, POINT_SYNC);
                if (policy->after)
                    policy->after(policy_ctx, vm);
            }
            deliver(vm); /* the exit ordinal places it */
        } else if (policy->async_points && (policy->peek(policy_ctx) >= deadline || io_waits()) &&
                   v->exit_reason != EXIT_INTERRUPT_WINDOW && v->exit_reason != EXIT_NMI_WINDOW) {
            /* Not at a window exit: an event is pending there, and a replay
             * reaching the same instruction by single steps has already
             * delivered it; the next entry delivers it here, and the timer
             * (the deadline has passed) makes the point right after. */
            policy->point(policy_ctx, vm, POINT_ASYNC);
            if (policy->after)
                policy->after(policy_ctx, vm);
            deliver(vm);
        }
        vm_platform_requests(vm);
        if (r == RUN_ASYNC && v->exit_reason == EXIT_EXTERNAL_INTERRUPT)
            break; /* the host has work */
        if (yield_now)
            break; /* ... or made some (engine_yield()) */
    }
    yield_now = false;
    return progress;
}

static bool engine_poll(void)
{
    struct vm *vm = &the_vm;
    if (!vm->created || !policy)
        return false;
    if (gate && gate())
        return false; /* throttled: the guest waits, virtual time does not */
    bool progress = policy->slice ? policy->slice(policy_ctx, vm) : engine_generic_slice(vm);
    if (vm->vcpu.stop != VCPU_RUNNING && vm->created) {
        vm->created = false;
        vm_finish(vm);
        const struct engine_policy *p = policy;
        if (p->finished)
            p->finished(policy_ctx, vm);
        else
            power_apply(kernel_config()->debug.on_guest_exit, "guest exited");
    }
    return progress;
}

/* The default event point of the live mode: read the time (which ticks
 * the devices) as a new point. */
static void live_point(void *ctx, struct vm *vm, enum point_kind kind)
{
    (void)ctx;
    (void)kind;
    vm_new_point(vm);
    vm_now(vm);
}

static vtime_t live_peek(void *ctx)
{
    (void)ctx;
    return the_vm.in->now(the_vm.in_ctx);
}

static void live_deliver(void *ctx, struct vm *vm)
{
    (void)ctx;
    gio_deliver(vm, NULL);
}

static const struct engine_policy live_policy = { "live", live_peek, live_point, true, NULL, NULL, NULL,
                                                  live_deliver };

void engine_set_live_policy(void) { engine_set_policy(&live_policy, NULL); }
bool engine_is_live(void) { return policy == &live_policy; }

/* The guest does not run (waiting for a log, a peer, or stopped). */
static bool hold_slice(void *ctx, struct vm *vm)
{
    (void)ctx;
    (void)vm;
    return false;
}
static const struct engine_policy hold_policy = { "held", NULL, NULL, false, NULL, hold_slice, NULL, NULL };

void engine_set_hold_policy(void) { engine_set_policy(&hold_policy, NULL); }

static void engine_init(void)
{
    if (!policy)
        engine_set_policy(&live_policy, NULL);
}

SERVICE(35, engine, engine_init, engine_poll);
