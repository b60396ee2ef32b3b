/* tools/ftlog's core (tools/ftlog_core.c, tools/ftlog_pcap.c) over logs
 * written by ft/log.c's own encoder: every record type in words, sizes and
 * statistics, every truncation and every corrupted byte (reported with its
 * offset, never a crash, decoding resumes at the next good frame), lost
 * and concatenated frames, diff, and the pcap path (a logging channel
 * session with real MACs, reordered and retransmitted segments; a sink
 * PUT). */
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test.h"
#include "../../tools/ftlog_core.h"
#include "../../ft/log.h"
#include "../../net/frame.h"
#include "../../kernel/crc32c.h"
#include "../../kernel/sha256.h"

/* ---- a synthetic log -------------------------------------------------------- */

#define MAXREC 400
#define MAXFRAMES 200

struct slog {
    uint8_t bytes[1 << 17];
    size_t len;
    struct log_record rec[MAXREC]; /* as put (absolute values) */
    int nrec;
    size_t frame_off[MAXFRAMES + 1]; /* frame k starts here; [nframes] = len */
    int rec_frame[MAXREC];         /* the frame each record is in */
    int nframes;
};

static uint8_t data[3000];

/* nrec records cycling through every type, in frames whose buffer holds
 * cap bytes (small: many frames), END at the end if end. */
static void build(struct slog *s, int nrec, size_t cap, bool end, uint64_t seed)
{
    static uint8_t fb[LOG_MAX_FRAME];
    struct log_encoder e;
    struct log_header h;
    memset(s, 0, sizeof(*s));
    memset(&h, 0, sizeof(h));
    h.backend = LOG_BACKEND_EMULATOR;
    h.tsc_hz = 2000000000;
    h.epoch_s = 1700000000;
    h.mem_bytes = 256u << 20;
    h.boot_id = 0x0123456789abcdefull ^ seed;
    strcpy(h.cpu_model, "Skylake-Server");
    strcpy(h.host, "alpha");
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7 + 3);
    log_encoder_init(&e);
    size_t sz;
    CHECK_EQ(log_encode_header(&e, &h, s->bytes, sizeof(s->bytes), &sz), LOG_OK);
    s->frame_off[0] = 0;
    s->len = sz;
    s->nframes = 1;
    uint64_t x = 0, t = 0, ic = 0, rs = 0x9e3779b97f4a7c15ull ^ seed;
    int i = 0;
    bool open = false, retry = false;
    while (i < nrec + (end ? 1 : 0)) {
        if (!open) {
            s->frame_off[s->nframes] = s->len;
            CHECK_EQ(log_frame_begin(&e, fb, cap), LOG_OK);
            open = true;
        }
        if (!retry) /* the same record again into the next frame */
            rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
        retry = false;
        struct log_record r;
        memset(&r, 0, sizeof(r));
        int type = i == nrec ? LOG_REC_END : 1 + i % LOG_REC_LAST;
        if (type == LOG_REC_END && i < nrec)
            type = LOG_REC_RANDOM; /* END only at the end */
        r.type = (uint8_t)type;
        r.exit = x + rs % 40;
        switch (type) {
        case LOG_REC_TIME: r.vtime_ns = t + rs % 1000000; break;
        case LOG_REC_ASYNC:
            r.icount = ic + 1 + rs % 100000;
            r.rip = rs;
            r.rcx = rs >> 7;
            r.regs_crc = (uint32_t)(rs >> 11);
            r.vtime_ns = t + 10;
            break;
        case LOG_REC_OUTPUT: r.stream = (uint8_t)(rs % 3); r.bytes = rs % 100; r.crc = (uint32_t)rs; break;
        case LOG_REC_STATE: r.icount = ic + rs % 5; memcpy(r.digest, &rs, 8); break;
        case LOG_REC_DMA: r.gpa = 0x100000 + rs % 0x10000; r.len = (uint32_t)(rs % 60); r.data = data; break;
        case LOG_REC_INPUT: r.len = (uint32_t)(rs % 20); r.data = (const uint8_t *)"ls -l\n\tpwd\r\nexit\n\"\\x"; break;
        case LOG_REC_RANDOM: r.value = rs; break;
        case LOG_REC_DEVDATA: r.device = LOG_DEV_BLK; r.tag = (uint32_t)(rs % 16); r.offset = 512; r.len = 40; r.data = data; break;
        case LOG_REC_DEVDONE: r.device = LOG_DEV_NET; r.tag = 3; r.status = (uint32_t)(rs % 3); break;
        case LOG_REC_DEVCHECK: r.device = LOG_DEV_BLK; r.tag = 5; r.bytes = 4096; r.crc = (uint32_t)rs; break;
        case LOG_REC_END: r.reason = LOG_END_POWEROFF; break;
        }
        int k = log_put(&e, &r);
        if (k == LOG_ERR_FULL) {
            CHECK_EQ(log_frame_end(&e, &sz), LOG_OK);
            memcpy(s->bytes + s->len, fb, sz);
            s->len += sz;
            s->nframes++;
            open = false;
            retry = true;
            continue;
        }
        CHECK_EQ(k, LOG_OK);
        if (k != LOG_OK)
            return;
        x = r.exit;
        if (type == LOG_REC_TIME || type == LOG_REC_ASYNC)
            t = r.vtime_ns;
        if (type == LOG_REC_ASYNC || type == LOG_REC_STATE)
            ic = r.icount;
        s->rec[s->nrec] = r;
        s->rec_frame[s->nrec] = s->nframes;
        s->nrec++;
        i++;
    }
    if (open) {
        CHECK_EQ(log_frame_end(&e, &sz), LOG_OK);
        memcpy(s->bytes + s->len, fb, sz);
        s->len += sz;
        s->nframes++;
    }
    s->frame_off[s->nframes] = s->len;
}

