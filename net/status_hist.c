/* The status service's history and JSON writer (status_hist.h). */
#include "status_hist.h"
#include "../kernel/format.h"
#include <stdarg.h>
#include <string.h>

void jb_init(struct jbuf *b, char *p, size_t cap)
{
    b->p = p;
    b->cap = cap;
    b->n = 0;
    if (cap)
        p[0] = 0;
}

char *jb_tail(struct jbuf *b, size_t *room)
{
    if (b->n < b->cap) {
        *room = b->cap - b->n;
        return b->p + b->n;
    }
    *room = 0; /* full: callbacks only count */
    return b->p;
}

void jb_advance(struct jbuf *b, size_t len) { b->n += len; }

void jb_put(struct jbuf *b, const char *fmt, ...)
{
    size_t room;
    char *t = jb_tail(b, &room);
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(t, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->n += (size_t)n;
}

/* One character, kept only while it and the terminator fit. */
static void jb_ch(struct jbuf *b, char c)
{
    if (b->n + 1 < b->cap) {
        b->p[b->n] = c;
        b->p[b->n + 1] = 0;
    }
    b->n++;
}

void jb_str(struct jbuf *b, const char *s)
{
    jb_ch(b, '"');
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            jb_ch(b, '\\');
            jb_ch(b, (char)c);
        } else if (c < 0x20) {
            jb_put(b, "\\u%04x", c);
        } else {
            jb_ch(b, c < 0x7f ? (char)c : '?');
        }
    }
    jb_ch(b, '"');
}

void hist_init(struct status_hist *h)
{
    memset(h, 0, sizeof(*h));
    /* A series registered later has gaps, not zeros, before it began. */
    memset(h->series, 0xff, sizeof(h->series));
    memset(h->hb, 0xff, sizeof(h->hb));
    memset(h->rtt_us, 0xff, sizeof(h->rtt_us));
}

bool hist_due(const struct status_hist *h, uint64_t now_ms)
{
    return !h->count || now_ms / HIST_PERIOD_MS > h->last_sec;
}

static uint8_t hb_code(struct status_hist *h, const char *name)
{
    if (!name)
        return 0xff;
    for (int i = 0; i < h->nhb; i++)
        if (h->hb_names[i] == name || strcmp(h->hb_names[i], name) == 0)
            return (uint8_t)i;
    if (h->nhb == HIST_HB_NAMES)
        return 0xff;
    h->hb_names[h->nhb] = name;
    return (uint8_t)h->nhb++;
}

static void push(struct status_hist *h, const struct hist_sample *s)
{
    uint32_t i = h->next;
    for (int k = 0; k < HIST_SERIES; k++)
        h->series[i][k] = s ? s->series[k] : HIST_NONE;
    for (int k = 0; k < HIST_PEERS; k++) {
        h->hb[i][k] = s ? hb_code(h, s->hb[k]) : 0xff;
        h->rtt_us[i][k] = s ? s->rtt_us[k] : HIST_NONE;
    }
    h->next = (i + 1) % HIST_SAMPLES;
    if (h->count < HIST_SAMPLES)
        h->count++;
}

void hist_add(struct status_hist *h, uint64_t now_ms, const struct hist_sample *s)
{
    uint64_t sec = now_ms / HIST_PERIOD_MS;
    if (h->count) {
        if (sec <= h->last_sec)
            return;
        uint64_t skipped = sec - h->last_sec - 1;
        for (uint64_t k = 0; k < skipped && k < HIST_SAMPLES; k++)
            push(h, NULL);
    }
    push(h, s);
    h->last_sec = sec;
}

void hist_event(struct status_hist *h, uint64_t now_ms, const char *kind, const char *text)
{
    struct hist_event *e = &h->ev[h->nev % HIST_EVENTS];
    e->seq = ++h->nev;
    e->ms = now_ms;
    e->kind = kind;
    size_t n = text ? strlen(text) : 0;
    if (n > HIST_TEXT - 1)
        n = HIST_TEXT - 1;
    memcpy(e->text, text ? text : "", n);
    e->text[n] = 0;
}

static uint32_t slot(const struct status_hist *h, uint32_t i)
{
    return (h->next + HIST_SAMPLES - h->count + i) % HIST_SAMPLES;
}

/* A value, or null for a gap. */
static void put_value(struct jbuf *b, bool comma, uint32_t v)
{
    if (v == HIST_NONE)
        jb_put(b, comma ? ",null" : "null");
    else
        jb_put(b, comma ? ",%u" : "%u", v);
}

void hist_json(const struct status_hist *h, struct jbuf *b, const char *const *series_names, int nseries,
               const char *const *peer_names, int npeers)
{
    if (nseries > HIST_SERIES)
        nseries = HIST_SERIES;
    if (npeers > HIST_PEERS)
        npeers = HIST_PEERS;
    jb_put(b, ",\"history\":{\"period_ms\":%u,\"capacity\":%u,\"end_ms\":%llu,\"samples\":%u,\"series\":{",
           HIST_PERIOD_MS, HIST_SAMPLES, (unsigned long long)(h->last_sec * HIST_PERIOD_MS), h->count);
    for (int k = 0; k < nseries; k++) {
        if (k)
            jb_ch(b, ',');
        jb_str(b, series_names[k]);
        jb_put(b, ":[");
        for (uint32_t i = 0; i < h->count; i++)
            put_value(b, i > 0, h->series[slot(h, i)][k]);
        jb_ch(b, ']');
    }
    jb_put(b, "},\"heartbeat_states\":[");
    for (int i = 0; i < h->nhb; i++) {
        if (i)
            jb_ch(b, ',');
        jb_str(b, h->hb_names[i]);
    }
    /* Heartbeat states one letter a second: 'a' is heartbeat_states[0],
     * 'b' the next, '-' no sample. */
    jb_put(b, "],\"peers\":[");
    for (int k = 0; k < npeers; k++) {
        jb_put(b, k ? ",{\"name\":" : "{\"name\":");
        jb_str(b, peer_names[k]);
        jb_put(b, ",\"heartbeat\":\"");
        for (uint32_t i = 0; i < h->count; i++) {
            uint8_t c = h->hb[slot(h, i)][k];
            jb_ch(b, c == 0xff ? '-' : (char)('a' + c));
        }
        jb_put(b, "\",\"rtt_us\":[");
        for (uint32_t i = 0; i < h->count; i++)
            put_value(b, i > 0, h->rtt_us[slot(h, i)][k]);
        jb_put(b, "]}");
    }
    jb_put(b, "]},\"events_total\":%llu,\"events\":[", (unsigned long long)h->nev);
    uint64_t first = h->nev > HIST_EVENTS ? h->nev - HIST_EVENTS : 0;
    for (uint64_t s = first; s < h->nev; s++) {
        const struct hist_event *e = &h->ev[s % HIST_EVENTS];
        jb_put(b, "%s{\"seq\":%llu,\"ms\":%llu,\"kind\":", s > first ? "," : "", (unsigned long long)e->seq,
               (unsigned long long)e->ms);
        jb_str(b, e->kind);
        jb_put(b, ",\"text\":");
        jb_str(b, e->text);
        jb_ch(b, '}');
    }
    jb_ch(b, ']');
}
