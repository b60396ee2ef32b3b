/* tools/ftlog's reader, record formatting and commands (ftlog_core.h).
 * Host code: stdio and malloc are fine here; ft/log.c does the decoding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include "ftlog_core.h"
#include "../kernel/crc32c.h"

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- the reader ------------------------------------------------------------- */

#define QMAX 8 /* events queued by one step: a few errors, a header, a frame */

struct ftlog_reader {
    const uint8_t *buf;
    size_t len;
    size_t pos;                     /* next file offset to look at */
    struct log_decoder *dec;
    /* Mirrors the decoder's state so that each record's encoded size can
     * be measured by encoding it again (log_frame_body() before and after). */
    struct log_encoder enc;
    uint8_t *encbuf;
    /* The frame being fed to the decoder, one record per ftlog_next(). */
    const uint8_t *feed;
    size_t feed_len, feed_done;
    struct ftlog_frame cur;
    bool feeding, refed;            /* refed: the frame is being fed again */
    /* Resynchronisation: after lost or refused bytes the decoder starts
     * afresh (header frame first, frames renumbered from 1) and its values
     * are added to the last ones before the gap. */
    bool restart, renumber, after_gap, gap_reported;
    uint32_t fed;                   /* renumber: frames fed since the restart */
    uint32_t next_seq;              /* the stored sequence number expected next */
    bool seq_known;
    uint64_t base_exit, base_vtime, base_icount, base_out[LOG_STREAMS];
    uint8_t hdr_frame[LOG_FRAME_OVERHEAD + LOG_HEADER_BODY];
    bool have_hdr_frame;
    uint8_t *scratch;               /* a renumbered frame */
    bool any_frame, done;
    struct ftlog_event q[QMAX];
    int qhead, qn;
    struct ftlog_summary sum;
};

static struct ftlog_event *push(struct ftlog_reader *rd, enum ftlog_ev_kind kind)
{
    /* One step queues at most a few events; QMAX leaves room. */
    struct ftlog_event *e = &rd->q[(rd->qhead + rd->qn++) % QMAX];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    return e;
}