/* Reads a log: the records (up to max) and the summary. */
struct got {
    struct ftlog_rec rec[MAXREC * 2];
    int nrec;
    int nframes, nheaders;
    struct ftlog_summary sum;
    char err[8][FTLOG_MSG_MAX];
    uint64_t err_off[8];
    int nerr;
};

static void readall(const uint8_t *buf, size_t len, struct got *g)
{
    struct ftlog_reader *rd = ftlog_reader_new(buf, len);
    struct ftlog_event ev;
    memset(g, 0, sizeof(*g));
    if (!rd) {
        TEST_FAIL("ftlog_reader_new failed");
        return;
    }
    int guard = 0;
    while (ftlog_next(rd, &ev) != FTLOG_EV_NONE) {
        if (++guard > 100000) {
            TEST_FAIL("the reader does not end");
            break;
        }
        if (ev.kind == FTLOG_EV_RECORD && g->nrec < MAXREC * 2)
            g->rec[g->nrec++] = ev.rec;
        if (ev.kind == FTLOG_EV_FRAME)
            g->nframes++;
        if (ev.kind == FTLOG_EV_HEADER)
            g->nheaders++;
        if (ev.kind == FTLOG_EV_ERROR && g->nerr < 8) {
            CHECK(ev.msg[0]);
            CHECK(ev.offset <= len);
            g->err_off[g->nerr] = ev.offset;
            strcpy(g->err[g->nerr++], ev.msg);
        }
    }
    g->sum = *ftlog_reader_summary(rd);
    ftlog_reader_free(rd);
}

/* Record as put vs record as read (values as put). */
static bool same(const struct log_record *p, const struct ftlog_rec *x)
{
    const struct log_record *r = &x->r;
    if (p->type != r->type || p->exit != r->exit)
        return false;
    switch (p->type) {
    case LOG_REC_TIME: return p->vtime_ns == r->vtime_ns;
    case LOG_REC_ASYNC:
        return p->icount == r->icount && p->rip == r->rip && p->rcx == r->rcx && p->regs_crc == r->regs_crc &&
               p->vtime_ns == r->vtime_ns;
    case LOG_REC_OUTPUT: return p->stream == r->stream && p->bytes == r->bytes && p->crc == r->crc;
    case LOG_REC_STATE: return p->icount == r->icount && !memcmp(p->digest, r->digest, 16);
    case LOG_REC_DMA: return p->gpa == r->gpa && p->len == r->len && x->data_crc == crc32c(0, p->data, p->len);
    case LOG_REC_INPUT: return p->len == r->len && x->data_crc == crc32c(0, p->data, p->len);
    case LOG_REC_RANDOM: return p->value == r->value;
    case LOG_REC_END: return p->reason == r->reason;
    case LOG_REC_DEVDATA:
        return p->device == r->device && p->tag == r->tag && p->offset == r->offset && p->len == r->len &&
               x->data_crc == crc32c(0, p->data, p->len);
    case LOG_REC_DEVDONE: return p->device == r->device && p->tag == r->tag && p->status == r->status;
    case LOG_REC_DEVCHECK: return p->device == r->device && p->tag == r->tag && p->bytes == r->bytes && p->crc == r->crc;
    }
    return false;
}

static struct slog L, L2;
static struct got G;
static uint8_t work[1 << 18];

/* ---- whole logs ---------------------------------------------------------------- */

TEST(reads_every_record_type_back)
{
    build(&L, 120, 200, true, 1);
    readall(L.bytes, L.len, &G);
    CHECK_EQ(G.nerr, 0);
    CHECK_EQ(G.nrec, L.nrec);
    CHECK_EQ(G.nheaders, 1);
    CHECK_EQ(G.nframes, L.nframes);
    CHECK(L.nframes > 10);
    uint64_t sizes = 0;
    for (int i = 0; i < L.nrec && i < G.nrec; i++) {
        if (!same(&L.rec[i], &G.rec[i]))
            TEST_FAIL("record %d (%s) differs", i, log_record_name(L.rec[i].type));
        CHECK_EQ(G.rec[i].n, i);
        CHECK(!G.rec[i].after_gap);
        CHECK_EQ(G.rec[i].frame_off, L.frame_off[L.rec_frame[i]]);
        sizes += G.rec[i].size;
    }
    /* Every byte is accounted for: records, the header body, frame overheads. */
    CHECK_EQ(sizes + LOG_HEADER_BODY + (uint64_t)L.nframes * LOG_FRAME_OVERHEAD, L.len);
    CHECK(G.sum.ended);
    CHECK_EQ(G.sum.records, L.nrec);
    CHECK_EQ(G.sum.frame_bytes, L.len);
    CHECK_EQ(G.sum.errors, 0);
}

