/* The vmm service: checks what the CPU offers for VT-x and reports it in
 * one line at boot; without VT-x there is nothing to run, so ftvisor says
 * so and powers off cleanly (without ever touching CR4.VMXE: on a CPU
 * without VMX, QEMU's TCG livelocks instead of faulting). */
#include "vmx_caps.h"
#include "../kernel/kernel.h"
#include "../kernel/log.h"
#include "../kernel/power.h"
#include "../kernel/service.h"

static struct vmx_caps caps;

static void vmm_init(void)
{
    vmx_caps_read(&caps);
    if (caps.under_hypervisor)
        log_info("vmx", "running under a hypervisor (CPUID signature \"%s\")", caps.hypervisor);
    if (!caps.present) {
        log_info("vmx", "not available: this CPU cannot run guests");
        power_off("no VT-x on this CPU");
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
    const struct config *cfg = kernel_config();
    if (!cfg->guest.present) {
        log_info("vmm", "no [guest] in %s: nothing to run", cfg->file);
        power_apply(cfg->debug.on_guest_exit, "no guest configured");
    }
    log_warn("vmm", "guest execution is not built yet: the guest was not started");
    power_apply(cfg->debug.on_guest_exit, "guest not started (no VT-x core yet)");
}

SERVICE(30, vmm, vmm_init, NULL);
