/* The virtual machine: guest memory, the vCPU, the virtual platform, and
 * the one interface through which nondeterministic inputs enter it. */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <stdint.h>
#include <stdbool.h>
#include "vcpu.h"
#include "guest_mem.h"
#include "cpuid.h"
#include "dev/platform.h"

/* The determinism boundary (docs/ARCHITECTURE.md): every input that is not
 * a pure function of the guest's own actions comes through these calls,
 * which the FT layer provides (live, record or replay). vmm/ never reads a
 * host clock or device for the guest. */
struct vinput_ops {
    const char *name;
    /* Virtual time at the current event point, in ns since the guest
     * started: live, recorded or replayed. vm_now() calls it at most once
     * per event point and advances every device to the value. Every guest-
     * visible clock (RDTSC, the PIT, the PM timer, the APIC timer, the RTC)
     * is a function of it. */
    vtime_t (*now)(void *ctx);
    /* The guest starts: virtual time 0 is now. */
    void (*start)(void *ctx);
    /* The virtual TSC frequency, fixed for the guest's life. */
    uint64_t (*tsc_hz)(void *ctx);
};
void vinput_register(const struct vinput_ops *ops, void *ctx);

/* What the vm reports to the layers above (ft/): guest output and exits. */
struct vm_events {
    /* A byte the guest wrote to its console UART. */
    void (*console_out)(void *ctx, uint8_t byte);
    /* The guest ended (after the vCPU stopped). */
    void (*exited)(void *ctx, enum vcpu_stop why, int code, const char *text);
    /* Another host shows this guest's output from the start of the line
     * being written (a migration's handover, or the peer took the guest
     * over): drop the bytes of it kept for a whole line. May be NULL. */
    void (*drop_partial_line)(void *ctx);
};
void vm_events_register(const struct vm_events *ev, void *ctx);
/* The sink registered now (so a recorder can pass events on to it). */
void vm_events_current(const struct vm_events **ev, void **ctx);

/* What a VM is made from (the [guest] section plus the loaded files). */
struct vm_config {
    const char *kernel_name;
    const uint8_t *kernel;
    size_t kernel_len;
    const uint8_t *initrd;
    size_t initrd_len;
    const char *cmdline;
    uint64_t memory_bytes;
    const char *cpu_model;
    uint64_t epoch_seconds; /* wall-clock time at virtual time 0 (the RTC) */
    bool track_pages;       /* map RAM with 4 KiB EPT pages: dirty tracking per page (recording) */
};

struct vm {
    struct guest_mem mem;
    struct vcpu vcpu;
    struct platform plat;
    const struct cpu_model *cpu;
    const struct vmx_caps *caps; /* this host's, for a fresh VMCS (vm_rewire()) */
    uint64_t cpu_cr4_allowed;
    uint64_t tsc_hz;
    uint64_t host_tsc_hz;   /* for the VMX-preemption timer */
    unsigned preempt_shift; /* IA32_VMX_MISC[4:0] */
    bool caps_true;         /* TRUE_* capability MSRs */
    unsigned invept_type;   /* 1 single-context, 2 all-context */
    struct count_probe counting;
    uint64_t msr_bitmap_pa;
    const struct vinput_ops *in;
    void *in_ctx;
    bool created;
    /* The current event point's virtual time (see vm_now()). */
    bool time_valid;
    vtime_t time_now;
    struct vm_config config;
    uint64_t resets;
    /* Reported once each: unknown ports, MSRs, unmapped memory. */
    uint32_t unknown_reports;
};

extern struct vm the_vm;


/* Build the VM: memory, platform, ACPI tables, the loaded guest and its
 * vCPU. Returns 0 or -1 with the reason in err. */
int vm_create(struct vm *vm, const struct vmx_caps *caps, const struct vm_config *c, char *err, size_t n);
int vm_boot(struct vm *vm, bool cold, char *err, size_t n);
/* What a restored machine state (vmm/vmstate.h) is loaded into: a fresh
 * VMCS for the vCPU, its registers and the CPU-held state at their
 * power-on values, and freshly initialised devices with the disk and NIC
 * attached; RAM is left as it is (a migration's destination has received
 * it). 0, or -1 with the reason. */
int vm_rewire(struct vm *vm, char *err, size_t n);
/* A guest disk request is in flight (handed to the disk, not completed). */
bool vm_disk_busy(const struct vm *vm);
/* Apply a platform request the guest made (ACPI power-off, reset) after an
 * exit: a reset reboots the guest from its image. */
void vm_platform_requests(struct vm *vm);
/* The vCPU stopped: report "guest exited: ..." and tell the event sink. */
void vm_finish(struct vm *vm);

/* Virtual time at the current event point (read through the input source
 * once per point, which also advances the devices to it), and the virtual
 * TSC derived from it. vm_new_point() starts the next event point. */
vtime_t vm_now(struct vm *vm);
uint64_t vm_rdtsc(struct vm *vm);
void vm_new_point(struct vm *vm);
bool vm_time_read(const struct vm *vm); /* read at the current point? */

/* Interrupts for the vCPU (vmm/dev/platform.c). */
int vm_pending_interrupt(struct vm *vm);   /* vector, or -1 */
int vm_ack_interrupt(struct vm *vm);       /* the INTA cycle: vector, or -1 */
bool vm_interrupt_wakes(struct vm *vm);    /* would a HLT end now? */

/* The console byte sink and exit notification (to vm_events). */
void vm_console_out(struct vm *vm, uint8_t byte);
/* Report something odd the guest did, once per (kind, what). */
enum report_kind {
    REPORT_MSR_READ = 1,
    REPORT_MSR_WRITE,
    REPORT_PORT_IN,
    REPORT_PORT_OUT,
    REPORT_MEM_READ,
    REPORT_MEM_WRITE,
    REPORT_TSC_WRITE,
    REPORT_APIC_MOVE,
    REPORT_DEVICE, /* a device model refused what the guest's driver did */
};
void vm_report_once(struct vm *vm, enum report_kind kind, uint64_t what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
