/* kernel_main: bring the host up, read the config, start the services of
 * the layers above, and run the main loop. */
#include "kernel.h"
#include "acpi.h"
#include "bootinfo.h"
#include "clock.h"
#include "config.h"
#include "console.h"
#include "cpu.h"
#include "format.h"
#include "lapic.h"
#include "layout.h"
#include "log.h"
#include "build_id.h"
#include "paging.h"
#include "panic.h"
#include "pmm.h"
#include "power.h"
#include "profile.h"
#include "service.h"
#include "simd.h"
#include "trap.h"
#include <string.h>

#ifndef FTVISOR_GIT
#define FTVISOR_GIT "unknown"
#endif

static struct bootinfo bi;
static struct config cfg;
static int this_host = -1;

extern const struct service __services_start[], __services_end[];
#define MAX_SERVICES 32
static uint64_t loop_ticks[MAX_SERVICES], idle_ticks, loop_start, loop_passes; /* kernel_profile_report() */

const struct config *kernel_config(void) { return &cfg; }
const struct bootinfo *kernel_bootinfo(void) { return &bi; }
const struct cfg_host *kernel_this_host(void) { return this_host >= 0 ? &cfg.hosts[this_host] : NULL; }

static void (*keepalive)(void);
void kernel_set_keepalive(void (*fn)(void)) { keepalive = fn; }
void kernel_keepalive(void)
{
    if (keepalive)
        keepalive();
}

static void print_config(void);

void kernel_identify_host(const uint8_t (*macs)[6], int n)
{
    if (this_host >= 0)
        return;
    /* The firmware's MACs and the drivers' together. */
    uint8_t all[BI_MAX_NICS + 8][6];
    int k = 0;
    for (uint32_t i = 0; i < bi.nnics && k < BI_MAX_NICS + 8; i++)
        memcpy(all[k++], bi.nic_mac[i], 6);
    for (int i = 0; i < n && k < BI_MAX_NICS + 8; i++) {
        bool dup = false;
        for (int j = 0; j < k; j++)
            dup |= memcmp(all[j], macs[i], 6) == 0;
        if (!dup)
            memcpy(all[k++], macs[i], 6);
    }
    char err[CFG_ERR_MAX];
    this_host = config_find_host(&cfg, (const uint8_t(*)[6])all, k, err, sizeof(err));
    if (this_host < 0)
        kernel_config_fail(err);
    print_config();
}

const struct bi_file *kernel_file(const char *key)
{
    for (uint32_t i = 0; i < bi.nfiles; i++)
        if (strcmp(bi.files[i].key, key) == 0)
            return &bi.files[i];
    return NULL;
}

