/* The FT event log's byte format: encoder and streaming decoder.
 * Specified in docs/log-format.md; the API is described in log.h.
 *
 * The encoder and the decoder keep the same state (last exit ordinal, last
 * virtual time, last landmark instruction count, bytes per output stream)
 * and both enforce the same rules, so everything the encoder accepts
 * decodes and the decoder rejects nothing the encoder writes. */
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <string.h>
#include "log.h"
#include "../kernel/crc32c.h"
#include "../kernel/sha256.h"

/* ---- little-endian fields ------------------------------------------------ */

static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }
static inline void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* crc32c() asks CPUID on every long buffer; ask once per log instead. */
static uint32_t crc(bool hw, const void *p, size_t n)
{
    return hw ? crc32c_hw(0, p, n) : crc32c_sw(0, p, n);
}

/* Header body offsets. */
enum {
    H_FORMAT = 0,
    H_BACKEND = 2,
    H_FLAGS = 3,
    H_TSC_HZ = 4,
    H_EPOCH = 12,
    H_MEM = 20,
    H_CPU = 28,
    H_CONFIG = 44,
    H_INIT = 76,
    H_HOST = 108,
    H_BOOT_ID = 140,
    H_END = 148,
};
_Static_assert(H_END == LOG_HEADER_BODY, "header layout");
_Static_assert(H_INIT - H_CONFIG == LOG_DIGEST_LEN && H_HOST - H_INIT == LOG_DIGEST_LEN, "digests");
_Static_assert(H_CONFIG - H_CPU == LOG_CPU_MODEL_LEN && H_BOOT_ID - H_HOST == LOG_HOST_LEN, "names");
/* The largest DMA prefix: type, d_exit, gpa, and a length <= LOG_MAX_DATA
 * (three varint bytes: LOG_MAX_DATA < 2^21). */
_Static_assert(LOG_MAX_DATA < (1u << 21) && 1 + 10 + 10 + 3 + LOG_MAX_DATA == LOG_MAX_BODY, "data");

/* ---- varints --------------------------------------------------------------- */

size_t log_varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

size_t log_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

int log_varint_get(const uint8_t *p, size_t n, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < LOG_VARINT_MAX; i++) {
        if (i >= n)
            return LOG_ERR_REC_TRUNCATED;
        uint8_t b = p[i];
        if (i == LOG_VARINT_MAX - 1) {
            /* bits 63.. : only bit 63 exists */
            if (b & 0x80)
                return LOG_ERR_VARINT_LONG;
            if (b > 1)
                return LOG_ERR_VARINT_OVERFLOW;
        }
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (b == 0 && i > 0)
                return LOG_ERR_VARINT_NONMINIMAL;
            *v = x;
            return (int)(i + 1);
        }
    }
    return LOG_ERR_VARINT_LONG; /* not reached */
}

/* ---- names ------------------------------------------------------------------ */

