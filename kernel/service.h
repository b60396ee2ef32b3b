/* Services: how upper layers (drivers, net, vmm, ft) plug into the kernel's
 * main loop without the kernel calling up into them. Each registers an init
 * and a poll function in a linker section; the kernel runs the inits in
 * order at boot and the polls on every pass of the main loop.
 *
 *   SERVICE(30, vmm, vmm_init, vmm_poll);
 *
 * Order: 10 drivers, 20 net, 30 vmm, 40 ft. */
#ifndef KERNEL_SERVICE_H
#define KERNEL_SERVICE_H

#include <stdbool.h>

struct service {
    const char *name;
    void (*init)(void);
    /* Returns true when it did work (the loop then skips HLT once). */
    bool (*poll)(void);
};

#define SERVICE(order, ident, init_fn, poll_fn)                                                       \
    static const struct service service_##ident                                                       \
        __attribute__((used, aligned(8), section(".services." #order "." #ident))) = { #ident, init_fn, \
                                                                                        poll_fn }

#endif
