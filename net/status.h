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

#endif
