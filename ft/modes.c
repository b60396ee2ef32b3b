/* The [record] modes (docs/config.md):
 *
 *  - selfcheck: record the guest for a span (or until it ends) into host
 *    memory, boot it again from its image and replay the log on the same
 *    host, then say whether the replay was identical: every recorded event
 *    point reached at the same exit and instruction, the same console
 *    output, the same state digests and, at the end, the same registers
 *    and RAM. The single-host proof of the record/replay machinery the
 *    primary/backup pair is built on.
 *  - record: run the guest live and record it, into host memory or
 *    streamed to tools/ftlog-sink (dest = sink) as it runs.
 *  - replay: fetch a log from the sink, boot the guest and replay it.
 *
 * [debug] fault_test = log_corrupt | log_retime | log_mutate damages the log between
 * the two runs of a selfcheck, to show that damage is caught (by the frame
 * CRC) and that a valid but different log makes the replay diverge with a
 * report. */
#include "rr.h"
#include "sink.h"
#include "engine.h"
#include "../vmm/vm.h"
#include "../vmm/vdisk.h"
#include "../kernel/format.h"
#include "../kernel/kernel.h"
#include "../kernel/layout.h"
#include "../kernel/log.h"
#include "../kernel/pmm.h"
#include "../kernel/power.h"
#include "../kernel/service.h"
#include <string.h>

#define LOG_PAGES 4096 /* 16 MiB of log in host memory */

static struct memlog memlog;
static enum lm_backend backend;
static struct rr_totals rec;

static const char *on_off(bool b) { return b ? "" : "not "; }

static void report_totals(const char *who, const struct rr_totals *t)
{
    log_info(who, "%llu event points (%llu asynchronous), %llu state digests, %llu sync exits, %llu instructions, "
                  "%llu console bytes, %llu.%03llu s virtual",
             (unsigned long long)t->points, (unsigned long long)t->asyncs, (unsigned long long)t->states,
             (unsigned long long)t->exits, (unsigned long long)t->icount, (unsigned long long)t->console_bytes,
             (unsigned long long)(t->vtime / 1000000000u), (unsigned long long)(t->vtime / 1000000u % 1000));
    if (t->dev_done)
        log_info(who, "%llu host device completions (DEVDONE), %llu bytes of their data (DEVDATA), %llu bytes "
                      "only checked (DEVCHECK)",
                 (unsigned long long)t->dev_done, (unsigned long long)t->dev_bytes,
                 (unsigned long long)t->dev_checked);
}

static enum cfg_record_mode mode;
static const char *mode_name(void) { return mode == CFG_REC_SELFCHECK ? "selfcheck" : mode == CFG_REC_RECORD ? "record" : "replay"; }

static void end(bool good, const char *what)
{
    char why[48];
    fmt_snprintf(why, sizeof(why), "%s %s", mode_name(), good ? "done" : what ? what : "failed");
    power_apply(kernel_config()->debug.on_guest_exit, why);
}

static bool next_backend(struct vm *vm);

/* The guest's disk as the recording found it (each run starts there). */
static bool rewind_disk(void)
{
    uint64_t blocks;
    if (vdisk_rewind(&blocks)) {
        log_error("selfcheck", "the guest's disk cannot be brought back to its start (host memory ran out while "
                               "keeping its original blocks)");
        return false;
    }
    if (blocks)
        log_info("selfcheck", "the guest's disk is back as it started (%llu blocks of 4 KiB restored)",
                 (unsigned long long)blocks);
    return true;
}

