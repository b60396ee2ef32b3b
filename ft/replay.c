/* The replayer: runs the guest again from the same initial state,
 * feeding it the recorded inputs at the recorded points and checking it
 * does everything the recording says:
 *   - a TIME record is consumed when the guest reads time at (or the
 *     recorder advanced the devices after) the synchronous exit with its
 *     ordinal;
 *   - an ASYNC record is reached by running to its landmark: the
 *     VMX-preemption timer armed 40 instructions short, then single steps
 *     with the monitor trap flag (the recipe in docs/platform.md), and
 *     RIP, RCX and the register CRC are checked there;
 *   - OUTPUT and STATE records are compared after the exit that made them.
 * The first mismatch stops the replay with a report: the record, its
 * landmark, and both register sets. */
#include "rr.h"
#include "engine.h"
#include "guest_io.h"
#include "pmu.h"
#include "../vmm/vm.h"
#include "../vmm/vmcs.h"
#include "../kernel/crc32c.h"
#include "../kernel/format.h"
#include "../kernel/kernel.h"
#include "../kernel/log.h"
#include <string.h>

/* Bochs takes a preemption-timer exit only at the end of the trace it is
 * running (at most 32 instructions, BX_MAX_TRACE_LENGTH): a timer value V
 * stops after V to V + 31 instructions (measured: up to 30 past V, never
 * short of it). The margin keeps the landmark beyond any such stop. */
#define APPROACH_MARGIN 40

static struct {
    struct vm *vm;
    enum lm_backend backend;
    const struct memlog *in;
    size_t pos;
    struct log_decoder dec;
    struct log_record next;
    bool have_next, ended, diverged, at_landmark, started, damaged;
    bool disk_differs; /* diverged: this host's own read of the shared disk differs */
    vtime_t last_time;
    uint64_t runs_at_point; /* vcpu runs when the last point was consumed */
    uint64_t runs_zero_entry; /* PMU: the run that was a zero-timer entry */
    uint32_t steps_at_count; /* PMU: single steps since the branch count matched */
    uint64_t timer_stuck_at; /* emulator: a timer run ended at this count without progress */
    /* A log still arriving (replayer_set_live()): how far what arrived
     * reaches (replayer_log_reaches(): the exit of its last record, END
     * there), so that the guest only runs while the log holds every
     * record up to the next exit (see rep_slice()). */
    bool live;
    uint64_t reach_exit;
    bool reach_end;
    /* The primary's position (recorder_position()) with the log up to it
     * here: the guest may run ahead to it while the next sync exit's
     * records are still on their way. */
    uint64_t mark_exit, mark_icount;
    bool mark_complete;
    uint64_t ahead_runs; /* runs the mark allowed */
    uint64_t waits; /* slices that found the log not yet far enough */
    bool io_wait;   /* a DEVDONE (DEVCHECK) waits for this host's own write (read) of its request */
    bool waiting;   /* the last slice stopped for that */
    /* Go-live (replayer_drain()): the log will not grow; replay what
     * arrived, then hand the guest over at the end of it. */
    void (*drained)(struct vm *vm);
    void (*output)(uint8_t byte); /* the pair's record of suppressed output */
    uint64_t diverged_exit;
    struct rr_totals t;
    uint64_t out_bytes;
    uint32_t out_crc;
    rr_finished_fn finished;
} P;


void replayer_set_live(bool live)
{
    P.live = live;
}

void replayer_log_reaches(uint64_t exit, bool has_end)
{
    if (exit > P.reach_exit)
        P.reach_exit = exit;
    P.reach_end |= has_end;
}

void replayer_set_mark(uint64_t exit, uint64_t icount, bool exit_complete)
{
    if (exit > P.mark_exit || (exit == P.mark_exit && icount > P.mark_icount) ||
        (exit == P.mark_exit && icount == P.mark_icount && exit_complete)) {
        P.mark_exit = exit;
        P.mark_icount = icount;
        P.mark_complete = exit_complete;
    }
}

uint64_t replayer_ahead_runs(void) { return P.ahead_runs; }

/* Live, emulator backend, while the log has no record past the next sync
 * exit: the run the primary's mark allows. A free run when the mark shows
 * the primary past that exit with its records all sent; else, at the
 * mark's exit, a timer run to APPROACH_MARGIN instructions short of the
 * mark, so that the timer's overshoot stays before any record still to
 * come. False when neither applies. */
