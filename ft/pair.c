/* The fault-tolerant pair (docs/ARCHITECTURE.md, "The FT protocol").
 *
 * Active when the config has a [pair], a [guest] and no [record] mode. The
 * primary ([pair] primary, default the first [host]) records the guest
 * (ft/record.c) and streams the log over the logging channel
 * (net/channel.c); the backup boots the same guest and replays the log as
 * it arrives (ft/replay.c, live). Messages (channel types 17-32; the
 * payloads are in docs/ft-protocol.md):
 *
 *   OFFER    primary -> backup  the virtual TSC rate and RTC epoch: the
 *                               backup boots its guest with these
 *   READY    backup -> primary  the backup's guest config digest and its
 *                               initial state digest
 *   START    primary -> backup  the pair epoch: protection begins
 *   LOG      primary -> backup  whole log frames, with the console bytes
 *                               the primary has shown and how far the log
 *                               reaches (the last record's exit, END)
 *   MARK     primary -> backup  how far the log sent so far reaches (exit
 *                               ordinal, instruction count): the replay
 *                               runs ahead to it between frames
 *   PROGRESS backup -> primary  log bytes replayed, and whether the replay
 *                               waits at the end of what arrived
 *   LEAVE    either way         text: this host stops following the other
 *                               (divergence, a foreign guest, lost peer)
 *   DIVERGED backup -> primary  the exit where the replay diverged
 *   READ_HINT primary -> backup (disk_reads = backup) a guest read the
 *                               primary's drive completed: ordinal, first
 *                               sector, sectors; the backup reads it ahead
 *                               of its replay (ft/guest_io.c)
 *
 * Re-protection (docs/migration.md): a host that runs the guest alone (an
 * unprotected primary, or a backup that went live) and sees a peer boot
 * clones the running guest to it, then protects it again:
 *   CLONE       survivor -> peer  virtual TSC rate, RTC epoch, RAM size
 *   CLONE_READY peer -> survivor  its guest config digest
 *   PAGES       survivor -> peer  pre-copy page batches (ft/migrate.c),
 *                                 round after round while the guest runs
 *   DISK        survivor -> peer  blocks of a disk held in host memory
 *                                 that the guest wrote (same batches)
 *   STATE       survivor -> peer  after the guest stopped and the last
 *                                 pages: the machine state (vmm/vmstate.h)
 * then START and LOG as above, the log's initial state being the clone.
 *   HANDOVER    primary -> backup migration to the peer (an operator's POST
 *                                 /migrate): the primary stopped its guest
 *                                 and the backup has the whole log (its
 *                                 length and the output shown are in it):
 *                                 the backup goes live at the log's end and
 *                                 clones the guest back to protect it
 *   REPAIR      backup -> primary a backup whose replay diverged (or whose
 *                                 log was damaged) asks for a clone: the
 *                                 primary runs alone meanwhile, then clones
 *
 * Output rule: the guest's console bytes on the primary are held until the
 * backup has acknowledged (the channel's acks) every log frame written
 * before them; then they reach the host consoles. The backup keeps what
 * its replay prints but shows nothing, except, when it goes live, the bytes
 * the primary had not reported released: a duplicated tail is possible, a
 * gap is not.
 *
 * Failure detection: the peer's heartbeats missing and the channel silent
 * for failover_timeout_ms. Then the arbiter decides (net/arbiter.h): the
 * backup goes live only if granted; the primary releases its held output
 * and runs unprotected only if granted, and stops its guest if the backup
 * was granted. Bounded lag: the primary's guest does not run while the
 * backup's replay trails by more than max_lag_ms of host time or the
 * unacknowledged log or held output pass their bounds. */
#include "rr.h"
#include "engine.h"
#include "guest_io.h"
#include "migrate.h"
#include "../net/arbiter.h"
#include "../net/channel.h"
#include "../net/heartbeat.h"
#include "../net/status.h"
#include "../vmm/vm.h"
#include "../vmm/vdisk.h"
#include "../vmm/vmstate.h"
#include "../kernel/clock.h"
#include "../kernel/console.h"
#include "../kernel/format.h"
#include "../kernel/kernel.h"
#include "../kernel/layout.h"
#include "../kernel/log.h"
#include "../kernel/pmm.h"
#include "../kernel/power.h"
#include "../kernel/random.h"
#include "../kernel/service.h"
#include <string.h>

#define MSG_READY (CHAN_TYPE_USER + 1)
#define MSG_START (CHAN_TYPE_USER + 2)
#define MSG_LOG (CHAN_TYPE_USER + 3)
#define MSG_PROGRESS (CHAN_TYPE_USER + 4)
#define MSG_LEAVE (CHAN_TYPE_USER + 5)
#define MSG_OFFER (CHAN_TYPE_USER + 6)
#define MSG_DIVERGED (CHAN_TYPE_USER + 7)
#define MSG_MARK (CHAN_TYPE_USER + 8)
#define MSG_READ_HINT (CHAN_TYPE_USER + 9)
#define MSG_CLONE (CHAN_TYPE_USER + 10)
#define MSG_CLONE_READY (CHAN_TYPE_USER + 11)
#define MSG_PAGES (CHAN_TYPE_USER + 12)
#define MSG_STATE (CHAN_TYPE_USER + 13)
#define MSG_REPAIR (CHAN_TYPE_USER + 14)
#define MSG_DISK (CHAN_TYPE_USER + 15)
#define MSG_HANDOVER (CHAN_TYPE_USER + 16)

#define LOG_PAGES 4096            /* 16 MiB of log buffer on either side */
#define LOG_MSG_HEAD 32
#define LOG_ACK_NOW 1 /* LOG flags: output waits on this message */
#define LOG_HAS_END 2 /* LOG flags: the log up to this message's end holds END */
#define UNACKED_MAX (6u << 20)    /* log bytes in flight before the primary waits */
#define HOLD_BYTES (1u << 20)     /* held console output */
#define HANDOVER_LAG_NS 20000000ull       /* a handover stops the guest once the replay trails by at most this */
#define HANDOVER_FREE_NS 2000000000ull     /* ... the guest running freely meanwhile for this long, */
#define HANDOVER_CATCHUP_NS 10000000000ull /* ... then held while it trails more, and stopped after this regardless */
#define HOLD_MAX (HOLD_BYTES / 2) /* held output before the primary waits */
#define SEGS 4096
#define INFLIGHT 8192             /* LOG messages not yet acknowledged */
#define PROGRESS_MS 50
#define PROGRESS_READS_MS 5       /* ... at most this often when the backup's own disk reads advanced */
#define FLUSH_NS 10000000ull      /* frames close at least every 10 ms (and after output) */
#define MARK_MS 10                /* MARK at most this often */
#define NAG_MS 5000
#define LAG_BINS 1024             /* lag histogram: 1 ms bins, the last one open */
#define WRITTEN 8192              /* when the log reached each length (lag) */
#define REPAIRS_MAX 3             /* repairs a backup asks for per boot */

enum role { R_NONE, R_PRIMARY, R_BACKUP };
enum pstate {
    PS_OFF,
    PS_WAIT_PEER,   /* primary: for the backup's READY; backup: for START and the log */
    PS_PROTECTED,   /* primary: recording, streaming, holding output */
    PS_REPLAYING,   /* backup: replaying the log as it arrives */
    PS_ARBITRATING, /* the peer is lost: asking the arbiter */
    PS_GOING_LIVE,  /* backup: granted; replaying the rest of the log */
    PS_UNPROTECTED, /* primary: running alone */
    PS_LIVE,        /* backup: went live */
    PS_STANDBY,     /* backup: stopped following (refused, diverged, foreign log) */
    PS_STOPPED,     /* primary: the backup was granted the guest; ours is stopped */
    PS_ENDING,      /* primary: the guest ended; releasing the last output */
    PS_CLONING,     /* running alone: cloning the guest to a peer that booted */
    PS_RECEIVING,   /* backup: receiving a clone of the running guest */
};
static const char *const state_names[] = { "off",         "waiting for the peer", "protected", "replaying",
                                           "arbitrating", "going live",           "unprotected", "live",
                                           "standby",     "stopped",              "ending",    "cloning",
                                           "receiving a clone" };

/* Cloning, on the host that runs the guest. */
enum clone_phase {
    CL_OFFERED, /* CLONE sent: waiting for CLONE_READY */
    CL_ROUNDS,  /* pre-copy rounds while the guest runs */
    CL_QUIESCE, /* the guest stopped: its disk requests finish */
    CL_FINAL,   /* the last pages */
    CL_STATE,   /* the machine state, then protection */
};

/* Time the gate held the guest for one reason: spans from on to off. */
struct hold_time {
    bool on;
    uint64_t since, total;
};

/* Note the gate's answer; true when a span begins now. */
static bool hold_time_set(struct hold_time *h, bool on)
{
    if (on == h->on)
        return false;
    if (on)
        h->since = clock_ns();
    else
        h->total += clock_ns() - h->since;
    h->on = on;
    return on;
}

static uint64_t hold_time_ns(const struct hold_time *h) { return h->total + (h->on ? clock_ns() - h->since : 0); }

