/*
 * ftlog-sink - stores FT event logs sent over TCP and hands them back
 *
 *     ftlog-sink --dir DIR [--listen ADDR:PORT] [--once] [--verbose]
 *
 * The protocol, the console lines and the limits are in docs/log-sink.md.
 * Every PUT stream goes through ftvisor's own decoder (ft/log.c), and only
 * whole frames that passed every check reach the file, so a stored log is
 * always a valid prefix of what the recorder sent.
 *
 * One thread, one ppoll(2) loop, non-blocking sockets. Per connection the
 * memory is bounded: a decoder (one maximum frame) and one frame plus one
 * read of stream bytes not yet known to be good, or a fixed send buffer.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../ft/log.h"
#include "../kernel/le.h"

#define DEFAULT_LISTEN "0.0.0.0:7420"
#define MAX_CONNS 64            /* more wait in the listen backlog */
#define REQ_HEAD 8              /* magic, version, operation, name length */
#define NAME_MAX_LEN 64
#define CHUNK 65536             /* one recv() of a PUT stream */
#define PEND_CAP (LOG_MAX_FRAME + CHUNK)
#define OUT_CAP 65536           /* response buffer (GET streams through it) */
#define RESP_HEAD 16
#define REQ_TIMEOUT_MS 30000    /* the whole request must arrive by then */
#define SEND_STALL_MS 60000     /* a client that takes no response bytes */
#define DRAIN_MS 5000           /* waiting for the client's close after the response */

enum { OP_PUT = 1, OP_GET = 2 };
enum { ST_OK = 0, ST_NOT_FOUND = 1, ST_BAD_REQUEST = 2, ST_DAMAGED = 3, ST_FAILED = 4 };

enum cstate {
    C_FREE,
    C_REQ,      /* reading the request */
    C_PUT,      /* decoding and storing the stream */
    C_SEND,     /* writing the response */
    C_DRAIN,    /* response sent, our side shut: discarding input until the client closes */
};

struct conn {
    enum cstate st;
    int fd;
    char peer[INET6_ADDRSTRLEN + 8];
    uint64_t deadline;          /* monotonic ms; 0: none */
    /* request */
    uint8_t req[REQ_HEAD + NAME_MAX_LEN];
    size_t req_have;
    int op;
    char name[NAME_MAX_LEN + 1];
    /* PUT: pend[0..pend_len) are the stream bytes from offset `written` on,
     * i.e. those not yet known to belong to good frames. */
    bool storing;
    int file;
    struct log_decoder *dec;
    uint8_t *pend;
    size_t pend_len;
    uint64_t written;
    uint64_t good, good_frames, good_records;   /* at the last frame boundary */
    int end_reason;             /* -1: no END record */
    /* response; for GET, src is the log and src_left what is still to read */
    uint8_t *out;
    size_t out_len, out_off;
    int src;
    uint64_t src_left, get_size;
    uint64_t sent;              /* response bytes, its header included */
};

static struct conn conns[MAX_CONNS];
static int dirfd_ = -1;
static const char *dir_name;
static bool verbose;
static volatile sig_atomic_t stop_sig;
static uint8_t scratch[CHUNK];  /* discarded input */

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* One console line on stdout ("ftlog-sink: ..."). */
static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ftlog-sink: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
}

static const char *reason_name(int r, char *buf, size_t n)
{
    switch (r) {
    case LOG_END_POWEROFF:
        return "poweroff";
    case LOG_END_STOPPED:
        return "stopped";
    case LOG_END_FAILED:
        return "failed";
    }
    snprintf(buf, n, "reason %d", r);
    return buf;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* ---- connections ---------------------------------------------------------- */

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    if (c->file >= 0)
        close(c->file);
    if (c->src >= 0)
        close(c->src);
    free(c->dec);
    free(c->pend);
    free(c->out);
    memset(c, 0, sizeof(*c));
    c->st = C_FREE;
    c->fd = c->file = c->src = -1;
}

