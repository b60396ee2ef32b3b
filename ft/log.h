/* The FT event log: the byte format of the record of every nondeterministic
 * input a primary's guest sees, which a backup replays. Encoder and
 * streaming decoder; the format is specified byte by byte in
 * docs/log-format.md:
 *
 *   frame:  0 "FTLG" | 4 version=1 | 5 type (1 header, 2 records) | 6 reserved=0 (le16)
 *           8 sequence (le32: 0, 1, 2, ...) | 12 body length N (le32, <= 65536)
 *          16 body (N bytes) | 16+N CRC32C(bytes 0 .. 16+N-1) (le32)
 *   header body: 148 bytes, fixed layout (struct log_header)
 *   records body: records back to back; each a type byte, then LEB128
 *           varints (mostly deltas) and raw fields; never across frames.
 *
 * Pure code: no allocation, no mutable globals, no floating point. The
 * caller owns every buffer: the encoder writes frames in place into the
 * caller's buffer, the decoder holds one maximum-size frame (about 64 KiB:
 * keep it in a static, not on a kernel stack). */
#ifndef FT_LOG_H
#define FT_LOG_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "../kernel/sha256.h"

#define LOG_MAGIC "FTLG"
#define LOG_VERSION 1               /* frame version byte */
#define LOG_FORMAT_VERSION 1        /* header body's format version */
#define LOG_FRAME_HEADER 16         /* magic .. body length */
#define LOG_FRAME_TRAILER 4         /* CRC32C */
#define LOG_FRAME_OVERHEAD (LOG_FRAME_HEADER + LOG_FRAME_TRAILER)
#define LOG_MAX_BODY 65536u
#define LOG_MAX_FRAME (LOG_FRAME_HEADER + LOG_MAX_BODY + LOG_FRAME_TRAILER)
#define LOG_HEADER_BODY 148         /* the header frame's body, exactly */
/* The most data one DMA or INPUT record carries: what is left of a maximum
 * body after the largest DMA prefix (type 1, d_exit 10, gpa 10, length 3). */
#define LOG_MAX_DATA (LOG_MAX_BODY - 24u)
#define LOG_VARINT_MAX 10           /* bytes of the longest varint */
#define LOG_CPU_MODEL_LEN 16
#define LOG_HOST_LEN 32
#define LOG_DIGEST_LEN 32           /* header digests: SHA-256 */
#define LOG_STATE_DIGEST_LEN 16     /* STATE: SHA-256 truncated */
#define LOG_MSG_MAX 200             /* log_decoder_error() incl. the NUL */

/* Frame types. */
enum { LOG_FRAME_HDR = 1, LOG_FRAME_RECORDS = 2 };

/* Landmark backends (header): how asynchronous event points are found. */
enum {
    LOG_BACKEND_EXIT_SYNC = 0,      /* only at synchronous exits */
    LOG_BACKEND_EMULATOR = 1,       /* Bochs instruction counting */
    LOG_BACKEND_PMU = 2,            /* performance counters */
};

/* Record types. */
enum {
    LOG_REC_TIME = 1,
    LOG_REC_ASYNC = 2,
    LOG_REC_OUTPUT = 3,
    LOG_REC_STATE = 4,
    LOG_REC_DMA = 5,
    LOG_REC_INPUT = 6,
    LOG_REC_RANDOM = 7,
    LOG_REC_END = 8,
    LOG_REC_DEVDATA = 9,
    LOG_REC_DEVDONE = 10,
    LOG_REC_DEVCHECK = 11,
    LOG_REC_LAST = LOG_REC_DEVCHECK,
};

/* DEVDATA / DEVDONE devices. */
enum { LOG_DEV_BLK = 1, LOG_DEV_NET = 2, LOG_DEV_LAST = LOG_DEV_NET };
#define LOG_DEV_TAG_MAX 0xffffu        /* a device's request tag */
#define LOG_DEV_OFFSET_MAX 0xffffffu   /* DEVDATA: offset in the completion's data */