const char *log_record_name(uint8_t type)
{
    static const char *const names[] = { "?", "TIME", "ASYNC", "OUTPUT", "STATE", "DMA",
                                         "INPUT", "RANDOM", "END", "DEVDATA", "DEVDONE", "DEVCHECK" };
    return type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

const char *log_error_name(int err)
{
    switch (err) {
    case LOG_OK: return "ok";
    case LOG_NEED_MORE: return "need more";
    case LOG_GOT_HEADER: return "header";
    case LOG_EOF: return "end of stream";
    case LOG_ERR_MAGIC: return "bad magic";
    case LOG_ERR_VERSION: return "bad version";
    case LOG_ERR_RESERVED: return "reserved field not zero";
    case LOG_ERR_LENGTH: return "body too long";
    case LOG_ERR_CRC: return "CRC mismatch";
    case LOG_ERR_FRAME_TYPE: return "unknown frame type";
    case LOG_ERR_NO_HEADER: return "no header";
    case LOG_ERR_DUP_HEADER: return "second header";
    case LOG_ERR_SEQ: return "sequence error";
    case LOG_ERR_HEADER: return "invalid header";
    case LOG_ERR_TRUNCATED: return "truncated frame";
    case LOG_ERR_AFTER_END: return "data after END";
    case LOG_ERR_REC_TYPE: return "unknown record type";
    case LOG_ERR_REC_TRUNCATED: return "truncated record";
    case LOG_ERR_VARINT_LONG: return "varint too long";
    case LOG_ERR_VARINT_OVERFLOW: return "varint overflow";
    case LOG_ERR_VARINT_NONMINIMAL: return "varint not minimal";
    case LOG_ERR_WRAP: return "value wraps";
    case LOG_ERR_DATA_LENGTH: return "bad data length";
    case LOG_ERR_FIELD: return "field out of range";
    case LOG_ERR_FULL: return "frame full";
    case LOG_ERR_TOO_BIG: return "record too big";
    case LOG_ERR_ARG: return "invalid argument";
    case LOG_ERR_STATE: return "call out of order";
    default: return "unknown";
    }
}

/* ---- frames -------------------------------------------------------------- */

static void frame_head(uint8_t *p, uint8_t type, uint32_t seq, uint32_t len)
{
    memcpy(p, LOG_MAGIC, 4);
    p[4] = LOG_VERSION;
    p[5] = type;
    put16(p + 6, 0);
    put32(p + 8, seq);
    put32(p + 12, len);
}

/* Appends the CRC to a frame with a len-byte body; returns the frame size. */
static size_t frame_seal(bool hw, uint8_t *p, uint32_t len)
{
    size_t n = LOG_FRAME_HEADER + (size_t)len;
    put32(p + n, crc(hw, p, n));
    return n + LOG_FRAME_TRAILER;
}

/* ---- the header ---------------------------------------------------------- */

/* What is wrong with a header body: "<pre><val><post>" at body offset off. */
struct hdr_err {
    uint32_t off;
    const char *pre;
    uint64_t val;
    int kind; /* 0: no value, 1: decimal, 2: hex */
    const char *post;
};

static bool hdr_bad(struct hdr_err *e, uint32_t off, const char *pre, uint64_t val, int kind,
                    const char *post)
{
    *e = (struct hdr_err){ off, pre, val, kind, post };
    return false;
}

/* A name field: printable ASCII, then NUL padding to the end. */
static bool name_parse(const uint8_t *b, uint32_t off, uint32_t len, char *out, const char *what,
                       struct hdr_err *e)
{
    uint32_t i = 0;
    for (; i < len && b[off + i]; i++) {
        if (b[off + i] < 0x20 || b[off + i] > 0x7e)
            return hdr_bad(e, off + i, what, b[off + i], 2, " is not printable ASCII");
        out[i] = (char)b[off + i];
    }
    out[i] = 0;
    for (; i < len; i++)
        if (b[off + i])
            return hdr_bad(e, off + i, what, b[off + i], 2, " after the name's end (not NUL-padded)");
    return true;
}

static bool header_parse(const uint8_t *b, struct log_header *h, struct hdr_err *e)
{
    memset(h, 0, sizeof(*h));
    h->format_version = get16(b + H_FORMAT);
    h->backend = b[H_BACKEND];
    h->flags = b[H_FLAGS];
    h->tsc_hz = get64(b + H_TSC_HZ);
    h->epoch_s = get64(b + H_EPOCH);
    h->mem_bytes = get64(b + H_MEM);
    memcpy(h->config_digest, b + H_CONFIG, LOG_DIGEST_LEN);
    memcpy(h->init_digest, b + H_INIT, LOG_DIGEST_LEN);
    h->boot_id = get64(b + H_BOOT_ID);
    if (h->format_version != LOG_FORMAT_VERSION)
        return hdr_bad(e, H_FORMAT, "format version ", h->format_version, 1, ", expected 1");
    if (h->backend > LOG_BACKEND_PMU)
        return hdr_bad(e, H_BACKEND, "unknown landmark backend ", h->backend, 1, "");
    if (h->flags)
        return hdr_bad(e, H_FLAGS, "unknown flags ", h->flags, 2, " (none are defined)");
    if (!h->tsc_hz)
        return hdr_bad(e, H_TSC_HZ, "virtual TSC frequency is 0", 0, 0, "");
    if (!h->mem_bytes)
        return hdr_bad(e, H_MEM, "guest memory size is 0", 0, 0, "");
    if (!name_parse(b, H_CPU, LOG_CPU_MODEL_LEN, h->cpu_model, "CPU model name: byte ", e))
        return false;
    return name_parse(b, H_HOST, LOG_HOST_LEN, h->host, "host name: byte ", e);
}

/* ---- encoder --------------------------------------------------------------- */

void log_encoder_init(struct log_encoder *e)
{
    memset(e, 0, sizeof(*e));
    e->crc_hw = crc32c_hw_available();
}

int log_encode_header(struct log_encoder *e, const struct log_header *h, uint8_t *out, size_t cap,
                      size_t *size)
{
    uint8_t b[LOG_HEADER_BODY];
    struct log_header check;
    struct hdr_err err;
    size_t cpu = strnlen(h->cpu_model, sizeof(h->cpu_model));
    size_t host = strnlen(h->host, sizeof(h->host));

    if (e->header_done)
        return LOG_ERR_STATE;
    if (cpu > LOG_CPU_MODEL_LEN || host > LOG_HOST_LEN)
        return LOG_ERR_ARG;
    memset(b, 0, sizeof(b));
    put16(b + H_FORMAT, LOG_FORMAT_VERSION);
    b[H_BACKEND] = h->backend;
    b[H_FLAGS] = h->flags;
    put64(b + H_TSC_HZ, h->tsc_hz);
    put64(b + H_EPOCH, h->epoch_s);
    put64(b + H_MEM, h->mem_bytes);
    memcpy(b + H_CPU, h->cpu_model, cpu);
    memcpy(b + H_CONFIG, h->config_digest, LOG_DIGEST_LEN);
    memcpy(b + H_INIT, h->init_digest, LOG_DIGEST_LEN);
    memcpy(b + H_HOST, h->host, host);
    put64(b + H_BOOT_ID, h->boot_id);
    /* the decoder's rules, so that whatever is written decodes */
    if (!header_parse(b, &check, &err))
        return LOG_ERR_ARG;
    if (cap < LOG_FRAME_OVERHEAD + LOG_HEADER_BODY)
        return LOG_ERR_TOO_BIG;
    frame_head(out, LOG_FRAME_HDR, 0, LOG_HEADER_BODY);
    memcpy(out + LOG_FRAME_HEADER, b, LOG_HEADER_BODY);
    *size = frame_seal(e->crc_hw, out, LOG_HEADER_BODY);
    e->header_done = true;
    e->seq = 1;
    e->frames++;
    return LOG_OK;
}

int log_frame_begin(struct log_encoder *e, uint8_t *buf, size_t cap)
{
    if (!e->header_done || e->open || e->ended)
        return LOG_ERR_STATE;
    if (cap < LOG_FRAME_OVERHEAD)
        return LOG_ERR_TOO_BIG;
    e->buf = buf;
    e->limit = cap - LOG_FRAME_OVERHEAD;
    if (e->limit > LOG_MAX_BODY)
        e->limit = LOG_MAX_BODY;
    e->len = 0;
    e->open = true;
    return LOG_OK;
}

size_t log_frame_body(const struct log_encoder *e) { return e->open ? e->len : 0; }
uint64_t log_encoder_exit(const struct log_encoder *e) { return e->exit; }

int log_frame_end(struct log_encoder *e, size_t *size)
{
    if (!e->open)
        return LOG_ERR_STATE;
    frame_head(e->buf, LOG_FRAME_RECORDS, e->seq, (uint32_t)e->len);
    *size = frame_seal(e->crc_hw, e->buf, (uint32_t)e->len);
    e->open = false;
    e->buf = NULL;
    e->seq++; /* modulo 2^32, as the decoder expects */
    e->frames++;
    return LOG_OK;
}

int log_put(struct log_encoder *e, const struct log_record *r)
{
    uint8_t t[64]; /* the longest prefix: ASYNC, 1 + 5 * 10 + 4 */
    size_t n = 0, dlen = 0;
    const void *data = NULL;
    uint64_t vtime = e->vtime, icount = e->icount;

    if (!e->open || e->ended)
        return LOG_ERR_STATE;
    if (r->exit < e->exit)
        return LOG_ERR_ARG;
    t[n++] = r->type;
    if (r->type == LOG_REC_OUTPUT) {
        if (r->stream >= LOG_STREAMS || r->bytes > UINT64_MAX - e->out_total[r->stream])
            return LOG_ERR_ARG;
        t[n++] = r->stream;
    }
    n += log_varint_put(t + n, r->exit - e->exit);
    switch (r->type) {
    case LOG_REC_TIME:
        if (r->vtime_ns < e->vtime)
            return LOG_ERR_ARG;
        n += log_varint_put(t + n, r->vtime_ns - e->vtime);
        vtime = r->vtime_ns;
        break;
    case LOG_REC_ASYNC:
        if (r->icount < e->icount || r->vtime_ns < e->vtime)
            return LOG_ERR_ARG;
        n += log_varint_put(t + n, r->icount - e->icount);
        n += log_varint_put(t + n, r->rip);
        n += log_varint_put(t + n, r->rcx);
        put32(t + n, r->regs_crc);
        n += 4;
        n += log_varint_put(t + n, r->vtime_ns - e->vtime);
        icount = r->icount;
        vtime = r->vtime_ns;
        break;
    case LOG_REC_OUTPUT:
        n += log_varint_put(t + n, r->bytes);
        put32(t + n, r->crc);
        n += 4;
        break;
    case LOG_REC_STATE:
        if (r->icount < e->icount)
            return LOG_ERR_ARG;
        n += log_varint_put(t + n, r->icount - e->icount);
        memcpy(t + n, r->digest, LOG_STATE_DIGEST_LEN);
        n += LOG_STATE_DIGEST_LEN;
        icount = r->icount;
        break;
    case LOG_REC_DMA:
    case LOG_REC_INPUT:
        if (r->len > LOG_MAX_DATA || (r->len && !r->data))
            return LOG_ERR_ARG;
        if (r->type == LOG_REC_DMA) {
            if (r->len && r->gpa > UINT64_MAX - (r->len - 1))
                return LOG_ERR_ARG;
            n += log_varint_put(t + n, r->gpa);
        }
        n += log_varint_put(t + n, r->len);
        data = r->data;
        dlen = r->len;
        break;
    case LOG_REC_RANDOM:
        put64(t + n, r->value);
        n += 8;
        break;
    case LOG_REC_END:
        t[n++] = r->reason;
        break;
    case LOG_REC_DEVDATA:
    case LOG_REC_DEVDONE:
    case LOG_REC_DEVCHECK:
        if (r->device < 1 || r->device > LOG_DEV_LAST || r->tag > LOG_DEV_TAG_MAX)
            return LOG_ERR_ARG;
        t[n++] = r->device;
        n += log_varint_put(t + n, r->tag);
        if (r->type == LOG_REC_DEVCHECK) {
            if (r->bytes > 0xffffffffu)
                return LOG_ERR_ARG;
            n += log_varint_put(t + n, r->bytes);
            put32(t + n, r->crc);
            n += 4;
            break;
        }
        if (r->type == LOG_REC_DEVDONE) {
            n += log_varint_put(t + n, r->status);
            break;
        }
        if (r->offset > LOG_DEV_OFFSET_MAX || r->len > LOG_MAX_DATA || (r->len && !r->data))
            return LOG_ERR_ARG;
        n += log_varint_put(t + n, r->offset);
        n += log_varint_put(t + n, r->len);
        data = r->data;
        dlen = r->len;
        break;
    default:
        return LOG_ERR_ARG;
    }
    if (n + dlen > e->limit)
        return LOG_ERR_TOO_BIG;
    if (e->len + n + dlen > e->limit)
        return LOG_ERR_FULL;
    uint8_t *p = e->buf + LOG_FRAME_HEADER + e->len;
    memcpy(p, t, n);
    if (dlen)
        memcpy(p + n, data, dlen);
    e->len += n + dlen;
    e->exit = r->exit;
    e->vtime = vtime;
    e->icount = icount;
    if (r->type == LOG_REC_OUTPUT)
        e->out_total[r->stream] += r->bytes;
    if (r->type == LOG_REC_END)
        e->ended = true;
    e->records++;
    return LOG_OK;
}

int log_put_time(struct log_encoder *e, uint64_t exit, uint64_t vtime_ns)
{
    struct log_record r = { .type = LOG_REC_TIME, .exit = exit, .vtime_ns = vtime_ns };
    return log_put(e, &r);
}

int log_put_async(struct log_encoder *e, uint64_t exit, uint64_t icount, uint64_t rip, uint64_t rcx,
                  uint32_t regs_crc, uint64_t vtime_ns)
{
    struct log_record r = { .type = LOG_REC_ASYNC, .exit = exit, .icount = icount, .rip = rip,
                            .rcx = rcx, .regs_crc = regs_crc, .vtime_ns = vtime_ns };
    return log_put(e, &r);
}

int log_put_output(struct log_encoder *e, uint8_t stream, uint64_t exit, uint64_t bytes, uint32_t crc_)
{
    struct log_record r = { .type = LOG_REC_OUTPUT, .stream = stream, .exit = exit, .bytes = bytes,
                            .crc = crc_ };
    return log_put(e, &r);
}

int log_put_state(struct log_encoder *e, uint64_t exit, uint64_t icount,
                  const uint8_t digest[LOG_STATE_DIGEST_LEN])
{
    struct log_record r = { .type = LOG_REC_STATE, .exit = exit, .icount = icount };
    memcpy(r.digest, digest, LOG_STATE_DIGEST_LEN);
    return log_put(e, &r);
}

int log_put_dma(struct log_encoder *e, uint64_t exit, uint64_t gpa, const void *data, uint32_t len)
{
    struct log_record r = { .type = LOG_REC_DMA, .exit = exit, .gpa = gpa, .data = data, .len = len };
    return log_put(e, &r);
}

int log_put_input(struct log_encoder *e, uint64_t exit, const void *data, uint32_t len)
{
    struct log_record r = { .type = LOG_REC_INPUT, .exit = exit, .data = data, .len = len };
    return log_put(e, &r);
}

int log_put_random(struct log_encoder *e, uint64_t exit, uint64_t value)
{
    struct log_record r = { .type = LOG_REC_RANDOM, .exit = exit, .value = value };
    return log_put(e, &r);
}

int log_put_devdata(struct log_encoder *e, uint64_t exit, uint8_t device, uint32_t tag, uint32_t offset,
                    const void *data, uint32_t len)
{
    struct log_record r = { .type = LOG_REC_DEVDATA, .exit = exit, .device = device, .tag = tag,
                            .offset = offset, .data = data, .len = len };
    return log_put(e, &r);
}

int log_put_devdone(struct log_encoder *e, uint64_t exit, uint8_t device, uint32_t tag, uint32_t status)
{
    struct log_record r = { .type = LOG_REC_DEVDONE, .exit = exit, .device = device, .tag = tag,
                            .status = status };
    return log_put(e, &r);
}

int log_put_devcheck(struct log_encoder *e, uint64_t exit, uint8_t device, uint32_t tag, uint64_t bytes,
                     uint32_t crc)
{
    struct log_record r = { .type = LOG_REC_DEVCHECK, .exit = exit, .device = device, .tag = tag,
                            .bytes = bytes, .crc = crc };
    return log_put(e, &r);
}

int log_put_end(struct log_encoder *e, uint64_t exit, uint8_t reason)
{
    struct log_record r = { .type = LOG_REC_END, .exit = exit, .reason = reason };
    return log_put(e, &r);
}

/* ---- error messages ------------------------------------------------------ */

/* A bounded string builder: output past the end is dropped, the text stays
 * NUL-terminated. */
struct fmt {
    char *p;
    size_t n, cap;
};

static void fs(struct fmt *f, const char *s)
{
    while (*s && f->n + 1 < f->cap)
        f->p[f->n++] = *s++;
    f->p[f->n] = 0;
}

static void fc(struct fmt *f, char c)
{
    char s[2] = { c, 0 };
    fs(f, s);
}

static void fu(struct fmt *f, uint64_t v)
{
    char t[21];
    int k = 0;
    do {
        t[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (k)
        fc(f, t[--k]);
}

static void fx(struct fmt *f, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    int k = 60;
    fs(f, "0x");
    while (k > 0 && !(v >> k))
        k -= 4;
    for (; k >= 0; k -= 4)
        fc(f, hex[(v >> k) & 15]);
}

/* Records the error and starts its message with where it is:
 *   "frame S (stream offset O): "                       frame level
 *   "frame S, body offset B: "                          in a body
 *   "frame S, body offset B, record R (TYPE): "         in a record
 * S is the frame's place in the log, i.e. its expected sequence number. */
static struct fmt fail_at(struct log_decoder *d, int code, int64_t body_off, int64_t rec, uint8_t type)
{
    struct fmt f = { d->msg, 0, sizeof(d->msg) };
    d->err = code;
    d->err_frame = d->seq;
    d->err_stream_off = d->frame_off;
    d->err_body_off = body_off;
    d->err_record = rec;
    d->msg[0] = 0;
    fs(&f, "frame ");
    fu(&f, d->seq);
    if (body_off < 0) {
        fs(&f, " (stream offset ");
        fu(&f, d->frame_off);
        fs(&f, "): ");
        return f;
    }
    fs(&f, ", body offset ");
    fu(&f, (uint64_t)body_off);
    if (rec >= 0) {
        fs(&f, ", record ");
        fu(&f, (uint64_t)rec);
        if (type >= LOG_REC_TIME && type <= LOG_REC_LAST) {
            fs(&f, " (");
            fs(&f, log_record_name(type));
            fc(&f, ')');
        }
    }
    fs(&f, ": ");
    return f;
}

static struct fmt fail_frame(struct log_decoder *d, int code) { return fail_at(d, code, -1, -1, 0); }

const char *log_decoder_error(const struct log_decoder *d) { return d->err ? d->msg : ""; }

/* ---- decoder ------------------------------------------------------------- */

void log_decoder_reset(struct log_decoder *d)
{
    bool hw = d->crc_hw;
    memset(d, 0, offsetof(struct log_decoder, buf));
    d->crc_hw = hw;
}

void log_decoder_init(struct log_decoder *d)
{
    memset(d, 0, offsetof(struct log_decoder, buf));
    d->crc_hw = crc32c_hw_available();
}

/* The frame header is in buf[0..16): checks what must hold before the
 * body can be awaited (the fields that give its extent and layout). */
static int check_head(struct log_decoder *d)
{
    const uint8_t *p = d->buf;
    if (memcmp(p, LOG_MAGIC, 4) != 0) {
        struct fmt f = fail_frame(d, LOG_ERR_MAGIC);
        fs(&f, "bad magic ");
        for (int i = 0; i < 4; i++) {
            fx(&f, p[i]);
            fc(&f, ' ');
        }
        fs(&f, "(expected \"FTLG\")");
        return d->err;
    }
    if (p[4] != LOG_VERSION) {
        struct fmt f = fail_frame(d, LOG_ERR_VERSION);
        fs(&f, "frame version ");
        fu(&f, p[4]);
        fs(&f, ", expected 1");
        return d->err;
    }
    if (get16(p + 6)) {
        struct fmt f = fail_frame(d, LOG_ERR_RESERVED);
        fs(&f, "reserved field ");
        fx(&f, get16(p + 6));
        fs(&f, ", expected 0");
        return d->err;
    }
    d->body_len = get32(p + 12);
    if (d->body_len > LOG_MAX_BODY) {
        struct fmt f = fail_frame(d, LOG_ERR_LENGTH);
        fs(&f, "body length ");
        fu(&f, d->body_len);
        fs(&f, " over the maximum 65536");
        return d->err;
    }
    return LOG_OK;
}

static size_t frame_total(const struct log_decoder *d)
{
    return LOG_FRAME_OVERHEAD + (size_t)d->body_len;
}

/* The whole frame is in buf: CRC, type, order, sequence; parses a header.
 * Returns LOG_GOT_HEADER, LOG_OK (a records frame to parse) or an error. */
static int check_frame(struct log_decoder *d)
{
    const uint8_t *p = d->buf;
    uint32_t stored = get32(p + LOG_FRAME_HEADER + d->body_len);
    uint32_t computed = crc(d->crc_hw, p, LOG_FRAME_HEADER + d->body_len);
    uint8_t type = p[5];
    uint32_t seq = get32(p + 8);
    struct fmt f;

    if (stored != computed) {
        f = fail_frame(d, LOG_ERR_CRC);
        fs(&f, "CRC mismatch: stored ");
        fx(&f, stored);
        fs(&f, ", computed ");
        fx(&f, computed);
        return d->err;
    }
    if (type != LOG_FRAME_HDR && type != LOG_FRAME_RECORDS) {
        f = fail_frame(d, LOG_ERR_FRAME_TYPE);
        fs(&f, "unknown frame type ");
        fu(&f, type);
        return d->err;
    }
    if (!d->have_header && type != LOG_FRAME_HDR) {
        f = fail_frame(d, LOG_ERR_NO_HEADER);
        fs(&f, "the log does not begin with a header frame (records frame, sequence number ");
        fu(&f, seq);
        fc(&f, ')');
        return d->err;
    }
    if (d->have_header && type == LOG_FRAME_HDR) {
        f = fail_frame(d, LOG_ERR_DUP_HEADER);
        fs(&f, "a second header frame (sequence number ");
        fu(&f, seq);
        fc(&f, ')');
        return d->err;
    }
    if (seq != d->seq) {
        f = fail_frame(d, LOG_ERR_SEQ);
        fs(&f, "sequence number ");
        fu(&f, seq);
        fs(&f, ", expected ");
        fu(&f, d->seq);
        /* modulo 2^32: "behind" is within half the space */
        fs(&f, (uint32_t)(d->seq - seq) <= 0x80000000u ? " (duplicated or reordered frame)"
                                                         : " (missing or reordered frames)");
        return d->err;
    }
    if (type == LOG_FRAME_HDR) {
        struct hdr_err e;
        if (d->body_len != LOG_HEADER_BODY) {
            f = fail_at(d, LOG_ERR_HEADER, 0, -1, 0);
            fs(&f, "header body length ");
            fu(&f, d->body_len);
            fs(&f, ", expected 148");
            return d->err;
        }
        if (!header_parse(p + LOG_FRAME_HEADER, &d->header, &e)) {
            memset(&d->header, 0, sizeof(d->header));
            f = fail_at(d, LOG_ERR_HEADER, e.off, -1, 0);
            fs(&f, e.pre);
            if (e.kind == 1)
                fu(&f, e.val);
            else if (e.kind == 2)
                fx(&f, e.val);
            fs(&f, e.post);
            return d->err;
        }
        d->have_header = true;
        return LOG_GOT_HEADER;
    }
    return LOG_OK;
}

/* Reading one record's fields from the body of the current frame. */
struct rd {
    struct log_decoder *d;
    const uint8_t *b;   /* the body */
    uint32_t n;         /* its length */
    uint32_t pos;       /* next field */
    uint32_t start;     /* the record's type byte */
    uint8_t type;
};

static int rd_fail(struct rd *r, int code, uint32_t off, struct fmt *f)
{
    *f = fail_at(r->d, code, off, r->d->rec_index, r->type);
    return code;
}

static int rd_varint(struct rd *r, const char *field, uint64_t *v)
{
    struct fmt f;
    int k = log_varint_get(r->b + r->pos, r->n - r->pos, v);
    if (k > 0) {
        r->pos += (uint32_t)k;
        return LOG_OK;
    }
    rd_fail(r, k, r->pos, &f);
    fs(&f, field);
    switch (k) {
    case LOG_ERR_REC_TRUNCATED:
        fs(&f, " runs past the end of the body (");
        fu(&f, r->n);
        fs(&f, " bytes)");
        break;
    case LOG_ERR_VARINT_LONG:
        fs(&f, ": varint longer than 10 bytes");
        break;
    case LOG_ERR_VARINT_OVERFLOW:
        fs(&f, ": varint value over 64 bits");
        break;
    default:
        fs(&f, ": varint not minimal (a zero last byte)");
        break;
    }
    return k;
}

/* A delta varint added to base; the sum must not wrap. */
static int rd_delta(struct rd *r, const char *field, const char *what, uint64_t base, uint64_t *out)
{
    uint64_t v;
    uint32_t at = r->pos;
    int err = rd_varint(r, field, &v);
    if (err)
        return err;
    if (v > UINT64_MAX - base) {
        struct fmt f;
        rd_fail(r, LOG_ERR_WRAP, at, &f);
        fs(&f, what);
        fs(&f, " wraps: ");
        fu(&f, base);
        fs(&f, " + ");
        fu(&f, v);
        return LOG_ERR_WRAP;
    }
    *out = base + v;
    return LOG_OK;
}

/* n raw bytes; out may be NULL (the caller points into the body). */
static int rd_raw(struct rd *r, const char *field, void *out, uint32_t n)
{
    if (r->n - r->pos < n) {
        struct fmt f;
        rd_fail(r, LOG_ERR_REC_TRUNCATED, r->pos, &f);
        fs(&f, field);
        fs(&f, " (");
        fu(&f, n);
        fs(&f, " bytes) runs past the end of the body (");
        fu(&f, r->n);
        fs(&f, " bytes)");
        return LOG_ERR_REC_TRUNCATED;
    }
    if (out)
        memcpy(out, r->b + r->pos, n);
    r->pos += n;
    return LOG_OK;
}

/* DMA/INPUT length and data. */
static int rd_data(struct rd *r, struct log_record *out)
{
    uint64_t len;
    uint32_t at = r->pos;
    struct fmt f;
    int err = rd_varint(r, "length", &len);
    if (err)
        return err;
    if (len > r->n - r->pos) {
        rd_fail(r, LOG_ERR_DATA_LENGTH, at, &f);
        fs(&f, "length ");
        fu(&f, len);
        fs(&f, " over the ");
        fu(&f, r->n - r->pos);
        fs(&f, " bytes left in the body");
        return LOG_ERR_DATA_LENGTH;
    }
    if (len > LOG_MAX_DATA) {
        rd_fail(r, LOG_ERR_DATA_LENGTH, at, &f);
        fs(&f, "length ");
        fu(&f, len);
        fs(&f, " over the maximum 65512");
        return LOG_ERR_DATA_LENGTH;
    }
    out->len = (uint32_t)len;
    out->data = r->b + r->pos;
    r->pos += (uint32_t)len;
    return LOG_OK;
}

/* Decodes the record at body offset d->pos into *out; commits the state
 * only when the whole record is valid. */
static int next_record(struct log_decoder *d, struct log_record *out)
{
    struct rd r = { d, d->buf + LOG_FRAME_HEADER, d->body_len, d->pos + 1, d->pos, 0 };
    uint64_t exit = d->exit, vtime = d->vtime_ns, icount = d->icount;
    uint8_t raw[8];
    struct fmt f;
    int err = LOG_OK;

    r.type = r.b[r.start];
    memset(out, 0, sizeof(*out));
    out->type = r.type;
    if (r.type < LOG_REC_TIME || r.type > LOG_REC_LAST) {
        rd_fail(&r, LOG_ERR_REC_TYPE, r.start, &f);
        fs(&f, "unknown record type ");
        fu(&f, r.type);
        return LOG_ERR_REC_TYPE;
    }
    if (r.type == LOG_REC_OUTPUT) {
        uint32_t at = r.pos;
        if ((err = rd_raw(&r, "stream id", &out->stream, 1)))
            return err;
        if (out->stream >= LOG_STREAMS) {
            rd_fail(&r, LOG_ERR_FIELD, at, &f);
            fs(&f, "unknown output stream ");
            fu(&f, out->stream);
            return LOG_ERR_FIELD;
        }
    }
    if ((err = rd_delta(&r, "d_exit", "exit ordinal", d->exit, &exit)))
        return err;
    switch (r.type) {
    case LOG_REC_TIME:
        err = rd_delta(&r, "d_ns", "virtual time", d->vtime_ns, &vtime);
        break;
    case LOG_REC_ASYNC:
        if ((err = rd_delta(&r, "d_icount", "instruction count", d->icount, &icount)) ||
            (err = rd_varint(&r, "rip", &out->rip)) || (err = rd_varint(&r, "rcx", &out->rcx)) ||
            (err = rd_raw(&r, "regs digest", raw, 4)))
            break;
        out->regs_crc = get32(raw);
        err = rd_delta(&r, "d_ns", "virtual time", d->vtime_ns, &vtime);
        break;
    case LOG_REC_OUTPUT: {
        uint32_t at = r.pos;
        if ((err = rd_varint(&r, "byte count", &out->bytes)))
            break;
        if (out->bytes > UINT64_MAX - d->out_total[out->stream]) {
            err = rd_fail(&r, LOG_ERR_WRAP, at, &f);
            fs(&f, "output byte count of stream ");
            fu(&f, out->stream);
            fs(&f, " wraps: ");
            fu(&f, d->out_total[out->stream]);
            fs(&f, " + ");
            fu(&f, out->bytes);
            break;
        }
        out->total = d->out_total[out->stream] + out->bytes;
        if ((err = rd_raw(&r, "CRC", raw, 4)))
            break;
        out->crc = get32(raw);
        break;
    }
    case LOG_REC_STATE:
        if ((err = rd_delta(&r, "d_icount", "instruction count", d->icount, &icount)))
            break;
        err = rd_raw(&r, "digest", out->digest, LOG_STATE_DIGEST_LEN);
        break;
    case LOG_REC_DMA: {
        uint32_t at = r.pos;
        if ((err = rd_varint(&r, "gpa", &out->gpa)) || (err = rd_data(&r, out)))
            break;
        if (out->len && out->gpa > UINT64_MAX - (out->len - 1)) {
            err = rd_fail(&r, LOG_ERR_WRAP, at, &f);
            fs(&f, "DMA range wraps past 2^64: gpa ");
            fx(&f, out->gpa);
            fs(&f, ", length ");
            fu(&f, out->len);
        }
        break;
    }
    case LOG_REC_INPUT:
        err = rd_data(&r, out);
        break;
    case LOG_REC_RANDOM:
        if ((err = rd_raw(&r, "value", raw, 8)))
            break;
        out->value = get64(raw);
        break;
    case LOG_REC_DEVDATA:
    case LOG_REC_DEVDONE:
    case LOG_REC_DEVCHECK: {
        uint32_t at = r.pos;
        uint64_t tag, v;
        if ((err = rd_raw(&r, "device", &out->device, 1)))
            break;
        if (out->device < 1 || out->device > LOG_DEV_LAST) {
            err = rd_fail(&r, LOG_ERR_FIELD, at, &f);
            fs(&f, "unknown device ");
            fu(&f, out->device);
            break;
        }
        at = r.pos;
        if ((err = rd_varint(&r, "tag", &tag)))
            break;
        if (tag > LOG_DEV_TAG_MAX) {
            err = rd_fail(&r, LOG_ERR_FIELD, at, &f);
            fs(&f, "tag ");
            fu(&f, tag);
            fs(&f, " over the maximum 65535");
            break;
        }
        out->tag = (uint32_t)tag;
        at = r.pos;
        if (r.type == LOG_REC_DEVCHECK) {
            if ((err = rd_varint(&r, "length", &v)))
                break;
            if (v > 0xffffffffu) {
                err = rd_fail(&r, LOG_ERR_FIELD, at, &f);
                fs(&f, "length ");
                fu(&f, v);
                fs(&f, " out of range");
                break;
            }
            out->bytes = v;
            if ((err = rd_raw(&r, "CRC", raw, 4)))
                break;
            out->crc = get32(raw);
            break;
        }
        if ((err = rd_varint(&r, r.type == LOG_REC_DEVDONE ? "status" : "offset", &v)))
            break;
        if (v > (r.type == LOG_REC_DEVDONE ? 0xffffffffu : LOG_DEV_OFFSET_MAX)) {
            err = rd_fail(&r, LOG_ERR_FIELD, at, &f);
            fs(&f, r.type == LOG_REC_DEVDONE ? "status " : "offset ");
            fu(&f, v);
            fs(&f, " out of range");
            break;
        }
        if (r.type == LOG_REC_DEVDONE) {
            out->status = (uint32_t)v;
            break;
        }
        out->offset = (uint32_t)v;
        err = rd_data(&r, out);
        break;
    }
    case LOG_REC_END:
        if ((err = rd_raw(&r, "reason", &out->reason, 1)))
            break;
        if (r.pos != r.n) {
            err = rd_fail(&r, LOG_ERR_AFTER_END, r.pos, &f);
            fs(&f, "the END record is followed by ");
            fu(&f, r.n - r.pos);
            fs(&f, " more body bytes");
        }
        break;
    }
    if (err)
        return err;
    out->exit = exit;
    out->vtime_ns = vtime;
    out->icount = icount;
    out->frame_seq = d->seq;
    out->body_off = r.start;
    out->index = d->rec_index;
    d->exit = exit;
    d->vtime_ns = vtime;
    d->icount = icount;
    if (r.type == LOG_REC_OUTPUT)
        d->out_total[out->stream] = out->total;
    if (r.type == LOG_REC_END)
        d->ended = true;
    d->pos = r.pos;
    d->rec_index++;
    d->records++;
    return LOG_OK;
}

/* The current frame is done with: the next one starts. */
static void release(struct log_decoder *d)
{
    d->frame_off += frame_total(d);
    d->have = 0;
    d->parsing = false;
    d->seq++;
}

int log_decoder_feed(struct log_decoder *d, const uint8_t *data, size_t len, size_t *consumed,
                     struct log_record *out)
{
    size_t took = 0;
    int r = LOG_NEED_MORE;

    *consumed = 0;
    if (d->err)
        return d->err;
    for (;;) {
        if (d->parsing) {
            if (d->pos < d->body_len) {
                r = next_record(d, out);
                break;
            }
            release(d);
        }
        if (took == len) {
            r = LOG_NEED_MORE;
            break;
        }
        if (d->ended) {
            struct fmt f = fail_frame(d, LOG_ERR_AFTER_END);
            fs(&f, "data after the frame with the END record");
            r = d->err;
            break;
        }
        size_t k;
        if (d->have < LOG_FRAME_HEADER) {
            k = LOG_FRAME_HEADER - d->have;
            if (k > len - took)
                k = len - took;
            memcpy(d->buf + d->have, data + took, k);
            d->have += k;
            took += k;
            if (d->have < LOG_FRAME_HEADER)
                continue;
            if ((r = check_head(d)) != LOG_OK)
                break;
        }
        k = frame_total(d) - d->have;
        if (k > len - took)
            k = len - took;
        memcpy(d->buf + d->have, data + took, k);
        d->have += k;
        took += k;
        if (d->have < frame_total(d))
            continue;
        r = check_frame(d);
        if (r == LOG_GOT_HEADER) {
            d->frames++;
            release(d);
            break;
        }
        if (r != LOG_OK)
            break;
        d->frames++;
        d->parsing = true;
        d->pos = 0;
        d->rec_index = 0;
    }
    *consumed = took;
    d->consumed += took;
    return r;
}

uint64_t log_decoder_good_bytes(const struct log_decoder *d)
{
    /* A frame whose records have all come out is done, though it is
     * released only by the next call. */
    if (!d->err && d->parsing && d->pos >= d->body_len)
        return d->frame_off + frame_total(d);
    return d->frame_off;
}

int log_decoder_finish(struct log_decoder *d)
{
    struct fmt f;
    if (d->err)
        return d->err;
    if (d->parsing) {
        if (d->pos < d->body_len)
            return LOG_ERR_STATE;
        release(d);
    }
    if (d->have) {
        f = fail_frame(d, LOG_ERR_TRUNCATED);
        fs(&f, "truncated: the stream ends after ");
        fu(&f, d->have);
        fs(&f, " of the frame's ");
        if (d->have < LOG_FRAME_HEADER) {
            fs(&f, "16 header bytes");
        } else {
            fu(&f, frame_total(d));
            fs(&f, " bytes");
        }
        return d->err;
    }
    if (!d->have_header) {
        f = fail_frame(d, LOG_ERR_TRUNCATED);
        fs(&f, "truncated: the log is empty (no header frame)");
        return d->err;
    }
    return LOG_EOF;
}

/* ---- digests ------------------------------------------------------------- */

uint32_t log_regs_crc(const uint64_t gpr[16])
{
    uint8_t b[16 * 8];
    for (int i = 0; i < 16; i++)
        put64(b + 8 * i, gpr[i]);
    return crc32c(0, b, sizeof(b));
}

void log_state_digest_begin(struct log_state_digest *s, const void *regs, size_t regs_len)
{
    uint8_t l[4];
    sha256_init(&s->sha);
    sha256_update(&s->sha, "FTST", 4);
    put32(l, (uint32_t)regs_len);
    sha256_update(&s->sha, l, 4);
    sha256_update(&s->sha, regs, regs_len);
}

void log_state_digest_page(struct log_state_digest *s, uint64_t gpa, const void *page)
{
    uint8_t g[8];
    put64(g, gpa);
    sha256_update(&s->sha, g, 8);
    sha256_update(&s->sha, page, 4096);
}

void log_state_digest_end(struct log_state_digest *s, uint8_t out[LOG_STATE_DIGEST_LEN])
{
    uint8_t full[SHA256_DIGEST_SIZE];
    sha256_final(&s->sha, full);
    memcpy(out, full, LOG_STATE_DIGEST_LEN);
}