static void replayed(struct vm *vm)
{
    (void)vm;
    struct rr_totals t;
    replayer_totals(&t);
    report_totals("replay", &t);
    if (kernel_config()->debug.replay_drip)
        log_info("replay", "waited %llu times for more of the log to arrive", (unsigned long long)replayer_waits());
    const char *verdict;
    if (replayer_damaged())
        verdict = "REJECTED: the log is damaged (report above); nothing after the damage was replayed";
    else if (replayer_diverged())
        verdict = "DIVERGED (report above)";
    else if (!replayer_reached_end())
        verdict = "INCOMPLETE: the log ended without its END record";
    else if (mode == CFG_REC_SELFCHECK &&
             (t.points != rec.points || t.asyncs != rec.asyncs || t.exits != rec.exits || t.icount != rec.icount ||
              t.console_bytes != rec.console_bytes || t.dev_done != rec.dev_done || t.dev_bytes != rec.dev_bytes || t.dev_checked != rec.dev_checked))
        verdict = "DIVERGED: the totals differ from the recording's";
    else
        verdict = NULL;
    if (verdict) {
        log_error("replay", "%s", verdict);
        end(false, NULL);
        return;
    }
    log_info("replay", "identical (%llu events, %llu instructions): %llu state digests and the final RAM digest match",
             (unsigned long long)t.records, (unsigned long long)t.icount, (unsigned long long)t.states);
    if (mode == CFG_REC_SELFCHECK && next_backend(vm))
        return;
    end(true, NULL);
}

/* Flip one bit in the middle of the last records frame. */
static void corrupt(struct memlog *m)
{
    size_t off = LOG_FRAME_OVERHEAD + LOG_HEADER_BODY, last = 0;
    while (off + LOG_FRAME_HEADER <= m->len) {
        uint32_t body;
        memcpy(&body, m->buf + off + 12, 4);
        last = off;
        off += LOG_FRAME_OVERHEAD + body;
    }
    if (!last)
        return;
    uint32_t body;
    memcpy(&body, m->buf + last + 12, 4);
    size_t at = last + LOG_FRAME_HEADER + body / 2;
    m->buf[at] ^= 0x10;
    log_warn("debug", "fault_test = log_corrupt: flipped bit 4 of log byte %llu (a records frame's body)",
             (unsigned long long)at);
}

/* Re-encode the log, valid (CRCs and all) but of a run that never
 * happened: retime moves the virtual time of every TIME and ASYNC record
 * from the middle TIME record on 1 ms later; mutate flips one bit of the
 * middle ASYNC record's register CRC and nothing else. */
static int retime_into(struct memlog *m, uint8_t *out, size_t cap, bool mutate)
{
    static struct log_decoder dec;
    static struct log_encoder enc;
    static uint8_t frame[LOG_MAX_FRAME];
    size_t len = 0, pos = 0, used, sz;
    uint64_t times = 0, n = 0;
    struct log_record r;
    /* Pass 1: count TIME records. */
    log_decoder_init(&dec);
    for (int e; (e = log_decoder_feed(&dec, m->buf + pos, m->len - pos, &used, &r)) != LOG_NEED_MORE; pos += used) {
        if (e < 0)
            return -1;
        if (e == LOG_OK && r.type == (mutate ? LOG_REC_ASYNC : LOG_REC_TIME))
            times++;
        if (!used && e != LOG_OK && e != LOG_GOT_HEADER)
            break;
    }
    log_decoder_reset(&dec);
    log_encoder_init(&enc);
    pos = 0;
    uint64_t shift = 0, index = 0;
    bool mutated = false;
    for (int e; (e = log_decoder_feed(&dec, m->buf + pos, m->len - pos, &used, &r)) != LOG_NEED_MORE;) {
        pos += used;
        if (e == LOG_GOT_HEADER) {
            if (log_encode_header(&enc, &dec.header, out, cap, &sz) != LOG_OK)
                return -1;
            len = sz;
            log_frame_begin(&enc, frame, sizeof(frame));
            continue;
        }
        if (e != LOG_OK)
            return -1;
        if (mutate && r.type == LOG_REC_ASYNC && n++ == times / 2) {
            log_warn("debug", "fault_test = log_mutate: record #%llu (ASYNC at exit %llu, landmark %llu): register "
                              "CRC %08x becomes %08x",
                     (unsigned long long)index, (unsigned long long)r.exit, (unsigned long long)r.icount, r.regs_crc,
                     r.regs_crc ^ 1u);
            r.regs_crc ^= 1u;
            mutated = true;
        }
        index++;
        if (!mutate && r.type == LOG_REC_TIME && n++ == times / 2) {
            shift = 1000000;
            log_warn("debug", "fault_test = log_retime: TIME record at exit %llu: %llu ns becomes %llu ns (and "
                              "every later time 1 ms later)",
                     (unsigned long long)r.exit, (unsigned long long)r.vtime_ns,
                     (unsigned long long)(r.vtime_ns + shift));
        }
        if (r.type == LOG_REC_TIME || r.type == LOG_REC_ASYNC)
            r.vtime_ns += shift;
        int p = log_put(&enc, &r);
        if (p == LOG_ERR_FULL) {
            log_frame_end(&enc, &sz);
            memcpy(out + len, frame, sz);
            len += sz;
            log_frame_begin(&enc, frame, sizeof(frame));
            p = log_put(&enc, &r);
        }
        if (p != LOG_OK)
            return -1;
    }
    log_frame_end(&enc, &sz);
    if (len + sz > cap)
        return -1;
    memcpy(out + len, frame, sz);
    len += sz;
    memcpy(m->buf, out, len);
    m->len = len;
    return shift || mutated ? 0 : -1;
}

