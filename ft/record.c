/* The recorder: the guest runs live, and every nondeterministic input it
 * consumes becomes a log record (docs/log-format.md):
 *   - a TIME record for each event point at a synchronous exit or a HLT
 *     wake-up (virtual time, at the exit ordinal);
 *   - an ASYNC record for each asynchronous event point (virtual time and
 *     the landmark where it happened);
 *   - OUTPUT records with a CRC of the console output, after the exit that
 *     ended each line, so the replay can check it produced the same;
 *   - STATE records every digest_every points, and at the end.
 * Virtual time is host time since the guest started (as in live mode). */
#include "rr.h"
#include "engine.h"
#include "guest_io.h"
#include "../vmm/vm.h"
#include "../vmm/vmcs.h"
#include "../kernel/clock.h"
#include "../kernel/cpu.h"
#include "../kernel/crc32c.h"
#include "../kernel/format.h"
#include "../kernel/kernel.h"
#include "../kernel/layout.h"
#include "../kernel/strutil.h"
#include "../kernel/log.h"
#include "../vmm/vdisk.h"
#include "../kernel/sha256.h"
#include <string.h>

#define REG_RING 4096
#define STATE_RING 64
#define REACH_RING 4096

static struct {
    struct vm *vm;
    enum lm_backend backend;
    struct memlog *out;
    struct log_encoder enc;
    uint8_t frame[LOG_MAX_FRAME];
    uint64_t start_ns;
    bool async_pending;
    uint32_t span_ms, digest_every;
    uint64_t digest_min_ns;
    /* The last periodic STATE record: its event point and virtual time. */
    uint64_t digest_point;
    vtime_t digest_vtime;
    struct rr_totals t;
    /* Console output since the last OUTPUT record. */
    uint64_t out_bytes;
    uint32_t out_crc;
    bool line_done;
    rr_finished_fn finished;
    /* Close the open frame once it is this old (host ns; 0: only when
     * full), so a consumer of a log in flight gets records promptly. */
    uint64_t flush_ns, frame_start_ns;
    bool frame_has_records;
    /* Close the frame after each OUTPUT record (the pair: output waits for
     * the backup's ack of the frame, so it must not wait for the timer). */
    bool flush_on_output;
    uint64_t produced; /* log bytes written since the header's first, in all */
    /* The guest's position (sync exits, instruction count) when the last
     * frame closed: the memory log holds every record before it, and all
     * of that exit's records too if the frame closed between two runs
     * (clean), not while an exit or event was being recorded. */
    uint64_t closed_exit, closed_icount;
    bool closed_clean;
    bool ended;        /* END is written */
    /* For each closed frame recorder_reach() has not passed yet: where it
     * ends (recorder_log_bytes()), the exit of the last record in the log
     * up to there and whether that is END. The oldest are overwritten when
     * more than REACH_RING frames wait. */
    struct { uint64_t end, exit; bool has_end; } reach[REACH_RING];
    uint64_t reach_head, reach_tail;
    uint64_t regs[REG_RING][17];
    struct rr_state_block blocks[STATE_RING];
} R;

uint8_t rr_end_reason(int why)
{
    return why == VCPU_STOP_PAUSED ? LOG_END_STOPPED : why == VCPU_STOP_FAILED ? LOG_END_FAILED : LOG_END_POWEROFF;
}

static void *live_events_ctx;
static const struct vm_events *live_events;

void rr_config_digest(struct vm *vm, uint8_t out[LOG_DIGEST_LEN])
{
    /* The files never change while ftvisor runs: digest them once (in an
     * emulator the CRC of megabytes is seconds of the host's time, while
     * the pair's peer waits on it). */
    static struct vm *done_for;
    static uint8_t done[LOG_DIGEST_LEN];
    if (done_for == vm) {
        memcpy(out, done, LOG_DIGEST_LEN);
        return;
    }
    /* What makes two runs the same guest: its image, command line, CPU
     * model and memory (the RTC epoch and TSC rate are header fields).
     * The images enter by length and CRC32C: SHA-256 over megabytes is
     * seconds of emulated CPU, and this digest only has to tell honest
     * configurations apart (the channel's HMAC guards against forgery). */
    struct {
        uint64_t kernel_len, initrd_len, mem, disk_len;
        uint32_t kernel_crc, initrd_crc, disk_crc, pad;
    } b = { vm->config.kernel_len, vm->config.initrd_len, vm->mem.ram_bytes, 0,
            crc32c(0, vm->config.kernel, vm->config.kernel_len),
            vm->config.initrd ? crc32c(0, vm->config.initrd, vm->config.initrd_len) : 0, 0, 0 };
    /* The disk image too: the guest reads it (vmm/vdisk.h). */
    b.disk_crc = vdisk_image_crc(&b.disk_len);
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, &b, sizeof(b));
    sha256_update(&c, vm->config.cmdline, strlen(vm->config.cmdline) + 1);
    sha256_update(&c, vm->cpu->name, strlen(vm->cpu->name) + 1);
    sha256_final(&c, out);
    memcpy(done, out, LOG_DIGEST_LEN);
    done_for = vm;
}