static struct {
    enum role role;
    enum pstate st;
    int me, peer;
    const char *peer_name;
    uint64_t epoch, peer_boot;
    enum lm_backend backend;
    struct memlog log;
    uint64_t since_ms; /* when the current state began */
    uint64_t last_nag_ms;
    const struct vm_events *live_ev;
    void *live_ev_ctx;
    /* Primary: streaming. */
    uint64_t sent_abs, acked_abs;
    uint64_t reach_exit; /* the last record's exit in the log sent (recorder_reach()) */
    bool reach_end;
    struct { uint64_t seq, end; } inflight[INFLIGHT];
    unsigned in_head, in_tail;
    uint8_t msg[CHAN_MAX_MSG];
    /* Primary: held console output, in segments with the log offset that
     * must be acknowledged (strictly passed) before their release. */
    uint8_t *hold;
    uint64_t con_total, con_released;
    /* Released bytes count as shown once the serial port has sent them
     * (it transmits from a queue): marks of (serial bytes queued after a
     * released line, released count through that line's newline). The
     * backup re-shows what was released but not shown when it goes live:
     * duplicates, never gaps. */
    struct { uint64_t serial_pos, count; } shown_mark[SEGS];
    unsigned mark_head, mark_tail;
    uint64_t con_shown;
    /* Released through the last newline: a handover shows on the peer
     * from here, the line being written included (drop_partial_line()). */
    uint64_t con_line;
    struct { uint64_t tag, end; } seg[SEGS];
    unsigned seg_head, seg_tail;
    /* Primary: the backup's progress and the throttle. The lag is the age
     * of the oldest log byte the backup has not replayed yet: when this
     * host wrote it, from a ring of (log length, host time) samples. */
    uint64_t backup_replayed; /* log bytes the backup has replayed */
    bool backup_waiting;      /* it has replayed everything it could of what it has */
    uint64_t backup_reads;    /* disk_reads = backup: the guest's reads it has performed */
    struct { uint64_t bytes, ns; } written[WRITTEN];
    unsigned wr_head, wr_tail;
    struct hold_time throttle; /* the gate held the guest for the backup's sake */
    uint64_t throttles;
    uint64_t mark_exit, mark_icount, mark_complete, mark_ms; /* the last MARK sent */
    bool guest_ended; /* the recorder wrote END */
    uint64_t lag_hist[LAG_BINS], lag_samples;
    /* Backup. */
    uint64_t recv_abs, primary_released, last_progress_ms;
    uint64_t reads_reported; /* disk_reads = backup: reads performed, as last sent */
    uint64_t lost_ms;       /* when the primary was declared lost */
    uint64_t last_heard_ms; /* when it was last heard from, then */
    bool replay_started, booted;
    uint8_t init_digest[LOG_STATE_DIGEST_LEN];
    /* Cloning (re-protection). */
    enum clone_phase clone_phase;
    enum pstate clone_prev;    /* the state to go back to if the clone fails */
    uint64_t clone_boot;       /* the peer boot the clone is for */
    uint64_t clone_refused;    /* a peer boot that refused (or failed) a clone */
    uint64_t clone_start_ns, clone_stop_ns, clone_vtime;
    size_t clone_state_len;
    uint64_t clones;           /* clones completed (this host sent) */
    uint64_t repair_boot;      /* primary: the peer boot that asked for a repair */
    uint64_t repairs;          /* repairs asked for (backup) or begun (primary) */
    bool awaiting_repair;      /* backup: diverged, waiting for a clone */
    bool flipped;              /* backup: fault_test = backup_diverge done */
    /* Migration to the peer (primary): held since, and the count. */
    bool handing_over;
    bool handover_hold; /* ... past catching up: the guest is stopped */
    uint64_t handover_asked_ns, handover_ns, handover_catchup_ns, handovers;
    struct hold_time catchup; /* the guest held while the backup catches up */
    bool handover_in; /* backup: going live by a handover, not a failure */
    bool reprotect_handover; /* ... and the clone it offers next protects the guest again */
    /* Both: log rate over the last second. */
    uint64_t rate_mark_ms, rate_mark_bytes, rate_bps;
} F;

static uint64_t now_ms(void) { return clock_ns() / 1000000; }

static void set_state(enum pstate s)
{
    F.st = s;
    F.since_ms = now_ms();
    F.last_nag_ms = F.since_ms;
}

static void send_leave(const char *why)
{
    chan_send(MSG_LEAVE, why, (uint32_t)strlen(why));
}

static void emit_live(uint8_t b)
{
    if (F.live_ev && F.live_ev->console_out)
        F.live_ev->console_out(F.live_ev_ctx, b);
}

/* The peer shows the guest's output from a line's start on: the part of
 * the line this host's console keeps for a whole line is never shown
 * here (neither cut in two across the hosts nor, were this host to run
 * the guest again, run into a later line). */
static void drop_partial_line(void)
{
    if (F.live_ev && F.live_ev->drop_partial_line)
        F.live_ev->drop_partial_line(F.live_ev_ctx);
}

/* ---- primary: held output ---------------------------------------------- */

static void release_upto(uint64_t end)
{
    while (F.con_released < end) {
        uint8_t b = F.hold[F.con_released % HOLD_BYTES];
        emit_live(b);
        F.con_released++;
        if (b == '\n') {
            F.con_line = F.con_released;
            if (F.mark_tail - F.mark_head == SEGS)
                F.mark_head++; /* the oldest mark goes: its line counts later */
            F.shown_mark[F.mark_tail % SEGS].serial_pos = serial_queued();
            F.shown_mark[F.mark_tail % SEGS].count = F.con_released;
            F.mark_tail++;
        }
    }
}

/* Release every segment whose log frames the backup has acknowledged; all
 * of them when the output is no longer held. */
static void release_acked(bool all)
{
    while (F.seg_head != F.seg_tail) {
        unsigned i = F.seg_head % SEGS;
        if (!all && F.seg[i].tag >= F.acked_abs)
            break;
        release_upto(F.seg[i].end);
        F.seg_head++;
    }
    if (all)
        release_upto(F.con_total);
}

static bool holding(void) { return F.st == PS_PROTECTED || F.st == PS_ARBITRATING || F.st == PS_ENDING; }

static void pri_console(void *ctx, uint8_t b)
{
    (void)ctx;
    if (!holding()) {
        F.con_total++;
        F.con_released = F.con_total;
        if (b == '\n')
            F.con_line = F.con_total;
        emit_live(b);
        return;
    }
    /* Everything the recorder has put so far, up to this byte, closes in a
     * frame that ends past the log's current length. */
    uint64_t tag = recorder_log_bytes();
    if (F.con_total - F.con_released >= HOLD_BYTES) {
        log_error("pair", "held output overflowed: a console byte is lost");
        return;
    }
    F.hold[F.con_total % HOLD_BYTES] = b;
    F.con_total++;
    unsigned last = (F.seg_tail - 1) % SEGS;
    if (F.seg_head != F.seg_tail && F.seg[last].tag == tag) {
        F.seg[last].end = F.con_total;
    } else if (F.seg_tail - F.seg_head < SEGS) {
        F.seg[F.seg_tail % SEGS].tag = tag;
        F.seg[F.seg_tail % SEGS].end = F.con_total;
        F.seg_tail++;
    } else {
        /* No segment left: extend the newest with the later tag, which
         * only holds these bytes longer. */
        F.seg[last].tag = tag;
        F.seg[last].end = F.con_total;
    }
}

static void pri_exited(void *ctx, enum vcpu_stop why, int code, const char *text)
{
    (void)ctx;
    if (F.live_ev && F.live_ev->exited)
        F.live_ev->exited(F.live_ev_ctx, why, code, text);
}

static const struct vm_events pri_events = { .console_out = pri_console, .exited = pri_exited };

/* The output rule for writes to a shared disk (ft/guest_io.h): like a
 * console byte, a write made at log length tag leaves once the backup has
 * acknowledged the frames past it, or at once when nothing is held. */
static bool write_released(uint64_t tag) { return !holding() || tag < F.acked_abs; }

/* disk_reads = backup: how many of the guest's disk reads the backup has
 * performed itself; once nothing is held (no backup) a write need not
 * wait for it. */
static uint64_t backup_reads_done(void) { return holding() ? F.backup_reads : UINT64_MAX; }

/* A hint only: a READ_HINT that does not fit the channel now is not sent,
 * and the backup reads those sectors when its replay gets there. */
static void send_read_hint(uint64_t rd, uint64_t lba, uint32_t count)
{
    if (!holding())
        return;
    uint64_t m[3] = { rd, lba, count };
    chan_send(MSG_READ_HINT, m, sizeof(m));
}

/* The tag of a held disk write: the log up to it goes out at once (a
 * frame closed now), so the write waits one round trip, not the flush
 * timer too. */
static uint64_t write_tag(void)
{
    uint64_t t = recorder_log_bytes();
    recorder_flush_now();
    engine_yield(); /* and the main loop sends it before the guest runs on */
    return t;
}

/* ---- primary: streaming ------------------------------------------------ */

/* Whole frames from the memory log into LOG messages. */
static void pump(void)
{
    while (F.log.start < F.log.len && F.in_tail - F.in_head < INFLIGHT) {
        size_t off = F.log.start, room = sizeof(F.msg) - LOG_MSG_HEAD;
        while (off + LOG_FRAME_HEADER <= F.log.len) {
            uint32_t body;
            memcpy(&body, F.log.buf + off + 12, 4);
            size_t size = LOG_FRAME_OVERHEAD + (size_t)body;
            if (body > LOG_MAX_BODY || off + size > F.log.len) {
                log_error("pair", "the log in memory is malformed at byte %llu: protection ends",
                          (unsigned long long)(F.sent_abs + off - F.log.start));
                F.log.start = F.log.len;
                return;
            }
            if (off + size - F.log.start > room)
                break;
            off += size;
        }
        size_t n = off - F.log.start;
        if (!n)
            return;
        /* Held output (console bytes, disk writes, sent frames) is
         * released by this message's acknowledgement (or a later one):
         * the backup sends it at once rather than at the channel's usual
         * pace. So does the log's end. */
        uint64_t flags = F.con_total > F.con_released || gio_output_held() || F.st == PS_ENDING || F.handing_over
                             ? LOG_ACK_NOW
                             : 0;
        /* How far the log reaches at this message's end, so the backup's
         * replay need not decode ahead to learn it. Should the recorder no
         * longer know, the last message's answer is a lower bound. */
        uint64_t exit = F.reach_exit;
        bool has_end = F.reach_end;
        recorder_reach(F.sent_abs + n, &exit, &has_end);
        if (has_end)
            flags |= LOG_HAS_END;
        memcpy(F.msg, &F.sent_abs, 8);
        /* Without a working UART (none, or one that stopped taking
         * bytes) a release is the output. */
        while (F.mark_head != F.mark_tail &&
               (!serial_present() || F.shown_mark[F.mark_head % SEGS].serial_pos <= serial_sent())) {
            F.con_shown = F.shown_mark[F.mark_head % SEGS].count;
            F.mark_head++;
        }
        memcpy(F.msg + 8, &F.con_shown, 8);
        memcpy(F.msg + 16, &flags, 8);
        memcpy(F.msg + 24, &exit, 8);
        memcpy(F.msg + LOG_MSG_HEAD, F.log.buf + F.log.start, n);
        uint64_t seq = chan_send(MSG_LOG, F.msg, (uint32_t)(LOG_MSG_HEAD + n));
        if (!seq)
            return; /* the channel's ring is full: later */
        F.reach_exit = exit;
        F.reach_end = has_end;
        F.sent_abs += n;
        F.log.start += n;
        F.inflight[F.in_tail % INFLIGHT].seq = seq;
        F.inflight[F.in_tail % INFLIGHT].end = F.sent_abs;
        F.in_tail++;
    }
}