/* Stops storing: what is in the file stays (only good frames ever are). */
static void put_end(struct conn *c)
{
    c->storing = false;
    if (c->file >= 0)
        close(c->file);
    c->file = -1;
    free(c->dec);
    free(c->pend);
    c->dec = NULL;
    c->pend = NULL;
}

/* Queues the response header and, unless GET data follows, a text. */
static void respond(struct conn *c, int status, uint64_t len, const char *text)
{
    if (!c->out && !(c->out = malloc(OUT_CAP))) {
        conn_close(c);          /* nothing sensible left to say */
        return;
    }
    size_t tl = text ? strlen(text) : 0;
    if (tl > OUT_CAP - RESP_HEAD)
        tl = OUT_CAP - RESP_HEAD;
    memcpy(c->out, "FTLS", 4);
    c->out[4] = 1;
    c->out[5] = (uint8_t)status;
    le16_put(c->out + 6, 0);
    le64_put(c->out + 8, text ? tl : len);
    memcpy(c->out + RESP_HEAD, text ? text : "", tl);
    c->out_len = RESP_HEAD + tl;
    c->out_off = 0;
    c->st = C_SEND;
    c->deadline = now_ms() + SEND_STALL_MS;
}

static void bad_request(struct conn *c, const char *why)
{
    say("bad request from %s: %s", c->peer, why);
    respond(c, ST_BAD_REQUEST, 0, why);
}

/* ---- PUT ------------------------------------------------------------------- */

static bool name_busy(const struct conn *self)
{
    for (int i = 0; i < MAX_CONNS; i++)
        if (&conns[i] != self && conns[i].storing && strcmp(conns[i].name, self->name) == 0)
            return true;
    return false;
}