/* Close the frame in progress into the memory log and open the next;
 * clean: the vCPU is between two runs, its records all written. */
static void close_frame(bool clean)
{
    size_t size;
    if (log_frame_end(&R.enc, &size) != LOG_OK)
        return;
    if (R.out->len + size > R.out->cap && R.out->start) {
        memmove(R.out->buf, R.out->buf + R.out->start, R.out->len - R.out->start);
        R.out->len -= R.out->start;
        R.out->start = 0;
    }
    if (R.out->len + size > R.out->cap) {
        if (!R.out->overflowed)
            log_warn("record", "the in-memory log is full (%llu KiB): later records are lost",
                     (unsigned long long)(R.out->cap >> 10));
        R.out->overflowed = true;
    } else {
        memcpy(R.out->buf + R.out->len, R.frame, size);
        R.out->len += size;
        R.produced += size;
        R.closed_exit = R.vm->vcpu.sync_exits;
        R.closed_icount = landmark_icount(R.vm, R.backend);
        R.closed_clean = clean;
        R.reach[R.reach_tail % REACH_RING].end = R.produced;
        R.reach[R.reach_tail % REACH_RING].exit = log_encoder_exit(&R.enc);
        R.reach[R.reach_tail % REACH_RING].has_end = R.enc.ended;
        if (++R.reach_tail - R.reach_head > REACH_RING)
            R.reach_head = R.reach_tail - REACH_RING;
    }
    log_frame_begin(&R.enc, R.frame, sizeof(R.frame));
    R.frame_has_records = false;
}

void recorder_set_flush_ns(uint64_t ns) { R.flush_ns = ns; }
void recorder_continue_at(vtime_t t) { R.start_ns = clock_ns() - t; }
void recorder_set_flush_on_output(bool on) { R.flush_on_output = on; }
void recorder_flush_due(void)
{
    if (!R.ended && R.flush_ns && R.frame_has_records && clock_ns() - R.frame_start_ns >= R.flush_ns)
        close_frame(true);
}
uint64_t recorder_log_bytes(void) { return R.produced; }
bool recorder_reach(uint64_t upto, uint64_t *exit, bool *has_end)
{
    /* Frames are kept in log order and the oldest go first: the last kept
     * frame that ends at or before upto ends at upto (a frame boundary),
     * unless none is kept. It stays, for a caller that asks again. */
    while (R.reach_tail - R.reach_head > 1 && R.reach[(R.reach_head + 1) % REACH_RING].end <= upto)
        R.reach_head++;
    if (R.reach_head == R.reach_tail || R.reach[R.reach_head % REACH_RING].end > upto)
        return false;
    *exit = R.reach[R.reach_head % REACH_RING].exit;
    *has_end = R.reach[R.reach_head % REACH_RING].has_end;
    return true;
}
void recorder_flush_now(void)
{
    if (R.vm && !R.ended && R.frame_has_records)
        close_frame(false);
}

bool recorder_position(uint64_t *exit, uint64_t *icount, bool *exit_complete)
{
    if (!R.vm || R.ended || R.backend != LM_EMULATOR || R.out->overflowed)
        return false;
    if (!R.frame_has_records) {
        /* Nothing waits in the open frame: the log is complete up to the
         * guest's position now (called between two runs; a record still
         * to come, e.g. the next injection, is at this position or later). */
        R.closed_exit = R.vm->vcpu.sync_exits;
        R.closed_icount = landmark_icount(R.vm, R.backend);
        R.closed_clean = true;
    }
    *exit = R.closed_exit;
    *icount = R.closed_icount;
    *exit_complete = R.closed_clean;
    return true;
}
vtime_t recorder_vtime(void) { return R.t.vtime; }