static bool ahead_of_log(struct vm *vm, struct run_opts *o)
{
    uint64_t e = vm->vcpu.sync_exits;
    if (P.backend != LM_EMULATOR || P.mark_exit < e)
        return false;
    if (P.mark_exit > e + 1 || (P.mark_exit == e + 1 && P.mark_complete)) {
        o->preempt_ticks = ~0ull;
        o->mtf = false;
        P.ahead_runs++;
        return true;
    }
    uint64_t cur = landmark_icount(vm, P.backend);
    if (P.mark_exit != e || cur == P.timer_stuck_at ||
        P.mark_icount < cur + APPROACH_MARGIN + (1ull << vm->preempt_shift))
        return false;
    o->preempt_ticks = (P.mark_icount - APPROACH_MARGIN - cur) >> vm->preempt_shift;
    o->mtf = false;
    P.ahead_runs++;
    return true;
}

uint64_t replayer_waits(void) { return P.waits; }
bool replayer_waiting(void) { return P.live && P.waiting; }
vtime_t replayer_vtime(void) { return P.last_time; }
enum lm_backend replayer_backend(void) { return P.backend; }
size_t replayer_pos(void) { return P.pos; }
void replayer_rebase(size_t n) { P.pos -= n; }
void replayer_drain(void (*drained)(struct vm *vm)) { P.drained = drained; }
void replayer_set_output_hook(void (*fn)(uint8_t byte)) { P.output = fn; }
int replayer_trust_initial_state(const uint8_t d[LOG_STATE_DIGEST_LEN])
{
    if (memcmp(d, P.dec.header.init_digest, LOG_STATE_DIGEST_LEN) != 0)
        return -1;
    P.started = true;
    return 0;
}

bool replayer_log_has_end(void) { return P.reach_end || P.damaged; }

/* The next record (decoded lazily from the memory log). */
static const struct log_record *peek_rec(void)
{
    if (P.have_next || P.ended)
        return P.have_next ? &P.next : NULL;
    for (;;) {
        size_t used = 0;
        int r = log_decoder_feed(&P.dec, P.in->buf + P.pos, P.in->len - P.pos, &used, &P.next);
        P.pos += used;
        if (r == LOG_OK) {
            P.have_next = true;
            return &P.next;
        }
        if (r == LOG_GOT_HEADER)
            continue;
        if (r != LOG_NEED_MORE) {
            /* A damaged log is never replayed past the damage: nothing of
             * a frame is used unless its CRC holds. */
            P.damaged = true;
            log_error("replay", "the log is damaged: %s", log_decoder_error(&P.dec));
        } else if (P.live) {
            return NULL; /* more is on its way */
        }
        P.ended = true;
        return NULL;
    }
}

static void consume(void)
{
    P.have_next = false;
    P.t.records++;
}

static void print_regs(const char *who, const uint64_t rip, const uint64_t gpr[16])
{
    kprintf("  %s: RIP=%016llx RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n", who, (unsigned long long)rip,
            (unsigned long long)gpr[0], (unsigned long long)gpr[3], (unsigned long long)gpr[1],
            (unsigned long long)gpr[2]);
    kprintf("  %s: RSI=%016llx RDI=%016llx RBP=%016llx RSP=%016llx\n", who, (unsigned long long)gpr[6],
            (unsigned long long)gpr[7], (unsigned long long)gpr[5], (unsigned long long)gpr[4]);
}

