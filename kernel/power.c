#include "power.h"
#include "acpi.h"
#include "console.h"
#include "cpu.h"
#include "log.h"
#include "panic.h"
#include "clock.h"
#include "kernel.h"

static uint16_t exit_port;

void power_set_exit_port(uint16_t port) { exit_port = port; }
uint16_t power_exit_port(void) { return exit_port; }

void power_off(const char *reason)
{
    cli();
    kernel_profile_report();
    kprintf("ftvisor: power-off: %s\n", reason);
    serial_flush();
    if (exit_port)
        outb(exit_port, EXIT_CODE_POWEROFF);
    acpi_poweroff();
    kprintf("ftvisor: ACPI power-off did not take effect; halting\n");
    serial_flush();
    halt_forever();
}

void power_restart(const char *reason)
{
    cli();
    kprintf("ftvisor: restart: %s\n", reason);
    serial_flush();
    acpi_reset();
    outb(0xcf9, 0x02); /* PCI reset control: hard reset (ICH/PIIX) */
    outb(0xcf9, 0x06);
    clock_delay_us(100000);
    for (int i = 0; i < 100000 && (inb(0x64) & 2); i++)
        pause();
    outb(0x64, 0xfe); /* keyboard controller: pulse the reset line */
    clock_delay_us(100000);
    /* Last resort: a triple fault resets every PC. */
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) empty = { 0, 0 };
    __asm__ volatile("lidt %0; int3" ::"m"(empty));
    halt_forever();
}

void power_halt(const char *reason)
{
    cli();
    kprintf("ftvisor: halted: %s\n", reason);
    serial_flush();
    halt_forever();
}

void power_apply(enum cfg_on_exit action, const char *reason)
{
    switch (action) {
    case CFG_EXIT_HALT: power_halt(reason);
    case CFG_EXIT_RESTART: power_restart(reason);
    default: power_off(reason);
    }
}