static void put(const struct log_record *r)
{
    if (R.ended)
        return; /* the log has its END */
    int e = log_put(&R.enc, r);
    if (e == LOG_ERR_FULL) {
        close_frame(false);
        e = log_put(&R.enc, r);
    }
    if (e != LOG_OK) {
        log_warn("record", "record %s not logged: %s", log_record_name(r->type), log_error_name(e));
        return;
    }
    if (!R.frame_has_records) {
        R.frame_has_records = true;
        R.frame_start_ns = clock_ns();
    }
    R.t.records++;
}

static vtime_t rec_now(void *ctx)
{
    (void)ctx;
    struct vm *vm = R.vm;
    vtime_t t = clock_ns() - R.start_ns;
    vtime_t due = vm->plat.next_deadline;
    if (due != VTIME_NEVER && t >= due) {
        uint64_t late = t - due;
        R.t.late_n++;
        R.t.late_sum_ns += late;
        if (late > R.t.late_max_ns)
            R.t.late_max_ns = late;
        /* Guest execution past the deadline, in the run that just ended
         * (TSC ticks inside the guest: guest instructions in Bochs). Runs
         * before it that ended past the deadline without serving it (host
         * interrupts) are not counted. */
        const struct vcpu *v = &vm->vcpu;
        uint64_t tsc_d = rdtsc() - muldiv64(late, vm->host_tsc_hz, 1000000000u);
        uint64_t from = tsc_d > v->regs.tsc_entry ? tsc_d : v->regs.tsc_entry + vm->counting.stub_ticks;
        uint64_t ticks = v->regs.tsc_exit > from ? v->regs.tsc_exit - from : 0;
        R.t.late_sum_ticks += ticks;
        if (ticks > R.t.late_max_ticks)
            R.t.late_max_ticks = ticks;
    }
    /* Registers at this point, read once: kept for a divergence report
     * later, and the landmark of an asynchronous point. */
    uint64_t *slot = R.regs[R.t.points % REG_RING];
    slot[0] = vmread(VMCS_GUEST_RIP);
    landmark_gprs(&vm->vcpu, slot + 1);
    struct log_record r;
    memset(&r, 0, sizeof(r));
    r.exit = vm->vcpu.sync_exits;
    r.vtime_ns = t;
    if (R.async_pending) {
        struct landmark l;
        landmark_of(vm, R.backend, slot[0], slot + 1, &l);
        r.type = LOG_REC_ASYNC;
        r.icount = l.icount;
        r.rip = l.rip;
        r.rcx = l.rcx;
        r.regs_crc = l.regs_crc;
        R.async_pending = false;
        R.t.asyncs++;
    } else {
        r.type = LOG_REC_TIME;
    }
    put(&r);
    R.t.points++;
    R.t.vtime = t;
    return t;
}

static void rec_start(void *ctx)
{
    (void)ctx;
    R.start_ns = clock_ns();
}

static uint64_t rec_tsc_hz(void *ctx)
{
    (void)ctx;
    return R.vm->tsc_hz;
}

static const struct vinput_ops rec_input = { "recorded", rec_now, rec_start, rec_tsc_hz };

static vtime_t rec_peek(void *ctx)
{
    (void)ctx;
    return clock_ns() - R.start_ns;
}

static void rec_point(void *ctx, struct vm *vm, enum point_kind kind)
{
    (void)ctx;
    R.async_pending = kind == POINT_ASYNC;
    vm_new_point(vm);
    vm_now(vm);
}

static void state_record(struct vm *vm, bool full)
{
    struct log_record r;
    memset(&r, 0, sizeof(r));
    r.type = LOG_REC_STATE;
    r.exit = vm->vcpu.sync_exits;
    r.icount = landmark_icount(vm, R.backend);
    rr_state_digest(vm, full, r.digest, &R.blocks[R.t.states % STATE_RING]);
    put(&r);
    R.t.states++;
}

/* The console output since the last OUTPUT record, after the exit that
 * ended a line. */