static void diverge(const char *fmt, const char *what)
{
    struct vm *vm = P.vm;
    P.diverged = true;
    const struct log_record *r = P.have_next ? &P.next : NULL;
    log_error("replay", "DIVERGED: %s%s", fmt, what ? what : "");
    if (r)
        kprintf("  first differing record: #%llu %s (frame %u, record %u) at exit %llu, landmark %llu\n",
                (unsigned long long)P.t.records, log_record_name(r->type), r->frame_seq, r->index,
                (unsigned long long)r->exit, (unsigned long long)r->icount);
    kprintf("  replay position: exit %llu, instruction %llu\n", (unsigned long long)vm->vcpu.sync_exits,
            (unsigned long long)landmark_icount(vm, P.backend));
    uint64_t gpr[16], rec[17];
    landmark_gprs(&vm->vcpu, gpr);
    print_regs("replayed", vmread(VMCS_GUEST_RIP), gpr);
    if (recorder_regs_at(P.t.points, rec))
        print_regs("recorded", rec[0], rec + 1);
    else if (r && r->type == LOG_REC_ASYNC)
        /* Replaying another boot's log: the recorded registers are those
         * the landmark carries. */
        kprintf("  recorded (in the ASYNC record): RIP=%016llx RCX=%016llx register CRC %08x; replayed CRC %08x\n",
                (unsigned long long)r->rip, (unsigned long long)r->rcx, r->regs_crc, log_regs_crc(gpr));
    else
        kprintf("  recorded: the log carries no registers here (the recorder's own report has them)\n");
    vcpu_trace_print(&vm->vcpu, vm->vcpu.sync_exits > 3 ? vm->vcpu.sync_exits - 3 : 0, vm->vcpu.sync_exits + 1, 80);
    P.diverged_exit = vm->vcpu.sync_exits;
    if (vm->vcpu.stop == VCPU_RUNNING)
        vcpu_stop(&vm->vcpu, VCPU_STOP_FAILED, "replay diverged from the log");
}

/* Virtual time for the guest: the recorded value for this point. */
static vtime_t rep_now(void *ctx)
{
    (void)ctx;
    struct vm *vm = P.vm;
    const struct log_record *r = peek_rec();
    if (P.diverged)
        return P.last_time;
    if (P.at_landmark) {
        P.at_landmark = false;
        if (!r || r->type != LOG_REC_ASYNC) {
            diverge("at a landmark but the next record is not ASYNC", NULL);
            return P.last_time;
        }
    } else if (!r || r->type != LOG_REC_TIME || r->exit != vm->vcpu.sync_exits) {
        diverge("the guest reads time here but the log has ", r ? log_record_name(r->type) : "nothing");
        return P.last_time;
    }
    P.last_time = r->vtime_ns;
    P.runs_at_point = vm->vcpu.runs;
    consume();
    P.t.points++;
    if (r->type == LOG_REC_ASYNC)
        P.t.asyncs++;
    P.t.vtime = P.last_time;
    return P.last_time;
}

static void rep_start(void *ctx) { (void)ctx; }
static uint64_t rep_tsc_hz(void *ctx) { (void)ctx; return P.vm->tsc_hz; }
static const struct vinput_ops rep_input = { "replayed", rep_now, rep_start, rep_tsc_hz };

/* Records that belong after the current exit: OUTPUT and STATE at this
 * ordinal, and END. */