/* The record sizes match the encoded bytes one by one. */
TEST(record_sizes_are_exact)
{
    build(&L, 60, 65556, false, 2); /* one records frame */
    readall(L.bytes, L.len, &G);
    CHECK_EQ(L.nframes, 2);
    CHECK_EQ(G.nrec, 60);
    uint64_t body = L.len - L.frame_off[1] - LOG_FRAME_OVERHEAD, sum = 0;
    for (int i = 0; i < G.nrec; i++) {
        CHECK_EQ(G.rec[i].r.body_off, sum);
        sum += G.rec[i].size;
    }
    CHECK_EQ(sum, body);
    CHECK(!G.sum.ended);
}

/* ---- words ------------------------------------------------------------------------ */

static char *run_dump(const uint8_t *b, size_t n, uint64_t from, uint64_t count, bool frames, int *rc)
{
    char *out = NULL;
    size_t olen = 0;
    FILE *f = open_memstream(&out, &olen);
    *rc = ftlog_cmd_dump(b, n, from, count, frames, f);
    fclose(f);
    return out;
}

/* The example of docs/log-format.md, built by the encoder. */
static size_t doc_example(uint8_t *out)
{
    struct log_encoder e;
    struct log_header h;
    memset(&h, 0, sizeof(h));
    h.backend = LOG_BACKEND_EMULATOR;
    h.tsc_hz = 2000000000;
    h.epoch_s = 1700000000;
    h.mem_bytes = 256u << 20;
    strcpy(h.cpu_model, "Skylake-Server");
    strcpy(h.host, "alpha");
    h.boot_id = 0x0123456789abcdefull;
    for (int i = 0; i < 32; i++) {
        h.config_digest[i] = (uint8_t)i;
        h.init_digest[i] = (uint8_t)(32 + i);
    }
    size_t sz, n;
    log_encoder_init(&e);
    log_encode_header(&e, &h, out, LOG_MAX_FRAME, &sz);
    n = sz;
    log_frame_begin(&e, out + n, LOG_MAX_FRAME);
    log_put_time(&e, 3, 1000);
    log_put_async(&e, 5, 100000, 0xffffffff81000000ull, 0, 0xdeadbeef, 2500);
    log_put_output(&e, LOG_STREAM_CONSOLE, 7, 6, crc32c(0, "hello\n", 6));
    log_put_input(&e, 9, "ls\n", 3);
    log_put_end(&e, 9, LOG_END_POWEROFF);
    log_frame_end(&e, &sz);
    return n + sz;
}

TEST(dump_in_words)
{
    size_t n = doc_example(work);
    CHECK_EQ(n, 168 + 63);
    int rc;
    char *s = run_dump(work, n, 0, 0, true, &rc);
    CHECK_EQ(rc, 0);
    const char *want =
        "-- frame 0 (header) at offset 0: 168 bytes\n"
        "header: host alpha, boot id 0x0123456789abcdef, CPU Skylake-Server, landmarks emulator, TSC 2000000000 Hz, "
        "memory 256 MiB, epoch 1700000000, config digest 000102030405..., initial state 202122232425...\n"
        "-- frame 1 (records) at offset 168: 63 bytes\n"
        "#0       exit 3         TIME     t=0.000001000 s\n"
        "#1       exit 5         ASYNC    t=0.000002500 s icount 100000 rip 0xffffffff81000000 rcx 0x0 regs 0xdeadbeef\n"
        "#2       exit 7         OUTPUT   console 6 bytes (total 6) crc 0x353dd8be\n"
        "#3       exit 9         INPUT    3 bytes \"ls\\n\"\n"
        "#4       exit 9         END      poweroff\n"
        "-- 5 records, 2 frames (231 bytes), END (poweroff)\n";
    CHECK_STR(s, want);
    free(s);
    /* Paging: --from 1 --count 2. */
    s = run_dump(work, n, 1, 2, false, &rc);
    CHECK(strstr(s, "#1 ") && strstr(s, "#2 ") && !strstr(s, "#0 ") && !strstr(s, "#3 "));
    CHECK(strstr(s, "-- 5 records"));
    free(s);
}

TEST(format_every_type)
{
    build(&L, 22, 65556, true, 3);
    readall(L.bytes, L.len, &G);
    const char *want[] = { "", "TIME     t=", "ASYNC    t=", "OUTPUT   ", "STATE    icount ", "DMA      gpa 0x",
                           "INPUT    ", "RANDOM   0x", "END      poweroff", "DEVDATA  blk tag ", "DEVDONE  net tag 3 status ",
                           "DEVCHECK blk tag 5 4096 bytes crc 0x" };
    int seen = 0;
    for (int i = 0; i < G.nrec; i++) {
        char line[600];
        ftlog_format_record(&G.rec[i], line, sizeof(line));
        uint8_t t = G.rec[i].r.type;
        if (!strstr(line, want[t]))
            TEST_FAIL("record %d: '%s' lacks '%s'", i, line, want[t]);
        seen |= 1 << t;
        if (t == LOG_REC_DMA && G.rec[i].r.len && !strstr(line, " bytes crc 0x"))
            TEST_FAIL("DMA without its length and CRC: %s", line);
    }
    CHECK_EQ(seen, 0xffe);
    /* A short buffer is cut, not overrun. */
    char tiny[12];
    ftlog_format_record(&G.rec[1], tiny, sizeof(tiny));
    CHECK_EQ(strlen(tiny), 11);
}

