/* The guest's network on the host NIC, through the determinism boundary
 * (the network half of guest_io.h, which calls these).
 *
 * With [guest] nic_mac the guest has a virtio-net NIC bridged onto this
 * host's NIC (net_bridge_guest()): frames to its MAC, and broadcasts, wait
 * here until the engine makes an event point and the driver has a receive
 * buffer posted, then enter the guest (logged first when recording: the
 * frame in DEVDATA, its length in DEVDONE, device 2). Frames the guest
 * sends obey the output rule while a backup follows: each waits until the
 * backup has acknowledged the log up to where the guest sent it. A replay
 * sends nothing (the primary did) and takes every received frame from the
 * log. At go-live the new primary announces the guest's MAC (a gratuitous
 * ARP for the address the guest used, and a RARP broadcast, as QEMU's
 * announce does) so that switches learn where it is now. */
#ifndef FT_GUEST_NET_H
#define FT_GUEST_NET_H

#include <stdint.h>
#include <stdbool.h>
#include "guest_io.h"

struct vm;

void gnet_init(void);
bool gnet_active(void);
bool gnet_pending(struct vm *vm);
void gnet_deliver(struct vm *vm, gio_log_fn log);
void gnet_set_gate(bool (*released)(uint64_t tag), uint64_t (*tag_now)(void));
void gnet_set_replay(struct vm *vm, bool replay);
int gnet_replay_data(struct vm *vm, uint32_t tag, uint32_t offset, const uint8_t *data, uint32_t len,
                     const char **why);
int gnet_replay_done(struct vm *vm, uint32_t tag, uint32_t status, const char **why);
/* Send the frames the output rule has released. */
void gnet_poll(void);
/* Frames the guest sent wait for the backup (the output rule). */
bool gnet_output_held(void);
void gnet_report(const char *who);

#endif