static void check_after(void)
{
    struct vm *vm = P.vm;
    struct vcpu *v = &vm->vcpu;
    const struct log_record *r;
    while (!P.diverged && (r = peek_rec()) != NULL && r->exit == v->sync_exits) {
        if (r->type == LOG_REC_OUTPUT) {
            if (r->bytes != P.out_bytes || r->crc != P.out_crc) {
                diverge("console output differs from the recording", NULL);
                return;
            }
            P.out_bytes = 0;
            P.out_crc = 0;
            consume();
        } else if (r->type == LOG_REC_STATE) {
            struct log_record st = *r;
            if (P.backend != LM_EXITS && st.icount != landmark_icount(vm, P.backend)) {
                diverge("a state digest falls at another instruction count", NULL);
                return;
            }
            consume();
            /* The STATE right before END covers all of guest RAM. */
            const struct log_record *n = peek_rec();
            bool full = n && n->type == LOG_REC_END && n->exit == st.exit;
            uint8_t got[LOG_STATE_DIGEST_LEN];
            struct rr_state_block mine, theirs;
            rr_state_digest(vm, full, got, &mine);
            uint64_t idx = P.t.states++;
            if (memcmp(st.digest, got, sizeof(got)) != 0) {
                /* Report the STATE record itself, not the one after it. */
                P.next = st;
                P.have_next = true;
                P.t.records--;
                diverge(full ? "the final state digest (registers and all of RAM) differs"
                             : "the state digest (registers and the pages written) differs",
                        NULL);
                char d[400];
                if (recorder_state_at(idx, &theirs)) {
                    rr_state_diff(&mine, &theirs, d, sizeof(d));
                    kprintf("  differing (replayed/recorded): %s\n", d);
                }
                return;
            }
        } else if (r->type == LOG_REC_DEVDATA || r->type == LOG_REC_DEVDONE || r->type == LOG_REC_DEVCHECK) {
            /* A host device's completion, delivered where the recorder
             * delivered it: after this exit, or at the point just made. */
            const char *why = NULL;
            int e = r->type == LOG_REC_DEVDATA
                        ? gio_replay_data(vm, r->device, r->tag, r->offset, r->data, r->len, &why)
                    : r->type == LOG_REC_DEVCHECK
                        ? gio_replay_check(vm, r->device, r->tag, r->bytes, r->crc, &why)
                        : gio_replay_done(vm, r->device, r->tag, r->status, &why);
            if (e > 0) {
                P.io_wait = true; /* this backup's own write first */
                return;
            }
            P.io_wait = false;
            if (e) {
                P.disk_differs = r->type == LOG_REC_DEVCHECK;
                diverge(why, NULL);
                return;
            }
            if (r->type == LOG_REC_DEVDONE) {
                P.t.dev_done++;
            } else if (r->type == LOG_REC_DEVCHECK) {
                P.t.dev_checked += r->bytes;
            } else {
                P.t.dev_bytes += r->len;
            }
            consume();
        } else if (r->type == LOG_REC_END) {
            /* A power-off or reset the guest asked for at this exit takes
             * effect after it (vm_platform_requests()); END is checked
             * when the vCPU has stopped (rep_exited()). */
            if (v->stop == VCPU_RUNNING && vm->plat.request != PLAT_REQ_NONE)
                return;
            uint8_t reason = r->reason;
            consume();
            P.ended = true;
            if (v->stop == VCPU_RUNNING) {
                if (reason != LOG_END_STOPPED) {
                    diverge("the recorded guest ended here but the replayed one runs on", NULL);
                    return;
                }
                vcpu_stop(v, VCPU_STOP_PAUSED, "replay reached the end of the log");
            } else if (reason != rr_end_reason(v->stop)) {
                diverge("the guest ended otherwise than in the recording", NULL);
            }
            return;
        } else {
            return;
        }
    }
}

/* At an ASYNC landmark (either backend): check it and make the point. */
static bool at_landmark(struct vm *vm, const struct log_record *r)
{
    struct landmark l;
    landmark_here(vm, P.backend, &l);
    if (l.rip != r->rip || l.rcx != r->rcx || l.regs_crc != r->regs_crc) {
        diverge("the landmark's registers differ (RIP, RCX or the register CRC)", NULL);
        return false;
    }
    P.at_landmark = true;
    vm_new_point(vm);
    vm_now(vm);
    engine_settle(vm);
    return true;
}

/* The PMU backend's approach to an ASYNC landmark (ft/pmu.c): arm the
 * counter to overflow a skid margin early, then MTF steps until the
 * branch count, RIP, RCX and register CRC all match. 1: the point was
 * made; 0: run with o; -1: diverged. */
static int pmu_approach(struct vm *vm, const struct log_record *r, struct run_opts *o)
{
    struct vcpu *v = &vm->vcpu;
    struct landmark l;
    landmark_here(vm, LM_PMU, &l);
    if (v->sync_exits > r->exit || (v->sync_exits == r->exit && l.icount > r->icount)) {
        diverge("the replay ran past a landmark", NULL);
        return -1;
    }
    if (v->sync_exits < r->exit)
        return 0; /* the landmark lies beyond a synchronous exit still to come */
    if (l.icount == r->icount && vcpu_would_inject(v) && l.rip != r->rip && v->runs != P.runs_zero_entry) {
        o->preempt_ticks = 0; /* deliver a pending injection first, as for the emulator */
        P.runs_zero_entry = v->runs + 1;
        return 0;
    }
    if (l.icount == r->icount)
        P.steps_at_count++;
    else
        P.steps_at_count = 0;
    enum pmu_step s = pmu_next_step(l.icount, r->icount, PMU_DEFAULT_SKID, l.rip, r->rip, l.rcx, r->rcx, l.regs_crc,
                                    r->regs_crc, P.steps_at_count, 1000000);
    switch (s) {
    case PMU_AT_TARGET:
        P.steps_at_count = 0;
        return at_landmark(vm, r) ? 1 : -1;
    case PMU_ARM_COUNTER: {
        bool armed = false;
        unsigned width = 64 - (unsigned)__builtin_clzll(v->pmc_mask | 1); /* mask = 2^width - 1 */
        v->pmc_preset = pmu_counter_preset(r->icount - l.icount, PMU_DEFAULT_SKID, width, &armed);
        if (!armed)
            o->mtf = true;
        return 0;
    }
    case PMU_SINGLE_STEP:
        o->mtf = true;
        return 0;
    default:
        diverge(s == PMU_OVERSHOT ? "the replay ran past a landmark (branch count)"
                                  : "the branch count matches but RIP, RCX and the registers never did",
                NULL);
        return -1;
    }
}