static void push_error(struct ftlog_reader *rd, int kind, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#include <stdarg.h>
static void push_error(struct ftlog_reader *rd, int kind, uint64_t off, const char *fmt, ...)
{
    struct ftlog_event *e = push(rd, FTLOG_EV_ERROR);
    e->err_kind = kind;
    e->offset = off;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    rd->sum.errors++;
    if (kind == FTLOG_ERR_CRC)
        rd->sum.crc_errors++;
}

struct ftlog_reader *ftlog_reader_new(const uint8_t *buf, size_t len)
{
    struct ftlog_reader *rd = calloc(1, sizeof(*rd));
    if (!rd)
        return NULL;
    rd->dec = malloc(sizeof(*rd->dec));
    rd->encbuf = malloc(LOG_MAX_FRAME);
    rd->scratch = malloc(LOG_MAX_FRAME);
    if (!rd->dec || !rd->encbuf || !rd->scratch) {
        ftlog_reader_free(rd);
        return NULL;
    }
    rd->buf = buf;
    rd->len = len;
    log_decoder_init(rd->dec);
    log_encoder_init(&rd->enc);
    return rd;
}

void ftlog_reader_free(struct ftlog_reader *rd)
{
    if (!rd)
        return;
    free(rd->dec);
    free(rd->encbuf);
    free(rd->scratch);
    free(rd);
}

const struct ftlog_summary *ftlog_reader_summary(const struct ftlog_reader *rd) { return &rd->sum; }

/* The frame header at p (16 bytes there) could start a frame: NULL, or what
 * is wrong with it. */
static const char *head_problem(const uint8_t *p, char *why, size_t cap)
{
    if (memcmp(p, LOG_MAGIC, 4) != 0) {
        snprintf(why, cap, "bad magic %02x %02x %02x %02x (expected \"FTLG\")", p[0], p[1], p[2], p[3]);
        return why;
    }
    if (p[4] != LOG_VERSION) {
        snprintf(why, cap, "frame version %u, expected 1", p[4]);
        return why;
    }
    if (p[6] | p[7]) {
        snprintf(why, cap, "reserved field 0x%x, expected 0", p[6] | p[7] << 8);
        return why;
    }
    if (le32(p + 12) > LOG_MAX_BODY) {
        snprintf(why, cap, "body length %u over the maximum 65536", le32(p + 12));
        return why;
    }
    return NULL;
}

/* A whole frame with a good CRC starts at off. */
static bool good_frame_at(const struct ftlog_reader *rd, size_t off)
{
    char why[100];
    if (rd->len - off < LOG_FRAME_OVERHEAD || head_problem(rd->buf + off, why, sizeof(why)))
        return false;
    size_t body = le32(rd->buf + off + 12);
    if (rd->len - off < LOG_FRAME_OVERHEAD + body)
        return false;
    return crc32c(0, rd->buf + off, LOG_FRAME_HEADER + body) == le32(rd->buf + off + LOG_FRAME_HEADER + body);
}

/* After bad bytes at rd->pos: the next offset where a good frame starts
 * (rd->len if none). Candidates are "FTLG" magics, so a chance "FTLG" in
 * a body costs one CRC at most. */
static size_t resync(const struct ftlog_reader *rd, size_t from)
{
    for (size_t p = from + 1; p + LOG_FRAME_OVERHEAD <= rd->len; p++) {
        const uint8_t *m = memchr(rd->buf + p, 'F', rd->len - p);
        if (!m)
            break;
        p = (size_t)(m - rd->buf);
        if (p + LOG_FRAME_OVERHEAD > rd->len)
            break;
        if (good_frame_at(rd, p))
            return p;
    }
    return rd->len;
}

static void skip_to(struct ftlog_reader *rd, size_t next, char *tail, size_t cap)
{
    size_t skipped = next - rd->pos;
    rd->sum.skipped_bytes += skipped;
    if (next < rd->len)
        snprintf(tail, cap, "; skipped %zu bytes to the next good frame at offset %zu", skipped, next);
    else
        snprintf(tail, cap, "; no good frame after it (%zu bytes to the end skipped)", skipped);
    rd->pos = next;
    rd->restart = true;
    rd->gap_reported = true;
}

/* A header for a decoder that must start where the log's own is missing:
 * record decoding does not depend on the header's values. */
static void synthetic_header(struct ftlog_reader *rd)
{
    struct log_header h;
    memset(&h, 0, sizeof(h));
    h.tsc_hz = 1;
    h.mem_bytes = 1;
    struct log_encoder e;
    log_encoder_init(&e);
    size_t sz;
    log_encode_header(&e, &h, rd->hdr_frame, sizeof(rd->hdr_frame), &sz);
}

static void feed_all(struct log_decoder *d, const uint8_t *p, size_t n)
{
    size_t done = 0, c;
    struct log_record r;
    for (;;) {
        int k = log_decoder_feed(d, p + done, n - done, &c, &r);
        done += c;
        if (k != LOG_GOT_HEADER)
            break;
    }
}

/* A fresh decoder (and encoder) for the frame at cur: the last values
 * become the base. A header frame starts a new log at zero. */
static void restart(struct ftlog_reader *rd, bool header_frame)
{
    struct log_decoder *d = rd->dec;
    if (header_frame) {
        rd->base_exit = rd->base_vtime = rd->base_icount = 0;
        memset(rd->base_out, 0, sizeof(rd->base_out));
        rd->after_gap = false;
    } else {
        rd->base_exit += d->exit;
        rd->base_vtime += d->vtime_ns;
        rd->base_icount += d->icount;
        for (int i = 0; i < LOG_STREAMS; i++)
            rd->base_out[i] += d->out_total[i];
        rd->after_gap = true;
    }
    log_decoder_reset(d);
    log_encoder_init(&rd->enc);
    rd->renumber = true;
    rd->fed = 0;
    if (!header_frame) {
        if (!rd->have_hdr_frame)
            synthetic_header(rd);
        feed_all(d, rd->hdr_frame, sizeof(rd->hdr_frame));
        size_t sz;
        log_encode_header(&rd->enc, &d->header, rd->encbuf, LOG_MAX_FRAME, &sz);
        rd->fed = 1;
    }
    rd->restart = false;
}

/* The decoder refused something: say where, in file offsets. Its message
 * counts stream offsets of what it was fed, which differ after a restart,
 * so only its details after "frame N[, body offset B, record R (T)]" are
 * kept. */
static void decoder_error(struct ftlog_reader *rd)
{
    const struct log_decoder *d = rd->dec;
    const char *m = log_decoder_error(d);
    const char *rest = strstr(m, ": ");
    rest = rest ? rest + 2 : m;
    char where[120] = "";
    if (d->err_body_off >= 0) {
        const char *b = strstr(m, ", body offset ");
        const char *e = strstr(m, ": ");
        if (b && e && e > b)
            snprintf(where, sizeof(where), "%.*s", (int)(e - b), b);
    }
    push_error(rd, FTLOG_ERR_DECODE, rd->cur.offset, "offset %" PRIu64 ", frame %" PRIu32 "%s: %s", rd->cur.offset,
               rd->cur.seq, where, rest);
}

/* Arranges feeding the current frame (rd->cur, at p) to the decoder:
 * after a restart renumbered, with a new CRC (the stored one was checked). */
static void setup_feed(struct ftlog_reader *rd, const uint8_t *p)
{
    const struct ftlog_frame *f = &rd->cur;
    bool is_hdr = f->type == LOG_FRAME_HDR;
    if (rd->restart || (rd->renumber && is_hdr))
        restart(rd, is_hdr);
    if (rd->renumber) {
        memcpy(rd->scratch, p, f->size);
        put_le32(rd->scratch + 8, rd->fed);
        put_le32(rd->scratch + f->size - 4, crc32c(0, rd->scratch, f->size - 4));
        rd->feed = rd->scratch;
        rd->fed++;
    } else {
        rd->feed = p;
    }
    rd->feed_len = f->size;
    rd->feed_done = 0;
    rd->feeding = true;
}

/* Starts on the good frame at rd->pos: queues its events, arranges its
 * feeding. */
static void start_frame(struct ftlog_reader *rd, size_t size)
{
    const uint8_t *p = rd->buf + rd->pos;
    struct ftlog_frame f = { .offset = rd->pos, .size = (uint32_t)size, .seq = le32(p + 8), .type = p[5] };
    rd->cur = f;
    rd->any_frame = true;
    rd->sum.frames++;
    rd->sum.frame_bytes += size;
    push(rd, FTLOG_EV_FRAME)->frame = f;
    /* Frames lost without damage (a gap in the sequence numbers) are found
     * here once the decoder sees renumbered frames. */
    if ((rd->renumber || rd->restart) && rd->seq_known && f.type != LOG_FRAME_HDR && f.seq != rd->next_seq &&
        !rd->gap_reported) {
        push_error(rd, FTLOG_ERR_DECODE, f.offset,
                   "offset %" PRIu64 ", frame %" PRIu32 ": sequence number %" PRIu32 ", expected %" PRIu32
                   " (missing, duplicated or reordered frames)",
                   f.offset, f.seq, f.seq, rd->next_seq);
        rd->after_gap = true;
    }
    rd->gap_reported = false;
    rd->seq_known = true;
    rd->next_seq = f.seq + 1;
    rd->pos += size;
    rd->refed = false;
    setup_feed(rd, p);
}

/* Looks at the bytes at rd->pos: a good frame (starts feeding it) or bad
 * bytes (an error, skipped to the next good frame). */
static void scan(struct ftlog_reader *rd)
{
    size_t rem = rd->len - rd->pos;
    const uint8_t *p = rd->buf + rd->pos;
    char why[120], tail[120];
    uint64_t off = rd->pos;

    if (rem < LOG_FRAME_HEADER) {
        if (memcmp(p, LOG_MAGIC, rem < 4 ? rem : 4) == 0)
            push_error(rd, FTLOG_ERR_TRUNCATED, off,
                       "offset %" PRIu64 ": truncated: the input ends after %zu of a frame's 16 header bytes", off,
                       rem);
        else
            push_error(rd, FTLOG_ERR_FRAMING, off, "offset %" PRIu64 ": %zu bytes at the end that are no frame",
                       off, rem);
        rd->sum.skipped_bytes += rem;
        rd->pos = rd->len;
        return;
    }
    if (head_problem(p, why, sizeof(why))) {
        skip_to(rd, resync(rd, rd->pos), tail, sizeof(tail));
        push_error(rd, FTLOG_ERR_FRAMING, off, "offset %" PRIu64 ": %s%s", off, why, tail);
        return;
    }
    size_t size = LOG_FRAME_OVERHEAD + (size_t)le32(p + 12);
    if (size > rem) {
        size_t next = resync(rd, rd->pos);
        if (next == rd->len) {
            rd->sum.skipped_bytes += rem;
            rd->pos = rd->len;
            push_error(rd, FTLOG_ERR_TRUNCATED, off,
                       "offset %" PRIu64 ": truncated: the input ends after %zu of the frame's %zu bytes", off, rem,
                       size);
        } else {
            skip_to(rd, next, tail, sizeof(tail));
            push_error(rd, FTLOG_ERR_FRAMING, off,
                       "offset %" PRIu64 ": a frame of %zu bytes runs past the end of the input (a damaged length?)%s",
                       off, size, tail);
        }
        return;
    }
    uint32_t stored = le32(p + size - 4), computed = crc32c(0, p, size - 4);
    if (stored != computed) {
        skip_to(rd, resync(rd, rd->pos), tail, sizeof(tail));
        push_error(rd, FTLOG_ERR_CRC, off,
                   "offset %" PRIu64 ": CRC mismatch: stored 0x%08x, computed 0x%08x (a frame of %zu bytes, "
                   "sequence number %u as stored)%s",
                   off, stored, computed, size, le32(p + 8), tail);
        return;
    }
    start_frame(rd, size);
}

/* Feeds the current frame until it yields one event or is done. */
static void feed_step(struct ftlog_reader *rd)
{
    struct log_decoder *d = rd->dec;
    struct log_record r;
    size_t c;
    int k = log_decoder_feed(d, rd->feed + rd->feed_done, rd->feed_len - rd->feed_done, &c, &r);
    rd->feed_done += c;
    if (k == LOG_GOT_HEADER) {
        size_t sz;
        memcpy(rd->hdr_frame, rd->buf + rd->cur.offset, sizeof(rd->hdr_frame));
        put_le32(rd->hdr_frame + 8, 0);
        put_le32(rd->hdr_frame + sizeof(rd->hdr_frame) - 4, crc32c(0, rd->hdr_frame, sizeof(rd->hdr_frame) - 4));
        rd->have_hdr_frame = true;
        rd->sum.have_header = true;
        log_encode_header(&rd->enc, &d->header, rd->encbuf, LOG_MAX_FRAME, &sz);
        push(rd, FTLOG_EV_HEADER)->header = d->header;
        return;
    }
    if (k == LOG_OK) {
        struct ftlog_event *e = push(rd, FTLOG_EV_RECORD);
        struct ftlog_rec *x = &e->rec;
        x->r = r;
        x->r.data = NULL;
        if (r.type == LOG_REC_DMA || r.type == LOG_REC_INPUT || r.type == LOG_REC_DEVDATA) {
            x->data_crc = crc32c(0, r.data, r.len);
            memcpy(x->preview, r.data, r.len < FTLOG_PREVIEW ? r.len : FTLOG_PREVIEW);
        }
        /* The size: what the same record adds to a frame of the mirror
         * encoder, which holds the same state as the decoder. */
        size_t before = log_frame_body(&rd->enc), sz;
        int pk = before ? log_put(&rd->enc, &r) : LOG_ERR_FULL;
        if (pk == LOG_ERR_FULL) {
            if (before)
                log_frame_end(&rd->enc, &sz);
            log_frame_begin(&rd->enc, rd->encbuf, LOG_MAX_FRAME);
            before = 0;
            pk = log_put(&rd->enc, &r);
        }
        if (pk == LOG_OK)
            x->size = (uint32_t)(log_frame_body(&rd->enc) - before);
        x->r.exit += rd->base_exit;
        x->r.vtime_ns += rd->base_vtime;
        x->r.icount += rd->base_icount;
        if (r.type == LOG_REC_OUTPUT && r.stream < LOG_STREAMS)
            x->r.total += rd->base_out[r.stream];
        x->r.frame_seq = rd->cur.seq;
        x->frame_off = rd->cur.offset;
        x->after_gap = rd->after_gap;
        x->n = rd->sum.records++;
        if (r.type == LOG_REC_END) {
            rd->sum.ended = true;
            rd->sum.end_reason = r.reason;
        }
        return;
    }
    rd->feeding = false;
    if (k == LOG_NEED_MORE)
        return;
    decoder_error(rd);
    /* Where to go on: a frame refused for its place in the log (order,
     * sequence, after END) is decoded again by a fresh decoder; one
     * refused for its content is passed over. */
    rd->restart = true;
    bool placement = k == LOG_ERR_SEQ || k == LOG_ERR_NO_HEADER || k == LOG_ERR_DUP_HEADER ||
                     (k == LOG_ERR_AFTER_END && d->err_body_off < 0); /* not "END followed by body bytes" */
    /* A fresh decoder takes the frame at the start of a log: it cannot
     * refuse it for its place again, but feed it once more at most. */
    if (placement && !rd->refed) {
        rd->refed = true;
        setup_feed(rd, rd->buf + rd->cur.offset);
    }
}

enum ftlog_ev_kind ftlog_next(struct ftlog_reader *rd, struct ftlog_event *ev)
{
    while (!rd->qn) {
        if (rd->feeding) {
            feed_step(rd);
            continue;
        }
        if (rd->done)
            break;
        if (rd->pos < rd->len) {
            scan(rd);
            continue;
        }
        rd->done = true;
        if (!rd->any_frame && !rd->sum.errors)
            push_error(rd, FTLOG_ERR_EMPTY, 0, "offset 0: %s",
                       rd->len ? "no frame in the input" : "the log is empty (no header frame)");
        else if (rd->any_frame && !rd->sum.have_header)
            push_error(rd, FTLOG_ERR_DECODE, 0, "offset 0: the log has no valid header frame");
    }
    if (!rd->qn) {
        memset(ev, 0, sizeof(*ev));
        return FTLOG_EV_NONE;
    }
    *ev = rd->q[rd->qhead];
    rd->qhead = (rd->qhead + 1) % QMAX;
    rd->qn--;
    return ev->kind;
}

/* ---- words ---------------------------------------------------------------- */

void ftlog_format_ns(uint64_t ns, char *out, size_t cap)
{
    snprintf(out, cap, "%" PRIu64 ".%09" PRIu64, ns / 1000000000u, ns % 1000000000u);
}

static const char *stream_name(uint8_t s)
{
    static const char *const n[] = { "console", "network", "disk" };
    return s < LOG_STREAMS ? n[s] : "?";
}

static const char *device_name(uint8_t d)
{
    return d == LOG_DEV_BLK ? "blk" : d == LOG_DEV_NET ? "net" : "?";
}

static const char *end_reason(uint8_t r, char *buf, size_t cap)
{
    switch (r) {
    case LOG_END_POWEROFF: return "poweroff";
    case LOG_END_STOPPED: return "stopped";
    case LOG_END_FAILED: return "failed";
    default: snprintf(buf, cap, "reason %u", r); return buf;
    }
}

static const char *backend_name(uint8_t b)
{
    static const char *const n[] = { "exit-synchronous", "emulator", "PMU" };
    return b < 3 ? n[b] : "?";
}

/* Appends to out[*len..cap), never past it. */
static void app(char *out, size_t cap, size_t *len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void app(char *out, size_t cap, size_t *len, const char *fmt, ...)
{
    if (*len >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(out + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (k > 0)
        *len = *len + (size_t)k < cap ? *len + (size_t)k : cap - 1;
}

/* Data shown as text when it is text, else as hex: the first bytes only. */
static void app_data(char *out, size_t cap, size_t *len, const struct ftlog_rec *x)
{
    uint32_t n = x->r.len < FTLOG_PREVIEW ? x->r.len : FTLOG_PREVIEW;
    bool text = n > 0;
    for (uint32_t i = 0; i < n; i++)
        if ((x->preview[i] < 0x20 || x->preview[i] > 0x7e) && x->preview[i] != '\n' && x->preview[i] != '\r' &&
            x->preview[i] != '\t')
            text = false;
    if (!n)
        return;
    app(out, cap, len, text ? " \"" : " ");
    for (uint32_t i = 0; i < n; i++) {
        uint8_t c = x->preview[i];
        if (!text)
            app(out, cap, len, "%02x", c);
        else if (c == '\n')
            app(out, cap, len, "\\n");
        else if (c == '\r')
            app(out, cap, len, "\\r");
        else if (c == '\t')
            app(out, cap, len, "\\t");
        else if (c == '"' || c == '\\')
            app(out, cap, len, "\\%c", c);
        else
            app(out, cap, len, "%c", c);
    }
    app(out, cap, len, "%s%s", text ? "\"" : "", x->r.len > n ? "..." : "");
}

void ftlog_format_record(const struct ftlog_rec *x, char *out, size_t cap)
{
    const struct log_record *r = &x->r;
    size_t len = 0;
    char t[32], rb[24];
    if (!cap)
        return;
    out[0] = 0;
    app(out, cap, &len, "#%-7" PRIu64 " exit %-9" PRIu64 " %-8s", x->n, r->exit, log_record_name(r->type));
    switch (r->type) {
    case LOG_REC_TIME:
        ftlog_format_ns(r->vtime_ns, t, sizeof(t));
        app(out, cap, &len, " t=%s s", t);
        break;
    case LOG_REC_ASYNC:
        ftlog_format_ns(r->vtime_ns, t, sizeof(t));
        app(out, cap, &len, " t=%s s icount %" PRIu64 " rip 0x%" PRIx64 " rcx 0x%" PRIx64 " regs 0x%08x", t,
            r->icount, r->rip, r->rcx, r->regs_crc);
        break;
    case LOG_REC_OUTPUT:
        app(out, cap, &len, " %s %" PRIu64 " bytes (total %" PRIu64 ") crc 0x%08x", stream_name(r->stream), r->bytes,
            r->total, r->crc);
        break;
    case LOG_REC_STATE:
        app(out, cap, &len, " icount %" PRIu64 " digest ", r->icount);
        for (int i = 0; i < 6; i++)
            app(out, cap, &len, "%02x", r->digest[i]);
        app(out, cap, &len, "...");
        break;
    case LOG_REC_DMA:
        app(out, cap, &len, " gpa 0x%" PRIx64 " %" PRIu32 " bytes crc 0x%08x", r->gpa, r->len, x->data_crc);
        break;
    case LOG_REC_INPUT:
        app(out, cap, &len, " %" PRIu32 " bytes", r->len);
        app_data(out, cap, &len, x);
        break;
    case LOG_REC_RANDOM:
        app(out, cap, &len, " 0x%016" PRIx64, r->value);
        break;
    case LOG_REC_END:
        app(out, cap, &len, " %s", end_reason(r->reason, rb, sizeof(rb)));
        break;
    case LOG_REC_DEVDATA:
        app(out, cap, &len, " %s tag %" PRIu32 " offset %" PRIu32 " %" PRIu32 " bytes crc 0x%08x",
            device_name(r->device), r->tag, r->offset, r->len, x->data_crc);
        break;
    case LOG_REC_DEVDONE:
        app(out, cap, &len, " %s tag %" PRIu32 " status %" PRIu32, device_name(r->device), r->tag, r->status);
        break;
    case LOG_REC_DEVCHECK:
        app(out, cap, &len, " %s tag %" PRIu32 " %" PRIu64 " bytes crc 0x%08x", device_name(r->device), r->tag,
            r->bytes, r->crc);
        break;
    }
    if (x->after_gap)
        app(out, cap, &len, " [after a gap: values are lower bounds]");
}

void ftlog_format_header(const struct log_header *h, char *out, size_t cap)
{
    size_t len = 0;
    if (!cap)
        return;
    out[0] = 0;
    app(out, cap, &len,
        "header: host %s, boot id 0x%016" PRIx64 ", CPU %s, landmarks %s, TSC %" PRIu64 " Hz, memory %" PRIu64
        " MiB, epoch %" PRIu64 ", config digest ",
        h->host[0] ? h->host : "(none)", h->boot_id, h->cpu_model[0] ? h->cpu_model : "(none)",
        backend_name(h->backend), h->tsc_hz, h->mem_bytes >> 20, h->epoch_s);
    for (int i = 0; i < 6; i++)
        app(out, cap, &len, "%02x", h->config_digest[i]);
    app(out, cap, &len, "..., initial state ");
    for (int i = 0; i < 6; i++)
        app(out, cap, &len, "%02x", h->init_digest[i]);
    app(out, cap, &len, "...");
}

bool ftlog_rec_equal(const struct ftlog_rec *a, const struct ftlog_rec *b, const char **field)
{
    const struct log_record *x = &a->r, *y = &b->r;
    const char *f = NULL;
#define DIFF(cond, name)   \
    if (!f && (cond))      \
        f = name;
    DIFF(x->type != y->type, "type");
    DIFF(x->exit != y->exit, "exit ordinal");
    DIFF(x->vtime_ns != y->vtime_ns, "virtual time");
    DIFF(x->icount != y->icount, "instruction count");
    if (!f) {
        switch (x->type) {
        case LOG_REC_ASYNC:
            DIFF(x->rip != y->rip, "rip");
            DIFF(x->rcx != y->rcx, "rcx");
            DIFF(x->regs_crc != y->regs_crc, "regs digest");
            break;
        case LOG_REC_OUTPUT:
            DIFF(x->stream != y->stream, "stream");
            DIFF(x->bytes != y->bytes, "byte count");
            DIFF(x->total != y->total, "stream total");
            DIFF(x->crc != y->crc, "CRC");
            break;
        case LOG_REC_STATE:
            DIFF(memcmp(x->digest, y->digest, sizeof(x->digest)) != 0, "digest");
            break;
        case LOG_REC_DEVDATA:
            DIFF(x->device != y->device, "device");
            DIFF(x->tag != y->tag, "tag");
            DIFF(x->offset != y->offset, "offset");
            __attribute__((fallthrough)); /* length and data, as for DMA */
        case LOG_REC_DMA:
        case LOG_REC_INPUT:
            DIFF(x->type == LOG_REC_DMA && x->gpa != y->gpa, "gpa");
            DIFF(x->len != y->len, "length");
            DIFF(a->data_crc != b->data_crc, "data");
            break;
        case LOG_REC_RANDOM:
            DIFF(x->value != y->value, "value");
            break;
        case LOG_REC_END:
            DIFF(x->reason != y->reason, "reason");
            break;
        case LOG_REC_DEVDONE:
            DIFF(x->device != y->device, "device");
            DIFF(x->tag != y->tag, "tag");
            DIFF(x->status != y->status, "status");
            break;
        case LOG_REC_DEVCHECK:
            DIFF(x->device != y->device, "device");
            DIFF(x->tag != y->tag, "tag");
            DIFF(x->bytes != y->bytes, "byte count");
            DIFF(x->crc != y->crc, "CRC");
            break;
        }
    }
    if (field)
        *field = f;
    return !f;
}

bool ftlog_header_equal(const struct log_header *a, const struct log_header *b, const char **field)
{
    const char *f = NULL;
    DIFF(a->backend != b->backend, "landmark backend");
    DIFF(a->tsc_hz != b->tsc_hz, "TSC frequency");
    DIFF(a->epoch_s != b->epoch_s, "epoch");
    DIFF(a->mem_bytes != b->mem_bytes, "memory size");
    DIFF(strcmp(a->cpu_model, b->cpu_model) != 0, "CPU model");
    DIFF(memcmp(a->config_digest, b->config_digest, LOG_DIGEST_LEN) != 0, "config digest");
    DIFF(memcmp(a->init_digest, b->init_digest, LOG_DIGEST_LEN) != 0, "initial-state digest");
    DIFF(strcmp(a->host, b->host) != 0, "host");
    DIFF(a->boot_id != b->boot_id, "boot id");
#undef DIFF
    if (field)
        *field = f;
    return !f;
}

/* ---- commands --------------------------------------------------------------- */

static void print_summary(const struct ftlog_summary *s, FILE *out)
{
    char rb[24];
    fprintf(out, "-- %" PRIu64 " records, %" PRIu64 " frames (%" PRIu64 " bytes), %s%s%s\n", s->records, s->frames,
            s->frame_bytes, s->ended ? "END (" : "no END record (the recording was cut short)",
            s->ended ? end_reason(s->end_reason, rb, sizeof(rb)) : "", s->ended ? ")" : "");
    if (s->errors)
        fprintf(out, "-- malformed: %" PRIu64 " error%s (%" PRIu64 " CRC failure%s, %" PRIu64 " bytes skipped)\n",
                s->errors, s->errors == 1 ? "" : "s", s->crc_errors, s->crc_errors == 1 ? "" : "s", s->skipped_bytes);
}

int ftlog_cmd_dump(const uint8_t *buf, size_t len, uint64_t from, uint64_t count, bool frames, FILE *out)
{
    struct ftlog_reader *rd = ftlog_reader_new(buf, len);
    if (!rd) {
        fprintf(out, "ftlog: out of memory\n");
        return 2;
    }
    struct ftlog_event ev;
    char line[600];
    uint64_t n = 0; /* records seen so far */
    while (ftlog_next(rd, &ev) != FTLOG_EV_NONE) {
        bool in = n >= from && (!count || n - from <= count);
        switch (ev.kind) {
        case FTLOG_EV_HEADER:
            ftlog_format_header(&ev.header, line, sizeof(line));
            fprintf(out, "%s\n", line);
            break;
        case FTLOG_EV_FRAME:
            if (frames && in && (!count || n - from < count))
                fprintf(out, "-- frame %" PRIu32 " (%s) at offset %" PRIu64 ": %" PRIu32 " bytes\n", ev.frame.seq,
                        ev.frame.type == LOG_FRAME_HDR ? "header" : "records", ev.frame.offset, ev.frame.size);
            break;
        case FTLOG_EV_RECORD:
            if (in && (!count || n - from < count)) {
                ftlog_format_record(&ev.rec, line, sizeof(line));
                fprintf(out, "%s\n", line);
            }
            n++;
            break;
        case FTLOG_EV_ERROR:
            if (in)
                fprintf(out, "error: %s\n", ev.msg);
            break;
        default:
            break;
        }
    }
    const struct ftlog_summary *s = ftlog_reader_summary(rd);
    print_summary(s, out);
    int rc = s->errors ? 1 : 0;
    ftlog_reader_free(rd);
    return rc;
}

/* A bucket width of 1, 2 or 5 times a power of ten ns, at least span/20. */
static uint64_t nice_bucket(uint64_t span)
{
    uint64_t want = span / 20 + 1, p = 1;
    for (;;) {
        if (p >= want)
            return p;
        if (2 * p >= want)
            return 2 * p;
        if (5 * p >= want)
            return 5 * p;
        if (p > UINT64_MAX / 100)
            return UINT64_MAX;
        p *= 10;
    }
}

int ftlog_cmd_stats(const uint8_t *buf, size_t len, uint64_t bucket_ns, FILE *out)
{
    struct ftlog_reader *rd = ftlog_reader_new(buf, len);
    if (!rd) {
        fprintf(out, "ftlog: out of memory\n");
        return 2;
    }
    uint64_t cnt[LOG_REC_LAST + 1] = { 0 }, bytes[LOG_REC_LAST + 1] = { 0 }, data[LOG_REC_LAST + 1] = { 0 };
    uint64_t rec_bytes = 0, vmax = 0, vmin = UINT64_MAX, exit_max = 0, icount_max = 0;
    uint64_t fmin = UINT64_MAX, fmax = 0, fsum = 0, nrf = 0, fhist[6] = { 0 };
    static const char *const fhist_name[6] = { "20..63", "64..255", "256..1023", "1K..4K-1", "4K..16K-1",
                                               "16K..64K+20" };
    struct ftlog_event ev;
    char line[600];
    while (ftlog_next(rd, &ev) != FTLOG_EV_NONE) {
        if (ev.kind == FTLOG_EV_HEADER) {
            ftlog_format_header(&ev.header, line, sizeof(line));
            fprintf(out, "%s\n", line);
        } else if (ev.kind == FTLOG_EV_ERROR) {
            fprintf(out, "error: %s\n", ev.msg);
        } else if (ev.kind == FTLOG_EV_FRAME && ev.frame.type == LOG_FRAME_RECORDS) {
            uint32_t z = ev.frame.size;
            nrf++;
            fsum += z;
            fmin = z < fmin ? z : fmin;
            fmax = z > fmax ? z : fmax;
            fhist[z < 64 ? 0 : z < 256 ? 1 : z < 1024 ? 2 : z < 4096 ? 3 : z < 16384 ? 4 : 5]++;
        } else if (ev.kind == FTLOG_EV_RECORD) {
            const struct log_record *r = &ev.rec.r;
            uint8_t t = r->type <= LOG_REC_LAST ? r->type : 0;
            cnt[t]++;
            bytes[t] += ev.rec.size;
            if (t == LOG_REC_DMA || t == LOG_REC_INPUT || t == LOG_REC_DEVDATA)
                data[t] += r->len;
            rec_bytes += ev.rec.size;
            vmax = r->vtime_ns > vmax ? r->vtime_ns : vmax;
            vmin = r->vtime_ns < vmin ? r->vtime_ns : vmin;
            exit_max = r->exit > exit_max ? r->exit : exit_max;
            icount_max = r->icount > icount_max ? r->icount : icount_max;
        }
    }
    const struct ftlog_summary *s = ftlog_reader_summary(rd);
    print_summary(s, out);

    fprintf(out, "records by type:\n");
    fprintf(out, "  %-9s %10s %12s %8s %7s %12s\n", "type", "records", "bytes", "avg", "share", "data bytes");
    for (int t = 0; t <= LOG_REC_LAST; t++) {
        if (!cnt[t])
            continue;
        fprintf(out, "  %-9s %10" PRIu64 " %12" PRIu64 " %8.1f %6.1f%% %12" PRIu64 "\n", log_record_name((uint8_t)t),
                cnt[t], bytes[t], (double)bytes[t] / (double)cnt[t],
                rec_bytes ? 100.0 * (double)bytes[t] / (double)rec_bytes : 0.0, data[t]);
    }
    fprintf(out, "  %-9s %10" PRIu64 " %12" PRIu64 "\n", "total", s->records, rec_bytes);
    fprintf(out, "frames: %" PRIu64 " (%" PRIu64 " bytes; %" PRIu64 " bytes of frame headers and CRCs)\n", s->frames,
            s->frame_bytes, s->frames * LOG_FRAME_OVERHEAD);
    if (nrf) {
        fprintf(out, "records frames: %" PRIu64 ", size min %" PRIu64 " avg %.1f max %" PRIu64 " bytes\n", nrf, fmin,
                (double)fsum / (double)nrf, fmax);
        fprintf(out, "frame sizes:");
        for (int i = 0; i < 6; i++)
            if (fhist[i])
                fprintf(out, " %s: %" PRIu64, fhist_name[i], fhist[i]);
        fprintf(out, "\n");
    }
    fprintf(out, "CRC failures: %" PRIu64 "; errors: %" PRIu64 "; bytes skipped: %" PRIu64 "\n", s->crc_errors,
            s->errors, s->skipped_bytes);

    if (s->records) {
        char a[32], b[32];
        ftlog_format_ns(vmin, a, sizeof(a));
        ftlog_format_ns(vmax, b, sizeof(b));
        fprintf(out, "virtual time: %s .. %s s; exits: %" PRIu64 "; instructions (last landmark): %" PRIu64 "\n", a,
                b, exit_max, icount_max);
        uint64_t span = vmax - vmin;
        if (span)
            fprintf(out, "log rate: %.0f bytes per second of virtual time (records %" PRIu64
                         " bytes over %.6f s)\n",
                    (double)rec_bytes * 1e9 / (double)span, rec_bytes, (double)span / 1e9);
        /* Second pass: the bytes of each bucket of virtual time. */
        uint64_t w = bucket_ns ? bucket_ns : nice_bucket(span);
        uint64_t first = vmin / w, nb = vmax / w - first + 1;
        if (nb > 1000) {
            fprintf(out, "rate by virtual time: %" PRIu64 " buckets of %" PRIu64 " ns are too many to show\n", nb, w);
        } else {
            uint64_t *bk = calloc(nb, sizeof(*bk)), bmax = 0;
            struct ftlog_reader *r2 = bk ? ftlog_reader_new(buf, len) : NULL;
            if (r2) {
                while (ftlog_next(r2, &ev) != FTLOG_EV_NONE)
                    if (ev.kind == FTLOG_EV_RECORD)
                        bk[ev.rec.r.vtime_ns / w - first] += ev.rec.size;
                for (uint64_t i = 0; i < nb; i++)
                    bmax = bk[i] > bmax ? bk[i] : bmax;
                ftlog_format_ns(w, a, sizeof(a));
                fprintf(out, "rate by virtual time (buckets of %s s):\n", a);
                fprintf(out, "  %-14s %12s %14s\n", "from (s)", "bytes", "bytes/s");
                for (uint64_t i = 0; i < nb; i++) {
                    ftlog_format_ns((first + i) * w, a, sizeof(a));
                    int bar = bmax ? (int)((bk[i] * 40 + bmax - 1) / bmax) : 0;
                    fprintf(out, "  %-14s %12" PRIu64 " %14.0f %.*s\n", a, bk[i], (double)bk[i] * 1e9 / (double)w,
                            bar, "########################################");
                }
            } else {
                fprintf(out, "ftlog: out of memory\n");
            }
            ftlog_reader_free(r2);
            free(bk);
        }
    }
    int rc = s->errors ? 1 : 0;
    ftlog_reader_free(rd);
    return rc;
}

/* The next record of a log for diff: errors on the way are printed. */
static bool diff_next(struct ftlog_reader *rd, const char *name, struct log_header *h, bool *have_h,
                      struct ftlog_rec *x, FILE *out)
{
    struct ftlog_event ev;
    while (ftlog_next(rd, &ev) != FTLOG_EV_NONE) {
        if (ev.kind == FTLOG_EV_RECORD) {
            *x = ev.rec;
            return true;
        }
        if (ev.kind == FTLOG_EV_HEADER && !*have_h) {
            *h = ev.header;
            *have_h = true;
        }
        if (ev.kind == FTLOG_EV_ERROR)
            fprintf(out, "%s: error: %s\n", name, ev.msg);
    }
    return false;
}

int ftlog_cmd_diff(const uint8_t *a, size_t alen, const char *aname, const uint8_t *b, size_t blen,
                   const char *bname, int context, FILE *out)
{
    struct ftlog_reader *ra = ftlog_reader_new(a, alen), *rb = ftlog_reader_new(b, blen);
    struct ftlog_rec *ring = calloc((size_t)(context > 0 ? context : 1), sizeof(*ring));
    struct ftlog_rec xa, xb;
    struct log_header ha, hb;
    bool hav = false, hbv = false, headers_done = false, differ = false;
    char line[600];
    uint64_t n = 0;
    int rc = 2;
    if (!ra || !rb || !ring) {
        fprintf(out, "ftlog: out of memory\n");
        goto out;
    }
    for (;;) {
        bool ga = diff_next(ra, aname, &ha, &hav, &xa, out);
        bool gb = diff_next(rb, bname, &hb, &hbv, &xb, out);
        if (!headers_done) {
            const char *f;
            headers_done = true;
            if (hav && hbv && !ftlog_header_equal(&ha, &hb, &f)) {
                fprintf(out, "the headers differ (%s):\n", f);
                ftlog_format_header(&ha, line, sizeof(line));
                fprintf(out, "  %s: %s\n", aname, line);
                ftlog_format_header(&hb, line, sizeof(line));
                fprintf(out, "  %s: %s\n", bname, line);
                differ = true;
            } else if (hav != hbv) {
                fprintf(out, "only %s has a valid header\n", hav ? aname : bname);
                differ = true;
            }
        }
        const char *f = NULL;
        if (ga && gb && ftlog_rec_equal(&xa, &xb, &f)) {
            if (context > 0)
                ring[n % (uint64_t)context] = xa;
            n++;
            continue;
        }
        if (!ga && !gb)
            break;
        differ = true;
        if (ga && gb)
            fprintf(out, "first difference at record #%" PRIu64 ": %s\n", n, f);
        else
            fprintf(out, "first difference at record #%" PRIu64 ": %s ends after %" PRIu64 " records, %s goes on\n", n,
                    ga ? bname : aname, n, ga ? aname : bname);
        uint64_t k = context > 0 && n > (uint64_t)context ? (uint64_t)context : n;
        if (context > 0 && k)
            fprintf(out, "  before it (the same in both):\n");
        for (uint64_t i = n - k; context > 0 && i < n; i++) {
            ftlog_format_record(&ring[i % (uint64_t)context], line, sizeof(line));
            fprintf(out, "    %s\n", line);
        }
        if (ga) {
            ftlog_format_record(&xa, line, sizeof(line));
            fprintf(out, "  %s (frame at offset %" PRIu64 "):\n    %s\n", aname, xa.frame_off, line);
        } else {
            fprintf(out, "  %s: (no more records)\n", aname);
        }
        if (gb) {
            ftlog_format_record(&xb, line, sizeof(line));
            fprintf(out, "  %s (frame at offset %" PRIu64 "):\n    %s\n", bname, xb.frame_off, line);
        } else {
            fprintf(out, "  %s: (no more records)\n", bname);
        }
        break;
    }
    /* Read both to their ends: errors after the divergence count too. */
    while (diff_next(ra, aname, &ha, &hav, &xa, out))
        ;
    while (diff_next(rb, bname, &hb, &hbv, &xb, out))
        ;
    if (!differ)
        fprintf(out, "identical (%" PRIu64 " records)\n", n);
    bool bad = ftlog_reader_summary(ra)->errors || ftlog_reader_summary(rb)->errors;
    if (bad)
        fprintf(out, "malformed: %s%s%s\n", ftlog_reader_summary(ra)->errors ? aname : "",
                ftlog_reader_summary(ra)->errors && ftlog_reader_summary(rb)->errors ? " and " : "",
                ftlog_reader_summary(rb)->errors ? bname : "");
    rc = bad ? 2 : differ ? 1 : 0;
out:
    ftlog_reader_free(ra);
    ftlog_reader_free(rb);
    free(ring);
    return rc;
}
