/* The sampling profiler (profile.h). */
#include "profile.h"
#include "log.h"
#include "panic.h"
#include <string.h>

#define SLOTS 4096 /* distinct sampled addresses */
#define FUNCS 512  /* distinct functions in the report */
#define TOP 20

static bool on;
static volatile bool in_guest;
static struct {
    uint64_t rip, n;
} slot[SLOTS];
static uint64_t total, guest, lost;

void profile_enable(void) { on = true; }
void profile_guest(bool running) { in_guest = running; }

void profile_tick(uint64_t rip)
{
    if (!on)
        return;
    total++;
    if (in_guest) {
        guest++;
        return;
    }
    /* Open addressing on the address; a full table counts as lost. */
    uint64_t h = (rip * 0x9e3779b97f4a7c15ull) >> 52;
    for (unsigned i = 0; i < 16; i++) {
        unsigned k = (unsigned)((h + i) % SLOTS);
        if (slot[k].rip == rip || !slot[k].n) {
            slot[k].rip = rip;
            slot[k].n++;
            return;
        }
    }
    lost++;
}

void profile_report(void)
{
    if (!on || !total)
        return;
    static struct {
        const char *name;
        uint64_t n;
    } fn[FUNCS];
    unsigned nfn = 0;
    uint64_t unknown = 0;
    for (unsigned k = 0; k < SLOTS; k++) {
        if (!slot[k].n)
            continue;
        uint64_t off;
        const char *name = ksym_lookup(slot[k].rip, &off);
        if (!name) {
            unknown += slot[k].n;
            continue;
        }
        unsigned i = 0;
        while (i < nfn && fn[i].name != name) /* one name string per symbol */
            i++;
        if (i == nfn) {
            if (nfn == FUNCS) {
                unknown += slot[k].n;
                continue;
            }
            fn[nfn++] = (typeof(fn[0])){ name, 0 };
        }
        fn[i].n += slot[k].n;
    }
    log_info("profile", "%llu samples: the guest %llu.%llu%%, the hypervisor's functions below (%llu samples lost, "
                        "%llu outside the image)",
             (unsigned long long)total, (unsigned long long)(guest * 100 / total),
             (unsigned long long)(guest * 1000 / total % 10), (unsigned long long)lost, (unsigned long long)unknown);
    for (unsigned t = 0; t < TOP && t < nfn; t++) {
        unsigned best = t;
        for (unsigned i = t + 1; i < nfn; i++)
            if (fn[i].n > fn[best].n)
                best = i;
        typeof(fn[0]) x = fn[t];
        fn[t] = fn[best];
        fn[best] = x;
        log_info("profile", "%5llu.%llu%%  %s", (unsigned long long)(fn[t].n * 100 / total),
                 (unsigned long long)(fn[t].n * 1000 / total % 10), fn[t].name);
    }
}