static void put_begin(struct conn *c)
{
    char tmp[NAME_MAX_LEN + 16], fin[NAME_MAX_LEN + 8], text[256];
    if (name_busy(c)) {
        snprintf(text, sizeof(text), "%s.ftlog is being stored by another connection", c->name);
        bad_request(c, text);
        return;
    }
    /* A new file replaces the old one atomically, so a GET already
     * sending the old log finishes it undisturbed. Names never start with
     * '.', so the temporary name cannot be a client's. */
    snprintf(tmp, sizeof(tmp), ".%s.ftlog.new", c->name);
    snprintf(fin, sizeof(fin), "%s.ftlog", c->name);
    c->file = openat(dirfd_, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (c->file < 0 || renameat(dirfd_, tmp, dirfd_, fin) < 0) {
        snprintf(text, sizeof(text), "cannot create %s: %s", fin, strerror(errno));
        say("PUT %s from %s: %s", c->name, c->peer, text);
        if (c->file >= 0)
            unlinkat(dirfd_, tmp, 0);
        put_end(c);
        respond(c, ST_FAILED, 0, text);
        return;
    }
    c->dec = malloc(sizeof(*c->dec));
    c->pend = malloc(PEND_CAP);
    if (!c->dec || !c->pend) {
        say("PUT %s from %s: out of memory", c->name, c->peer);
        put_end(c);
        respond(c, ST_FAILED, 0, "out of memory");
        return;
    }
    log_decoder_init(c->dec);
    c->storing = true;
    c->end_reason = -1;
    c->st = C_PUT;
    c->deadline = 0;            /* a recording may be quiet for a long time */
    if (verbose)
        say("PUT %s from %s: storing into %s", c->name, c->peer, fin);
}

/* Remembers the decoder's frame boundary and what lies before it. */
static void note_good(struct conn *c)
{
    uint64_t g = log_decoder_good_bytes(c->dec);
    if (g != c->good) {
        c->good = g;
        c->good_frames = c->dec->frames;
        c->good_records = c->dec->records;
    }
}

/* Appends the good frames received so far to the file. */
static int flush_good(struct conn *c)
{
    size_t k = (size_t)(c->good - c->written);
    int e = write_all(c->file, c->pend, k);
    if (e) {
        /* not even part of a frame may stay */
        if (ftruncate(c->file, (off_t)c->written) == 0)
            lseek(c->file, (off_t)c->written, SEEK_SET);
        return e;
    }
    memmove(c->pend, c->pend + k, c->pend_len - k);
    c->pend_len -= k;
    c->written = c->good;
    return 0;
}

static void kept(const struct conn *c, char *buf, size_t n)
{
    snprintf(buf, n, "kept %" PRIu64 " bytes, %" PRIu64 " frames, %" PRIu64 " records", c->written,
             c->good_frames, c->good_records);
}

static void put_failed(struct conn *c, const char *what, int err)
{
    char text[256], k[128];
    kept(c, k, sizeof(k));
    snprintf(text, sizeof(text), "%s %s.ftlog: %s; %s", what, c->name, strerror(err), k);
    say("PUT %s from %s: %s", c->name, c->peer, text);
    put_end(c);
    respond(c, ST_FAILED, 0, text);
}

static void put_damaged(struct conn *c)
{
    char text[LOG_MSG_MAX + 160], k[128];
    int e = flush_good(c);
    if (e) {
        put_failed(c, "cannot write", e);
        return;
    }
    fsync(c->file);     /* best effort: the reply is about the damage */
    kept(c, k, sizeof(k));
    snprintf(text, sizeof(text), "%s; %s", log_decoder_error(c->dec), k);
    say("PUT %s from %s: damaged: %s", c->name, c->peer, text);
    put_end(c);
    respond(c, ST_DAMAGED, 0, text);
}

static void put_finish(struct conn *c)
{
    char text[256], rb[24];
    int r = log_decoder_finish(c->dec);
    note_good(c);
    if (r != LOG_EOF) {
        put_damaged(c);
        return;
    }
    int e = flush_good(c);
    if (!e && fsync(c->file) < 0)
        e = errno;
    if (e) {
        put_failed(c, "cannot write", e);
        return;
    }
    int n = snprintf(text, sizeof(text),
                     "stored %s.ftlog: %" PRIu64 " bytes, %" PRIu64 " frames, %" PRIu64 " records, ", c->name,
                     c->written, c->good_frames, c->good_records);
    if (c->end_reason >= 0)
        snprintf(text + n, sizeof(text) - (size_t)n, "END (%s)", reason_name(c->end_reason, rb, sizeof(rb)));
    else
        snprintf(text + n, sizeof(text) - (size_t)n, "no END record (the recording was cut short)");
    say("PUT %s from %s: %s", c->name, c->peer, text);
    put_end(c);
    respond(c, ST_OK, 0, text);
}

static void put_header(const struct conn *c)
{
    const struct log_header *h = &c->dec->header;
    say("PUT %s from %s: header: host %s, CPU %s, backend %u, TSC %" PRIu64 " Hz, memory %" PRIu64
        " bytes, boot id 0x%016" PRIx64,
        c->name, c->peer, h->host, h->cpu_model, h->backend, h->tsc_hz, h->mem_bytes, h->boot_id);
}

/* Feeds what arrived; stores every frame that completed. */
static void put_data(struct conn *c, size_t n)
{
    const uint8_t *p = c->pend + c->pend_len;
    size_t left = n, used;
    struct log_record rec;
    c->pend_len += n;
    for (;;) {
        int r = log_decoder_feed(c->dec, p, left, &used, &rec);
        p += used;
        left -= used;
        if (r == LOG_OK) {
            if (rec.type == LOG_REC_END) {
                c->end_reason = rec.reason;
                if (verbose)
                    say("PUT %s from %s: END record (reason %u) at exit %" PRIu64, c->name, c->peer,
                        rec.reason, rec.exit);
            }
            note_good(c);
            continue;
        }
        if (r == LOG_GOT_HEADER) {
            if (verbose)
                put_header(c);
            note_good(c);
            continue;
        }
        note_good(c);
        if (r != LOG_NEED_MORE) {
            put_damaged(c);
            return;
        }
        break;
    }
    int e = flush_good(c);
    if (e)
        put_failed(c, "cannot write", e);
}

static void put_read(struct conn *c)
{
    ssize_t n = recv(c->fd, c->pend + c->pend_len, PEND_CAP - c->pend_len, 0);
    if (n > 0) {
        put_data(c, (size_t)n);
    } else if (n == 0) {
        put_finish(c);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        char k[128];
        kept(c, k, sizeof(k));
        say("PUT %s from %s: connection lost (%s); %s", c->name, c->peer, strerror(errno), k);
        conn_close(c);
    }
}

/* ---- GET ------------------------------------------------------------------- */

static void get_begin(struct conn *c)
{
    char fin[NAME_MAX_LEN + 8], text[256];
    struct stat st;
    snprintf(fin, sizeof(fin), "%s.ftlog", c->name);
    c->src = openat(dirfd_, fin, O_RDONLY | O_CLOEXEC);
    if (c->src < 0 && errno == ENOENT) {
        snprintf(text, sizeof(text), "no log named %s", c->name);
        say("GET %s from %s: %s", c->name, c->peer, text);
        respond(c, ST_NOT_FOUND, 0, text);
        return;
    }
    if (c->src < 0 || fstat(c->src, &st) < 0)
        snprintf(text, sizeof(text), "cannot read %s: %s", fin, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        snprintf(text, sizeof(text), "cannot read %s: not a regular file", fin);
    else {
        /* The size now: a log still being stored only grows by whole
         * frames, so this is a valid prefix of it. */
        c->get_size = c->src_left = (uint64_t)st.st_size;
        respond(c, ST_OK, c->get_size, NULL);
        return;
    }
    if (c->src >= 0)
        close(c->src);
    c->src = -1;                /* marks a GET with data: this one has none */
    say("GET %s from %s: %s", c->name, c->peer, text);
    respond(c, ST_FAILED, 0, text);
}

/* ---- request --------------------------------------------------------------- */

static void req_parsed(struct conn *c)
{
    size_t n = c->req_have - REQ_HEAD;
    const uint8_t *nm = c->req + REQ_HEAD;
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = nm[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
              ch == '_' || ch == '-')) {
            bad_request(c, "name has a character outside [A-Za-z0-9._-]");
            return;
        }
    }
    if (nm[0] == '.') {
        bad_request(c, "name starts with '.'");
        return;
    }
    memcpy(c->name, nm, n);
    c->name[n] = 0;
    if (c->op == OP_PUT)
        put_begin(c);
    else
        get_begin(c);
}