static int retime(struct memlog *m, bool mutate)
{
    uint64_t pa = pmm_alloc(LOG_PAGES, 1);
    int r = retime_into(m, phys_to_virt(pa), (size_t)LOG_PAGES * 4096, mutate);
    pmm_free(pa, LOG_PAGES);
    return r;
}

static void log_stats(void)
{
    uint64_t bytes = mode == CFG_REC_RECORD && kernel_config()->record.dest == CFG_DEST_SINK ? sink_bytes() : memlog.len;
    log_info("record", "log: %llu bytes%s%s (%llu.%02llu bytes per 1000 instructions)", (unsigned long long)bytes,
             mode == CFG_REC_RECORD && kernel_config()->record.dest == CFG_DEST_SINK ? " sent to the sink"
                                                                                      : " in memory",
             memlog.overflowed ? ", OVERFLOWED: records were lost" : "",
             (unsigned long long)(rec.icount ? bytes * 1000 / rec.icount : 0),
             (unsigned long long)(rec.icount ? bytes * 100000 / rec.icount % 100 : 0));
    log_info("record", "state digests read %llu guest pages again so far (%llu MiB)",
             (unsigned long long)rr_digest_pages_read(), (unsigned long long)(rr_digest_pages_read() >> 8));
}

static void report_latency(void)
{
    if (!rec.late_n)
        return;
    log_info("record", "device deadlines served %llu times, late by %llu us on average, at most %llu us; the guest ran "
                       "%llu TSC ticks past a deadline on average, at most %llu (%s backend)",
             (unsigned long long)rec.late_n, (unsigned long long)(rec.late_sum_ns / rec.late_n / 1000),
             (unsigned long long)(rec.late_max_ns / 1000), (unsigned long long)(rec.late_sum_ticks / rec.late_n),
             (unsigned long long)rec.late_max_ticks,
             backend == LM_EMULATOR ? "emulator" : backend == LM_EXITS ? "exits" : "pmu");
}

static struct memlog drip_view;
static bool dripping;
static struct log_decoder drip_dec;
static size_t drip_pos;

/* replay_drip: tell the replayer how far the view reaches, as the pair's
 * LOG messages do. The recorder knew it per frame while recording; by
 * now only decoding the view again tells it (a test's cost). */
