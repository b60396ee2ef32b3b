/* The status service (net/status.c) and how other layers add to it. */
#ifndef NET_STATUS_H
#define NET_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A provider of status fields: the FT layer's role, heartbeat states and
 * counters. counters() appends ",\"name\":value" pairs to buf and returns
 * the length it wrote. */
struct status_source {
    const char *(*role)(void);
    const char *(*peer_heartbeat)(int host_index);
    size_t (*counters)(char *buf, size_t size);
};

void status_register(const struct status_source *s);

/* A quantity the status page graphs over time: the service samples
 * value() once a second and keeps the last five minutes (GET /status,
 * "history"). value() returns false when there is none that second (a
 * gap), e.g. a lag on a host that has no backup. At most 4 series. */
struct status_series {
    const char *name; /* JSON key; the page knows "lag_ms" and "log_Bps" */
    bool (*value)(uint64_t *v);
};
void status_register_series(const struct status_series *s);

/* Something an operator wants in the host's history (failover, go-live,
 * migration, clone, repair, running unprotected): kept with the uptime in
 * the last 32 events of GET /status ("events"). kind is a short literal,
 * the text is formatted and cut at 127 characters. */
void status_event(const char *kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An operator action: POST /NAME?token=T, where T is the hex BLAKE2b-256
 * of "ftvisor NAME " followed by the host's action nonce (field
 * action_nonce of GET /status), keyed with the [pair] key
 * (tools/ftmigrate computes it). The nonce changes after every accepted
 * action, so a token works once. fn returns 0 (done or begun) or -1, with
 * a sentence in msg either way. */
struct status_action {
    const char *name;
    int (*fn)(char *msg, size_t n);
};
void status_register_action(const struct status_action *a);

#endif
