/* libFuzzer target for tools/ftlog's core (tools/ftlog_core.c and
 * tools/ftlog_pcap.c).
 *
 * Every input is used as:
 * (a) a log: the reader must end, its counts must match its events, and it
 *     must agree with ft/log.c's decoder: a log the decoder takes whole
 *     (LOG_EOF) reads without an error and with the same records, and a
 *     log the reader finds no error in is one the decoder takes whole;
 *     dump, stats and diff (against itself: identical, or malformed) run
 *     over it;
 * (a') the same with the CRC of every frame that fits (an "FTLG" or
 *     "FTVF" with a length that fits) made right, so that the reader's
 *     resynchronisation and the decoder see frames, not only CRC failures;
 * (b) a pcap (the first byte picks the link of a pcap header put before
 *     the rest): the extraction must not crash, and a log it gives is
 *     read as in (a).
 *
 *   clang ... tests/fuzz/fuzz_ftlog.c tools/ftlog_core.c tools/ftlog_pcap.c ft/log.c net/frame.c ...
 *   build/tests/fuzz/fuzz_ftlog -runs=200000 -seed=1 */
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../tools/ftlog_core.h"
#include "../../ft/log.h"
#include "../../kernel/crc32c.h"

#define REQUIRE(c)                                                                        \
    do {                                                                                  \
        if (!(c)) {                                                                       \
            fprintf(stderr, "fuzz_ftlog.c:%d: requirement failed: %s\n", __LINE__, #c);   \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

static struct log_decoder dec;
static FILE *null_out;

/* ft/log.c's verdict on the whole input: records, or -1 if it refuses it. */
static int64_t decoder_records(const uint8_t *p, size_t n)
{
    struct log_record r;
    size_t c, done = 0;
    log_decoder_init(&dec);
    for (;;) {
        int k = log_decoder_feed(&dec, p + done, n - done, &c, &r);
        done += c;
        if (k == LOG_OK || k == LOG_GOT_HEADER)
            continue;
        if (k != LOG_NEED_MORE)
            return -1;
        break;
    }
    return log_decoder_finish(&dec) == LOG_EOF ? (int64_t)dec.records : -1;
}

static void read_log(const uint8_t *p, size_t n)
{
    struct ftlog_reader *rd = ftlog_reader_new(p, n);
    REQUIRE(rd);
    struct ftlog_event ev;
    uint64_t recs = 0, frames = 0, errs = 0, events = 0;
    while (ftlog_next(rd, &ev) != FTLOG_EV_NONE) {
        /* Each event consumes input or is one of a frame's few. */
        REQUIRE(++events <= 4 * n + 8);
        if (ev.kind == FTLOG_EV_RECORD) {
            REQUIRE(ev.rec.n == recs);
            REQUIRE(ev.rec.size >= 2 && ev.rec.size <= LOG_MAX_BODY);
            recs++;
        }
        frames += ev.kind == FTLOG_EV_FRAME;
        if (ev.kind == FTLOG_EV_ERROR) {
            errs++;
            REQUIRE(ev.msg[0] && ev.offset <= n);
        }
        if (ev.kind == FTLOG_EV_FRAME)
            REQUIRE(ev.frame.offset + ev.frame.size <= n);
    }
    const struct ftlog_summary *s = ftlog_reader_summary(rd);
    REQUIRE(s->records == recs && s->frames == frames && s->errors == errs);
    REQUIRE(s->frame_bytes + s->skipped_bytes <= n);
    int64_t d = decoder_records(p, n);
    if (d >= 0)
        REQUIRE(errs == 0 && (int64_t)recs == d);
    if (errs == 0)
        REQUIRE(d >= 0);
    ftlog_reader_free(rd);

    REQUIRE(ftlog_cmd_dump(p, n, 0, 0, true, null_out) == (errs ? 1 : 0));
    REQUIRE(ftlog_cmd_stats(p, n, 0, null_out) == (errs ? 1 : 0));
    REQUIRE(ftlog_cmd_diff(p, n, "a", p, n, "b", 3, null_out) == (errs ? 2 : 0));
}

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

/* (a'): frames' CRCs set right, from the last frame to the first so that
 * an outer frame's CRC covers its inner frames' fixed CRCs. */
static void fix_crcs(uint8_t *p, size_t n)
{
    for (size_t i = n; i-- > 0;) {
        if (n - i >= 20 && !memcmp(p + i, "FTLG", 4) && le32(p + i + 12) <= n - i - 20) {
            size_t body = le32(p + i + 12);
            uint32_t c = crc32c(0, p + i, 16 + body);
            memcpy(p + i + 16 + body, &c, 4);
        } else if (n - i >= 44 && !memcmp(p + i, "FTVF", 4) && le32(p + i + 8) <= n - i - 44) {
            size_t pl = le32(p + i + 8);
            uint32_t c = crc32c(0, p + i, 40 + pl);
            memcpy(p + i + 40 + pl, &c, 4);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!null_out)
        null_out = fopen("/dev/null", "w");
    read_log(data, size);

    static uint8_t fixed[1 << 20];
    if (size > sizeof(fixed))
        return 0;
    memcpy(fixed, data, size);
    fix_crcs(fixed, size);
    read_log(fixed, size);
    data = fixed; /* the pcap below with right CRCs too */

    if (size < 1)
        return 0;
    static uint8_t pcap[1 << 20];
    if (size + 24 > sizeof(pcap))
        return 0;
    static const uint8_t h[24] = { 0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                   0xff, 0xff, 0, 0, 1, 0, 0, 0 };
    memcpy(pcap, h, 24);
    pcap[20] = data[0] & 1 ? 1 : 0; /* sometimes not Ethernet */
    memcpy(pcap + 24, data + 1, size - 1);
    struct ftlog_pcap_opts o = { .key = data[0] & 2 ? "k" : NULL, .port = data[0] & 4 ? 7700 : 0 };
    uint8_t *log = NULL;
    size_t len = 0;
    int problems;
    char err[200];
    if (ftlog_pcap_extract(pcap, size + 23, &o, &log, &len, &problems, err, sizeof(err)) == 0) {
        REQUIRE(log || !len);
        read_log(log, len);
    } else {
        REQUIRE(err[0] && !log);
    }
    free(log);
    return 0;
}