/* ---- damage ------------------------------------------------------------------------- */

/* Every prefix of a log: whole frames decode, a partial one is reported as
 * truncated at its offset, never more records than were put. */
TEST(every_truncation)
{
    build(&L, 40, 150, true, 4);
    int frame = 0;
    for (size_t cut = 0; cut < L.len; cut++) {
        memcpy(work, L.bytes, cut);
        readall(work, cut, &G);
        while (L.frame_off[frame + 1] <= cut)
            frame++;
        bool boundary = L.frame_off[frame] == cut;
        int whole = 0; /* records of whole frames */
        while (whole < L.nrec && L.rec_frame[whole] < frame)
            whole++;
        if (boundary && cut > 0) {
            if (G.nerr)
                TEST_FAIL("cut %zu (a frame boundary): %s", cut, G.err[0]);
        } else {
            if (G.nerr != 1) {
                TEST_FAIL("cut %zu: %d errors", cut, G.nerr);
                return;
            }
            if (cut && (G.err_off[0] != L.frame_off[frame] || !strstr(G.err[0], "truncated")))
                TEST_FAIL("cut %zu: '%s'", cut, G.err[0]);
        }
        if (G.nrec != whole) {
            TEST_FAIL("cut %zu: %d records, want %d", cut, G.nrec, whole);
            return;
        }
        for (int i = 0; i < G.nrec; i++)
            if (!same(&L.rec[i], &G.rec[i]))
                TEST_FAIL("cut %zu: record %d differs", cut, i);
        CHECK(!G.sum.ended);
    }
}

/* Every byte of a log damaged in turn: one error, at the damaged frame's
 * offset (a CRC failure, or a framing error for the first header bytes);
 * every record of every other frame still comes out, and records before
 * the damage keep their exact values. */
TEST(every_corrupted_byte)
{
    build(&L, 40, 150, true, 5);
    for (int mask = 0; mask < 2; mask++) {
        int frame = 0;
        for (size_t i = 0; i < L.len; i++) {
            memcpy(work, L.bytes, L.len);
            work[i] ^= mask ? 0x01 : 0xa5;
            readall(work, L.len, &G);
            while (L.frame_off[frame + 1] <= i)
                frame++;
            int before = 0, inside = 0;
            while (before < L.nrec && L.rec_frame[before] < frame)
                before++;
            while (before + inside < L.nrec && L.rec_frame[before + inside] == frame)
                inside++;
            if (G.nerr < 1) {
                TEST_FAIL("byte %zu ^ %d: no error", i, mask);
                return;
            }
            if (G.err_off[0] != L.frame_off[frame])
                TEST_FAIL("byte %zu: error at %llu, want %zu: %s", i, (unsigned long long)G.err_off[0],
                          L.frame_off[frame], G.err[0]);
            if (i - L.frame_off[frame] >= 16 && !strstr(G.err[0], "CRC mismatch"))
                TEST_FAIL("byte %zu: not a CRC error: %s", i, G.err[0]);
            if (G.sum.crc_errors > 1)
                TEST_FAIL("byte %zu: %llu CRC errors", i, (unsigned long long)G.sum.crc_errors);
            /* A damaged length can hide the frames it seems to cover only
             * until the resynchronisation finds them again. */
            if (G.nrec != L.nrec - inside) {
                TEST_FAIL("byte %zu ^ %d: %d records, want %d: %s", i, mask, G.nrec, L.nrec - inside, G.err[0]);
                return;
            }
            for (int k = 0; k < before; k++)
                if (!same(&L.rec[k], &G.rec[k]) || G.rec[k].after_gap)
                    TEST_FAIL("byte %zu: record %d before the damage differs", i, k);
            for (int k = before; k < G.nrec; k++) {
                const struct log_record *p = &L.rec[k + inside];
                if (G.rec[k].r.type != p->type || G.rec[k].r.exit > p->exit)
                    TEST_FAIL("byte %zu: record %d after the damage: type %d exit %llu, want %d <= %llu", i, k,
                              G.rec[k].r.type, (unsigned long long)G.rec[k].r.exit, p->type,
                              (unsigned long long)p->exit);
                if (frame > 0 && !G.rec[k].after_gap)
                    TEST_FAIL("byte %zu: record %d after lost records not flagged", i, k);
            }
            CHECK(G.sum.ended == (frame != L.nframes - 1));
            int rc;
            char *s = run_dump(work, L.len, 0, 0, false, &rc);
            CHECK_EQ(rc, 1);
            CHECK(strstr(s, "-- malformed: "));
            free(s);
        }
    }
}

/* A frame lost whole (valid CRCs around it): the decoder's sequence check
 * says so, and the rest still decodes, rebased. */