static void fmt_ip(char *buf, size_t n, uint32_t ip)
{
    fmt_snprintf(buf, n, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

static int prefix_len(uint32_t mask)
{
    int n = 0;
    while (mask & 0x80000000u)
        n++, mask <<= 1;
    return n;
}

/* A config error stops the boot: the message on both consoles, then a
 * clean power-off so unattended machines and emulators end. */
void kernel_config_fail(const char *msg)
{
    log_error("config", "%s", msg);
    kprintf("%s\n", msg);
    power_off("configuration error");
}

static void load_config(void)
{
    char err[CFG_ERR_MAX];
    if (config_parse(bi.config, bi.config_len, bi.config_name, &cfg, err, sizeof(err)))
        kernel_config_fail(err);
    /* Files the config names must have been read by the loader. */
    const char *key;
    const struct cfg_file *f;
    for (int i = 0; (f = config_file(&cfg, i, &key)) != NULL; i++) {
        if (!f->path[0])
            continue;
        const struct bi_file *bf = kernel_file(key);
        if (!bf) {
            fmt_snprintf(err, sizeof(err), "%s:%d: %s: '%s' was not loaded by the boot loader", cfg.file, f->line,
                         key, f->path);
            kernel_config_fail(err);
        }
        if (bf->status) {
            fmt_snprintf(err, sizeof(err), "%s:%d: %s: cannot read '%s' from the boot volume: %s", cfg.file,
                         f->line, key, f->path, bf->error);
            kernel_config_fail(err);
        }
    }
    log_set_level((enum log_level)cfg.debug.log_level);
    power_set_exit_port(cfg.debug.exit_port);

    /* This host: by [debug] host, or by the MAC of a NIC the firmware saw;
     * otherwise the NIC drivers decide (kernel_identify_host()). */
    this_host = config_find_host(&cfg, (const uint8_t(*)[6])bi.nic_mac, (int)bi.nnics, err, sizeof(err));
    if (this_host < 0 && cfg.debug.host[0])
        kernel_config_fail(err);
    print_config();
}

/* The config's summary, once this host is known. */
static void print_config(void)
{
    char ip[16], gw[16];
    if (this_host < 0) {
        log_info("config", "%s parsed; this host will be found by the MAC of a NIC (%u seen by the firmware)",
                 cfg.file, bi.nnics);
        return;
    }
    log_info("config", "%s: %d host%s, pair %s, guest %s", cfg.file, cfg.nhosts, cfg.nhosts == 1 ? "" : "s",
             cfg.pair.present ? "configured" : "not configured", cfg.guest.present ? "configured" : "none");
    for (int i = 0; i < cfg.nhosts; i++) {
        const struct cfg_host *h = &cfg.hosts[i];
        fmt_ip(ip, sizeof(ip), h->ip);
        fmt_ip(gw, sizeof(gw), h->gateway);
        log_info("config", "host %s: mac %02x:%02x:%02x:%02x:%02x:%02x ip %s/%d gateway %s%s", h->name, h->mac[0],
                 h->mac[1], h->mac[2], h->mac[3], h->mac[4], h->mac[5], ip, prefix_len(h->netmask),
                 h->gateway ? gw : "none", i == this_host ? " (this host)" : "");
    }
    if (cfg.pair.present) {
        fmt_ip(ip, sizeof(ip), cfg.pair.arbiter_ip);
        log_info("config", "pair: heartbeat %u ms, failover timeout %u ms, arbiter %s%s%s", cfg.pair.heartbeat_ms,
                 cfg.pair.failover_timeout_ms, config_arbiter_name(cfg.pair.arbiter),
                 cfg.pair.arbiter == CFG_ARBITER_WITNESS ? " " : "",
                 cfg.pair.arbiter == CFG_ARBITER_WITNESS ? ip : "");
    }
    if (cfg.guest.present) {
        const struct bi_file *k = kernel_file("kernel"), *r = kernel_file("initrd"), *d = kernel_file("disk");
        char disk[CFG_PATH_MAX + 48];
        if (cfg.guest.disk_serial[0] && cfg.guest.disk_partition)
            fmt_snprintf(disk, sizeof(disk), "partition %u of the drive with serial %s", cfg.guest.disk_partition,
                         cfg.guest.disk_serial);
        else if (cfg.guest.disk_serial[0])
            fmt_snprintf(disk, sizeof(disk), "the drive with serial %s", cfg.guest.disk_serial);
        else
            fmt_snprintf(disk, sizeof(disk), "%s", d ? cfg.guest.disk.path : "none");
        log_info("config", "guest: kernel %s (%llu KiB), initrd %s (%llu KiB), disk %s, memory %u MiB",
                 cfg.guest.kernel.path, k ? (unsigned long long)(k->size >> 10) : 0ull,
                 r ? cfg.guest.initrd.path : "none", r ? (unsigned long long)(r->size >> 10) : 0ull, disk,
                 cfg.guest.memory_mb);
        if (cfg.guest.cmdline[0])
            log_info("config", "guest: cmdline \"%s\"", cfg.guest.cmdline);
    }
    log_info("config", "debug: on_guest_exit %s, log_level %s%s", config_on_exit_name(cfg.debug.on_guest_exit),
             config_log_level_name(cfg.debug.log_level), cfg.debug.host[0] ? ", host chosen by [debug] host" : "");
}

static void __attribute__((noinline)) fault_test(enum cfg_fault_test t)
{
    log_warn("debug", "fault_test = %s: raising it now on purpose", config_fault_test_name(t));
    switch (t) {
    case CFG_FAULT_UD:
        __asm__ volatile("ud2");
        break;
    case CFG_FAULT_PF:
        *(volatile uint64_t *)0xdead000ull = 1; /* lower half: unmapped */
        break;
    case CFG_FAULT_DE: {
        volatile uint64_t zero = 0;
        uint64_t q;
        __asm__ volatile("xor %%edx, %%edx; divq %2" : "=a"(q) : "a"(1ull), "r"((uint64_t)zero) : "rdx");
        (void)q;
        break;
    }
    case CFG_FAULT_GP:
        __asm__ volatile("movabs $0x8000000000000000, %%rax; mov (%%rax), %%rax" ::: "rax");
        break;
    case CFG_FAULT_DF: {
        /* Overflow into the stack guard: the #PF cannot push its frame on
         * the same stack, so the CPU raises #DF on its IST stack. */
        extern char boot_stack_bottom[];
        __asm__ volatile("mov %0, %%rsp; pushq $0" ::"r"(boot_stack_bottom) : "memory");
        break;
    }
    default:
        break;
    }
    panic("fault_test %s did not fault", config_fault_test_name(t));
}

void kernel_main(uint64_t fdt_phys)
{
    clock_early_init();
    gdt_init();
    idt_init();
    serial_init();
    kprintf("\n");
    log_info("ftvisor", "ftvisor %s (%s, build %s), a fault-tolerant microhypervisor", FTVISOR_VERSION, FTVISOR_GIT,
             build_id_hex());

    char err[200];
    if (bootinfo_parse(phys_to_virt(fdt_phys), &bi, err, sizeof(err)))
        panic("%s", err);
    log_info("boot", "boot-info from %s: %u memory descriptors, %u reserved regions, %u files, %u NIC MACs",
             bi.loader, bi.memmap_size / bi.desc_size, bi.nreserved, bi.nfiles, bi.nnics);
    log_info("boot", "image at phys 0x%llx (%llu KiB), linked at 0x%llx", (unsigned long long)bi.kernel_phys,
             (unsigned long long)(bi.kernel_size >> 10), (unsigned long long)bi.kernel_virt);

    pmm_init(&bi);
    paging_init(&bi);
    fbcon_init(&bi);
    acpi_init(bi.rsdp);
    clock_init();
    pic_disable();
    lapic_init();
    lapic_timer_start(1000);
    sti();
    uint64_t t0 = lapic_ticks(), ns0 = clock_ns();
    clock_delay_us(50000);
    log_info("lapic", "timer check: %llu ticks in %llu ms", (unsigned long long)(lapic_ticks() - t0),
             (unsigned long long)((clock_ns() - ns0) / 1000000));

    /* Whether vector code may run between VM exits (kernel/simd.h): before
     * the services, as the channel (net/) MACs frames with it. */
    simd_init();
    load_config();
    if (cfg.debug.fault_test >= CFG_FAULT_UD && cfg.debug.fault_test <= CFG_FAULT_DF) /* host exceptions */
        fault_test(cfg.debug.fault_test);

    for (const struct service *s = __services_start; s < __services_end; s++)
        if (s->init)
            s->init();

    log_info("ftvisor", "boot complete in %llu ms; entering the main loop", (unsigned long long)(clock_ns() / 1000000));
    uint64_t deadline = cfg.debug.uptime_ms ? (uint64_t)cfg.debug.uptime_ms * 1000000 : 0;
    if (cfg.debug.profile == CFG_ON)
        profile_enable();
    loop_start = rdtsc();
    for (;;) {
        if (deadline && clock_ns() >= deadline)
            power_off("uptime_ms reached");
        bool busy = false;
        loop_passes++;
        for (const struct service *s = __services_start; s < __services_end; s++)
            if (s->poll) {
                uint64_t t = rdtsc();
                busy |= s->poll();
                size_t i = (size_t)(s - __services_start);
                if (i < MAX_SERVICES)
                    loop_ticks[i] += rdtsc() - t;
            }
        if (!busy) {
            /* Sleep until the next interrupt (the LAPIC tick at the latest). */
            uint64_t t = rdtsc();
            cli();
            sti_hlt();
            idle_ticks += rdtsc() - t;
        }
    }
}

/* Where the main loop's time went, by service: a guest's run and its exits
 * are the engine's; the rest is the host's own work (network, channel,
 * log streaming...). One line, at power-off. */
void kernel_profile_report(void)
{
    uint64_t total = rdtsc() - loop_start, hz = clock_tsc_hz();
    if (!loop_start || !hz || !total)
        return;
    char line[600];
    size_t n = 0;
    for (const struct service *s = __services_start;
         s < __services_end && s - __services_start < MAX_SERVICES && n < sizeof(line) - 40; s++) {
        uint64_t t = loop_ticks[s - __services_start];
        if (!s->poll || t * 1000 < total) /* under 0.1 %: not worth a word */
            continue;
        n += (size_t)fmt_snprintf(line + n, sizeof(line) - n, "%s%s %llu.%llu%%", n ? ", " : "", s->name,
                                  (unsigned long long)(t * 100 / total), (unsigned long long)(t * 1000 / total % 10));
    }
    log_info("ftvisor", "main loop, %llu ms, %llu passes: %s; idle %llu%%", (unsigned long long)(total * 1000 / hz),
             (unsigned long long)loop_passes, line, (unsigned long long)(idle_ticks * 100 / total));
    profile_report();
}
