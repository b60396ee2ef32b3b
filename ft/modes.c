/* Self-check ([record] mode = selfcheck): record the guest for a span
 * (or until it ends) into host memory, boot it again from its image and
 * replay the log on the same host, then say whether the replay was
 * identical: every recorded event point reached at the same exit and
 * instruction, the same console output, the same state digests and, at
 * the end, the same registers and RAM. The single-host proof of the
 * record/replay machinery the primary/backup pair is built on.
 *
 * [debug] fault_test = log_corrupt | log_retime damages the log between
 * the two runs, to show that damage is caught (by the frame CRC) and that
 * a valid but different log makes the replay diverge with a report. */
#include "rr.h"
#include "../vmm/vm.h"
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
}

static void replayed(struct vm *vm)
{
    (void)vm;
    struct rr_totals t;
    replayer_totals(&t);
    report_totals("replay", &t);
    const char *verdict;
    if (replayer_damaged())
        verdict = "REJECTED: the log is damaged (report above); nothing after the damage was replayed";
    else if (replayer_diverged())
        verdict = "DIVERGED (report above)";
    else if (!replayer_reached_end())
        verdict = "INCOMPLETE: the log ended without its END record";
    else if (t.points != rec.points || t.asyncs != rec.asyncs || t.exits != rec.exits || t.icount != rec.icount ||
             t.console_bytes != rec.console_bytes)
        verdict = "DIVERGED: the totals differ from the recording's";
    else
        verdict = NULL;
    if (verdict) {
        log_error("selfcheck", "replay %s", verdict);
        power_apply(kernel_config()->debug.on_guest_exit, "selfcheck failed");
        return;
    }
    log_info("selfcheck", "replay identical: %llu event points, %llu state digests and the final RAM digest match",
             (unsigned long long)t.points, (unsigned long long)t.states);
    power_apply(kernel_config()->debug.on_guest_exit, "selfcheck done");
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

/* Re-encode the log with the virtual time of every TIME and ASYNC record
 * from the middle TIME record on moved 1 ms later: a valid log (CRCs
 * and all) of a run that never happened. */
static int retime_into(struct memlog *m, uint8_t *out, size_t cap)
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
        if (e == LOG_OK && r.type == LOG_REC_TIME)
            times++;
        if (!used && e != LOG_OK && e != LOG_GOT_HEADER)
            break;
    }
    log_decoder_reset(&dec);
    log_encoder_init(&enc);
    pos = 0;
    uint64_t shift = 0;
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
        if (r.type == LOG_REC_TIME && n++ == times / 2) {
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
    return shift ? 0 : -1;
}

static int retime(struct memlog *m)
{
    uint64_t pa = pmm_alloc(LOG_PAGES, 1);
    int r = retime_into(m, phys_to_virt(pa), (size_t)LOG_PAGES * 4096);
    pmm_free(pa, LOG_PAGES);
    return r;
}

static void recorded(struct vm *vm)
{
    recorder_totals(&rec);
    report_totals("record", &rec);
    log_info("record", "log: %llu bytes in memory%s (%llu.%02llu bytes per 1000 instructions)",
             (unsigned long long)memlog.len, memlog.overflowed ? ", OVERFLOWED: records were lost" : "",
             (unsigned long long)(rec.icount ? memlog.len * 1000 / rec.icount : 0),
             (unsigned long long)(rec.icount ? memlog.len * 100000 / rec.icount % 100 : 0));
    enum cfg_fault_test ft = kernel_config()->debug.fault_test;
    if (ft == CFG_FAULT_LOG_CORRUPT)
        corrupt(&memlog);
    else if (ft == CFG_FAULT_LOG_RETIME && retime(&memlog))
        log_error("debug", "fault_test = log_retime: could not rewrite the log");

    char err[200];
    if (replayer_start(vm, &memlog, replayed, err, sizeof(err))) {
        log_error("selfcheck", "cannot replay: %s", err);
        power_apply(kernel_config()->debug.on_guest_exit, "selfcheck failed");
        return;
    }
    log_info("selfcheck", "booting the guest again and replaying its log");
    if (vm_boot(vm, true, err, sizeof(err))) {
        log_error("selfcheck", "cannot boot the guest again: %s", err);
        power_apply(kernel_config()->debug.on_guest_exit, "selfcheck failed");
        return;
    }
    vm->created = true;
}

static void selfcheck_init(void)
{
    const struct config *cfg = kernel_config();
    struct vm *vm = &the_vm;
    if (cfg->record.mode != CFG_REC_SELFCHECK || !vm->created)
        return;
    char why[200];
    if (landmark_select(vm, cfg->record.landmark, &backend, why, sizeof(why))) {
        log_error("record", "%s:%u: landmark: %s", cfg->file, cfg->record.line, why);
        power_apply(cfg->debug.on_guest_exit, "selfcheck cannot run");
        return;
    }
    log_info("record", "landmark backend: %s", landmark_backend_name(backend));
    log_info("record", "instruction counting: %sexact TSC, MTF steps %sexact",
             on_off(vm->counting.stub_consistent), on_off(vm->counting.mtf_steps_exact));
    memlog.buf = phys_to_virt(pmm_alloc(LOG_PAGES, 1));
    memlog.cap = (size_t)LOG_PAGES * 4096;
    if (recorder_start(vm, backend, &memlog, cfg->record.span_ms, cfg->record.digest_every, recorded, why,
                       sizeof(why))) {
        log_error("record", "cannot record: %s", why);
        power_apply(cfg->debug.on_guest_exit, "selfcheck cannot run");
        return;
    }
    if (cfg->record.span_ms)
        log_info("selfcheck", "recording %u ms of the guest, then replaying it", cfg->record.span_ms);
    else
        log_info("selfcheck", "recording the guest until it ends, then replaying it");
}

SERVICE(36, selfcheck, selfcheck_init, NULL);