static void on_acked(void *ctx, uint64_t seq)
{
    (void)ctx;
    if (F.role != R_PRIMARY)
        return;
    while (F.in_head != F.in_tail && F.inflight[F.in_head % INFLIGHT].seq <= seq) {
        F.acked_abs = F.inflight[F.in_head % INFLIGHT].end;
        F.in_head++;
    }
    if (holding())
        release_acked(false);
}

/* Tell the backup how far the log it has reaches, once everything written
 * is sent: between frames (10 ms apart, or none while the guest runs
 * without events) its replay runs ahead to that point instead of waiting
 * for the next sync exit's records. */
static void send_mark(void)
{
    uint64_t m[3], now = now_ms();
    bool complete;
    if (now - F.mark_ms < MARK_MS || F.sent_abs != recorder_log_bytes() ||
        !recorder_position(&m[0], &m[1], &complete))
        return;
    m[2] = complete;
    if (m[0] == F.mark_exit && m[1] == F.mark_icount && m[2] == F.mark_complete)
        return;
    if (chan_send(MSG_MARK, m, sizeof(m))) {
        F.mark_exit = m[0];
        F.mark_icount = m[1];
        F.mark_complete = m[2];
        F.mark_ms = now;
    }
}

/* Note the log's length and when it was reached (each main-loop pass). */
static void note_written(void)
{
    uint64_t n = recorder_log_bytes();
    unsigned last = (F.wr_tail - 1) % WRITTEN;
    if (F.wr_tail != F.wr_head && F.written[last].bytes >= n)
        return;
    if (F.wr_tail - F.wr_head == WRITTEN)
        return; /* full: the oldest samples, which decide the lag, stay */
    F.written[F.wr_tail % WRITTEN].bytes = n;
    F.written[F.wr_tail % WRITTEN].ns = clock_ns();
    F.wr_tail++;
}

/* How long ago this host wrote the oldest log byte the backup has not
 * replayed; 0 when it has replayed everything written. Wall time, not
 * virtual time: a throttled guest's clock runs on, but the backup replays
 * the throttled stretch in no time. */
static uint64_t lag_ns(void)
{
    while (F.wr_head != F.wr_tail && F.written[F.wr_head % WRITTEN].bytes <= F.backup_replayed)
        F.wr_head++;
    if (F.wr_head == F.wr_tail)
        return 0;
    uint64_t now = clock_ns(), t = F.written[F.wr_head % WRITTEN].ns;
    return now > t ? now - t : 0;
}

/* The engine's gate: the guest waits while the backup is too far behind. */
static bool pair_gate(void)
{
    /* Cloning: stopped for the last copy, or auto-converge's share. */
    if (F.st == PS_CLONING)
        return F.clone_phase >= CL_QUIESCE || (F.clone_phase == CL_ROUNDS && migrate_hold());
    if (F.role != R_PRIMARY || (F.st != PS_PROTECTED && F.st != PS_ARBITRATING))
        return false;
    if (F.handing_over && F.handover_hold)
        return true; /* stopped for the peer to take over */
    /* Catching up for a handover, past HANDOVER_FREE_NS: the guest waits
     * whenever the backup's replay trails by more than HANDOVER_LAG_NS
     * (time counted and reported: it is a partial stop). */
    bool catchup_hold = F.handing_over && clock_ns() - F.handover_asked_ns > HANDOVER_FREE_NS &&
                        lag_ns() > HANDOVER_LAG_NS && !F.backup_waiting;
    hold_time_set(&F.catchup, catchup_hold);
    if (catchup_hold)
        return true;
    const struct config *cfg = kernel_config();
    uint64_t produced = recorder_log_bytes();
    /* A backup that has replayed all it can is not behind: what it waits
     * for is log still in flight, or records the primary writes only
     * when its guest runs on (the records of the next exit). */
    bool lagging = lag_ns() > (uint64_t)cfg->pair.max_lag_ms * 1000000u && !F.backup_waiting;
    bool hold = lagging || produced - F.acked_abs > UNACKED_MAX ||
                F.con_total - F.con_released > HOLD_MAX || F.in_tail - F.in_head >= INFLIGHT;
    if (hold_time_set(&F.throttle, hold))
        F.throttles++;
    return hold;
}

static uint64_t lag_pct(unsigned pct);

/* What the periodic state digests cost this host (both hosts print it). */
static void report_digests(void)
{
    log_info("pair", "state digests read %llu guest pages again (%llu MiB)", (unsigned long long)rr_digest_pages_read(),
             (unsigned long long)(rr_digest_pages_read() >> 8));
}

/* The protected run in figures (make bench reads this line). */
static void report(void)
{
    gio_report("pair");
    vtime_t vt = recorder_vtime();
    uint64_t throttled = hold_time_ns(&F.throttle);
    uint64_t kbps = vt ? F.sent_abs * 8 * 1000000u / vt : 0; /* kbit per guest second */
    struct rr_totals t;
    recorder_totals(&t);
    log_info("pair", "log: %llu bytes over %llu.%03llu s of guest time (%llu.%03llu Mbit/s); backup lag p50 %llu ms, "
                     "p99 %llu ms (%llu samples); throttled %llu times, %llu ms in all; device deadlines served late "
                     "by %llu us on average, at most %llu us",
             (unsigned long long)F.sent_abs, (unsigned long long)(vt / 1000000000u),
             (unsigned long long)(vt / 1000000u % 1000), (unsigned long long)(kbps / 1000),
             (unsigned long long)(kbps % 1000), (unsigned long long)lag_pct(50), (unsigned long long)lag_pct(99),
             (unsigned long long)F.lag_samples, (unsigned long long)F.throttles,
             (unsigned long long)(throttled / 1000000u),
             (unsigned long long)(t.late_n ? t.late_sum_ns / t.late_n / 1000 : 0),
             (unsigned long long)(t.late_max_ns / 1000));
    report_digests();
}

static void go_unprotected(const char *why)
{
    bool was_holding = holding();
    uint64_t held = F.con_total - F.con_released;
    if (holding() && !F.guest_ended)
        report();
    set_state(PS_UNPROTECTED);
    if (was_holding)
        release_acked(true);
    log_warn("pair", "running UNPROTECTED: %s; guest output is no longer held (%llu bytes released now)", why,
             (unsigned long long)held);
    kprintf("ftvisor: this host (%s) runs the guest UNPROTECTED: %s\n", kernel_this_host()->name, why);
    status_event("unprotected", "%s", why);
    if (F.guest_ended)
        power_apply(kernel_config()->debug.on_guest_exit, "guest exited");
}

/* The primary's guest ended (the recorder wrote END): release what is held
 * once the backup has it all. While the arbiter is being asked, its answer
 * decides: release and power off, or stand down. */
static void pri_guest_ended(struct vm *vm)
{
    (void)vm;
    if (F.st == PS_PROTECTED || F.st == PS_ARBITRATING) {
        F.guest_ended = true;
        report();
        if (F.st == PS_PROTECTED)
            set_state(PS_ENDING);
        log_info("pair", "the guest ended: waiting for %s to acknowledge the rest of the log", F.peer_name);
    } else {
        power_apply(kernel_config()->debug.on_guest_exit, "guest exited");
    }
}

static void start_guest_clock(struct vm *vm)
{
    if (!vm->vcpu.exits && !vm->time_valid)
        vm->in->start(vm->in_ctx);
}

static void start_protection(struct vm *vm)
{
    const struct config *cfg = kernel_config();
    char why[200];
    F.epoch = 0;
    while (!F.epoch)
        random_bytes(&F.epoch, sizeof(F.epoch));
    chan_send(MSG_START, &F.epoch, 8);
    F.peer_boot = chan_peer_boot();
    vm_events_register(&pri_events, NULL);
    if (recorder_start(vm, F.backend, &F.log, 0, cfg->record.digest_every, cfg->record.digest_min_ms,
                       pri_guest_ended, why, sizeof(why))) {
        log_error("pair", "cannot record the guest: %s", why);
        send_leave("the primary cannot record its guest");
        vm_events_register(F.live_ev, F.live_ev_ctx);
        engine_set_live_policy();
        go_unprotected("the guest cannot be recorded");
        return;
    }
    recorder_set_flush_ns(FLUSH_NS);
    recorder_set_flush_on_output(true);
    /* A sent frame does not close the log frame as a disk write does:
     * closing one per frame (a LOG message each) cost the primary more
     * than it saved (bench io: network send 0.78 against 1.02 without);
     * the frames go with the next timed close, acknowledged at once. */
    gio_set_gate(write_released, write_tag, recorder_log_bytes);
    gio_set_backup_reads(backup_reads_done);
    gio_set_read_hint(send_read_hint);
    start_guest_clock(vm);
    set_state(PS_PROTECTED);
    log_info("pair", "protected: the guest runs and its log streams to %s (epoch %016llx, %s landmarks)",
             F.peer_name, (unsigned long long)F.epoch, landmark_backend_name(F.backend));
    status_event("protected", "the guest runs here and its log streams to %s", F.peer_name);
}

