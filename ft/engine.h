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
    /* Make asynchronous points (preemption timer at device deadlines)?
     * Without them (the exit-synchronous backend) deadlines are served at
     * synchronous exits and HLT wake-ups only. */
    bool async_points;
    /* After each synchronous exit is fully handled and after each point
     * (NULL: nothing): where a recorder adds output and state records. */
    void (*after)(void *ctx, struct vm *vm);
    /* Run one slice of the guest (NULL: the generic loop of engine.c). */
    bool (*slice)(void *ctx, struct vm *vm);
    /* The guest ended (after vm_finish()); NULL: [debug] on_guest_exit. */
    void (*finished)(void *ctx, struct vm *vm);
    /* Deliver the host devices' completions that wait (ft/guest_io.h) at
     * this event point, after the exit's or the point's after(); NULL: the
     * policy takes none (replay: they come from the log). */
    void (*deliver)(void *ctx, struct vm *vm);
};

void engine_set_policy(const struct engine_policy *p, void *ctx);
/* The live policy (no recording): the guest's input is whatever vm->in is. */
void engine_set_live_policy(void);
/* Is the live policy the one in force (not record, replay or held)? */
bool engine_is_live(void);
/* A policy that does not run the guest at all. */
void engine_set_hold_policy(void);
/* hold() true: the guest does not run this main-loop pass (the pair's
 * throttle while the backup lags). NULL: never held. */
void engine_set_gate(bool (*hold)(void));
/* The host has work that should not wait for the rest of the guest's
 * slice (up to 256 exits): log that output waits on must go out now. The
 * slice ends after the exit being handled. */
void engine_yield(void);
/* The generic loop (live and record): policy's peek/point/after. */
bool engine_generic_slice(struct vm *vm);
/* Preemption-timer ticks from virtual time now to a deadline. */
uint64_t engine_ticks_until(struct vm *vm, vtime_t deadline, vtime_t now);
/* After a synchronous exit: recompute device deadlines if time was read. */
void engine_settle(struct vm *vm);

#endif