static void drip_reach(void)
{
    static struct log_record r;
    for (;;) {
        size_t used = 0;
        int e = log_decoder_feed(&drip_dec, drip_view.buf + drip_pos, drip_view.len - drip_pos, &used, &r);
        drip_pos += used;
        if (e == LOG_OK)
            replayer_log_reaches(r.exit, r.type == LOG_REC_END);
        else if (e != LOG_GOT_HEADER)
            return; /* more to come; or damage, which the replayer finds and reports */
    }
}

/* selfcheck: the recording is over; replay it. */
static void recorded(struct vm *vm)
{
    recorder_totals(&rec);
    report_totals("record", &rec);
    log_stats();
    report_latency();
    enum cfg_fault_test ft = kernel_config()->debug.fault_test;
    if (ft == CFG_FAULT_LOG_CORRUPT)
        corrupt(&memlog);
    else if (ft == CFG_FAULT_LOG_RETIME && retime(&memlog, false))
        log_error("debug", "fault_test = log_retime: could not rewrite the log");
    else if (ft == CFG_FAULT_LOG_MUTATE && retime(&memlog, true))
        log_error("debug", "fault_test = log_mutate: could not rewrite the log (no ASYNC record?)");

    char err[200];
    /* [debug] replay_drip: the replayer sees the log grow as if it came
     * over the channel (modes_poll() adds to the view). */
    uint32_t drip = kernel_config()->debug.replay_drip;
    drip_view = memlog;
    if (drip) /* the header frame first: the replayer starts from it */
        drip_view.len = memlog.len < LOG_FRAME_OVERHEAD + LOG_HEADER_BODY ? memlog.len
                                                                          : LOG_FRAME_OVERHEAD + LOG_HEADER_BODY;
    if (replayer_start(vm, drip ? &drip_view : &memlog, replayed, err, sizeof(err)) == 0 && drip) {
        log_info("selfcheck", "replay_drip: the log reaches the replayer %u bytes per main-loop pass", drip);
        replayer_set_live(true);
        log_decoder_init(&drip_dec);
        drip_pos = 0;
        dripping = true;
    } else if (drip) {
        log_error("replay", "cannot replay: %s", err);
        end(false, NULL);
        return;
    }
    if (!drip && replayer_start(vm, &memlog, replayed, err, sizeof(err))) {
        log_error("replay", "cannot replay: %s", err);
        end(false, NULL);
        return;
    }
    log_info("selfcheck", "booting the guest again and replaying its log");
    if (!rewind_disk()) {
        end(false, NULL);
        return;
    }
    if (vm_boot(vm, true, err, sizeof(err))) {
        log_error("selfcheck", "cannot boot the guest again: %s", err);
        end(false, NULL);
        return;
    }
    vm->created = true;
}

/* record: the guest ended; the log's END is written. */
static bool awaiting_sink;
static void recorded_only(struct vm *vm)
{
    (void)vm;
    recorder_totals(&rec);
    report_totals("record", &rec);
    report_latency();
    if (kernel_config()->record.dest == CFG_DEST_SINK) {
        sink_put_finish();
        awaiting_sink = true; /* modes_poll() ends it when the sink has answered */
        return;
    }
    log_stats();
    end(!memlog.overflowed, "failed: the log overflowed");
}

/* Until the sink is connected (record) or the log is in (replay) the
 * guest does not run (engine_set_hold_policy()). */
static bool waiting;

static const char *log_name(void)
{
    const struct config *cfg = kernel_config();
    if (cfg->record.log_name[0])
        return cfg->record.log_name;
    const struct cfg_host *me = kernel_this_host();
    return me ? me->name : "guest";
}