static bool rep_slice(void *ctx, struct vm *vm)
{
    (void)ctx;
    struct vcpu *v = &vm->vcpu;
    bool progress = false;
    if (!P.started) {
        /* The freshly booted guest must be the one the recording began
         * with, registers and all of RAM. */
        P.started = true;
        uint8_t d[LOG_STATE_DIGEST_LEN];
        rr_state_digest(vm, true, d, NULL);
        if (memcmp(d, P.dec.header.init_digest, sizeof(d)) != 0) {
            diverge("the guest's initial state differs from the recording's", NULL);
            return true;
        }
    }
    for (int i = 0; i < 256 && v->stop == VCPU_RUNNING; i++) {
        /* A free run may end at the next synchronous exit, which may read
         * time and be followed by OUTPUT and STATE records: it starts only
         * when a record past that exit (or the END) has arrived; the log is
         * in exit order, so that exit's records are all here. Runs bounded
         * short of a record that is here, or of the primary's mark, need
         * no such wait. */
        bool hold = P.live && !P.drained && !P.reach_end && !P.damaged && P.reach_exit < v->sync_exits + 2;
        check_after();
        if (v->stop != VCPU_RUNNING || P.io_wait)
            break;
        const struct log_record *r = peek_rec();
        struct run_opts o = { .preempt_ticks = ~0ull, .mtf = false };
        bool near_async = r && r->type == LOG_REC_ASYNC && r->exit == v->sync_exits && P.backend == LM_EMULATOR;
        if (hold && !near_async) {
            if (!ahead_of_log(vm, &o)) {
                P.waits++;
                P.waiting = true;
                break;
            }
            P.waiting = false;
            if (!r || o.preempt_ticks != ~0ull)
                goto run;
            /* The next exit's records are all here: as if not held. */
        }
        P.waiting = false;
        if (!r && P.live && P.drained && !P.diverged && !P.damaged) {
            /* Every record that arrived is replayed: the guest stands
             * where the log ends, between two event points. */
            void (*fn)(struct vm *) = P.drained;
            P.drained = NULL;
            P.live = false;
            gio_set_replay(vm, false); /* requests left in flight go to this host's drive */
            fn(vm);
            return true;
        }
        if (!r && P.live) {
            P.waits++;
            P.waiting = true;
            break;
        }
        if (!r) {
            vcpu_stop(v, VCPU_STOP_PAUSED, "replay consumed the whole log");
            break;
        }
        if (r->type == LOG_REC_ASYNC && P.backend == LM_PMU) {
            int a = pmu_approach(vm, r, &o);
            if (a < 0)
                break;
            if (a > 0) {
                progress = true;
                continue;
            }
        } else if (r->type == LOG_REC_ASYNC && P.backend == LM_EMULATOR) {
            uint64_t cur = landmark_icount(vm, P.backend);
            if (v->sync_exits == r->exit && cur == r->icount && vcpu_would_inject(v) &&
                vmread(VMCS_GUEST_RIP) != r->rip) {
                /* The recorder reached every ASYNC through a VM entry, and
                 * an entry delivers a pending event before the first
                 * instruction: enter with the timer at zero, which exits
                 * after any event injection and before any instruction
                 * (SDM Vol. 3, 26.7.4 "VMX-Preemption Timer"). */
                o.preempt_ticks = 0;
            } else if (v->sync_exits == r->exit && cur == r->icount) {
                if (!at_landmark(vm, r))
                    break;
                progress = true;
                continue;
            }
            if (cur > r->icount || v->sync_exits > r->exit) {
                diverge("the replay ran past a landmark", NULL);
                break;
            }
            uint64_t left = r->icount - cur;
            /* Near the landmark (and at the count but before the
             * landmark's exit: that exit must come with the next
             * instruction, an exiting one adds nothing to the count),
             * single steps, never a free run past it. A timer run that
             * made no progress is not tried again at the same count. */
            if (left > APPROACH_MARGIN && cur != P.timer_stuck_at)
                o.preempt_ticks = (left - APPROACH_MARGIN) >> vm->preempt_shift;
            else
                o.mtf = true;
        }
    run:
        vm_new_point(vm);
        bool timed = P.backend == LM_EMULATOR && o.preempt_ticks && o.preempt_ticks != ~0ull;
        uint64_t before = timed ? landmark_icount(vm, P.backend) : 0;
        enum run_result res = vcpu_run(v, &o);
        if (o.mtf && r && r->type == LOG_REC_ASYNC && P.backend == LM_EMULATOR) {
            /* Single steps to an ASYNC landmark (20 on average): between
             * two steps short of its count, in the same exit interval,
             * nothing in the log or the platform can apply, so step again
             * straight away; anything else (another exit, the count
             * reached, the host's interrupt) goes through the checks. */
            const uint64_t exit = r->exit, icount = r->icount;
            while (res == RUN_ASYNC && v->exit_reason == EXIT_MTF && v->sync_exits == exit &&
                   landmark_icount(vm, P.backend) < icount) {
                vm_new_point(vm);
                res = vcpu_run(v, &o);
            }
        }
        if (res == RUN_STOPPED)
            break;
        if (timed)
            P.timer_stuck_at = landmark_icount(vm, P.backend) == before ? before : ~0ull;
        if (res == RUN_HALTED) {
            /* Halted: the recorder's wake-up is a TIME at this exit. */
            r = peek_rec();
            if (r && r->type == LOG_REC_TIME && r->exit == v->sync_exits) {
                vm_new_point(vm);
                vm_now(vm);
                engine_settle(vm);
                progress = true;
                continue;
            }
            if (r && r->exit == v->sync_exits && r->type != LOG_REC_ASYNC) {
                check_after();
                continue;
            }
            diverge("the guest halted where the log expects ", r ? log_record_name(r->type) : "nothing");
            break;
        }
        progress = true;
        if (res == RUN_SYNC) {
            engine_settle(vm);
            check_after();
            r = peek_rec();
            if (!P.diverged && !vm_time_read(vm) && r && r->type == LOG_REC_TIME && r->exit == v->sync_exits) {
                vm_new_point(vm);
                vm_now(vm);
                engine_settle(vm);
            }
        }
        vm_platform_requests(vm);
        if (res == RUN_ASYNC && v->exit_reason == EXIT_EXTERNAL_INTERRUPT)
            break; /* the host has work */
    }
    return progress;
}

