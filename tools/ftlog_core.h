/* tools/ftlog's decoding core, apart from its command line so that the
 * unit tests (tests/unit/test_ftlog.c) and the fuzzer drive the same code.
 *
 * A reader walks a whole log held in memory (a file as tools/ftlog-sink
 * stores it, or the byte stream taken out of a pcap) and yields events in
 * stream order: the header, each frame, each record with its encoded size,
 * and each error with the file offset where it is. Records are decoded by
 * ft/log.c's decoder, so ftlog accepts exactly what ftvisor accepts.
 *
 * Unlike that decoder, which stops for good at the first error (a replayer
 * must), the reader resynchronises: bytes that do not form a frame with a
 * good CRC are skipped up to the next one that does, and decoding resumes
 * there with a fresh decoder. Records after such a gap carry values rebased
 * on the last ones before it (the deltas of what was lost are missing, so
 * exit ordinals, times and instruction counts there are lower bounds) and
 * are flagged after_gap. */
#ifndef TOOLS_FTLOG_CORE_H
#define TOOLS_FTLOG_CORE_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include "../ft/log.h"

#define FTLOG_MSG_MAX 320
#define FTLOG_PREVIEW 16            /* data bytes kept per record for display */

enum ftlog_ev_kind {
    FTLOG_EV_NONE = 0,              /* the end of the input: nothing more */
    FTLOG_EV_HEADER,                /* the header frame: ev.header */
    FTLOG_EV_FRAME,                 /* a frame that passed its CRC (before its records) */
    FTLOG_EV_RECORD,                /* a record: ev.rec */
    FTLOG_EV_ERROR,                 /* ev.msg says what and where (ev.offset) */
};

/* Error classes, for statistics. */
enum ftlog_err_kind {
    FTLOG_ERR_CRC = 1,              /* a frame's CRC32C does not match */
    FTLOG_ERR_FRAMING,              /* bad magic, version, reserved, length: bytes skipped */
    FTLOG_ERR_TRUNCATED,            /* the input ends inside a frame */
    FTLOG_ERR_DECODE,               /* a frame with a good CRC that ft/log.c refused */
    FTLOG_ERR_EMPTY,                /* no frame at all */
};

struct ftlog_rec {
    struct log_record r;            /* absolute values; r.data is NULL (see below) */
    uint64_t n;                     /* record number in the log, from 0 */
    uint64_t frame_off;             /* file offset of its frame */
    uint32_t size;                  /* encoded bytes (type byte included) */
    uint32_t data_crc;              /* CRC32C of DMA/INPUT/DEVDATA data */
    uint8_t preview[FTLOG_PREVIEW]; /* its first bytes (min(len, 16)) */
    bool after_gap;                 /* values rebased after lost bytes */
};

struct ftlog_frame {
    uint64_t offset;                /* in the file */
    uint32_t size;                  /* bytes, with its 20 bytes of header and CRC */
    uint32_t seq;                   /* as stored */
    uint8_t type;                   /* as stored */
};

struct ftlog_event {
    enum ftlog_ev_kind kind;
    struct log_header header;
    struct ftlog_frame frame;
    struct ftlog_rec rec;
    int err_kind;                   /* FTLOG_ERR_* */
    uint64_t offset;                /* the error's file offset */
    char msg[FTLOG_MSG_MAX];
};

struct ftlog_reader;

/* A reader over buf[0..len) (the caller keeps buf alive). NULL when out of
 * memory. */
struct ftlog_reader *ftlog_reader_new(const uint8_t *buf, size_t len);
void ftlog_reader_free(struct ftlog_reader *rd);
/* The next event; FTLOG_EV_NONE once everything has been read. */
enum ftlog_ev_kind ftlog_next(struct ftlog_reader *rd, struct ftlog_event *ev);

/* What a reader found, complete once ftlog_next() returned FTLOG_EV_NONE. */
struct ftlog_summary {
    bool have_header, ended;        /* a valid header; an END record */
    uint8_t end_reason;
    uint64_t records, frames, frame_bytes;
    uint64_t errors, crc_errors, skipped_bytes;
};
const struct ftlog_summary *ftlog_reader_summary(const struct ftlog_reader *rd);

/* ---- words ---------------------------------------------------------------- */

/* One record as a line of words (no newline): "#12 exit 340 TIME t=..." */
void ftlog_format_record(const struct ftlog_rec *x, char *out, size_t cap);
/* The header in words. */
void ftlog_format_header(const struct log_header *h, char *out, size_t cap);
/* Virtual time in seconds with nine decimals. */
void ftlog_format_ns(uint64_t ns, char *out, size_t cap);

/* Whether two records say the same thing (where they are in their files
 * does not count); if not, *field names the first field that differs. */
bool ftlog_rec_equal(const struct ftlog_rec *a, const struct ftlog_rec *b, const char **field);
/* The same for two headers. */
bool ftlog_header_equal(const struct log_header *a, const struct log_header *b, const char **field);

/* ---- the commands, on logs in memory -------------------------------------- */

/* Each prints to out and returns the exit status: 0 fine (diff: identical),
 * 1 a malformed log (diff: the logs differ), 2 diff: a malformed log. */
/* dump: records from..from+count-1 (count 0: to the end); frames: a line
 * for each frame too. */
int ftlog_cmd_dump(const uint8_t *buf, size_t len, uint64_t from, uint64_t count, bool frames, FILE *out);
/* bucket_ns 0: chosen from the log's span (about 20 buckets). */
int ftlog_cmd_stats(const uint8_t *buf, size_t len, uint64_t bucket_ns, FILE *out);
int ftlog_cmd_diff(const uint8_t *a, size_t alen, const char *aname, const uint8_t *b, size_t blen,
                   const char *bname, int context, FILE *out);

/* ---- pcap input (tools/ftlog_pcap.c) --------------------------------------- */

/* Whether buf starts like a pcap file (either byte order, us or ns). */
bool ftlog_is_pcap(const uint8_t *buf, size_t len);

struct ftlog_pcap_opts {
    const char *key;                /* the pair key (a string), NULL: MACs not verified */
    int port;                       /* 0: the channel's 7700 and any sink PUT; else only this port */
    int which;                      /* which log found in the capture, from 0 */
    FILE *notes;                    /* where to say what was found (NULL: nowhere) */
};

/* Extracts a log's byte stream from a pcap of the logging channel (FTVF
 * frames, LOG messages) or of a PUT to tools/ftlog-sink. Returns 0 with
 * *log (malloc'd, the caller frees) and *loglen, or -1 with err set. Notes
 * (streams, frames, MAC results, gaps) go to o->notes; *problems counts
 * what was wrong in the capture (bad CRCs or MACs, missing bytes). */
int ftlog_pcap_extract(const uint8_t *buf, size_t len, const struct ftlog_pcap_opts *o, uint8_t **log,
                       size_t *loglen, int *problems, char *err, size_t errcap);

#endif