/* OUTPUT streams. */
enum { LOG_STREAM_CONSOLE = 0, LOG_STREAM_NETWORK = 1, LOG_STREAM_DISK = 2, LOG_STREAMS = 3 };

/* END reasons (any byte is valid; these are the ones the recorder uses). */
enum { LOG_END_POWEROFF = 0, LOG_END_STOPPED = 1, LOG_END_FAILED = 2 };

/* Results. Non-negative: progress; negative: errors. */
enum {
    LOG_OK = 0,                 /* feed: *out holds a record; encoder: done */
    LOG_NEED_MORE = 1,          /* feed: all input consumed, nothing to deliver */
    LOG_GOT_HEADER = 2,         /* feed: the header frame is in d->header */
    LOG_EOF = 3,                /* finish: the stream ended at a frame boundary */

    /* frames (decoder) */
    LOG_ERR_MAGIC = -1,         /* not "FTLG" */
    LOG_ERR_VERSION = -2,       /* version byte is not LOG_VERSION */
    LOG_ERR_RESERVED = -3,      /* reserved field not zero */
    LOG_ERR_LENGTH = -4,        /* body length over LOG_MAX_BODY */
    LOG_ERR_CRC = -5,           /* CRC32C mismatch */
    LOG_ERR_FRAME_TYPE = -6,    /* frame type neither header nor records */
    LOG_ERR_NO_HEADER = -7,     /* the first frame is not the header */
    LOG_ERR_DUP_HEADER = -8,    /* a second header frame */
    LOG_ERR_SEQ = -9,           /* sequence number not the expected one */
    LOG_ERR_HEADER = -10,       /* the header body is invalid */
    LOG_ERR_TRUNCATED = -11,    /* finish: the stream ended inside a frame */
    LOG_ERR_AFTER_END = -12,    /* anything after the END record */
    /* records (decoder) */
    LOG_ERR_REC_TYPE = -13,     /* unknown record type */
    LOG_ERR_REC_TRUNCATED = -14, /* the record runs past the body's end */
    LOG_ERR_VARINT_LONG = -15,  /* varint of more than 10 bytes */
    LOG_ERR_VARINT_OVERFLOW = -16, /* varint value over 64 bits */
    LOG_ERR_VARINT_NONMINIMAL = -17, /* varint with a redundant zero last byte */
    LOG_ERR_WRAP = -18,         /* exit ordinal, icount, time, output count or gpa range wraps */
    LOG_ERR_DATA_LENGTH = -19,  /* DMA/INPUT length over the body's rest or LOG_MAX_DATA */
    LOG_ERR_FIELD = -20,        /* a field out of range (OUTPUT stream id) */
    /* encoder */
    LOG_ERR_FULL = -21,         /* the record does not fit the frame: end it, begin another */
    LOG_ERR_TOO_BIG = -22,      /* the record does not fit even an empty frame of this buffer */
    LOG_ERR_ARG = -23,          /* invalid argument (backwards ordinal/time/icount, range, ...) */
    LOG_ERR_STATE = -24,        /* call out of order (no header yet, no frame open, after END) */
};

/* The header frame's content. The encoder always writes LOG_FORMAT_VERSION
 * (format_version is ignored); the decoder accepts nothing else. Names are
 * printable ASCII (0x20..0x7e), NUL-terminated here, NUL-padded in the log. */
struct log_header {
    uint16_t format_version;
    uint8_t backend;                /* LOG_BACKEND_* */
    uint8_t flags;                  /* no flag defined yet: must be 0 */
    uint64_t tsc_hz;                /* virtual TSC frequency, non-zero */
    uint64_t epoch_s;               /* guest wall clock at virtual time 0 */
    uint64_t mem_bytes;             /* guest memory, non-zero */
    char cpu_model[LOG_CPU_MODEL_LEN + 1];
    uint8_t config_digest[LOG_DIGEST_LEN];
    uint8_t init_digest[LOG_DIGEST_LEN];
    char host[LOG_HOST_LEN + 1];
    uint64_t boot_id;
};

