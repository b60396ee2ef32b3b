/* The VM's life: creation from the config, the run loop the vmm service
 * drives, and its end. */
#include "vm.h"
#include "vdisk.h"
#include "vnic.h"
#include "vmcs.h"
#include "loader.h"
#include "vmcs.h"
#include "dev/acpi_tables.h"
#include "../kernel/clock.h"
#include "../kernel/format.h"
#include "../kernel/log.h"
#include "../kernel/layout.h"
#include <stdarg.h>
#include <string.h>

struct vm the_vm;

static const struct vinput_ops *input;
static void *input_ctx;
static const struct vm_events *events;
static void *events_ctx;

void vinput_register(const struct vinput_ops *ops, void *ctx)
{
    input = ops;
    input_ctx = ctx;
}

void vm_events_register(const struct vm_events *ev, void *ctx)
{
    events = ev;
    events_ctx = ctx;
}

void vm_events_current(const struct vm_events **ev, void **ctx)
{
    *ev = events;
    *ctx = events_ctx;
}

vtime_t vm_now(struct vm *vm)
{
    if (!vm->time_valid) {
        vm->time_now = vm->in->now(vm->in_ctx);
        vm->time_valid = true;
        platform_tick(vm, vm->time_now);
    }
    return vm->time_now;
}

uint64_t vm_rdtsc(struct vm *vm) { return vtime_to_ticks(vm_now(vm), vm->tsc_hz); }
void vm_new_point(struct vm *vm) { vm->time_valid = false; }
bool vm_time_read(const struct vm *vm) { return vm->time_valid; }

void vm_console_out(struct vm *vm, uint8_t byte)
{
    (void)vm;
    if (events && events->console_out)
        events->console_out(events_ctx, byte);
}


#define REPORT_SLOTS 64
static uint64_t reported[REPORT_SLOTS];
static unsigned nreported;

void vm_report_once(struct vm *vm, enum report_kind kind, uint64_t what, const char *fmt, ...)
{
    (void)vm;
    uint64_t key = (uint64_t)kind << 56 | (what & 0x00ffffffffffffffull);
    for (unsigned i = 0; i < nreported; i++)
        if (reported[i] == key)
            return;
    if (nreported == REPORT_SLOTS)
        return;
    reported[nreported++] = key;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_warn("guest", "%s%s", msg, nreported == REPORT_SLOTS ? " (further reports suppressed)" : "");
}

uint64_t msr_bitmap_create(void);

int vm_create(struct vm *vm, const struct vmx_caps *caps, const struct vm_config *c, char *err, size_t n)
{
    memset(vm, 0, sizeof(*vm));
    nreported = 0;
    if (!input) {
        fmt_snprintf(err, n, "no virtual-input source registered (ft/ missing)");
        return -1;
    }
    vm->in = input;
    vm->in_ctx = input_ctx;
    vm->cpu = cpu_model_find(c->cpu_model);
    if (!vm->cpu) {
        fmt_snprintf(err, n, "unknown CPU model '%s'", c->cpu_model);
        return -1;
    }
    char why[160];
    if (cpu_model_check_host(vm->cpu, why, sizeof(why))) {
        fmt_snprintf(err, n, "this host's CPU cannot run CPU model %s: it lacks %s", vm->cpu->name, why);
        return -1;
    }
    vm->cpu_cr4_allowed = vm->cpu->cr4;
    vm->caps = caps;
    vm->tsc_hz = vm->in->tsc_hz(vm->in_ctx);
    vm->host_tsc_hz = clock_tsc_hz();
    vm->preempt_shift = (unsigned)(caps->misc & 31);
    vm->caps_true = caps->true_ctls;
    vm->invept_type = caps->invept_single ? 1 : 2;
    /* EPT accessed/dirty flags (SDM Vol. 3, "Accessed and Dirty Flags for
     * EPT") tell ft/digest.c which memory the guest wrote. */
    if (guest_mem_init(&vm->mem, c->memory_bytes, caps->ept_ad && caps->invept,
                       c->track_pages && caps->ept_ad && caps->invept)) {
        fmt_snprintf(err, n, "not enough host memory for %llu MiB of guest RAM",
                     (unsigned long long)(c->memory_bytes >> 20));
        return -1;
    }
    vm->msr_bitmap_pa = msr_bitmap_create();
    if (vcpu_init(&vm->vcpu, vm, caps, err, n))
        return -1;
    vm->config = *c;
    /* Before the guest exists: can the TSC count its instructions? */
    if (vcpu_probe_counting(&vm->vcpu, &vm->counting))
        log_warn("vmm", "instruction counting probe failed (exit reason %llu)",
                 (unsigned long long)(vmread(VMCS_EXIT_REASON) & 0xffff));
    else
        log_info("vmm", "instruction counting probe: stub %llu ticks (%s), MTF steps %s",
                 (unsigned long long)vm->counting.stub_ticks,
                 vm->counting.stub_consistent ? "constant" : "varies",
                 vm->counting.mtf_steps_exact ? "exactly one instruction" : "not exact");
    if (vm_boot(vm, true, err, n))
        return -1;
    vm->in->start(vm->in_ctx);
    vm->created = true;
    return 0;
}

