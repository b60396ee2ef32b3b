/* The status service (net/status.c) and how other layers add to it. */
#ifndef NET_STATUS_H
#define NET_STATUS_H

#include <stddef.h>

/* A provider of status fields: the FT layer's role, heartbeat states and
 * counters. counters() appends ",\"name\":value" pairs to buf and returns
 * the length it wrote. */
struct status_source {
    const char *(*role)(void);
    const char *(*peer_heartbeat)(int host_index);
    size_t (*counters)(char *buf, size_t size);
};

void status_register(const struct status_source *s);

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