/* ---- backup --------------------------------------------------------------- */

static uint8_t *ring; /* the replay's console bytes, by absolute count */
static uint64_t ring_total;

static void bk_output(uint8_t b)
{
    ring[ring_total % HOLD_BYTES] = b;
    ring_total++;
}

static vtime_t live_base;
static uint64_t live_base_ns;
static vtime_t cont_now(void *ctx)
{
    (void)ctx;
    return live_base + (clock_ns() - live_base_ns);
}
static void cont_start(void *ctx) { (void)ctx; }
static uint64_t cont_tsc_hz(void *ctx)
{
    (void)ctx;
    return the_vm.tsc_hz;
}
/* After go-live: virtual time runs on from the last replayed point at the
 * host's pace, so the guest sees a pause at most. */
static const struct vinput_ops cont_input = { "live (after failover)", cont_now, cont_start, cont_tsc_hz };

/* The guest runs live from virtual time t on, at the host's pace. */
static void continue_live(struct vm *vm, vtime_t t)
{
    live_base = t;
    live_base_ns = clock_ns();
    vm->in = &cont_input;
    vm->in_ctx = NULL;
}

/* After go-live: the guest's console, noting its first new output. */
static bool live_output_seen;
static void bk_live_console(void *ctx, uint8_t b)
{
    (void)ctx;
    if (!live_output_seen) {
        live_output_seen = true;
        log_info("pair", "the live guest's first new output, %llu ms after the primary's last message",
                 (unsigned long long)(now_ms() - F.last_heard_ms));
    }
    emit_live(b);
}
static void bk_live_exited(void *ctx, enum vcpu_stop why, int code, const char *text)
{
    (void)ctx;
    if (F.live_ev && F.live_ev->exited)
        F.live_ev->exited(F.live_ev_ctx, why, code, text);
}
static const struct vm_events bk_live_events = { .console_out = bk_live_console, .exited = bk_live_exited };

static void went_live(struct vm *vm)
{
    continue_live(vm, replayer_vtime());
    vm_events_register(&bk_live_events, NULL);
    engine_set_live_policy();
    set_state(PS_LIVE);
    struct rr_totals t;
    replayer_totals(&t);
    t.icount = landmark_icount(vm, replayer_backend());
    uint64_t from = F.primary_released;
    if (ring_total > HOLD_BYTES && from < ring_total - HOLD_BYTES) {
        log_error("pair", "%llu bytes of guest output the primary may not have shown are no longer kept",
                  (unsigned long long)(ring_total - HOLD_BYTES - from));
        from = ring_total - HOLD_BYTES;
    }
    log_warn("pair", "LIVE: this host runs the guest now, from virtual time %llu.%03llu s (%llu records, %llu "
                     "instructions replayed; %llu ms since the primary was lost); %llu bytes of output the "
                     "primary had not reported shown follow",
             (unsigned long long)(live_base / 1000000000u), (unsigned long long)(live_base / 1000000u % 1000),
             (unsigned long long)t.records, (unsigned long long)t.icount,
             (unsigned long long)(now_ms() - F.lost_ms),
             (unsigned long long)(ring_total > from ? ring_total - from : 0));
    kprintf("ftvisor: this host (%s) is now LIVE: the guest continues here\n", kernel_this_host()->name);
    gio_report("pair"); /* what the replay did with the guest's devices, and what go-live issued */
    status_event(F.handover_in ? "migration in" : "failover",
                 F.handover_in ? "the guest runs here %llu ms after %s's handover"
                               : "went live %llu ms after %s was lost",
                 (unsigned long long)(now_ms() - F.lost_ms), F.peer_name);
    if (F.handover_in) {
        /* The old primary waits for a clone: protect the guest again. */
        F.handover_in = false;
        F.repair_boot = chan_peer_boot();
        F.reprotect_handover = true;
        log_info("pair", "migrated: the guest runs here %llu ms after %s's handover", (unsigned long long)(now_ms() - F.lost_ms),
                 F.peer_name);
    }
    for (uint64_t i = from; i < ring_total; i++)
        emit_live(ring[i % HOLD_BYTES]);
}

static void replay_over(struct vm *vm)
{
    (void)vm;
    if (replayer_diverged() || replayer_damaged()) {
        const char *why = replayer_damaged() ? "the backup received a damaged log" : "the backup's replay diverged";
        log_error("pair", "%s (report above): this host no longer follows %s until it is repaired", why, F.peer_name);
        uint64_t at = replayer_diverged_exit();
        chan_send(MSG_DIVERGED, &at, 8);
        if (replayer_disk_differs() || F.repairs >= REPAIRS_MAX) {
            /* A clone cannot make this host's shared-disk reads agree, and
             * a backup that keeps diverging after repairs has a fault of
             * its own: it leaves the pair. */
            send_leave(replayer_disk_differs() ? "the backup's reads of the shared disk differ from the primary's"
                                               : "the backup diverged again after repairs");
            engine_set_hold_policy();
            set_state(PS_STANDBY);
            log_error("pair", "%s: this host stops following %s", replayer_disk_differs()
                                                                     ? "a clone cannot repair differing disk reads"
                                                                     : "diverged again after repairs",
                      F.peer_name);
            return;
        }
        /* Repair: the primary clones its guest to this host again. */
        chan_send(MSG_REPAIR, &at, 8);
        engine_set_hold_policy();
        F.awaiting_repair = true;
        F.repairs++;
        set_state(PS_STANDBY);
        log_warn("pair", "asking %s to repair this backup with a clone of its guest (repair %llu)", F.peer_name,
                 (unsigned long long)F.repairs);
        status_event("repair", "%s: asking %s for a clone (repair %llu)", why, F.peer_name,
                     (unsigned long long)F.repairs);
        return;
    }
    struct rr_totals t;
    replayer_totals(&t);
    log_info("pair", "the guest ended on the primary and here identically (%llu records, %llu instructions; "
                     "%llu waits for the log, %llu runs ahead to the primary's mark)",
             (unsigned long long)t.records, (unsigned long long)t.icount, (unsigned long long)replayer_waits(),
             (unsigned long long)replayer_ahead_runs());
    if (t.dev_done)
        log_info("pair", "the log delivered %llu disk completions with %llu bytes of read data (%llu bytes read "
                         "here and checked)",
                 (unsigned long long)t.dev_done, (unsigned long long)t.dev_bytes, (unsigned long long)t.dev_checked);
    report_digests();
    gio_report("pair");
    /* The primary releases its last output on our acknowledgement: send
     * it before going (backup_poll()). */
    set_state(PS_ENDING);
}

static void standby(const char *why)
{
    log_error("pair", "%s: this host stops following %s and keeps no guest running", why, F.peer_name);
    status_event("standby", "%s", why);
    send_leave(why);
    engine_set_hold_policy();
    set_state(PS_STANDBY);
}

/* Append a LOG message to the backup's buffer; start the replay with the
 * first one (it holds the header). */
static void bk_log(const uint8_t *data, uint32_t len)
{
    if (len < LOG_MSG_HEAD || (F.st != PS_WAIT_PEER && F.st != PS_REPLAYING && F.st != PS_ARBITRATING))
        return;
    uint64_t off, released, flags, reach;
    memcpy(&off, data, 8);
    memcpy(&released, data + 8, 8);
    memcpy(&flags, data + 16, 8);
    memcpy(&reach, data + 24, 8);
    if (flags & LOG_ACK_NOW)
        chan_ack_now();
    if (off != F.recv_abs) {
        standby("the log stream skipped bytes");
        return;
    }
    F.primary_released = released;
    size_t n = len - LOG_MSG_HEAD;
    if (F.log.len + n > F.log.cap && F.replay_started) {
        size_t done = replayer_pos();
        memmove(F.log.buf, F.log.buf + done, F.log.len - done);
        F.log.len -= done;
        replayer_rebase(done);
    }
    if (F.log.len + n > F.log.cap) {
        standby("the log buffer is full (the replay fell too far behind)");
        return;
    }
    memcpy(F.log.buf + F.log.len, data + LOG_MSG_HEAD, n);
    F.log.len += n;
    F.recv_abs += n;
    if (F.replay_started) {
        replayer_log_reaches(reach, flags & LOG_HAS_END);
        return;
    }
    struct vm *vm = &the_vm;
    char err[200];
    uint64_t t0 = now_ms();
    if (replayer_start(vm, &F.log, replay_over, err, sizeof(err))) {
        standby(err);
        return;
    }
    if (replayer_trust_initial_state(F.init_digest)) {
        standby("the guest's initial state here differs from the primary's");
        return;
    }
    replayer_set_live(true);
    replayer_log_reaches(reach, flags & LOG_HAS_END);
    replayer_set_output_hook(bk_output);
    F.replay_started = true;
    set_state(PS_REPLAYING);
    log_info("pair", "replaying %s's log as it arrives (epoch %016llx; the header checked in %llu ms)", F.peer_name,
             (unsigned long long)F.epoch, (unsigned long long)(now_ms() - t0));
}

/* ---- re-protection: cloning the running guest to a peer that booted ------ */

static bool peer_lost(uint64_t *hb_ms, uint64_t *ch_ms);
/* STATE: the guest's disk request and read ordinals (u64 each), then the
 * machine state. */
#define STATE_HEAD 16
static uint8_t clone_state[STATE_HEAD + VMSTATE_MAX];

/* Running alone (unprotected, or live after a failover) and a peer booted
 * that is not the one this host followed or protected: offer it a clone. */