/* Power-on (and reset): zeroed RAM, fresh devices, the guest image loaded
 * again and the vCPU at its start state. Deterministic: the same config
 * gives the same initial state on every host. */
int vm_boot(struct vm *vm, bool cold, char *err, size_t n)
{
    const struct vm_config *c = &vm->config;
    char why[160];
    guest_mem_clear(&vm->mem);
    vm->time_valid = false;
    vm->plat.request = PLAT_REQ_NONE;
    if (cold) {
        /* Progress counters start with the guest (the counting probe ran
         * before it); a reset keeps them running, on both hosts alike. */
        struct vcpu *v = &vm->vcpu;
        v->run_ticks = v->runs = v->sync_exits = v->exits = 0;
        memset(v->exits_by_reason, 0, sizeof(v->exits_by_reason));
        memset(v->host_ticks_by_reason, 0, sizeof(v->host_ticks_by_reason));
    }
    platform_init(vm, c->epoch_seconds, cold);
    static uint8_t tables[ACPI_TABLES_SIZE];
    acpi_tables_build(tables);
    guest_write(&vm->mem, ACPI_TABLES_BASE, tables, sizeof(tables));

    struct guest_start st;
    int r;
    if (load_linux_probe(c->kernel, c->kernel_len))
        r = load_linux(&vm->mem, c->kernel, c->kernel_len, c->initrd, c->initrd_len, c->cmdline, ACPI_RSDP_ADDR, &st,
                       why, sizeof(why));
    else if (load_flat_probe(c->kernel, c->kernel_len))
        r = load_flat(&vm->mem, c->kernel, c->kernel_len, &st, why, sizeof(why));
    else {
        r = -1;
        fmt_snprintf(why, sizeof(why), "neither a Linux bzImage nor a flat test image");
    }
    if (r) {
        fmt_snprintf(err, n, "%s: %s", c->kernel_name, why);
        return -1;
    }
    vdisk_attach(vm);
    vnic_attach(vm);
    if (st.mode == START_REAL_MODE)
        vcpu_set_real_mode(&vm->vcpu, (uint16_t)(st.entry >> 4), (uint16_t)(st.entry & 15), (uint16_t)st.stack);
    else
        vcpu_set_protected_flat(&vm->vcpu, (uint32_t)st.entry, (uint32_t)st.esi, (uint32_t)st.gdt);
    log_info("vmm", "guest: %s; %llu MiB RAM, CPU model %s, virtual TSC %llu.%03llu MHz, time source %s", st.kind,
             (unsigned long long)(vm->mem.ram_bytes >> 20), vm->cpu->name,
             (unsigned long long)(vm->tsc_hz / 1000000), (unsigned long long)(vm->tsc_hz / 1000 % 1000),
             vm->in->name);
    return 0;
}

