/* The status service's history (net/status.c): a ring of per-second
 * samples (graphed series such as the backup's lag, and each peer's
 * heartbeat state and round-trip time) over the last HIST_SAMPLES seconds,
 * and a ring of the last HIST_EVENTS events (failovers, migrations, ...),
 * rendered into GET /status's JSON. Fixed memory, no allocation, no lwIP
 * and no kernel globals: host unit-tested (tests/unit/test_status_hist.c).
 *
 * Also the bounded JSON writer the service builds its answer with. */
#ifndef NET_STATUS_HIST_H
#define NET_STATUS_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HIST_SAMPLES 300 /* five minutes at one sample a second */
#define HIST_PERIOD_MS 1000
#define HIST_SERIES 4
#define HIST_PEERS 7 /* every other [host] of a config (CFG_MAX_HOSTS - 1) */
#define HIST_EVENTS 32
#define HIST_TEXT 128
#define HIST_HB_NAMES 8
#define HIST_NONE UINT32_MAX /* no value that second (a gap in the graph) */

/* JSON into a fixed buffer. n counts what the whole output needs, so
 * n >= cap after the fact means it was cut off (the buffer then holds a
 * terminated prefix, never to be sent). */
struct jbuf {
    char *p;
    size_t cap, n;
};
void jb_init(struct jbuf *b, char *p, size_t cap);
void jb_put(struct jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string, quoted: '"', '\\' and control characters escaped, bytes
 * outside printable ASCII as '?' (the answer stays valid UTF-8). */
void jb_str(struct jbuf *b, const char *s);
/* Room for a callback that appends itself: where to write and how much
 * it may (0 once full); jb_advance() adds what it says it wrote. */
char *jb_tail(struct jbuf *b, size_t *room);
void jb_advance(struct jbuf *b, size_t len);
static inline bool jb_ok(const struct jbuf *b) { return b->n < b->cap; }

struct hist_event {
    uint64_t seq, ms;
    const char *kind;
    char text[HIST_TEXT];
};

struct status_hist {
    uint64_t last_sec; /* the uptime second of the newest sample */
    uint32_t count;    /* samples held, at most HIST_SAMPLES */
    uint32_t next;     /* the slot the next sample goes to */
    uint32_t series[HIST_SAMPLES][HIST_SERIES];
    uint8_t hb[HIST_SAMPLES][HIST_PEERS]; /* index into hb_names, 0xff none */
    uint32_t rtt_us[HIST_SAMPLES][HIST_PEERS];
    const char *hb_names[HIST_HB_NAMES];
    int nhb;
    struct hist_event ev[HIST_EVENTS];
    uint64_t nev; /* events ever recorded (the ring holds the last ones) */
};

/* One second's values: series[] and, per peer slot, the heartbeat state
 * (a string that lives for ever, NULL if none) and the round-trip time
 * (HIST_NONE when unreachable). */
struct hist_sample {
    uint32_t series[HIST_SERIES];
    const char *hb[HIST_PEERS];
    uint32_t rtt_us[HIST_PEERS];
};

void hist_init(struct status_hist *h);
/* Whether a sample is due at uptime now_ms (a new second began). */
bool hist_due(const struct status_hist *h, uint64_t now_ms);
/* Record s as the sample of now_ms's second; seconds skipped since the
 * last one (the main loop was busy) become gaps. */
void hist_add(struct status_hist *h, uint64_t now_ms, const struct hist_sample *s);
/* kind: a string that lives for ever (a literal); text is copied. */
void hist_event(struct status_hist *h, uint64_t now_ms, const char *kind, const char *text);

/* ,"history":{...},"events_total":N,"events":[...] (oldest first);
 * series_names[i] names series column i, peer_names[j] peer slot j. */
void hist_json(const struct status_hist *h, struct jbuf *b, const char *const *series_names, int nseries,
               const char *const *peer_names, int npeers);

#endif