static void maybe_offer_clone(void)
{
    struct vm *vm = &the_vm;
    uint64_t pb = chan_peer_boot();
    if (!pb || (pb == F.peer_boot && pb != F.repair_boot) || pb == F.clone_refused || F.guest_ended ||
        !vm->created || vm->vcpu.stop != VCPU_RUNNING)
        return;
    char why[200];
    if (F.role == R_BACKUP && landmark_select(vm, kernel_config()->record.landmark, &F.backend, why, sizeof(why))) {
        F.clone_refused = pb;
        log_error("pair", "%s booted, but this host cannot record its guest (landmark: %s): it stays unprotected",
                  F.peer_name, why);
        send_leave("this host cannot record its guest");
        return;
    }
    uint64_t m[3] = { vm->tsc_hz, vm->config.epoch_seconds, vm->mem.ram_bytes };
    if (!chan_send(MSG_CLONE, m, sizeof(m)))
        return;
    F.clone_prev = F.st;
    F.clone_boot = pb;
    F.clone_phase = CL_OFFERED;
    set_state(PS_CLONING);
    if (pb == F.repair_boot && F.reprotect_handover)
        log_info("pair", "protecting the migrated guest again: offering %s, which handed it over, a clone of the "
                         "running guest",
                 F.peer_name);
    else if (pb == F.repair_boot)
        log_info("pair", "repairing %s's diverged replay: offering it a clone of the running guest", F.peer_name);
    else
        log_info("pair", "%s booted (boot %016llx) while this host runs the guest alone: offering it a clone of the "
                         "running guest, to protect it again",
                 F.peer_name, (unsigned long long)pb);
    status_event("clone offered", "offering %s a clone of the running guest", F.peer_name);
    F.repair_boot = 0;
    F.reprotect_handover = false;
}

/* The clone failed: the guest runs on alone, as before. */
static void clone_abort(const char *why)
{
    log_warn("pair", "the clone to %s stops: %s; the guest runs on unprotected", F.peer_name, why);
    migrate_end();
    F.clone_refused = F.clone_boot;
    set_state(F.clone_prev);
}

static bool send_pages(bool disk, const uint8_t *batch, size_t len)
{
    return chan_send(disk ? MSG_DISK : MSG_PAGES, batch, (uint32_t)len) != 0;
}

/* The peer's guest config matches: copy memory while the guest runs on.
 * From here the guest runs on the live policy with time continuing, so
 * that stopping it and beginning a new log later need no recorder state. */
static void clone_begin(struct vm *vm)
{
    vtime_t t = vm->in->now(vm->in_ctx);
    continue_live(vm, t > vm->time_now ? t : vm->time_now);
    if (F.role == R_PRIMARY)
        vm_events_register(&pri_events, NULL); /* nothing held: shown at once */
    engine_set_live_policy();
    engine_set_gate(pair_gate);
    migrate_start(vm);
    F.clone_start_ns = clock_ns();
    F.clone_phase = CL_ROUNDS;
    log_info("pair", "cloning the guest to %s: %llu MiB of memory in rounds while it runs", F.peer_name,
             (unsigned long long)(vm->mem.ram_bytes >> 20));
}

/* The guest runs on this host from now on as a protected primary. */
static void become_primary(void)
{
    F.role = R_PRIMARY;
    F.sent_abs = F.acked_abs = 0;
    F.reach_exit = 0;
    F.reach_end = false;
    F.in_head = F.in_tail = 0;
    /* Console bytes count from the clone on both hosts: the backup's
     * replay counts what it would show from there (went_live()). */
    F.con_total = F.con_released = F.con_shown = F.con_line = 0;
    F.seg_head = F.seg_tail = 0;
    F.mark_head = F.mark_tail = 0;
    F.wr_head = F.wr_tail = 0;
    F.backup_replayed = F.backup_reads = 0;
    F.backup_waiting = false;
    F.throttle.on = false;
    F.mark_exit = F.mark_icount = F.mark_complete = 0;
    F.guest_ended = false;
    F.lag_samples = 0;
    memset(F.lag_hist, 0, sizeof(F.lag_hist));
}

static void clone_poll(void)
{
    struct vm *vm = &the_vm;
    uint64_t hb = 0, ch = 0;
    if (chan_peer_boot() != F.clone_boot || peer_lost(&hb, &ch)) {
        clone_abort("the peer restarted or was lost");
        return;
    }
    if (vm->vcpu.stop != VCPU_RUNNING) {
        send_leave("the guest ended during its clone");
        clone_abort("the guest ended");
        return;
    }
    if (F.clone_phase == CL_OFFERED) {
        if (now_ms() - F.since_ms > 30000) {
            send_leave("no answer to the clone offer");
            clone_abort("no answer to the clone offer in 30 s");
        }
        return;
    }
    enum mig_progress mp = F.clone_phase == CL_ROUNDS || F.clone_phase == CL_FINAL ? migrate_poll(send_pages) : MIG_BUSY;
    if (mp == MIG_FAILED) {
        send_leave("the primary could not copy its guest");
        clone_abort(migrate_failure());
        return;
    }
    if (F.clone_phase == CL_ROUNDS) {
        if (mp != MIG_STOP_COPY)
            return;
        F.clone_stop_ns = clock_ns();
        F.clone_phase = CL_QUIESCE;
        log_info("pair", "cloning: the guest stops for the last copy");
    }
    if (F.clone_phase == CL_QUIESCE) {
        /* Requests the guest's disk has in flight finish and enter the
         * guest first: the machine state carries none in flight. */
        if (vm_disk_busy(vm)) {
            if (gio_pending()) {
                vm_new_point(vm);
                vm_now(vm);
                gio_deliver(vm, NULL);
            }
            return;
        }
        migrate_final();
        F.clone_phase = CL_FINAL;
    }
    if (F.clone_phase == CL_FINAL) {
        if (mp != MIG_DONE)
            return;
        migrate_end();
        char err[200];
        F.clone_vtime = vm->in->now(vm->in_ctx);
        if (F.clone_vtime < vm->time_now)
            F.clone_vtime = vm->time_now;
        uint64_t ord[2];
        gio_ordinals(&ord[0], &ord[1]);
        memcpy(clone_state, ord, sizeof(ord));
        F.clone_state_len = vmstate_save(vm, F.clone_vtime, clone_state + STATE_HEAD, VMSTATE_MAX, err, sizeof(err));
        if (F.clone_state_len)
            F.clone_state_len += STATE_HEAD;
        if (!F.clone_state_len) {
            send_leave("the primary could not save its guest's state");
            clone_abort(err);
            return;
        }
        F.clone_phase = CL_STATE;
    }
    if (F.clone_phase == CL_STATE) {
        if (!chan_send(MSG_STATE, clone_state, (uint32_t)F.clone_state_len))
            return;
        /* Progress counts start again with the new log, on both hosts
         * (the peer's vCPU is fresh): landmarks count from here. */
        vm->vcpu.run_ticks = vm->vcpu.runs = 0;
        vm->vcpu.pmu_branches = 0;
        struct mig_totals t;
        migrate_totals(&t);
        become_primary();
        F.clones++;
        start_protection(vm);
        recorder_continue_at(F.clone_vtime);
        uint64_t now = clock_ns();
        log_info("pair", "clone %llu sent to %s: %llu rounds, %llu pages (%llu zero) and %llu disk blocks in %llu KiB "
                         "(%llu.%03llu bytes per guest byte), machine state %llu bytes; the guest was stopped %llu ms, "
                         "the clone took %llu ms in all",
                 (unsigned long long)F.clones, F.peer_name, (unsigned long long)t.rounds, (unsigned long long)t.pages,
                 (unsigned long long)t.zero_pages, (unsigned long long)t.disk_blocks, (unsigned long long)(t.bytes >> 10),
                 (unsigned long long)(t.bytes / vm->mem.ram_bytes),
                 (unsigned long long)(t.bytes * 1000 / vm->mem.ram_bytes % 1000),
                 (unsigned long long)F.clone_state_len, (unsigned long long)((now - F.clone_stop_ns) / 1000000),
                 (unsigned long long)((now - F.clone_start_ns) / 1000000));
        status_event("clone sent", "clone %llu to %s: the guest stopped %llu ms", (unsigned long long)F.clones,
                     F.peer_name, (unsigned long long)((now - F.clone_stop_ns) / 1000000));
    }
}

/* The peer that receives a clone. */
static void clone_offered(const uint8_t *data, uint32_t len)
{
    struct vm *vm = &the_vm;
    uint64_t m[3];
    if (F.st == PS_STANDBY && F.awaiting_repair && F.role == R_BACKUP) {
        /* Start over as a backup that has not seen a log yet. */
        F.awaiting_repair = false;
        F.replay_started = F.booted = false;
        F.epoch = 0;
        F.recv_abs = 0;
        F.log.start = F.log.len = 0;
        set_state(PS_WAIT_PEER);
    }
    if (len != sizeof(m) || F.st != PS_WAIT_PEER || F.replay_started) {
        send_leave("this host cannot take a clone now (it runs or follows a guest)");
        return;
    }
    memcpy(m, data, sizeof(m));
    if (m[0] < 1000000 || m[0] > 100000000000ull || m[2] != vm->mem.ram_bytes) {
        log_error("pair", "%s offers a clone of a guest with %llu MiB of RAM at %llu Hz; this host's has %llu MiB",
                  F.peer_name, (unsigned long long)(m[2] >> 20), (unsigned long long)m[0],
                  (unsigned long long)(vm->mem.ram_bytes >> 20));
        send_leave("the clone does not fit this host's guest");
        return;
    }
    F.role = R_BACKUP;
    F.clone_boot = chan_peer_boot();
    vm->tsc_hz = m[0];
    vm->config.epoch_seconds = m[1];
    engine_set_hold_policy();
    uint8_t d[LOG_DIGEST_LEN];
    rr_config_digest(vm, d);
    migrate_receive_begin();
    chan_send(MSG_CLONE_READY, d, sizeof(d));
    set_state(PS_RECEIVING);
    log_info("pair", "%s runs the guest alone and offers a clone: this host becomes its backup", F.peer_name);
}