int vm_rewire(struct vm *vm, char *err, size_t n)
{
    struct vcpu *v = &vm->vcpu;
    vmcs_release(v->vmcs_pa);
    if (vcpu_init(v, vm, vm->caps, err, n))
        return -1;
    /* The power-on register state, and the CPU-held state reset (the
     * restore overwrites all of it; nothing of the old guest remains). */
    vcpu_set_real_mode(v, 0, 0, 0);
    vm->time_valid = false;
    vm->plat.request = PLAT_REQ_NONE;
    platform_init(vm, vm->config.epoch_seconds, true);
    vdisk_attach(vm);
    vnic_attach(vm);
    return 0;
}

bool vm_disk_busy(const struct vm *vm)
{
    for (unsigned i = 0; vm->plat.has_blk && i < VBLK_SLOTS; i++)
        if (vm->plat.blk.slot[i].busy)
            return true;
    return false;
}

void vm_finish(struct vm *vm)
{
    struct vcpu *v = &vm->vcpu;
    char text[64];
    int code = 0;
    switch (v->stop) {
    case VCPU_STOP_POWEROFF:
        fmt_snprintf(text, sizeof(text), "0 (ACPI power-off)");
        break;
    case VCPU_STOP_HYPERCALL:
        code = v->exit_code;
        fmt_snprintf(text, sizeof(text), "%d (exit hypercall)", code);
        break;
    case VCPU_STOP_RESET:
        code = -1;
        fmt_snprintf(text, sizeof(text), "reset requested");
        break;
    case VCPU_STOP_TRIPLE_FAULT:
        code = -2;
        fmt_snprintf(text, sizeof(text), "triple fault");
        break;
    case VCPU_STOP_HALTED:
        code = -3;
        fmt_snprintf(text, sizeof(text), "halted with interrupts disabled");
        break;
    case VCPU_STOP_PAUSED:
        code = -5;
        fmt_snprintf(text, sizeof(text), "paused by ftvisor (reason above)");
        break;
    default:
        code = -4;
        fmt_snprintf(text, sizeof(text), "stopped by ftvisor (report above)");
        break;
    }
    /* The last event point's time: reading the input again here would
     * make a point the replay cannot match. */
    vtime_t ran = vm->time_now;
    log_info("vmm", "guest exited: %s after %llu VM exits", text, (unsigned long long)v->exits);
    log_info("vmm", "guest ran %llu.%03llu s of virtual time: %llu exits per guest second",
             (unsigned long long)(ran / 1000000000u), (unsigned long long)(ran / 1000000u % 1000),
             (unsigned long long)(ran ? muldiv64(v->exits, 1000000000u, ran) : 0));
    /* Where the exits went, most frequent first (host TSC ticks per exit:
     * instructions, in Bochs with sync=none). */
    bool shown[80] = { false };
    for (int k = 0; k < 6; k++) {
        int best = -1;
        for (int r = 0; r < 80; r++)
            if (!shown[r] && v->exits_by_reason[r] && (best < 0 || v->exits_by_reason[r] > v->exits_by_reason[best]))
                best = r;
        if (best < 0)
            break;
        shown[best] = true;
        log_info("vmm", "exits: %-24s %8llu, %llu host ticks each", vmx_exit_reason_name((uint32_t)best),
                 (unsigned long long)v->exits_by_reason[best],
                 (unsigned long long)(v->host_ticks_by_reason[best] / v->exits_by_reason[best]));
    }
    if (events && events->exited)
        events->exited(events_ctx, v->stop, code, text);
}

void vm_platform_requests(struct vm *vm)
{
    struct vcpu *v = &vm->vcpu;
    if (vm->plat.request == PLAT_REQ_POWEROFF) {
        vcpu_stop(v, VCPU_STOP_POWEROFF, "ACPI S5 (soft off) requested by the guest");
    } else if (vm->plat.request == PLAT_REQ_RESET) {
        /* Like a PC: a reset reboots the guest from its image. */
        char err[160];
        vm->resets++;
        log_info("vmm", "the guest reset its machine (reset #%llu): booting it again", (unsigned long long)vm->resets);
        if (vm_boot(vm, false, err, sizeof(err)))
            vcpu_stop(v, VCPU_STOP_FAILED, "guest reboot failed: %s", err);
    }
}