static void rep_console(void *ctx, uint8_t byte)
{
    (void)ctx;
    P.out_bytes++;
    P.out_crc = crc32c(P.out_crc, &byte, 1);
    P.t.console_bytes++;
    if (P.output)
        P.output(byte);
}

static void rep_exited(void *ctx, enum vcpu_stop why, int code, const char *text)
{
    (void)ctx;
    (void)code;
    (void)text;
    /* The guest stopped by itself (power-off, exit hypercall, a failure):
     * the log must end right here, the same way. */
    if (!P.diverged && !P.ended) {
        check_after();
        if (!P.diverged && !P.ended) {
            const struct log_record *r = peek_rec();
            diverge(why == VCPU_STOP_PAUSED ? "the replay stopped before the log's END; next: "
                                            : "the guest ended where the log goes on with ",
                    r ? log_record_name(r->type) : "nothing (the log is incomplete)");
        }
    }
    P.t.exits = P.vm->vcpu.sync_exits;
    P.t.icount = landmark_icount(P.vm, P.backend);
}

static void rep_finished(void *ctx, struct vm *vm)
{
    (void)ctx;
    if (P.finished)
        P.finished(vm);
}

static const struct vm_events rep_events = { .console_out = rep_console, .exited = rep_exited };

bool replayer_diverged(void) { return P.diverged; }
bool replayer_disk_differs(void) { return P.disk_differs; }
uint64_t replayer_diverged_exit(void) { return P.diverged_exit; }
bool replayer_damaged(void) { return P.damaged; }
bool replayer_reached_end(void) { return P.ended && !P.damaged && P.dec.ended; }
void replayer_totals(struct rr_totals *t) { *t = P.t; }