TEST(lost_frame)
{
    build(&L, 80, 150, true, 6);
    CHECK(L.nframes > 10);
    int k = 3;
    size_t a = L.frame_off[k], b = L.frame_off[k + 1];
    memcpy(work, L.bytes, a);
    memcpy(work + a, L.bytes + b, L.len - b);
    readall(work, L.len - (b - a), &G);
    CHECK_EQ(G.nerr, 1);
    char want[120];
    snprintf(want, sizeof(want), "offset %zu, frame %d: sequence number %d, expected %d (missing or reordered frames)",
             a, k + 1, k + 1, k);
    CHECK_STR(G.err[0], want);
    int lost = 0;
    for (int i = 0; i < L.nrec; i++)
        lost += L.rec_frame[i] == k;
    CHECK_EQ(G.nrec, L.nrec - lost);
    CHECK(G.sum.ended);
    /* A second frame lost later is found by the reader's own check. */
    size_t c = L.frame_off[k + 4] - (b - a), d = L.frame_off[k + 5] - (b - a);
    size_t n = L.len - (b - a);
    memmove(work + c, work + d, n - d);
    readall(work, n - (d - c), &G);
    CHECK_EQ(G.nerr, 2);
    snprintf(want, sizeof(want), "offset %zu, frame %d: sequence number %d, expected %d", c, k + 5, k + 5, k + 4);
    CHECK(!strncmp(G.err[1], want, strlen(want)));
}

/* Two logs back to back: data after END, then the second log from its own
 * header, its values from zero (not flagged). */
TEST(concatenated_logs)
{
    build(&L, 30, 150, true, 7);
    build(&L2, 20, 150, true, 8);
    memcpy(work, L.bytes, L.len);
    memcpy(work + L.len, L2.bytes, L2.len);
    readall(work, L.len + L2.len, &G);
    CHECK_EQ(G.nerr, 1);
    CHECK(strstr(G.err[0], "data after the frame with the END record"));
    CHECK_EQ(G.err_off[0], L.len);
    CHECK_EQ(G.nheaders, 2);
    CHECK_EQ(G.nrec, L.nrec + L2.nrec);
    for (int i = 0; i < L2.nrec && L.nrec + i < G.nrec; i++) {
        CHECK(same(&L2.rec[i], &G.rec[L.nrec + i]));
        CHECK(!G.rec[L.nrec + i].after_gap);
    }
}

/* Records without a header, a corrupted record (valid CRC), garbage. */
TEST(other_malformed_logs)
{
    build(&L, 30, 150, true, 9);
    /* No header frame: the records still decode. */
    readall(L.bytes + L.frame_off[1], L.len - L.frame_off[1], &G);
    CHECK(G.nerr >= 1);
    CHECK(strstr(G.err[0], "does not begin with a header frame"));
    CHECK_EQ(G.nrec, L.nrec);
    CHECK(!G.sum.have_header);
    /* An unknown record type with a CRC that fits: ft/log.c's message, at
     * its frame's offset, the record counted in its frame. */
    memcpy(work, L.bytes, L.len);
    size_t f = L.frame_off[2];
    work[f + 16] = 0x7f;
    uint32_t body = work[f + 12] | work[f + 13] << 8;
    uint32_t crc = crc32c(0, work + f, 16 + body);
    memcpy(work + f + 16 + body, &crc, 4);
    readall(work, L.len, &G);
    CHECK_EQ(G.nerr, 1);
    char want[100];
    snprintf(want, sizeof(want), "offset %zu, frame 2, body offset 0, record 0: unknown record type 127", f);
    CHECK_STR(G.err[0], want);
    /* Empty input, garbage only. */
    readall(work, 0, &G);
    CHECK_EQ(G.nerr, 1);
    CHECK_STR(G.err[0], "offset 0: the log is empty (no header frame)");
    memset(work, 'F', 1000);
    readall(work, 1000, &G);
    CHECK(G.nerr >= 1);
    CHECK_EQ(G.nrec, 0);
}

/* ---- stats and diff ---------------------------------------------------------------------- */