/* The fixed part is in: checks it before waiting for the name. */
static bool req_head_ok(struct conn *c)
{
    char why[96];
    const uint8_t *q = c->req;
    unsigned len = (unsigned)q[6] | (unsigned)q[7] << 8;
    if (memcmp(q, "FTLS", 4) != 0) {
        bad_request(c, "bad magic (expected \"FTLS\")");
        return false;
    }
    if (q[4] != 1) {
        snprintf(why, sizeof(why), "protocol version %u, expected 1", q[4]);
        bad_request(c, why);
        return false;
    }
    if (q[5] != OP_PUT && q[5] != OP_GET) {
        snprintf(why, sizeof(why), "unknown operation %u (1 PUT, 2 GET)", q[5]);
        bad_request(c, why);
        return false;
    }
    if (len < 1 || len > NAME_MAX_LEN) {
        snprintf(why, sizeof(why), "name length %u, expected 1..%d", len, NAME_MAX_LEN);
        bad_request(c, why);
        return false;
    }
    c->op = q[5];
    return true;
}

static void req_read(struct conn *c)
{
    /* Only the request itself: a PUT stream stays in the socket for later. */
    size_t want = c->req_have < REQ_HEAD ? REQ_HEAD : REQ_HEAD + ((size_t)c->req[6] | (size_t)c->req[7] << 8);
    ssize_t n = recv(c->fd, c->req + c->req_have, want - c->req_have, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        say("connection from %s lost before its request (%s)", c->peer, strerror(errno));
        conn_close(c);
        return;
    }
    if (n == 0) {
        char why[96];
        if (c->req_have)
            snprintf(why, sizeof(why), "the request ends after %zu of its %zu bytes", c->req_have, want);
        else
            snprintf(why, sizeof(why), "no request (the connection was closed)");
        bad_request(c, why);
        return;
    }
    c->req_have += (size_t)n;
    if (c->req_have == REQ_HEAD && !req_head_ok(c))
        return;
    if (c->req_have > REQ_HEAD && c->req_have == want)
        req_parsed(c);
}