/* One record with ABSOLUTE values. Which fields mean something depends on
 * type; the decoder also sets, in every record, exit (its exit ordinal),
 * vtime_ns (the latest logged virtual time, this record's own for TIME and
 * ASYNC) and icount (the latest landmark, this record's own for ASYNC and
 * STATE). The encoder reads only the type's own fields. */
struct log_record {
    uint8_t type;                   /* LOG_REC_* */
    uint64_t exit;                  /* all: synchronous exits since guest start */
    uint64_t vtime_ns;              /* TIME, ASYNC */
    uint64_t icount;                /* ASYNC, STATE: guest instructions since start */
    uint64_t rip, rcx;              /* ASYNC */
    uint32_t regs_crc;              /* ASYNC: log_regs_crc() */
    uint8_t stream;                 /* OUTPUT: LOG_STREAM_* */
    uint64_t bytes;                 /* OUTPUT: bytes since the stream's previous OUTPUT; DEVCHECK: bytes read */
    uint64_t total;                 /* OUTPUT, decoder only: the stream's bytes so far */
    uint32_t crc;                   /* OUTPUT, DEVCHECK: CRC32C of those bytes */
    uint8_t digest[LOG_STATE_DIGEST_LEN]; /* STATE */
    uint64_t gpa;                   /* DMA */
    uint32_t len;                   /* DMA, INPUT, DEVDATA: <= LOG_MAX_DATA */
    const uint8_t *data;            /* DMA, INPUT, DEVDATA (decoder: points into the decoder) */
    uint64_t value;                 /* RANDOM */
    uint8_t reason;                 /* END: LOG_END_* */
    uint8_t device;                 /* DEVDATA, DEVDONE, DEVCHECK: LOG_DEV_* */
    uint32_t tag;                   /* DEVDATA, DEVDONE, DEVCHECK: <= LOG_DEV_TAG_MAX */
    uint32_t offset;                /* DEVDATA: <= LOG_DEV_OFFSET_MAX */
    uint32_t status;                /* DEVDONE */
    /* Decoder only: where the record was. */
    uint32_t frame_seq;
    uint32_t body_off;
    uint32_t index;                 /* in its frame, from 0 */
};

/* ---- varints (unsigned LEB128) ------------------------------------------ */

/* Writes v to p (LOG_VARINT_MAX bytes of room); returns the bytes written. */
size_t log_varint_put(uint8_t *p, uint64_t v);
/* Bytes log_varint_put() writes for v. */
size_t log_varint_len(uint64_t v);
/* Reads a varint from p[0..n): the bytes it took (1..10), or
 * LOG_ERR_REC_TRUNCATED (n ends inside it), LOG_ERR_VARINT_LONG (no last
 * byte among the first 10), LOG_ERR_VARINT_OVERFLOW (value over 64 bits) or
 * LOG_ERR_VARINT_NONMINIMAL (a last byte 0x00 after others: the value has
 * a shorter encoding). *v is set only on success. */
int log_varint_get(const uint8_t *p, size_t n, uint64_t *v);

/* ---- encoder ------------------------------------------------------------- */

struct log_encoder {
    /* Public, read-only. */
    uint32_t seq;                   /* sequence number of the next frame */
    uint64_t frames, records;       /* frames ended, records put */
    bool ended;                     /* END was put */

    /* Private. */
    uint64_t exit, vtime, icount, out_total[LOG_STREAMS];
    uint8_t *buf;                   /* the open frame */
    size_t limit, len;              /* its body limit and body so far */
    bool crc_hw, header_done, open;
};

/* A new log (asks the CPU once whether it has the CRC32 instruction). */
void log_encoder_init(struct log_encoder *e);

/* Writes the header frame (sequence 0) into out: the first thing in a log.
 * *size gets its size, LOG_FRAME_OVERHEAD + LOG_HEADER_BODY. Returns
 * LOG_OK, LOG_ERR_ARG (an invalid header: nothing written), LOG_ERR_TOO_BIG
 * (cap too small) or LOG_ERR_STATE (a header was written already). */
