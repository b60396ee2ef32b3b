/* Record and replay of the guest (ft/record.c, ft/replay.c) and the
 * self-check that runs them back to back in one boot (ft/selfcheck.c). */
#ifndef FT_RR_H
#define FT_RR_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include "landmark.h"
#include "log.h"
#include "../vmm/dev/vdev.h"

struct vm;

/* Called when a recording or a replay has ended (after vm_finish()). */
typedef void (*rr_finished_fn)(struct vm *vm);

/* The END record's reason for how the vCPU stopped. */
uint8_t rr_end_reason(int why);

/* An event log held in host memory: whole frames, back to back. Bytes
 * before start have been taken by a consumer (the sink client); the
 * recorder reuses that room when it needs it. */
struct memlog {
    uint8_t *buf;
    size_t cap, start, len;
    bool overflowed;
};

/* What ended a recording, and the guest's state there, for the report. */
struct rr_totals {
    uint64_t points, asyncs, states, records, exits, icount, console_bytes;
    vtime_t vtime;
    /* Recorder: how late device deadlines were served (virtual ns from the
     * deadline to the point that delivered it), the backend's injection
     * latency. */
    uint64_t late_n, late_sum_ns, late_max_ns, late_sum_ticks, late_max_ticks;
    /* Host device completions (DEVDONE), their data bytes (DEVDATA), and
     * read bytes only checked (DEVCHECK: the replayer reads them itself). */
    uint64_t dev_done, dev_bytes, dev_checked;
};

/* The state digest (ft/digest.c): the general registers, RIP, RFLAGS,
 * the control registers and EFER, and a digest of all guest memory kept
 * current from the EPT dirty flags (full = true: every page read again).
 * Both sides compute it at the same event point. */
struct rr_state_block {
    uint64_t gpr[16], rip, rflags, cr0, cr3, cr4, efer;
    uint64_t mem;
};
void rr_state_digest(struct vm *vm, bool full, uint8_t out[LOG_STATE_DIGEST_LEN], struct rr_state_block *blk);
/* Which fields of two blocks differ, in words, into buf. */
void rr_state_diff(const struct rr_state_block *a, const struct rr_state_block *b, char *buf, size_t n);
uint64_t rr_digest_pages_read(void); /* 4 KiB pages read for digests so far */
/* A clone's source (ft/migrate.c) reads every page as it sends it:
 * rr_digest_page() takes that page's CRC into the memory digest's table
 * (page gfn, its 4 KiB; the table is made for vm first if need be). Once
 * every page was given since the clone began and the guest has stopped
 * with nothing changed since (the last round sent every page written),
 * rr_digest_table_current() lets the next full digest, the new log's
 * initial state, use the table instead of reading all of RAM again while
 * the guest waits. The receiver still reads all of it: its digest checks
 * the source's (and so the copy) independently. */
void rr_digest_page(struct vm *vm, uint64_t gfn, const uint8_t *page);
void rr_digest_table_current(struct vm *vm);

/* SHA-256 of what defines the guest (image, initrd, command line, CPU
 * model, memory size): the header's config_digest. */
void rr_config_digest(struct vm *vm, uint8_t out[LOG_DIGEST_LEN]);

/* Recorder: from now on the engine runs the guest under the recording
 * policy, writing the log into out (header first). span_ms > 0: pause the
 * guest (VCPU_STOP_PAUSED) at the first event point at or after that much
 * virtual time. A STATE record once digest_every points (0: never) and
 * digest_min_ms of virtual time have passed since the last one. */
int recorder_start(struct vm *vm, enum lm_backend b, struct memlog *out, uint32_t span_ms, uint32_t digest_every,
                   uint32_t digest_min_ms, rr_finished_fn finished, char *err, size_t n);
void recorder_totals(struct rr_totals *t);
/* Close the open frame after ns of host time (0: only when full), for a
 * log consumed while it is written (sink, backup). */
void recorder_set_flush_ns(uint64_t ns);
/* A recording begun while the guest runs (a clone's new log): virtual time
 * goes on from t instead of starting at 0. */
void recorder_continue_at(vtime_t t);
/* Close the open frame if it is older than the flush time: for a guest
 * that does not run (throttled), whose frame no exit would close. */
void recorder_flush_due(void);
/* Close the open frame now (a disk write under the output rule waits for
 * the backup's acknowledgement of it). */
