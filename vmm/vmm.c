/* The vmm service: reports what the CPU offers for VT-x, turns it on,
 * builds the guest from the config and runs it from the main loop.
 * Without VT-x there is nothing to run: ftvisor says so and powers off
 * cleanly, without ever touching CR4.VMXE (on a CPU without VMX, QEMU's TCG
 * livelocks instead of faulting). */
#include "vmx_caps.h"
#include "vmx.h"
#include "vm.h"
#include "vdisk.h"
#include "vmcs.h"
#include "../kernel/clock.h"
#include "../kernel/cmos.h"
#include "../kernel/kernel.h"
#include "../kernel/layout.h"
#include "../kernel/log.h"
#include "../kernel/power.h"
#include "../kernel/service.h"

static struct vmx_caps caps;

static void vmm_init(void)
{
    vmx_caps_read(&caps);
    if (caps.under_hypervisor)
        log_info("vmx", "running under a hypervisor (CPUID signature \"%s\")", caps.hypervisor);
    const struct config *cfg = kernel_config();
    if (!caps.present) {
        log_info("vmx", "not available: this CPU cannot run guests");
        if (!cfg->debug.uptime_ms)
            power_off("no VT-x on this CPU");
        log_info("vmm", "no guest; the host stays up for %u ms ([debug] uptime_ms)", cfg->debug.uptime_ms);
        return;
    }
    char line[200];
    vmx_caps_format(&caps, line, sizeof(line));
    log_info("vmx", "%s", line);
    log_info("vmx", "VMCS revision %llu, %s controls, EPT caps 0x%llx (2M %s, 1G %s, A/D %s), MISC 0x%llx",
             (unsigned long long)(caps.basic & 0x7fffffff), caps.true_ctls ? "TRUE" : "legacy",
             (unsigned long long)caps.ept_vpid, caps.ept_2m ? "yes" : "no", caps.ept_1g ? "yes" : "no",
             caps.ept_ad ? "yes" : "no", (unsigned long long)caps.misc);
    if (caps.locked && !caps.enabled_outside_smx) {
        log_error("vmx", "VT-x is disabled by the firmware (IA32_FEATURE_CONTROL locked with VMX off): "
                         "enable \"Intel Virtualization Technology\" in the firmware setup");
        power_off("VT-x disabled by firmware");
    }
    if (!cfg->guest.present) {
        log_info("vmm", "no [guest] in %s: nothing to run", cfg->file);
        if (!cfg->debug.uptime_ms)
            power_apply(cfg->debug.on_guest_exit, "no guest configured");
        log_info("vmm", "the host stays up for %u ms ([debug] uptime_ms)", cfg->debug.uptime_ms);
        return;
    }
    if (!caps.ept || !caps.ug || !caps.vpid) {
        log_error("vmx", "ftvisor needs EPT, unrestricted guest and VPID; this CPU lacks %s%s%s",
                  caps.ept ? "" : "EPT ", caps.ug ? "" : "unrestricted-guest ", caps.vpid ? "" : "VPID");
        power_off("VT-x lacks required features");
    }
    char err[300];
    if (vmx_enable(&caps, err, sizeof(err))) {
        log_error("vmx", "%s", err);
        power_off("cannot enable VT-x");
    }
    const struct bi_file *k = kernel_file("kernel"), *r = kernel_file("initrd"), *d = kernel_file("disk");
    if (d && vdisk_setup_memory(phys_to_virt(d->base), d->size, err, sizeof(err))) {
        log_error("vmm", "%s: %s", cfg->guest.disk.path, err);
        power_apply(cfg->debug.on_guest_exit, "guest could not start");
    }
    if (d)
        log_info("vmm", "guest disk: %s, %llu sectors of 512 bytes, held in host memory; virtio-blk at PCI 00:%02x.0",
                 cfg->guest.disk.path, (unsigned long long)(d->size / 512), GUEST_PCI_FIRST_SLOT);
    uint64_t epoch = cmos_unix_time();
    struct vm_config vc = {
        .kernel_name = cfg->guest.kernel.path,
        .kernel = (const uint8_t *)phys_to_virt(k->base),
        .kernel_len = k->size,
        .initrd = r ? (const uint8_t *)phys_to_virt(r->base) : NULL,
        .initrd_len = r ? r->size : 0,
        .cmdline = cfg->guest.cmdline,
        .memory_bytes = (uint64_t)cfg->guest.memory_mb << 20,
        /* Recording digests guest memory by the pages written (so do both
         * hosts of a pair): 4 KiB EPT pages make that per page rather than
         * per 2 MiB, which a guest receiving from the network (its writes
         * spread over many chunks) would otherwise pay for in whole chunks
         * read again: 264 MiB for 8 MiB received. */
        .track_pages = cfg->record.mode == CFG_REC_REPLAY ||
                       ((cfg->record.mode != CFG_REC_OFF || (cfg->pair.present && cfg->guest.present)) &&
                        cfg->record.digest_every != 0),
        .cpu_model = config_cpu_model_name(cfg->guest.cpu_model),
        .epoch_seconds = epoch ? epoch : 946684800, /* 2000-01-01 when the RTC is unreadable */
    };
    if (vm_create(&the_vm, &caps, &vc, err, sizeof(err))) {
        log_error("vmm", "cannot start the guest: %s", err);
        power_apply(cfg->debug.on_guest_exit, "guest could not start");
    }
    if (cfg->debug.fault_test == CFG_FAULT_VMENTRY) {
        /* Test hook: an available (not busy) TSS in TR is invalid guest
         * state (SDM Vol. 3, "Checks on Guest Segment Registers"). */
        log_warn("debug", "fault_test = vmentry: corrupting the guest's TR access rights on purpose");
        vmwrite(VMCS_GUEST_TR_AR, 0x89);
    }
    log_info("vmm", "VT-x on; the guest is ready (ft/engine.c runs it)");
}

SERVICE(30, vmm, vmm_init, NULL);
