#ifndef NET_HEARTBEAT_H
#define NET_HEARTBEAT_H

#include <stdint.h>
#include <stdbool.h>

/* Is the [host] with this index sending heartbeats (heard within
 * failover_timeout_ms)? */
bool heartbeat_peer_alive(int host_index);
/* Milliseconds since its last heartbeat (UINT64_MAX: never heard). */
uint64_t heartbeat_peer_silence_ms(int host_index);

#endif
