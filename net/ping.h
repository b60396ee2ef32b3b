#ifndef NET_PING_H
#define NET_PING_H

#include <stdint.h>
#include <stdbool.h>

struct peer_reach {
    bool reachable;
    uint64_t rtt_us, last_reply_ms, sent, replies;
};

/* Reachability of the [host] with this index (the config's order). */
const struct peer_reach *ping_peer(int host_index);

#endif
