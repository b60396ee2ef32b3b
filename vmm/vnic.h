/* The guest's NIC on this host: a virtio-net device whose frames the FT
 * layer carries (ft/guest_net.c): it registers the MAC and the transmit
 * path here once, and each guest boot attaches the device afresh. */
#ifndef VMM_VNIC_H
#define VMM_VNIC_H

#include <stdint.h>
#include "dev/virtio_net.h"

struct vm;

void vnic_setup(const uint8_t mac[6], const struct vnet_backend *be);
/* Attach the NIC to a freshly initialised platform (each guest boot). */
void vnic_attach(struct vm *vm);

#endif