TEST(stats_counts_and_rates)
{
    build(&L, 120, 300, true, 10);
    char *out = NULL;
    size_t olen;
    FILE *f = open_memstream(&out, &olen);
    int rc = ftlog_cmd_stats(L.bytes, L.len, 0, f);
    fclose(f);
    CHECK_EQ(rc, 0);
    readall(L.bytes, L.len, &G);
    uint64_t n[LOG_REC_LAST + 1] = { 0 }, by[LOG_REC_LAST + 1] = { 0 }, total = 0, vmax = 0;
    for (int i = 0; i < G.nrec; i++) {
        n[G.rec[i].r.type]++;
        by[G.rec[i].r.type] += G.rec[i].size;
        total += G.rec[i].size;
        vmax = G.rec[i].r.vtime_ns > vmax ? G.rec[i].r.vtime_ns : vmax;
    }
    for (int t = 1; t <= LOG_REC_LAST; t++) {
        char line[100];
        snprintf(line, sizeof(line), "  %-9s %10llu %12llu ", log_record_name((uint8_t)t), (unsigned long long)n[t],
                 (unsigned long long)by[t]);
        if (!strstr(out, line))
            TEST_FAIL("no line '%s' in:\n%s", line, out);
    }
    char line[100];
    snprintf(line, sizeof(line), "  total     %10d %12llu\n", G.nrec, (unsigned long long)total);
    CHECK(strstr(out, line));
    snprintf(line, sizeof(line), "frames: %d (%zu bytes;", L.nframes, L.len);
    CHECK(strstr(out, line));
    CHECK(strstr(out, "CRC failures: 0; errors: 0; bytes skipped: 0"));
    CHECK(strstr(out, "rate by virtual time (buckets of "));
    /* The buckets add up to the record bytes. */
    const char *p = strstr(out, "bytes/s\n");
    uint64_t sum = 0;
    while (p && (p = strchr(p, '\n')) && p[1] == ' ') {
        unsigned long long from_s, b;
        unsigned long long frac;
        if (sscanf(p + 1, " %llu.%llu %llu", &from_s, &frac, &b) == 3)
            sum += b;
        p++;
    }
    CHECK_EQ(sum, total);
    free(out);
    /* CRC failures counted. */
    memcpy(work, L.bytes, L.len);
    work[L.frame_off[3] + 20] ^= 1;
    work[L.frame_off[6] + 20] ^= 1;
    f = open_memstream(&out, &olen);
    rc = ftlog_cmd_stats(work, L.len, 1000000, f);
    fclose(f);
    CHECK_EQ(rc, 1);
    CHECK(strstr(out, "CRC failures: 2; errors: 2;"));
    free(out);
}

static char *run_diff(const uint8_t *a, size_t an, const uint8_t *b, size_t bn, int *rc)
{
    char *out = NULL;
    size_t olen;
    FILE *f = open_memstream(&out, &olen);
    *rc = ftlog_cmd_diff(a, an, "A", b, bn, "B", 2, f);
    fclose(f);
    return out;
}

TEST(diff_identical_and_first_divergence)
{
    build(&L, 50, 150, true, 11);
    int rc;
    char *s = run_diff(L.bytes, L.len, L.bytes, L.len, &rc);
    CHECK_EQ(rc, 0);
    CHECK_STR(s, "identical (51 records)\n");
    free(s);
    /* The same records in frames of another size are the same log. */
    build(&L2, 50, 4000, true, 11);
    CHECK(L2.nframes != L.nframes);
    s = run_diff(L.bytes, L.len, L2.bytes, L2.len, &rc);
    CHECK_EQ(rc, 0);
    CHECK_STR(s, "identical (51 records)\n");
    free(s);
    /* Another seed: the first record already differs. */
    build(&L2, 50, 150, true, 12);
    s = run_diff(L.bytes, L.len, L2.bytes, L2.len, &rc);
    CHECK_EQ(rc, 1);
    CHECK(strstr(s, "the headers differ (boot id):"));
    CHECK(strstr(s, "first difference at record #0: "));
    free(s);
    /* One record changed: record 20 is RANDOM (1 + 20 % 11 = 10? no: find it). */
    int k = -1;
    for (int i = 10; i < L.nrec && k < 0; i++)
        if (L.rec[i].type == LOG_REC_RANDOM)
            k = i;
    CHECK(k > 0);
    memcpy(work, L.bytes, L.len);
    /* the value is the last 8 bytes of the record: find them in its frame */
    readall(L.bytes, L.len, &G);
    size_t at = G.rec[k].frame_off + 16 + G.rec[k].r.body_off + G.rec[k].size - 1;
    work[at] ^= 0x40;
    size_t fo = G.rec[k].frame_off;
    uint32_t body = work[fo + 12] | work[fo + 13] << 8;
    uint32_t crc = crc32c(0, work + fo, 16 + body);
    memcpy(work + fo + 16 + body, &crc, 4);
    s = run_diff(L.bytes, L.len, work, L.len, &rc);
    CHECK_EQ(rc, 1);
    char want[200];
    snprintf(want, sizeof(want), "first difference at record #%d: value\n  before it (the same in both):\n    #%-7d", k,
             k - 2);
    if (!strstr(s, want))
        TEST_FAIL("no '%s' in:\n%s", want, s);
    CHECK(strstr(s, "  A (frame at offset ") && strstr(s, "  B (frame at offset "));
    free(s);
    /* One log is a prefix of the other (cut at a frame boundary). */
    s = run_diff(L.bytes, L.len, L.bytes, L.frame_off[4], &rc);
    CHECK_EQ(rc, 1);
    CHECK(strstr(s, "B ends after ") && strstr(s, "A goes on"));
    free(s);
    /* A malformed log: status 2, the error named. */
    memcpy(work, L.bytes, L.len);
    work[L.frame_off[2] + 18] ^= 4;
    s = run_diff(L.bytes, L.len, work, L.len, &rc);
    CHECK_EQ(rc, 2);
    CHECK(strstr(s, "B: error: offset "));
    CHECK(strstr(s, "malformed: B"));
    free(s);
}

/* ---- pcap ----------------------------------------------------------------------------------- */

struct pcap {
    uint8_t b[1 << 19];
    size_t n;
};