int replayer_start(struct vm *vm, const struct memlog *in, rr_finished_fn finished, char *err, size_t n)
{
    memset(&P.t, 0, sizeof(P.t));
    P.vm = vm;
    P.in = in;
    P.pos = 0;
    P.have_next = P.ended = P.diverged = P.at_landmark = P.damaged = P.disk_differs = false;
    P.last_time = 0;
    P.steps_at_count = 0;
    P.timer_stuck_at = ~0ull;
    P.out_bytes = P.out_crc = 0;
    P.finished = finished;
    P.live = false;
    P.drained = NULL;
    P.output = NULL;
    P.reach_exit = 0;
    P.reach_end = false;
    P.waits = 0;
    P.waiting = false;
    P.io_wait = false;
    /* A mark of an earlier log (a backup repaired by a clone) counts
     * instructions from another start. */
    P.mark_exit = P.mark_icount = 0;
    P.mark_complete = false;
    P.ahead_runs = 0;
    log_decoder_init(&P.dec);
    /* The header first: it decides the backend. */
    size_t used = 0;
    struct log_record tmp;
    int r = log_decoder_feed(&P.dec, in->buf, in->len, &used, &tmp);
    if (r != LOG_GOT_HEADER) {
        fmt_snprintf(err, n, "the log has no valid header: %s",
                     r < 0 ? log_decoder_error(&P.dec) : "the log is empty");
        return -1;
    }
    P.pos = used;
    const struct log_header *h = &P.dec.header;
    uint8_t cd[LOG_DIGEST_LEN];
    rr_config_digest(vm, cd);
    if (memcmp(cd, h->config_digest, sizeof(cd)) != 0) {
        fmt_snprintf(err, n, "the log was recorded from another guest (kernel, initrd, command line, CPU model or "
                             "memory differ; recorded on host %s)", h->host);
        return -1;
    }
    if (h->mem_bytes != vm->mem.ram_bytes) {
        fmt_snprintf(err, n, "the log's guest has %llu MiB of RAM, this one %llu MiB",
                     (unsigned long long)(h->mem_bytes >> 20), (unsigned long long)(vm->mem.ram_bytes >> 20));
        return -1;
    }
    if (h->tsc_hz < 1000000 || h->tsc_hz > 100000000000ull) {
        fmt_snprintf(err, n, "the log's virtual TSC rate %llu Hz is out of range", (unsigned long long)h->tsc_hz);
        return -1;
    }
    /* The guest's TSC rate and RTC epoch are the recording's: each host
     * measures its own at boot. The caller boots the guest afresh after
     * this, so its devices start with them. */
    if (h->tsc_hz != vm->tsc_hz || h->epoch_s != vm->config.epoch_seconds)
        log_info("replay", "the guest takes the recording's virtual TSC (%llu Hz) and RTC epoch (%llu); this host "
                           "had %llu Hz and %llu",
                 (unsigned long long)h->tsc_hz, (unsigned long long)h->epoch_s, (unsigned long long)vm->tsc_hz,
                 (unsigned long long)vm->config.epoch_seconds);
    vm->tsc_hz = h->tsc_hz;
    vm->config.epoch_seconds = h->epoch_s;
    if (h->backend > LM_PMU) {
        fmt_snprintf(err, n, "the log uses landmark backend %u, unknown here", h->backend);
        return -1;
    }
    P.backend = (enum lm_backend)h->backend;
    if (P.backend == LM_EMULATOR && !(vm->counting.stub_consistent && vm->counting.mtf_steps_exact)) {
        fmt_snprintf(err, n, "the log was recorded with the emulator backend; this CPU does not count instructions "
                             "that way");
        return -1;
    }
    if (P.backend == LM_PMU && !vm->vcpu.pmu_on) {
        char why[200];
        enum lm_backend b;
        if (landmark_select(vm, CFG_LM_PMU, &b, why, sizeof(why))) {
            fmt_snprintf(err, n, "the log was recorded with the PMU backend: %s", why);
            return -1;
        }
    }
    P.started = false;
    gio_set_replay(vm, true);
    vm_events_register(&rep_events, NULL);
    vm->in = &rep_input;
    vm->in_ctx = NULL;
    static const struct engine_policy rep_policy = { "replay", NULL, NULL, false, NULL, rep_slice, rep_finished,
                                                      NULL };
    engine_set_policy(&rep_policy, NULL);
    return 0;
}