int log_encode_header(struct log_encoder *e, const struct log_header *h, uint8_t *out, size_t cap,
                      size_t *size);

/* Begins a records frame in buf[0..cap): records are written in place,
 * the body holds min(cap - LOG_FRAME_OVERHEAD, LOG_MAX_BODY) bytes. buf
 * must stay until log_frame_end(). LOG_ERR_STATE without a header, with a
 * frame open or after END; LOG_ERR_TOO_BIG if cap < LOG_FRAME_OVERHEAD. */
int log_frame_begin(struct log_encoder *e, uint8_t *buf, size_t cap);
/* Body bytes in the open frame (0 if none is open). */
size_t log_frame_body(const struct log_encoder *e);
/* The exit ordinal of the last record put (0 before any): what a decoder
 * reports as its exit after decoding up to that record. */
uint64_t log_encoder_exit(const struct log_encoder *e);
/* Completes the open frame (header and CRC) and sets *size to its length
 * in bytes; the next frame gets the next sequence number. An empty frame
 * is valid. LOG_ERR_STATE if no frame is open. */
int log_frame_end(struct log_encoder *e, size_t *size);

/* Appends a record to the open frame. Returns
 *   LOG_OK           written; the encoder's state moved on;
 *   LOG_ERR_FULL     it does not fit: nothing written, state unchanged
 *                    (end the frame, begin the next one and put it again);
 *   LOG_ERR_TOO_BIG  it does not fit even into an empty frame of this buffer;
 *   LOG_ERR_ARG      exit ordinal, virtual time or icount smaller than the
 *                    previous record's, an unknown type or stream, a length
 *                    over LOG_MAX_DATA, a DMA range past 2^64, a DEVDATA/DEVDONE device,
 *                    tag or offset out of range, an output
 *                    count that makes the stream's total wrap;
 *   LOG_ERR_STATE    no frame open, or END was put already. */
int log_put(struct log_encoder *e, const struct log_record *r);
int log_put_time(struct log_encoder *e, uint64_t exit, uint64_t vtime_ns);
int log_put_async(struct log_encoder *e, uint64_t exit, uint64_t icount, uint64_t rip, uint64_t rcx,
                  uint32_t regs_crc, uint64_t vtime_ns);
int log_put_output(struct log_encoder *e, uint8_t stream, uint64_t exit, uint64_t bytes, uint32_t crc);
int log_put_state(struct log_encoder *e, uint64_t exit, uint64_t icount,
                  const uint8_t digest[LOG_STATE_DIGEST_LEN]);
int log_put_dma(struct log_encoder *e, uint64_t exit, uint64_t gpa, const void *data, uint32_t len);
int log_put_input(struct log_encoder *e, uint64_t exit, const void *data, uint32_t len);
int log_put_random(struct log_encoder *e, uint64_t exit, uint64_t value);
/* DEVDATA: len bytes of the data of device request tag, at offset in it;
 * DEVDONE: that request completes here with status. */
int log_put_devdata(struct log_encoder *e, uint64_t exit, uint8_t device, uint32_t tag, uint32_t offset,
                    const void *data, uint32_t len);
int log_put_devdone(struct log_encoder *e, uint64_t exit, uint8_t device, uint32_t tag, uint32_t status);
/* DEVCHECK: request tag read bytes whose CRC32C is crc; the data itself is
 * not in the log (a replayer reads it from a disk it shares). */
int log_put_devcheck(struct log_encoder *e, uint64_t exit, uint8_t device, uint32_t tag, uint64_t bytes,
                     uint32_t crc);
int log_put_end(struct log_encoder *e, uint64_t exit, uint8_t reason);

/* ---- decoder ------------------------------------------------------------- */