static void pcap_begin(struct pcap *p)
{
    static const uint8_t h[24] = { 0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                   0xff, 0xff, 0, 0, 1, 0, 0, 0 };
    memcpy(p->b, h, 24);
    p->n = 24;
}

static void be16w(uint8_t *q, uint16_t v) { q[0] = (uint8_t)(v >> 8), q[1] = (uint8_t)v; }
static void be32w(uint8_t *q, uint32_t v) { be16w(q, (uint16_t)(v >> 16)), be16w(q + 2, (uint16_t)v); }

/* One Ethernet/IPv4/TCP packet with data. */
static void pcap_tcp(struct pcap *p, uint32_t sip, uint16_t sp, uint32_t dip, uint16_t dp, uint32_t seq, uint8_t flags,
                     const uint8_t *d, size_t dn)
{
    uint8_t *r = p->b + p->n;
    uint32_t len = (uint32_t)(14 + 20 + 20 + dn);
    memset(r, 0, 16);
    memcpy(r + 8, &len, 4);
    memcpy(r + 12, &len, 4);
    uint8_t *e = r + 16;
    memset(e, 0, 54);
    e[12] = 8;
    uint8_t *ip = e + 14;
    ip[0] = 0x45;
    be16w(ip + 2, (uint16_t)(20 + 20 + dn));
    ip[8] = 64;
    ip[9] = 6;
    be32w(ip + 12, sip);
    be32w(ip + 16, dip);
    uint8_t *t = ip + 20;
    be16w(t, sp);
    be16w(t + 2, dp);
    be32w(t + 4, seq);
    t[12] = 5 << 4;
    t[13] = flags;
    if (dn)
        memcpy(t + 20, d, dn);
    p->n += 16 + len;
}

/* A direction's bytes as segments of seg bytes from isn+1, in order. */
static void pcap_stream(struct pcap *p, uint32_t sip, uint16_t sp, uint32_t dip, uint16_t dp, uint32_t isn,
                        const uint8_t *d, size_t n, size_t seg)
{
    for (size_t o = 0; o < n; o += seg)
        pcap_tcp(p, sip, sp, dip, dp, isn + 1 + (uint32_t)o, 0x18, d + o, n - o < seg ? n - o : seg);
}

static struct pcap P;
static uint8_t chan[2][1 << 18];

/* A channel session as net/channel.c and ft/pair.c make it: the HELLOs
 * under K0, then LOG messages (32-byte head with the log offset, then whole
 * log frames) under the session key; the backup sends ACKs. */
static size_t chan_session(const char *key, const struct slog *s, size_t *n1)
{
    uint8_t k0[32], ks[32], hello[2][44];
    hmac_sha256(key, strlen(key), "ftvisor channel v1", 18, k0);
    memset(hello, 0, sizeof(hello));
    for (int i = 0; i < 2; i++) {
        hello[i][0] = 1;
        hello[i][1] = (uint8_t)(1 - i);
        hello[i][4] = (uint8_t)(0x40 + i); /* boot id */
        memset(hello[i] + 12, 0x11 * (i + 1), 16);
        hello[i][28] = 1;
    }
    size_t n[2] = { 0, 0 };
    for (int i = 0; i < 2; i++)
        n[i] += frame_encode(chan[i] + n[i], sizeof(chan[i]) - n[i], 1, 0, 0, hello[i], 44, k0);
    struct hmac_sha256_ctx h;
    hmac_sha256_init(&h, k0, 32);
    hmac_sha256_update(&h, "session", 7);
    hmac_sha256_update(&h, hello[0] + 12, 16);
    hmac_sha256_update(&h, hello[1] + 12, 16);
    hmac_sha256_final(&h, ks);
    struct frame_key tx, rx;
    frame_key_init_session(&tx, ks, 1);
    frame_key_init_session(&rx, ks, 2);
    /* LOG messages of up to 3 log frames each. */
    static uint8_t msg[FRAME_MAX_PAYLOAD];
    uint64_t seq = 1;
    for (int f = 0; f < s->nframes; f += 3) {
        int g = f + 3 < s->nframes ? f + 3 : s->nframes;
        uint64_t off = s->frame_off[f], len = s->frame_off[g] - off;
        memset(msg, 0, 32);
        memcpy(msg, &off, 8);
        memcpy(msg + 32, s->bytes + off, len);
        n[0] += frame_encode_key(chan[0] + n[0], sizeof(chan[0]) - n[0], 19, 0, seq, msg, (uint32_t)(32 + len), &tx);
        /* and once again after a "reconnect" would be a duplicate: here
         * the same message re-sent in the same stream stands for it */
        if (f == 3)
            n[0] += frame_encode_key(chan[0] + n[0], sizeof(chan[0]) - n[0], 19, 0, seq, msg, (uint32_t)(32 + len),
                                     &tx);
        uint64_t a = seq++;
        n[1] += frame_encode_key(chan[1] + n[1], sizeof(chan[1]) - n[1], 2, 0, 0, &a, 8, &rx);
    }
    *n1 = n[1];
    return n[0];
}