/* ---- sending and draining --------------------------------------------------- */

/* GET: log bytes that went out (the response header is not part of them). */
static uint64_t log_sent(const struct conn *c) { return c->sent > RESP_HEAD ? c->sent - RESP_HEAD : 0; }

static void send_more(struct conn *c)
{
    for (;;) {
        if (c->out_off == c->out_len) {
            if (c->src_left == 0)
                break;
            size_t k = c->src_left < OUT_CAP ? (size_t)c->src_left : OUT_CAP;
            ssize_t r = read(c->src, c->out, k);
            if (r <= 0) {
                say("GET %s from %s: reading %s.ftlog failed after %" PRIu64 " of %" PRIu64 " bytes (%s)",
                    c->name, c->peer, c->name, c->get_size - c->src_left, c->get_size,
                    r < 0 ? strerror(errno) : "the file shrank");
                conn_close(c);
                return;
            }
            c->src_left -= (uint64_t)r;
            c->out_off = 0;
            c->out_len = (size_t)r;
        }
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            if (c->src >= 0)
                say("GET %s from %s: connection lost after %" PRIu64 " of %" PRIu64 " bytes (%s)", c->name,
                    c->peer, log_sent(c), c->get_size, strerror(errno));
            else if (verbose)
                say("connection from %s lost before the response was sent (%s)", c->peer, strerror(errno));
            conn_close(c);
            return;
        }
        c->sent += (uint64_t)n;
        c->out_off += (size_t)n;
        c->deadline = now_ms() + SEND_STALL_MS;
    }
    if (c->src >= 0) {
        say("GET %s from %s: sent %" PRIu64 " bytes", c->name, c->peer, c->get_size);
        close(c->src);
        c->src = -1;
    }
    /* Our side is done; reading until the client closes keeps unread
     * input from turning the close into a reset that could destroy the
     * response before the client has read it. */
    shutdown(c->fd, SHUT_WR);
    c->st = C_DRAIN;
    c->deadline = now_ms() + DRAIN_MS;
}