static void start_recording(struct vm *vm, rr_finished_fn done)
{
    const struct config *cfg = kernel_config();
    char why[200];
    if (recorder_start(vm, backend, &memlog, cfg->record.span_ms, cfg->record.digest_every,
                       cfg->record.digest_min_ms, done, why, sizeof(why))) {
        log_error("record", "cannot record: %s", why);
        end(false, "cannot run");
        return;
    }
    /* A log read while it is written gets its records in frames closed
     * every few ms: the sink's, and the replay_drip test's. */
    if (cfg->debug.replay_drip)
        recorder_set_flush_ns(1000000);
    else if (mode == CFG_REC_RECORD && cfg->record.dest == CFG_DEST_SINK)
        recorder_set_flush_ns(10000000);
    if (cfg->record.span_ms)
        log_info(mode_name(), "recording %u ms of the guest%s", cfg->record.span_ms,
                 mode == CFG_REC_SELFCHECK ? ", then replaying it" : "");
    else
        log_info(mode_name(), "recording the guest until it ends%s", mode == CFG_REC_SELFCHECK ? ", then replaying it" : "");
}

static void start_replay(struct vm *vm)
{
    char err[200];
    if (replayer_start(vm, &memlog, replayed, err, sizeof(err))) {
        log_error("replay", "cannot replay: %s", err);
        end(false, NULL);
        return;
    }
    /* A fresh boot, with the recording's TSC rate and RTC epoch. */
    if (vm_boot(vm, true, err, sizeof(err))) {
        log_error("replay", "cannot boot the guest: %s", err);
        end(false, NULL);
        return;
    }
    log_info("replay", "replaying the log (%llu bytes) from its first record", (unsigned long long)memlog.len);
}

static bool modes_poll(void)
{
    struct vm *vm = &the_vm;
    if (dripping) {
        size_t n = kernel_config()->debug.replay_drip;
        drip_view.len = drip_view.len + n < memlog.len ? drip_view.len + n : memlog.len;
        drip_reach();
        if (drip_view.len == memlog.len) {
            dripping = false;
            replayer_set_live(false);
        }
    }
    enum sink_state st = sink_state();
    if (waiting && mode == CFG_REC_RECORD) {
        if (st == SINK_STREAMING) {
            waiting = false;
            log_info("record", "streaming the log to the sink as \"%s\"", log_name());
            start_recording(vm, recorded_only);
        } else if (st == SINK_FAILED) {
            waiting = false;
            log_error("record", "cannot record: %s", sink_text());
            end(false, "cannot run");
        }
        return false;
    }
    if (waiting && mode == CFG_REC_REPLAY) {
        if (st == SINK_DONE && sink_status() == 0) {
            waiting = false;
            log_info("replay", "fetched \"%s\" from the sink: %llu bytes", log_name(), (unsigned long long)memlog.len);
            start_replay(vm);
        } else if (st == SINK_DONE || st == SINK_FAILED) {
            waiting = false;
            log_error("replay", "cannot fetch the log \"%s\": %s", log_name(),
                      st == SINK_DONE && sink_text()[0] ? sink_text() : st == SINK_FAILED ? sink_text() : "the sink refused");
            end(false, "cannot run");
        }
        return false;
    }
    if (awaiting_sink && (st == SINK_DONE || st == SINK_FAILED)) {
        awaiting_sink = false;
        log_stats();
        if (st == SINK_DONE && sink_status() == 0) {
            log_info("record", "the sink stored the log: %s", sink_text());
            end(true, NULL);
        } else {
            log_error("record", "the log did not reach the sink whole: %s", sink_text());
            end(false, NULL);
        }
    }
    return false;
}

/* What the guest had before any recording: the live console and input,
 * put back before each new recording (landmark = each). */
static const struct vm_events *live_ev;
static void *live_ev_ctx;
static const struct vinput_ops *live_in;
static void *live_in_ctx;

/* landmark = each: the backends still to run, in order. */
static enum lm_backend queue[3];
static unsigned nqueued, done_backends;

static void announce_backend(struct vm *vm)
{
    log_info("record", "landmark backend: %s", landmark_backend_name(backend));
    log_info("record", "instruction counting: %sexact TSC, MTF steps %sexact",
             on_off(vm->counting.stub_consistent), on_off(vm->counting.mtf_steps_exact));
}