static int extract(const char *key, uint8_t **log, size_t *len, char **notes)
{
    size_t nl;
    FILE *f = open_memstream(notes, &nl);
    struct ftlog_pcap_opts o = { .key = key, .notes = f };
    char err[200];
    int problems = 0;
    int rc = ftlog_pcap_extract(P.b, P.n, &o, log, len, &problems, err, sizeof(err));
    if (rc)
        fprintf(f, "error: %s\n", err);
    fclose(f);
    return rc ? -1 : problems;
}

TEST(pcap_channel_with_macs)
{
    build(&L, 200, 200, true, 13);
    CHECK(L.nframes > 12);
    size_t n1, n0 = chan_session("pair-key", &L, &n1);
    uint32_t a = 0x0a000001, b = 0x0a000002;
    pcap_begin(&P);
    pcap_tcp(&P, a, 40000, b, 7700, 1000, 0x02, NULL, 0);
    pcap_tcp(&P, b, 7700, a, 40000, 5000, 0x12, NULL, 0);
    /* Out of order, with one segment retransmitted and one overlapping. */
    size_t half = n0 / 2;
    pcap_stream(&P, a, 40000, b, 7700, 1000 + (uint32_t)half, chan[0] + half, n0 - half, 700);
    pcap_stream(&P, a, 40000, b, 7700, 1000, chan[0], half, 500);
    pcap_tcp(&P, a, 40000, b, 7700, 1001 + 300, 0x18, chan[0] + 300, 900);
    pcap_stream(&P, b, 7700, a, 40000, 5000, chan[1], n1, 1000);
    uint8_t *log;
    size_t len;
    char *notes;
    CHECK_EQ(extract("pair-key", &log, &len, &notes), 0);
    CHECK_EQ(len, L.len);
    CHECK(log && !memcmp(log, L.bytes, L.len));
    CHECK(strstr(notes, "MAC verified for all"));
    free(log);
    free(notes);
    /* Without the key: the same log, and it says the MACs were not verified. */
    CHECK_EQ(extract(NULL, &log, &len, &notes), 0);
    CHECK(len == L.len && !memcmp(log, L.bytes, L.len));
    CHECK(strstr(notes, "MACs not verified"));
    free(log);
    free(notes);
    /* The wrong key: nothing passes. */
    CHECK_EQ(extract("other-key", &log, &len, &notes), -1);
    CHECK(strstr(notes, "no HELLO that passes its MAC"));
    free(notes);
    /* A forged LOG message (CRC right, MAC wrong) is left out: the log has
     * a hole that the reader reports. */
    size_t pos = 0;
    int k = 0;
    while (pos < n0) { /* the 3rd frame of the connector's stream */
        uint32_t pl;
        memcpy(&pl, chan[0] + pos + 8, 4);
        if (k == 4) { /* HELLO, LOG, LOG, the same LOG again, this LOG */
            chan[0][pos + 24 + 40] ^= 1;
            uint32_t c = crc32c(0, chan[0] + pos, 24 + pl + 16);
            memcpy(chan[0] + pos + 24 + pl + 16, &c, 4);
            break;
        }
        pos += 44 + pl;
        k++;
    }
    pcap_begin(&P);
    pcap_tcp(&P, a, 40000, b, 7700, 1000, 0x02, NULL, 0);
    pcap_stream(&P, a, 40000, b, 7700, 1000, chan[0], n0, 1400);
    pcap_stream(&P, b, 7700, a, 40000, 5000, chan[1], n1, 1400);
    int problems = extract("pair-key", &log, &len, &notes);
    if (problems != 2) /* the MAC, the hole */
        TEST_FAIL("%d problems: %s", problems, notes);
    CHECK(strstr(notes, "1 frames fail their MAC (left out)"));
    CHECK(strstr(notes, "are missing"));
    CHECK(len < L.len);
    readall(log, len, &G);
    CHECK(G.nerr >= 1);
    free(log);
    free(notes);
}

TEST(pcap_sink_put_and_every_truncation)
{
    build(&L, 20, 200, true, 14);
    static uint8_t req[16 + (1 << 17)];
    memcpy(req, "FTLS\x01\x01\x05\x00lapic", 13);
    memcpy(req + 13, L.bytes, L.len);
    pcap_begin(&P);
    pcap_tcp(&P, 0x0a000001, 50000, 0x0a0000fe, 7420, 77, 0x02, NULL, 0);
    pcap_stream(&P, 0x0a000001, 50000, 0x0a0000fe, 7420, 77, req, 13 + L.len, 1460);
    uint8_t *log;
    size_t len;
    char *notes;
    CHECK_EQ(extract(NULL, &log, &len, &notes), 0);
    CHECK(strstr(notes, "sink PUT \"lapic\""));
    CHECK(len == L.len && !memcmp(log, L.bytes, L.len));
    free(log);
    free(notes);
    /* Every cut of the capture: no crash, and a log is either whole or
     * shorter, never wrong. */
    size_t full = P.n;
    for (size_t cut = 0; cut < full; cut += 7) {
        P.n = cut;
        log = NULL;
        int r = extract(NULL, &log, &len, &notes);
        if (r >= 0 && (len > L.len || memcmp(log, L.bytes, len)))
            TEST_FAIL("cut %zu: a wrong log", cut);
        free(log);
        free(notes);
    }
}

int main(void) { return test_main(); }