static void output_record(struct vm *vm)
{
    if (R.line_done) {
        struct log_record r;
        memset(&r, 0, sizeof(r));
        r.type = LOG_REC_OUTPUT;
        r.stream = LOG_STREAM_CONSOLE;
        r.exit = vm->vcpu.sync_exits;
        r.bytes = R.out_bytes;
        r.crc = R.out_crc;
        put(&r);
        R.out_bytes = 0;
        R.out_crc = 0;
        R.line_done = false;
        if (R.flush_on_output)
            close_frame(false);
    }
}

/* Output digests, then periodic state digests, then the span's end. */
static void rec_after(void *ctx, struct vm *vm)
{
    (void)ctx;
    if (R.ended)
        return;
    output_record(vm);
    if (R.flush_ns && R.frame_has_records && clock_ns() - R.frame_start_ns >= R.flush_ns)
        close_frame(false);
    if (!vm_time_read(vm))
        return;
    /* Event points come faster the more I/O the guest does: virtual time
     * bounds how often a busy guest is digested. Only the recorder
     * decides; a replay follows the STATE records. */
    if (R.digest_every && R.t.points - R.digest_point >= R.digest_every &&
        vm->time_now - R.digest_vtime >= R.digest_min_ns) {
        state_record(vm, false);
        R.digest_point = R.t.points;
        R.digest_vtime = vm->time_now;
    }
    if (R.span_ms && vm->time_now >= (uint64_t)R.span_ms * 1000000 && vm->vcpu.stop == VCPU_RUNNING)
        vcpu_stop(&vm->vcpu, VCPU_STOP_PAUSED, "recording span of %u ms reached", R.span_ms);
}

static void rec_console(void *ctx, uint8_t byte)
{
    (void)ctx;
    R.out_bytes++;
    R.out_crc = crc32c(R.out_crc, &byte, 1);
    R.t.console_bytes++;
    if (byte == '\n')
        R.line_done = true;
    if (live_events && live_events->console_out)
        live_events->console_out(live_events_ctx, byte);
}

static void rec_exited(void *ctx, enum vcpu_stop why, int code, const char *text)
{
    (void)ctx;
    struct vm *vm = R.vm;
    /* The end: the output of the exit that stopped the guest, a full
     * state digest where it stopped, then END; nothing after it. */
    output_record(vm);
    state_record(vm, true);
    struct log_record r;
    memset(&r, 0, sizeof(r));
    r.type = LOG_REC_END;
    r.exit = vm->vcpu.sync_exits;
    r.reason = rr_end_reason(why);
    put(&r);
    close_frame(false);
    R.ended = true;
    R.t.exits = vm->vcpu.sync_exits;
    R.t.icount = landmark_icount(vm, R.backend);
    if (live_events && live_events->exited)
        live_events->exited(live_events_ctx, why, code, text);
}

static void rec_drop_partial_line(void *ctx)
{
    (void)ctx;
    if (live_events && live_events->drop_partial_line)
        live_events->drop_partial_line(live_events_ctx);
}

static const struct vm_events rec_events = { rec_console, rec_exited, rec_drop_partial_line };

void recorder_totals(struct rr_totals *t) { *t = R.t; }

bool recorder_regs_at(uint64_t point, uint64_t regs[17])
{
    if (point >= R.t.points || R.t.points - point > REG_RING)
        return false;
    memcpy(regs, R.regs[point % REG_RING], sizeof(R.regs[0]));
    return true;
}

bool recorder_state_at(uint64_t i, struct rr_state_block *blk)
{
    if (i >= R.t.states || R.t.states - i > STATE_RING)
        return false;
    *blk = R.blocks[i % STATE_RING];
    return true;
}

/* A host device's completion entering the guest here: its data in
 * DEVDATA records (as large as the open frame allows, so frames stay
 * full), or only their CRC in a DEVCHECK when the replayer reads the data
 * itself; then DEVDONE. */