static void clone_state_arrived(const uint8_t *msg, uint32_t msg_len)
{
    struct vm *vm = &the_vm;
    char err[200];
    uint64_t t0 = now_ms(), ord[2];
    if (msg_len < STATE_HEAD) {
        standby("the clone's state message is too short");
        return;
    }
    memcpy(ord, msg, sizeof(ord));
    const uint8_t *data = msg + STATE_HEAD;
    uint32_t len = msg_len - STATE_HEAD;
    if (migrate_receive_finish(err, sizeof(err)) || vmstate_check(vm, data, len, err, sizeof(err))) {
        standby(err);
        return;
    }
    if (vm_rewire(vm, err, sizeof(err)) || vmstate_load(vm, data, len, err, sizeof(err))) {
        standby(err);
        return;
    }
    gio_set_ordinals(ord[0], ord[1]);
    /* A replay that diverged stopped the guest here (and the engine let
     * it go): the loaded one is a guest to run again. */
    vm->created = true;
    rr_state_digest(vm, true, F.init_digest, NULL);
    ring_total = 0; /* console bytes count from the clone (become_primary()) */
    F.primary_released = 0;
    F.booted = true;
    set_state(PS_WAIT_PEER);
    log_info("pair", "clone received from %s: %llu pages, %llu disk blocks and %u bytes of machine state, loaded and "
                     "digested in %llu ms; waiting for the log",
             F.peer_name, (unsigned long long)migrate_received_pages(), (unsigned long long)migrate_received_blocks(),
             len, (unsigned long long)(now_ms() - t0));
    status_event("clone received", "from %s: this host is its backup", F.peer_name);
}

/* ---- the channel ---------------------------------------------------------- */

static void on_recv(void *ctx, uint8_t type, const uint8_t *data, uint32_t len, uint64_t seq)
{
    (void)ctx;
    (void)seq;
    if (type == MSG_LEAVE) {
        char why[128];
        uint32_t n = len < sizeof(why) - 1 ? len : sizeof(why) - 1;
        for (uint32_t i = 0; i < n; i++)
            why[i] = data[i] >= 0x20 && data[i] < 0x7f ? (char)data[i] : '?';
        why[n] = 0;
        log_warn("pair", "%s leaves the pair: %s", F.peer_name, why);
        if (F.st == PS_CLONING) {
            clone_abort("the peer refused or left");
            return;
        }
        if (F.st == PS_RECEIVING) {
            engine_set_hold_policy();
            set_state(PS_STANDBY);
            log_warn("pair", "the clone from %s stopped: this host keeps no guest running", F.peer_name);
            return;
        }
        if (F.role == R_PRIMARY && (F.st == PS_PROTECTED || F.st == PS_ARBITRATING || F.st == PS_ENDING))
            go_unprotected("the backup left the pair");
        else if (F.role == R_BACKUP && F.st != PS_LIVE && F.st != PS_GOING_LIVE && F.st != PS_STANDBY) {
            engine_set_hold_policy();
            set_state(PS_STANDBY);
            log_warn("pair", "this host stops following %s and keeps no guest running", F.peer_name);
        }
        return;
    }
    if (type == MSG_CLONE) {
        clone_offered(data, len);
        return;
    }
    if (F.st == PS_CLONING) {
        if (type == MSG_CLONE_READY && F.clone_phase == CL_OFFERED) {
            uint8_t mine[LOG_DIGEST_LEN];
            rr_config_digest(&the_vm, mine);
            if (len != LOG_DIGEST_LEN || memcmp(mine, data, LOG_DIGEST_LEN) != 0) {
                send_leave("the peer's guest differs from this one (kernel, initrd, command line, CPU model or memory)");
                clone_abort("the peer's guest config differs");
                return;
            }
            clone_begin(&the_vm);
        }
        return;
    }
    if (F.st == PS_RECEIVING) {
        if (type == MSG_PAGES || type == MSG_DISK) {
            char why[160];
            if (migrate_receive(&the_vm, type == MSG_DISK, data, len, why, sizeof(why)))
                standby(why);
        } else if (type == MSG_STATE) {
            clone_state_arrived(data, len);
        }
        return;
    }
    if (F.role == R_PRIMARY) {
        if (type == MSG_READY && F.st == PS_WAIT_PEER) {
            uint8_t mine[LOG_DIGEST_LEN];
            rr_config_digest(&the_vm, mine);
            if (len != LOG_DIGEST_LEN + LOG_STATE_DIGEST_LEN || memcmp(mine, data, LOG_DIGEST_LEN) != 0) {
                send_leave("the backup's guest differs from the primary's (kernel, initrd, command line, CPU "
                           "model or memory)");
                engine_set_live_policy();
                go_unprotected("the backup's guest differs from this one");
                return;
            }
            start_protection(&the_vm);
        } else if (type == MSG_REPAIR && len == 8) {
            if (F.st == PS_PROTECTED || F.st == PS_ENDING || F.st == PS_UNPROTECTED) {
                F.repairs++;
                F.repair_boot = chan_peer_boot();
                if (F.st != PS_UNPROTECTED)
                    go_unprotected("the backup's replay diverged: it will be repaired with a clone");
            }
        } else if (type == MSG_DIVERGED && len == 8) {
            uint64_t at;
            memcpy(&at, data, 8);
            log_error("pair", "%s's replay diverged at exit %llu; the recording's runs there:", F.peer_name,
                      (unsigned long long)at);
            vcpu_trace_print(&the_vm.vcpu, at > 3 ? at - 3 : 0, at + 1, 80);
        } else if (type == MSG_PROGRESS && len >= 16) {
            uint64_t waiting, replayed;
            memcpy(&waiting, data, 8);
            memcpy(&replayed, data + 8, 8);
            F.backup_waiting = waiting != 0;
            if (replayed > F.backup_replayed)
                F.backup_replayed = replayed;
            if (len >= 24) {
                uint64_t reads;
                memcpy(&reads, data + 16, 8);
                if (reads > F.backup_reads)
                    F.backup_reads = reads;
            }
            if (F.st == PS_PROTECTED) {
                uint64_t ms = lag_ns() / 1000000u;
                F.lag_hist[ms < LAG_BINS ? ms : LAG_BINS - 1]++;
                F.lag_samples++;
            }
        }
        return;
    }
    /* Backup. */
    if (type == MSG_OFFER && len == 16 && !F.booted) {
        /* Boot the guest as the primary's: its TSC rate and RTC epoch. The
         * boot and the initial digest are slow; they happen before the
         * pair is formed, when nobody times this host out. */
        struct vm *vm = &the_vm;
        uint64_t tsc, epoch;
        memcpy(&tsc, data, 8);
        memcpy(&epoch, data + 8, 8);
        if (tsc < 1000000 || tsc > 100000000000ull) {
            standby("the primary offered an impossible TSC rate");
            return;
        }
        vm->tsc_hz = tsc;
        vm->config.epoch_seconds = epoch;
        char err[200];
        if (vm_boot(vm, true, err, sizeof(err))) {
            standby(err);
            return;
        }
        vm->created = true;
        F.booted = true;
        uint8_t m[LOG_DIGEST_LEN + LOG_STATE_DIGEST_LEN];
        rr_config_digest(vm, m);
        rr_state_digest(vm, true, F.init_digest, NULL);
        memcpy(m + LOG_DIGEST_LEN, F.init_digest, LOG_STATE_DIGEST_LEN);
        chan_send(MSG_READY, m, sizeof(m));
        log_info("pair", "guest booted as %s's (virtual TSC %llu Hz, RTC epoch %llu): ready for the log",
                 F.peer_name, (unsigned long long)tsc, (unsigned long long)epoch);
        return;
    }
    if (type == MSG_START && len == 8) {
        if (F.replay_started) {
            standby("the primary started protection again (it restarted)");
            return;
        }
        memcpy(&F.epoch, data, 8);
        F.peer_boot = chan_peer_boot();
    } else if (type == MSG_LOG && F.epoch) {
        bk_log(data, len);
    } else if (type == MSG_READ_HINT && len == 24 && F.replay_started && F.st == PS_REPLAYING) {
        uint64_t m[3];
        memcpy(m, data, sizeof(m));
        gio_read_hint(m[0], m[1], (uint32_t)m[2]);
    } else if (type == MSG_HANDOVER && len == 16 && F.replay_started && F.st == PS_REPLAYING) {
        uint64_t m[2];
        memcpy(m, data, sizeof(m));
        if (m[0] != F.recv_abs) {
            standby("the primary handed over at a log length this host did not receive");
            return;
        }
        F.primary_released = m[1];
        F.lost_ms = F.last_heard_ms = now_ms();
        F.handover_in = true;
        log_info("pair", "%s hands the guest over (migration): replaying the rest of the log (%llu bytes in all), then "
                         "going live",
                 F.peer_name, (unsigned long long)F.recv_abs);
        set_state(PS_GOING_LIVE);
        replayer_drain(went_live);
    } else if (type == MSG_MARK && len == 24 && F.replay_started && F.st == PS_REPLAYING) {
        /* Sent after the LOG messages it covers (the channel keeps order). */
        uint64_t m[3];
        memcpy(m, data, sizeof(m));
        replayer_set_mark(m[0], m[1], m[2] & 1);
    }
}

static void on_up(void *ctx) { (void)ctx; }
static void on_down(void *ctx) { (void)ctx; }
static const struct chan_user pair_user = { on_recv, on_acked, on_up, on_down, NULL };

/* ---- failure detection ---------------------------------------------------- */

static uint64_t last_poll_ms;
static bool was_away; /* this host's main loop was stalled a moment ago */
static uint64_t away_until;

static bool peer_lost(uint64_t *hb_ms, uint64_t *ch_ms)
{
    uint32_t t = kernel_config()->pair.failover_timeout_ms;
    /* After a long step here (a digest of all guest RAM), the peer's
     * heartbeats wait unread in the NIC: judge it next pass, once the
     * network input has run. */
    if (was_away)
        return false;
    *hb_ms = heartbeat_peer_silence_ms(F.peer);
    *ch_ms = chan_silence_ms();
    return *hb_ms > t && *ch_ms > t;
}