/* After a selfcheck with one backend: the next one, on a fresh boot. */
static bool next_backend(struct vm *vm)
{
    if (done_backends >= nqueued)
        return false;
    backend = queue[done_backends++];
    char err[200];
    log_info("selfcheck", "again with the next backend, from a fresh boot");
    announce_backend(vm);
    vm_events_register(live_ev, live_ev_ctx);
    vm->in = live_in;
    vm->in_ctx = live_in_ctx;
    if (!rewind_disk()) {
        end(false, NULL);
        return true;
    }
    if (vm_boot(vm, true, err, sizeof(err))) {
        log_error("selfcheck", "cannot boot the guest again: %s", err);
        end(false, NULL);
        return true;
    }
    vm->created = true;
    start_recording(vm, recorded);
    return true;
}

static void modes_init(void)
{
    const struct config *cfg = kernel_config();
    struct vm *vm = &the_vm;
    mode = cfg->record.mode;
    if (mode == CFG_REC_OFF || !vm->created)
        return;
    vm_events_current(&live_ev, &live_ev_ctx);
    live_in = vm->in;
    live_in_ctx = vm->in_ctx;
    char why[200];
    memlog.buf = phys_to_virt(pmm_alloc(LOG_PAGES, 1));
    memlog.cap = (size_t)LOG_PAGES * 4096;
    memlog.start = memlog.len = 0;
    if (mode == CFG_REC_REPLAY) {
        /* The backend comes from the log's header. */
        sink_get_start(cfg->record.sink_ip, cfg->record.sink_port, log_name(), &memlog);
        engine_set_hold_policy();
        waiting = true;
        log_info("replay", "fetching the log \"%s\" from the sink at %u.%u.%u.%u:%u", log_name(),
                 cfg->record.sink_ip >> 24, (cfg->record.sink_ip >> 16) & 255, (cfg->record.sink_ip >> 8) & 255,
                 cfg->record.sink_ip & 255, cfg->record.sink_port);
        return;
    }
    if (cfg->record.landmark == CFG_LM_EACH) {
        /* Every backend that runs here, one after the other. */
        nqueued = done_backends = 0;
        if (landmark_select(vm, CFG_LM_EMULATOR, &queue[nqueued], why, sizeof(why)) == 0)
            nqueued++;
        else
            log_info("selfcheck", "not with the emulator backend: %s", why);
        queue[nqueued++] = LM_EXITS;
        if (landmark_select(vm, CFG_LM_PMU, &backend, why, sizeof(why)))
            log_info("selfcheck", "not with the PMU backend: %s", why);
        else
            queue[nqueued++] = LM_PMU;
        backend = queue[done_backends++];
        log_info("selfcheck", "landmark = each: %u backends here", nqueued);
    } else if (landmark_select(vm, cfg->record.landmark, &backend, why, sizeof(why))) {
        log_error("record", "%s:%u: landmark: %s", cfg->file, cfg->record.line, why);
        end(false, "cannot run");
        return;
    }
    announce_backend(vm);
    if (mode == CFG_REC_RECORD && cfg->record.dest == CFG_DEST_SINK) {
        sink_put_start(cfg->record.sink_ip, cfg->record.sink_port, log_name(), &memlog);
        engine_set_hold_policy();
        waiting = true;
        log_info("record", "connecting to the log sink at %u.%u.%u.%u:%u", cfg->record.sink_ip >> 24,
                 (cfg->record.sink_ip >> 16) & 255, (cfg->record.sink_ip >> 8) & 255, cfg->record.sink_ip & 255,
                 cfg->record.sink_port);
        return;
    }
    if (mode == CFG_REC_SELFCHECK && vdisk_keep_original(why, sizeof(why))) {
        log_error("selfcheck", "%s", why);
        end(false, "cannot run");
        return;
    }
    start_recording(vm, mode == CFG_REC_SELFCHECK ? recorded : recorded_only);
}

SERVICE(36, ft_modes, modes_init, modes_poll);