static void drain(struct conn *c)
{
    ssize_t n = recv(c->fd, scratch, sizeof(scratch), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        conn_close(c);
}

static void timed_out(struct conn *c)
{
    switch (c->st) {
    case C_REQ:
        bad_request(c, "no complete request within 30 s");
        break;
    case C_SEND:
        if (c->src >= 0)
            say("GET %s from %s: the client took no data for 60 s; sent %" PRIu64 " of %" PRIu64 " bytes",
                c->name, c->peer, log_sent(c), c->get_size);
        conn_close(c);
        break;
    default:            /* draining (a PUT has no deadline) */
        conn_close(c);
        break;
    }
}

static void service(struct conn *c)
{
    switch (c->st) {
    case C_REQ:
        req_read(c);
        break;
    case C_PUT:
        put_read(c);
        break;
    case C_SEND:
        send_more(c);
        break;
    case C_DRAIN:
        drain(c);
        break;
    case C_FREE:
        break;
    }
}

/* ---- setup ------------------------------------------------------------------ */

static void usage(FILE *f, int rc)
{
    fprintf(f, "usage: ftlog-sink --dir DIR [--listen ADDR:PORT] [--once] [--verbose]\n"
               "  --dir DIR           store logs as DIR/NAME.ftlog (the directory must exist)\n"
               "  --listen ADDR:PORT  numeric IPv4 or [IPv6] address (default " DEFAULT_LISTEN
               "; port 0: any free one)\n"
               "  --once              exit after the first connection has been handled\n"
               "  --verbose           also print arrivals, log headers and END records\n"
               "The protocol is in docs/log-sink.md.\n");
    exit(rc);
}

static void fmt_addr(const struct sockaddr *sa, socklen_t len, char *out, size_t n)
{
    char host[INET6_ADDRSTRLEN], port[8];
    if (getnameinfo(sa, len, host, sizeof(host), port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV)) {
        snprintf(out, n, "?");
        return;
    }
    snprintf(out, n, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

/* ADDR:PORT or [ADDR]:PORT, numeric only; NULL if it is not one. */
static struct addrinfo *parse_listen(const char *spec)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon, *hs = spec;
    size_t hl;
    if (spec[0] == '[') {
        const char *rb = strchr(spec, ']');
        if (!rb || rb[1] != ':')
            return NULL;
        hs = spec + 1;
        hl = (size_t)(rb - hs);
        colon = rb + 1;
    } else {
        colon = strrchr(spec, ':');
        if (!colon)
            return NULL;
        hl = (size_t)(colon - spec);
    }
    const char *port = colon + 1;
    if (hl == 0 || hl >= sizeof(host) || !*port || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port) ||
        atoi(port) > 65535)
        return NULL;
    memcpy(host, hs, hl);
    host[hl] = 0;
    struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                              .ai_socktype = SOCK_STREAM },
                    *ai;
    if (getaddrinfo(host, port, &hints, &ai) != 0)
        return NULL;
    return ai;
}

/* Exits with status 1 if it cannot listen there. */
static int open_listener(struct addrinfo *ai, const char *spec, char *shown, size_t shown_n)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
        fprintf(stderr, "ftlog-sink: cannot listen on %s: %s\n", spec, strerror(errno));
        exit(1);
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    fmt_addr((struct sockaddr *)&ss, sl, shown, shown_n);
    return fd;
}

static void on_signal(int sig) { stop_sig = sig; }