static void nag_arbiter(const char *what)
{
    if (now_ms() - F.last_nag_ms < NAG_MS)
        return;
    F.last_nag_ms = now_ms();
    log_warn("pair", "no answer from the arbiter (%s) for %llu ms: %s", arbiter_describe(),
             (unsigned long long)arbiter_asking_ms(), what);
}

/* The peer is lost: ask the arbiter before acting (docs/witness.md). */
static void start_arbitration(const char *who, const char *goal, uint64_t hb, uint64_t ch)
{
    if (hb || ch)
        log_warn("pair", "%s %s lost (no heartbeat for %llu ms, channel silent for %llu ms): asking the arbiter (%s) %s",
                 who, F.peer_name, (unsigned long long)hb, (unsigned long long)ch, arbiter_describe(), goal);
    else
        log_warn("pair", "%s %s restarted: asking the arbiter (%s) %s", who, F.peer_name, arbiter_describe(), goal);
    status_event("peer lost", "%s %s %s: asking the arbiter %s", who, F.peer_name, hb || ch ? "lost" : "restarted",
                 goal);
    set_state(PS_ARBITRATING);
    arbiter_ask(F.epoch);
}

/* Migration to the peer begins: the backup catches up first (after
 * HANDOVER_FREE_NS the guest waits whenever the replay trails by more
 * than HANDOVER_LAG_NS), then pair_gate() holds the guest. */
static void begin_handover(void)
{
    F.handing_over = true;
    F.handover_hold = false;
    F.handover_asked_ns = clock_ns();
    F.catchup = (struct hold_time){ 0 };
}

/* Migration to the peer. First the backup catches up: its replay within
 * HANDOVER_LAG_NS of the log and at most one LOG message unacknowledged
 * (just after a clone, its channel may still carry the clone's pages for
 * a second or more; the stop must not wait for those). Then the guest is
 * held (pair_gate()); once the backup has acknowledged the whole log,
 * release every held byte, tell it to go live, and wait here for its
 * clone as its backup. */
static void handover_poll(void)
{
    if (!F.handover_hold) {
        uint64_t waited = clock_ns() - F.handover_asked_ns;
        bool caught_up = (lag_ns() <= HANDOVER_LAG_NS || F.backup_waiting) && F.in_tail - F.in_head <= 1;
        if (!caught_up && waited < HANDOVER_CATCHUP_NS)
            return;
        if (!caught_up)
            log_warn("pair", "migration: %s's replay did not catch up in %llu ms (%llu ms behind, %u messages "
                             "unacknowledged): the guest stops anyway",
                     F.peer_name, (unsigned long long)(waited / 1000000), (unsigned long long)(lag_ns() / 1000000),
                     F.in_tail - F.in_head);
        hold_time_set(&F.catchup, false);
        F.handover_hold = true;
        F.handover_ns = clock_ns();
        F.handover_catchup_ns = waited;
    }
    recorder_flush_now();
    pump();
    uint64_t written = recorder_log_bytes();
    if (F.sent_abs < written || F.acked_abs < written)
        return;
    release_acked(true);
    /* The backup shows from the start of the line the guest was writing:
     * whole lines on each host, the cut one on the backup only. */
    uint64_t m[2] = { written, F.con_line };
    if (!chan_send(MSG_HANDOVER, m, sizeof(m)))
        return;
    drop_partial_line();
    F.handovers++;
    engine_set_hold_policy();
    vm_events_register(F.live_ev, F.live_ev_ctx);
    F.role = R_BACKUP;
    F.handing_over = false;
    F.awaiting_repair = true;
    set_state(PS_STANDBY);
    log_info("pair", "migration %llu: the guest stopped here %llu ms ago and %s has its whole log (%llu bytes): "
                     "handed over after %llu ms of catching up (the guest held %llu ms of them); this host waits to "
                     "become its backup",
             (unsigned long long)F.handovers, (unsigned long long)((clock_ns() - F.handover_ns) / 1000000),
             F.peer_name, (unsigned long long)written, (unsigned long long)(F.handover_catchup_ns / 1000000),
             (unsigned long long)(F.catchup.total / 1000000));
    kprintf("ftvisor: this host (%s) handed the guest over to %s\n", kernel_this_host()->name, F.peer_name);
    status_event("migration out", "migration %llu: the guest went to %s; it was held here %llu ms",
                 (unsigned long long)F.handovers, F.peer_name,
                 (unsigned long long)((clock_ns() - F.handover_ns) / 1000000));
}

static void primary_poll(void)
{
    if (F.st == PS_WAIT_PEER) {
        if (now_ms() - F.since_ms > kernel_config()->pair.backup_wait_ms) {
            start_guest_clock(&the_vm);
            engine_set_live_policy();
            go_unprotected("the backup did not join in time ([pair] backup_wait_ms)");
        }
        return;
    }
    if (F.st == PS_PROTECTED || F.st == PS_ARBITRATING || F.st == PS_ENDING) {
        recorder_flush_due();
        note_written();
        pump();
        if (F.st == PS_PROTECTED)
            send_mark();
    }
    uint32_t every = kernel_config()->debug.migrate_every_ms;
    if (F.st == PS_PROTECTED && every && !F.handing_over && now_ms() - F.since_ms >= every) {
        begin_handover();
        log_info("pair", "[debug] migrate_every_ms: migrating the guest to %s", F.peer_name);
    }
    if (F.st == PS_PROTECTED && F.handing_over) {
        uint64_t hb = 0, ch = 0;
        if (chan_peer_boot() == F.peer_boot && !peer_lost(&hb, &ch)) {
            handover_poll();
            return;
        }
        F.handing_over = false; /* the guest runs on; the loss is handled below */
        log_warn("pair", "the migration to %s stops: it was lost or restarted", F.peer_name);
    }
    if (F.st == PS_PROTECTED || F.st == PS_ENDING) {
        uint64_t hb = 0, ch = 0;
        if (chan_peer_boot() != F.peer_boot) {
            go_unprotected("the backup restarted (its replay is gone)");
        } else if (F.log.overflowed) {
            send_leave("the primary's log overflowed");
            go_unprotected("the log overflowed");
        } else if (peer_lost(&hb, &ch)) {
            /* Even when the guest has ended here: the backup may have gone
             * live with the log it has, and only one host may show the
             * output held for it. */
            start_arbitration("backup", "before releasing output", hb, ch);
        }
    }
    if (F.st == PS_ARBITRATING) {
        enum arb_state a = arbiter_state();
        if (a == ARB_GRANTED) {
            send_leave("the primary keeps the guest (the arbiter granted it)");
            go_unprotected("the backup is lost and the arbiter granted this host the guest");
        } else if (a == ARB_REFUSED) {
            struct vm *vm = &the_vm;
            log_error("pair", "the arbiter gave the guest to %s, which went live: this host stops its guest and "
                              "drops %llu bytes of output the backup has shown",
                      F.peer_name, (unsigned long long)(F.con_total - F.con_released));
            kprintf("ftvisor: this host (%s) stopped its guest: %s runs it now\n", kernel_this_host()->name,
                    F.peer_name);
            drop_partial_line(); /* the backup shows from the line's start (con_shown) */
            if (vm->vcpu.stop == VCPU_RUNNING)
                vcpu_stop(&vm->vcpu, VCPU_STOP_PAUSED, "the backup took the guest over");
            engine_set_hold_policy();
            set_state(PS_STOPPED);
            status_event("stopped", "the arbiter gave the guest to %s: it runs there", F.peer_name);
        } else {
            nag_arbiter("output stays held and the guest waits");
        }
    }
    if (F.st == PS_ENDING && now_ms() - F.last_nag_ms > 1000) {
        F.last_nag_ms = now_ms();
        log_info("pair", "waiting for %s: log bytes written %llu, sent %llu, acknowledged %llu; messages in flight "
                         "%u (channel acknowledged seq %llu)",
                 F.peer_name, (unsigned long long)recorder_log_bytes(), (unsigned long long)F.sent_abs,
                 (unsigned long long)F.acked_abs, F.in_tail - F.in_head, (unsigned long long)chan_acked());
    }
    if (F.st == PS_ENDING && F.acked_abs >= recorder_log_bytes()) {
        release_acked(true);
        log_info("pair", "the guest ended; %s has the whole log and every output is released", F.peer_name);
        power_apply(kernel_config()->debug.on_guest_exit, "guest exited");
    }
    if (F.st == PS_UNPROTECTED) {
        F.log.start = F.log.len; /* nobody reads it */
        maybe_offer_clone();
    }
}

