/* The client side of tools/ftlog-sink (docs/log-sink.md): stream a log
 * to the sink while it is being recorded (PUT), or fetch a stored log
 * before a replay (GET). One transfer at a time, driven from the main loop
 * over lwIP's raw TCP API. */
#ifndef FT_SINK_H
#define FT_SINK_H

#include <stdbool.h>
#include <stdint.h>
#include "rr.h"

#define SINK_DEFAULT_PORT 7420

enum sink_state {
    SINK_IDLE,
    SINK_CONNECTING,
    SINK_STREAMING, /* PUT: sending log bytes as they appear; GET: receiving */
    SINK_CLOSING,   /* PUT: everything sent and the sending side shut; awaiting the answer */
    SINK_DONE,      /* the sink answered (status in sink_status()) */
    SINK_FAILED,    /* no answer: connection refused, lost or timed out (sink_text() says why) */
};

/* PUT: connect and stream log->buf[log->start .. log->len) as the recorder
 * appends, advancing log->start past what TCP has taken (the recorder
 * reuses that room). sink_put_finish() once the log's END is in it. */
int sink_put_start(uint32_t ip, uint16_t port, const char *name, struct memlog *log);
void sink_put_finish(void);

/* GET: fetch the log called name into log (at most log->cap bytes). */
int sink_get_start(uint32_t ip, uint16_t port, const char *name, struct memlog *log);

enum sink_state sink_state(void);
int sink_status(void);       /* the sink's answer: 0 ok, 1 not found, 2 bad request, 3 damaged, 4 sink failure */
const char *sink_text(void); /* the sink's text, or why the transfer failed */
uint64_t sink_bytes(void);   /* log bytes sent (PUT) or received (GET) */

#endif
