/* The engine that runs the guest (ft/engine.c) and the policies that plug
 * into it: live, record, replay. */
#ifndef FT_ENGINE_H
#define FT_ENGINE_H

#include <stdbool.h>
#include "../vmm/dev/vdev.h"

struct vm;

enum point_kind {
    POINT_SYNC,  /* after a synchronous exit: a device deadline was due */
    POINT_ASYNC, /* at an asynchronous exit (a landmark) */
    POINT_HALT,  /* waking the guest from HLT */
};

struct engine_policy {
    const char *name;
    /* Virtual time now, for scheduling decisions only: never logged. */
    vtime_t (*peek)(void *ctx);
    /* Make an event point of kind here: read the time (vm_new_point() and
     * vm_now()), which advances the devices; record it if recording. */
    void (*point)(void *ctx, struct vm *vm, enum point_kind kind);
    /* Run one slice of the guest (NULL: the live loop of engine.c). */
    bool (*slice)(void *ctx, struct vm *vm);
    /* The guest ended (after vm_finish()); NULL: [debug] on_guest_exit. */
    void (*finished)(void *ctx, struct vm *vm);
};

void engine_set_policy(const struct engine_policy *p, void *ctx);

#endif