static void backup_poll(void)
{
    uint64_t now = now_ms();
    if (F.st == PS_LIVE)
        maybe_offer_clone();
    if (F.st == PS_REPLAYING && !F.flipped && kernel_config()->debug.fault_test == CFG_FAULT_BACKUP_DIVERGE &&
        replayer_vtime() >= 500000000u) {
        /* Test hook: this host's guest no longer matches the primary's. */
        struct vm *vm = &the_vm;
        uint64_t gpa = vm->mem.low_bytes - 1;
        uint8_t b;
        F.flipped = true;
        if (!guest_read(&vm->mem, gpa, &b, 1)) {
            b ^= 0xff;
            guest_write(&vm->mem, gpa, &b, 1);
            log_warn("debug", "fault_test = backup_diverge: flipped the guest's byte at 0x%llx on the backup",
                     (unsigned long long)gpa);
        }
    }
    if (F.st == PS_RECEIVING) {
        uint64_t hb = 0, ch = 0;
        if (chan_peer_boot() != F.clone_boot && F.clone_boot)
            standby("the host sending the clone restarted");
        else if (peer_lost(&hb, &ch))
            standby("the host sending the clone was lost");
        return;
    }
    if (F.st == PS_ENDING && ((chan_all_acked_to_peer() && now - F.since_ms > 50) || now - F.since_ms > 2000))
        power_apply(kernel_config()->debug.on_guest_exit, "guest exited (replayed)");
    /* With disk_reads = backup the primary's writes may wait for the
     * reads performed here: report those sooner. */
    uint64_t reads = gio_backup_reads() ? gio_reads_performed() : 0;
    if (F.st == PS_REPLAYING && (now - F.last_progress_ms >= PROGRESS_MS ||
                                 (reads != F.reads_reported && now - F.last_progress_ms >= PROGRESS_READS_MS))) {
        /* The log bytes taken in by the replay: whole frames, counted
         * from the stream's start (the buffer is compacted as it goes). */
        uint64_t m[3] = { replayer_waiting(), F.recv_abs - F.log.len + replayer_pos(), reads };
        if (chan_send(MSG_PROGRESS, m, sizeof(m))) {
            F.last_progress_ms = now;
            F.reads_reported = reads;
        }
    }
    uint64_t hb = 0, ch = 0;
    if (F.st == PS_WAIT_PEER && F.epoch == 0 && chan_peer_boot() && peer_lost(&hb, &ch) &&
        now - F.last_nag_ms > NAG_MS) {
        F.last_nag_ms = now;
        log_warn("pair", "primary %s lost before protection began: nothing to take over", F.peer_name);
    }
    if (F.st == PS_REPLAYING && (chan_peer_boot() != F.peer_boot || peer_lost(&hb, &ch))) {
        if (replayer_log_has_end())
            return; /* the guest ended on the primary: the replay finishes */
        F.lost_ms = now;
        F.last_heard_ms = now - (hb < ch ? hb : ch);
        start_arbitration("primary", "to go live", hb, ch);
    }
    if (F.st == PS_ARBITRATING) {
        enum arb_state a = arbiter_state();
        if (a == ARB_GRANTED) {
            log_warn("pair", "the arbiter grants the guest to this host: replaying the rest of the log (%llu bytes "
                             "received in all), then going live",
                     (unsigned long long)F.recv_abs);
            set_state(PS_GOING_LIVE);
            replayer_drain(went_live);
        } else if (a == ARB_REFUSED) {
            standby("the arbiter refused: the primary keeps the guest");
        } else {
            nag_arbiter("this host does not go live until the arbiter answers");
        }
    }
}

static void rate_tick(void)
{
    uint64_t now = now_ms(), bytes = F.role == R_PRIMARY ? F.sent_abs : F.recv_abs;
    if (now - F.rate_mark_ms >= 1000) {
        /* The count starts again when the role changes (a clone made
         * this host the primary): no rate across that. */
        F.rate_bps = bytes >= F.rate_mark_bytes ? (bytes - F.rate_mark_bytes) * 8000 / (now - F.rate_mark_ms) : 0;
        F.rate_mark_ms = now;
        F.rate_mark_bytes = bytes;
    }
}

static bool pair_poll(void)
{
    if (F.role == R_NONE)
        return false;
    uint64_t now = now_ms();
    /* Back from a long step: give the network input a few heartbeat
     * periods to catch up (the NIC may have dropped what came meanwhile)
     * before the peer is judged. */
    uint32_t hb = kernel_config()->pair.heartbeat_ms;
    if (now - last_poll_ms > hb)
        away_until = now + 3 * hb;
    was_away = now < away_until;
    last_poll_ms = now;
    rate_tick();
    if (F.st == PS_CLONING)
        clone_poll();
    else if (F.role == R_PRIMARY)
        primary_poll();
    else
        backup_poll();
    return false;
}

/* ---- status --------------------------------------------------------------- */

static const char *pair_role(void)
{
    if (F.st == PS_CLONING)
        return "cloning to the peer";
    if (F.st == PS_RECEIVING)
        return "backup (receiving a clone)";
    if (F.role == R_PRIMARY)
        return F.st == PS_UNPROTECTED ? "primary (unprotected)" : F.st == PS_STOPPED ? "stopped" : "primary";
    return F.st == PS_LIVE ? "live (was backup)" : F.st == PS_STANDBY ? "backup (standby)" : "backup";
}

static uint64_t lag_pct(unsigned pct)
{
    if (!F.lag_samples)
        return 0;
    uint64_t want = (F.lag_samples * pct + 99) / 100, seen = 0;
    for (unsigned i = 0; i < LAG_BINS; i++) {
        seen += F.lag_hist[i];
        if (seen >= want)
            return i;
    }
    return LAG_BINS - 1;
}

static size_t pair_counters(char *buf, size_t size)
{
    uint64_t throttled = hold_time_ns(&F.throttle);
    return (size_t)fmt_snprintf(
        buf, size,
        ",\"pair_state\":\"%s\",\"pair_epoch\":\"%016llx\",\"pair_lag_ms\":%llu,\"pair_lag_p50_ms\":%llu,"
        "\"pair_lag_p99_ms\":%llu,\"pair_log_rate_bps\":%llu,\"pair_log_bytes\":%llu,\"pair_log_acked\":%llu,"
        "\"pair_held_output_bytes\":%llu,\"pair_throttles\":%llu,\"pair_throttled_ms\":%llu",
        state_names[F.st], (unsigned long long)F.epoch,
        (unsigned long long)(F.role == R_PRIMARY ? lag_ns() / 1000000u : 0), (unsigned long long)lag_pct(50),
        (unsigned long long)lag_pct(99), (unsigned long long)F.rate_bps,
        (unsigned long long)(F.role == R_PRIMARY ? F.sent_abs : F.recv_abs), (unsigned long long)F.acked_abs,
        (unsigned long long)(F.con_total - F.con_released), (unsigned long long)F.throttles,
        (unsigned long long)(throttled / 1000000u));
}

static const struct status_source pair_status = { pair_role, NULL, pair_counters };

/* The page's graphs: the backup's lag while this host holds output for
 * it, and the log's rate (sent, or received on a backup) in bytes/s. */
static bool series_lag(uint64_t *v)
{
    if (F.role != R_PRIMARY || !holding())
        return false;
    *v = lag_ns() / 1000000u;
    return true;
}
static bool series_log(uint64_t *v)
{
    *v = F.rate_bps / 8;
    return F.role != R_NONE;
}
static const struct status_series pair_series[] = { { "lag_ms", series_lag }, { "log_Bps", series_log } };

/* POST /migrate (net/status.h, tools/ftmigrate): hand the guest over to
 * the backup, which goes live and protects it with this host as its
 * backup (roles swapped). */
static int action_migrate(char *msg, size_t n)
{
    if (F.role != R_PRIMARY || F.st != PS_PROTECTED || F.handing_over) {
        fmt_snprintf(msg, n, "this host is %s (%s): only a protected primary hands its guest over", pair_role(),
                     state_names[F.st]);
        return -1;
    }
    begin_handover();
    fmt_snprintf(msg, n, "migrating the guest to %s: once its replay has caught up, the guest stops here until %s "
                         "has the whole log",
                 F.peer_name, F.peer_name);
    return 0;
}
static const struct status_action migrate_action = { "migrate", action_migrate };

/* ---- start ---------------------------------------------------------------- */

static void pair_init(void)
{
    const struct config *cfg = kernel_config();
    struct vm *vm = &the_vm;
    if (!cfg->pair.present || !cfg->guest.present || cfg->nhosts < 2 || cfg->debug.channel_test_mb)
        return;
    if (cfg->record.present && cfg->record.mode != CFG_REC_OFF) {
        log_info("pair", "[record] mode = %s: the guest runs on this host alone, not as a pair",
                 cfg->record.mode == CFG_REC_SELFCHECK ? "selfcheck" : cfg->record.mode == CFG_REC_RECORD ? "record"
                                                                                                        : "replay");
        return;
    }
    F.me = -1;
    for (int i = 0; i < cfg->nhosts; i++)
        if (&cfg->hosts[i] == kernel_this_host())
            F.me = i;
    if (F.me < 0 || F.me > 1 || !vm->created || chan_peer() < 0)
        return;
    int primary = 0;
    if (cfg->pair.primary[0])
        primary = strcmp(cfg->hosts[1].name, cfg->pair.primary) == 0;
    F.peer = 1 - F.me;
    F.peer_name = cfg->hosts[F.peer].name;
    F.role = F.me == primary ? R_PRIMARY : R_BACKUP;
    vm_events_current(&F.live_ev, &F.live_ev_ctx);
    F.log.buf = phys_to_virt(pmm_alloc(LOG_PAGES, 1));
    F.log.cap = (size_t)LOG_PAGES * 4096;
    F.hold = phys_to_virt(pmm_alloc(HOLD_BYTES / 4096, 1));
    ring = F.hold;
    chan_set_user(&pair_user);
    status_register(&pair_status);
    status_register_series(&pair_series[0]);
    status_register_series(&pair_series[1]);
    status_register_action(&migrate_action);
    engine_set_hold_policy();
    set_state(PS_WAIT_PEER);
    F.rate_mark_ms = now_ms();
    if (cfg->pair.arbiter == CFG_ARBITER_NONE)
        log_warn("pair", "no arbiter ([pair] arbiter = none): if the two hosts lose each other while both run, "
                         "both may run the guest (split brain)");
    if (F.role == R_PRIMARY) {
        char why[200];
        if (landmark_select(vm, cfg->record.landmark, &F.backend, why, sizeof(why))) {
            log_error("pair", "%s:%u: landmark: %s", cfg->file, cfg->record.line, why);
            engine_set_live_policy();
            go_unprotected("no landmark backend");
            return;
        }
        uint64_t offer[2] = { vm->tsc_hz, vm->config.epoch_seconds };
        chan_send(MSG_OFFER, offer, sizeof(offer));
        log_info("pair", "this host is the primary; backup %s; arbiter %s; waiting for the backup (at most %u ms)",
                 F.peer_name, arbiter_describe(), cfg->pair.backup_wait_ms);
        engine_set_gate(pair_gate);
    } else {
        log_info("pair", "this host is the backup of %s; arbiter %s; waiting for the primary", F.peer_name,
                 arbiter_describe());
    }
}

SERVICE(37, ft_pair, pair_init, pair_poll);