struct log_decoder {
    /* Public, read-only. */
    struct log_header header;       /* valid once LOG_GOT_HEADER was returned */
    bool have_header;
    bool ended;                     /* the END record was delivered */
    uint64_t frames;                /* frames verified */
    uint64_t records;               /* records delivered */
    uint64_t consumed;              /* stream bytes taken */
    /* State after the last record delivered. */
    uint64_t exit, vtime_ns, icount, out_total[LOG_STREAMS];
    /* The first error (sticky: every later call returns it again). frame
     * is the position of the frame in the log (its expected sequence
     * number); body_off is -1 for frame-level errors, record -1 for errors
     * outside records. */
    int err;
    uint32_t err_frame;
    uint64_t err_stream_off;        /* where the frame starts in the stream */
    int64_t err_body_off;
    int64_t err_record;
    char msg[LOG_MSG_MAX];

    /* Private. buf[0..have) is the frame being collected, seq its expected
     * sequence number, frame_off where it starts in the stream; once it is
     * complete and verified (parsing), records are taken from body offset
     * pos. The buffer stays last (init does not clear it). */
    bool crc_hw, parsing;
    uint32_t seq, body_len, pos, rec_index;
    uint64_t frame_off;
    size_t have;
    uint8_t buf[LOG_MAX_FRAME];
};

/* A decoder for a new log. */
void log_decoder_init(struct log_decoder *d);
/* The same for another log, keeping the CRC implementation found by init. */
void log_decoder_reset(struct log_decoder *d);

/* Consumes bytes of the log in chunks of any size; *consumed gets how many
 * of data[0..len) were taken. Returns
 *   LOG_OK          *out holds the next record;
 *   LOG_GOT_HEADER  the header frame was verified: d->header;
 *   LOG_NEED_MORE   all input consumed, nothing else to deliver;
 *   LOG_ERR_*       the log is invalid here: log_decoder_error() says why
 *                   and where; the decoder stays in this error.
 * Input may be left after LOG_OK and LOG_GOT_HEADER: call again with the
 * rest (data + *consumed, possibly 0 bytes) until LOG_NEED_MORE. Records
 * come out only after their whole frame passed its CRC. out->data points
 * into the decoder and stays valid until the next call. */
int log_decoder_feed(struct log_decoder *d, const uint8_t *data, size_t len, size_t *consumed,
                     struct log_record *out);
/* The stream has ended (call after feed returned LOG_NEED_MORE): LOG_EOF
 * if it ended at a frame boundary after the header (d->ended tells whether
 * cleanly, with END), else LOG_ERR_TRUNCATED; or the sticky error.
 * LOG_ERR_STATE, changing nothing, if records are still to be fed out. */
int log_decoder_finish(struct log_decoder *d);
/* The message of the error, "" if none. */
const char *log_decoder_error(const struct log_decoder *d);
/* Stream bytes in the whole frames the decoder is done with: each passed
 * every check and has delivered all its records. A frame partly received,
 * still being fed out or in error does not count (after an error this is
 * err_stream_off). Lets a consumer keep exactly the valid frames of a
 * stream it is cut off from or that turns out damaged (tools/ftlog-sink). */
uint64_t log_decoder_good_bytes(const struct log_decoder *d);

/* "bad magic", "CRC mismatch", ... for a result code; "unknown" else. */
const char *log_error_name(int err);
/* "TIME", "ASYNC", ...; "?" for unknown types. */
const char *log_record_name(uint8_t type);

/* ---- digests the records carry ------------------------------------------ */

/* ASYNC's regs_crc: CRC32C of the 16 general registers in encoding order
 * (rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8 .. r15), 8 bytes LE each. */
uint32_t log_regs_crc(const uint64_t gpr[16]);

/* STATE's digest: SHA-256 over "FTST", the register block's length (4
 * bytes LE) and the block (its layout is the VMM's), then for each page
 * dirtied since the previous STATE, in increasing gpa order, its gpa (8
 * bytes LE) and its 4096 bytes; the first 16 bytes of the hash. */
struct log_state_digest {
    struct sha256_ctx sha;
};
void log_state_digest_begin(struct log_state_digest *s, const void *regs, size_t regs_len);
void log_state_digest_page(struct log_state_digest *s, uint64_t gpa, const void *page);
void log_state_digest_end(struct log_state_digest *s, uint8_t out[LOG_STATE_DIGEST_LEN]);

#endif