static void accept_some(int lfd, bool once, bool *accepted, uint64_t *pause_until)
{
    for (;;) {
        int slot = -1;
        for (int i = 0; i < MAX_CONNS && slot < 0; i++)
            if (conns[i].st == C_FREE)
                slot = i;
        if (slot < 0)
            return;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                /* out of descriptors or memory: retry shortly, not in a busy loop */
                fprintf(stderr, "ftlog-sink: accept: %s\n", strerror(errno));
                *pause_until = now_ms() + 100;
            }
            return;
        }
        struct conn *c = &conns[slot];
        int one = 1;
        /* a recorder that vanished without a FIN is eventually noticed */
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        c->fd = fd;
        c->st = C_REQ;
        c->deadline = now_ms() + REQ_TIMEOUT_MS;
        fmt_addr((struct sockaddr *)&ss, sl, c->peer, sizeof(c->peer));
        if (verbose)
            say("connection from %s", c->peer);
        *accepted = true;
        if (once)
            return;
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' }, { "listen", required_argument, NULL, 'l' },
        { "once", no_argument, NULL, 'o' },      { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },      { NULL, 0, NULL, 0 },
    };
    const char *listen_spec = DEFAULT_LISTEN;
    bool once = false;
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'd':
            dir_name = optarg;
            break;
        case 'l':
            listen_spec = optarg;
            break;
        case 'o':
            once = true;
            break;
        case 'v':
            verbose = true;
            break;
        case 'h':
            usage(stdout, 0);
            break;
        default:
            fprintf(stderr, "ftlog-sink: bad option '%s'\n", argv[optind - 1]);
            usage(stderr, 2);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ftlog-sink: unexpected argument '%s'\n", argv[optind]);
        usage(stderr, 2);
    }
    if (!dir_name || !*dir_name) {
        fprintf(stderr, "ftlog-sink: --dir is required\n");
        usage(stderr, 2);
    }

    setvbuf(stdout, NULL, _IOLBF, 0);
    /* Signals are blocked except inside ppoll(), so one cannot slip in
     * between the check of stop_sig and the wait. */
    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    sigdelset(&waitmask, SIGTERM);
    sigdelset(&waitmask, SIGINT);
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);   /* a file size limit is a write error (status 4), not death */

    for (int i = 0; i < MAX_CONNS; i++) {
        conns[i].st = C_FREE;
        conns[i].fd = conns[i].file = conns[i].src = -1;
    }
    struct addrinfo *ai = parse_listen(listen_spec);
    if (!ai) {
        fprintf(stderr, "ftlog-sink: bad --listen '%s' (want a numeric ADDR:PORT or [ADDR]:PORT)\n", listen_spec);
        usage(stderr, 2);
    }
    dirfd_ = open(dir_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd_ < 0) {
        fprintf(stderr, "ftlog-sink: cannot open directory %s: %s\n", dir_name, strerror(errno));
        return 1;
    }
    char shown[INET6_ADDRSTRLEN + 8];
    int lfd = open_listener(ai, listen_spec, shown, sizeof(shown));

    say("listening on %s, storing logs in %s", shown, dir_name);

    bool accepted = false;
    uint64_t pause_until = 0;
    struct pollfd pfd[MAX_CONNS + 1];
    int slot_of[MAX_CONNS + 1];
    while (!stop_sig) {
        int open_conns = 0;
        for (int i = 0; i < MAX_CONNS; i++)
            open_conns += conns[i].st != C_FREE;
        if (once && accepted && open_conns == 0)
            break;
        uint64_t now = now_ms(), wake = UINT64_MAX;
        int n = 0;
        if (lfd >= 0 && open_conns < MAX_CONNS && !(once && accepted)) {
            if (now >= pause_until) {
                pfd[n] = (struct pollfd){ .fd = lfd, .events = POLLIN };
                slot_of[n++] = -1;
            } else {
                wake = pause_until;
            }
        }
        for (int i = 0; i < MAX_CONNS; i++) {
            struct conn *c = &conns[i];
            if (c->st == C_FREE)
                continue;
            pfd[n] = (struct pollfd){ .fd = c->fd, .events = c->st == C_SEND ? POLLOUT : POLLIN };
            slot_of[n++] = i;
            if (c->deadline && c->deadline < wake)
                wake = c->deadline;
        }
        struct timespec ts, *tsp = NULL;
        if (wake != UINT64_MAX) {
            uint64_t d = wake > now ? wake - now : 0;
            ts.tv_sec = (time_t)(d / 1000);
            ts.tv_nsec = (long)(d % 1000) * 1000000;
            tsp = &ts;
        }
        int r = ppoll(pfd, (nfds_t)n, tsp, &waitmask);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "ftlog-sink: poll: %s\n", strerror(errno));
            return 1;
        }
        for (int k = 0; k < n; k++) {
            if (!pfd[k].revents)
                continue;
            if (slot_of[k] < 0)
                accept_some(lfd, once, &accepted, &pause_until);
            else if (conns[slot_of[k]].st != C_FREE && conns[slot_of[k]].fd == pfd[k].fd)
                service(&conns[slot_of[k]]);
        }
        if (once && accepted && lfd >= 0) {
            close(lfd);         /* later clients are refused, not left waiting */
            lfd = -1;
        }
        now = now_ms();
        for (int i = 0; i < MAX_CONNS; i++)
            if (conns[i].st != C_FREE && conns[i].deadline && now >= conns[i].deadline)
                timed_out(&conns[i]);
    }
    if (stop_sig) {
        say("stopping on %s", stop_sig == SIGTERM ? "SIGTERM" : "SIGINT");
        for (int i = 0; i < MAX_CONNS; i++) {
            struct conn *c = &conns[i];
            if (c->storing) {
                char k[128];
                kept(c, k, sizeof(k));
                say("PUT %s from %s: the sink stopped; %s", c->name, c->peer, k);
            }
            if (c->st != C_FREE)
                conn_close(c);
        }
    }
    return 0;
}