void recorder_flush_now(void);
/* Close the open frame right after each OUTPUT record (the pair). */
void recorder_set_flush_on_output(bool on);
/* Log bytes written into the memory log since recorder_start(), header
 * included: the absolute log offset the pair's acknowledgements refer to. */
uint64_t recorder_log_bytes(void);
/* For a consumer that takes the log in whole frames, in order, up to
 * recorder_log_bytes() == upto (a frame boundary): the exit ordinal of the
 * last record in the log up to there (as a decoder reports it; 0 before
 * any) and whether that record is END. Forgets the frames before the one
 * ending at upto (asking again with the same upto gives the same answer).
 * False when it no longer knows (more than 4096 frames waited) or
 * there is no records frame yet: the caller's previous answer still holds
 * as a lower bound. */
bool recorder_reach(uint64_t upto, uint64_t *exit, bool *has_end);
/* Emulator backend, called between two runs: a position of the guest
 * (sync-exit ordinal, instruction count) such that the memory log holds
 * every record before it, and every record of that exit too if
 * *exit_complete; records still to come are at or after it. False when
 * there is none to give. */
bool recorder_position(uint64_t *exit, uint64_t *icount, bool *exit_complete);
vtime_t recorder_vtime(void); /* virtual time of the last event point */
/* The recorded registers (RIP, then the 16 GPRs) at event point i, when
 * still kept; for divergence reports. */
bool recorder_regs_at(uint64_t point, uint64_t regs[17]);
/* The recorded block behind state digest i (0 = the first STATE record),
 * when still kept; for divergence reports. */
bool recorder_state_at(uint64_t i, struct rr_state_block *blk);

/* Replayer: runs the freshly booted guest under the replay policy,
 * consuming in. Ends (VCPU_STOP_PAUSED) at the log's END; a divergence
 * stops it with VCPU_STOP_FAILED after a report. */
int replayer_start(struct vm *vm, const struct memlog *in, rr_finished_fn finished, char *err, size_t n);
/* The log is still arriving (true: wait for more at its end, and run the
 * guest only as far as the log reaches) or complete (false, the default). */
void replayer_set_live(bool live);
/* Live: how far the log that has arrived reaches, from whoever delivers
 * it (the primary knows it per frame, recorder_reach()): the exit ordinal
 * of its last record, and whether that is END. Never goes back. */
void replayer_log_reaches(uint64_t exit, bool has_end);
/* The primary's recorder_position(), received with the log up to it: the
 * live replay may run the guest ahead to just short of it, and on to the
 * next exit if that exit's records are all here. */
void replayer_set_mark(uint64_t exit, uint64_t icount, bool exit_complete);
uint64_t replayer_ahead_runs(void);
uint64_t replayer_waits(void); /* times a live replay waited for more log */
bool replayer_waiting(void);   /* it has replayed all it can of what arrived */
vtime_t replayer_vtime(void);   /* virtual time of the last replayed point */
enum lm_backend replayer_backend(void); /* the log's, once started */
/* Bytes of the log buffer the replayer has taken in (whole frames). A
 * live replay's caller may drop them: after it moves the rest down by n
 * bytes (n at most that), replayer_rebase(n) adjusts the position. */
size_t replayer_pos(void);
void replayer_rebase(size_t n);
/* Go-live: the log will not grow any more. The replayer replays every
 * whole frame that arrived and then calls drained(), with the guest
 * standing at the end of the log, instead of waiting; drained() installs
 * the live input and policy. */
void replayer_drain(void (*drained)(struct vm *vm));
/* Every console byte the replayed guest writes (suppressed otherwise). */
void replayer_set_output_hook(void (*fn)(uint8_t byte));
/* The guest was booted and its initial state digested (d) before the log
 * came (the pair's backup, so that this slow step falls before protection
 * begins): check d against the header instead of digesting again. -1: it
 * differs. */
int replayer_trust_initial_state(const uint8_t d[LOG_STATE_DIGEST_LEN]);
/* The arrived log holds its END record (or damage that ends it). */
bool replayer_log_has_end(void);
bool replayer_diverged(void);
/* The divergence was this host's own read of the shared disk returning
 * other data than the primary's (disk_reads = backup): a clone cannot
 * repair that. */
bool replayer_disk_differs(void);
uint64_t replayer_diverged_exit(void); /* the exit ordinal where it did */
bool replayer_damaged(void);     /* a frame failed its checks */
bool replayer_reached_end(void); /* consumed the END record */
void replayer_totals(struct rr_totals *t);

#endif