static void rec_dev_log(uint8_t device, uint32_t tag, uint32_t status, const uint8_t *data, uint32_t len,
                        bool check_only)
{
    /* The fields every record of this completion shares. */
    const struct log_record base = { .exit = R.vm->vcpu.sync_exits, .device = device, .tag = tag };
    struct log_record r;
    if (check_only && len) {
        r = base;
        r.type = LOG_REC_DEVCHECK;
        r.bytes = len;
        r.crc = crc32c(0, data, len);
        put(&r);
        R.t.dev_checked += len;
        len = 0;
    }
    for (uint32_t off = 0; off < len;) {
        size_t body = log_frame_body(&R.enc);
        size_t room = body + 64 < LOG_MAX_BODY ? LOG_MAX_BODY - body - 24 : 0;
        uint32_t left = len - off;
        if (room < left && room < 4096) {
            close_frame(false);
            continue;
        }
        uint32_t n = left < room ? left : (uint32_t)room;
        if (n > LOG_MAX_DATA)
            n = LOG_MAX_DATA;
        r = base;
        r.type = LOG_REC_DEVDATA;
        r.offset = off;
        r.data = data + off;
        r.len = n;
        put(&r);
        off += n;
        R.t.dev_bytes += n;
    }
    r = base;
    r.type = LOG_REC_DEVDONE;
    r.status = status;
    put(&r);
    R.t.dev_done++;
}

static void rec_deliver(void *ctx, struct vm *vm)
{
    (void)ctx;
    if (!R.ended)
        gio_deliver(vm, rec_dev_log);
}

static void rec_finished(void *ctx, struct vm *vm)
{
    (void)ctx;
    if (R.finished)
        R.finished(vm);
}

int recorder_start(struct vm *vm, enum lm_backend b, struct memlog *out, uint32_t span_ms, uint32_t digest_every,
                   uint32_t digest_min_ms, rr_finished_fn finished, char *err, size_t n)
{
    memset(&R.t, 0, sizeof(R.t));
    R.vm = vm;
    R.backend = b;
    R.out = out;
    R.span_ms = span_ms;
    R.digest_every = digest_every;
    R.digest_min_ns = (uint64_t)digest_min_ms * 1000000;
    R.digest_point = 0;
    R.digest_vtime = 0;
    R.out_bytes = R.out_crc = 0;
    R.line_done = R.async_pending = false;
    R.finished = finished;
    R.flush_ns = 0;
    R.flush_on_output = false;
    R.ended = false;
    R.frame_has_records = false;
    R.closed_exit = R.closed_icount = 0;
    R.closed_clean = false;
    R.reach_head = R.reach_tail = 0;
    out->start = out->len = 0;
    out->overflowed = false;
    vm_events_current(&live_events, &live_events_ctx);
    vm_events_register(&rec_events, NULL);

    struct log_header h;
    memset(&h, 0, sizeof(h));
    h.format_version = LOG_FORMAT_VERSION;
    h.backend = (uint8_t)b;
    h.tsc_hz = vm->tsc_hz;
    h.epoch_s = vm->config.epoch_seconds;
    h.mem_bytes = vm->mem.ram_bytes;
    str_copy(h.cpu_model, vm->cpu->name, sizeof(h.cpu_model));
    rr_config_digest(vm, h.config_digest);
    uint8_t d[LOG_STATE_DIGEST_LEN];
    rr_state_digest(vm, true, d, NULL);
    memcpy(h.init_digest, d, sizeof(d));
    const struct cfg_host *me = kernel_this_host();
    str_copy(h.host, me ? me->name : "?", sizeof(h.host));
    h.boot_id = 1;
    log_encoder_init(&R.enc);
    size_t size;
    int e = log_encode_header(&R.enc, &h, out->buf, out->cap, &size);
    if (e != LOG_OK) {
        fmt_snprintf(err, n, "cannot write the log's header: %s", log_error_name(e));
        return -1;
    }
    out->len = size;
    R.produced = size;
    log_frame_begin(&R.enc, R.frame, sizeof(R.frame));
    vinput_register(&rec_input, NULL);
    vm->in = &rec_input;
    vm->in_ctx = NULL;
    R.start_ns = clock_ns();
    static const struct engine_policy rec_policy = { "record", rec_peek, rec_point, true, rec_after, NULL,
                                                      rec_finished, rec_deliver };
    static const struct engine_policy rec_policy_exits = { "record", rec_peek, rec_point, false, rec_after, NULL,
                                                            rec_finished, rec_deliver };
    gio_set_replay(vm, false);
    engine_set_policy(b == LM_EXITS ? &rec_policy_exits : &rec_policy, NULL);
    return 0;
}
