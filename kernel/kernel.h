/* What the kernel offers the layers above it once it has booted. */
#ifndef KERNEL_KERNEL_H
#define KERNEL_KERNEL_H

#include "config.h"
#include "bootinfo.h"

#define FTVISOR_VERSION "0.1"

const struct config *kernel_config(void);
const struct bootinfo *kernel_bootinfo(void);
/* The NIC drivers report the MACs they found; this host is the [host]
 * with one of them (or with a MAC the firmware saw). Stops the boot with a
 * config error when none matches. */
void kernel_identify_host(const uint8_t (*macs)[6], int n);
/* This host's [host] section (NULL until identified). */
const struct cfg_host *kernel_this_host(void);
/* A file the loader read for a config key ("kernel", "initrd", ...), or
 * NULL when the config names none. */
const struct bi_file *kernel_file(const char *key);
/* A config line that cannot be carried out ("FILE:LINE: what is wrong"):
 * print it and power off, as for a parse error. */
void kernel_config_fail(const char *msg) __attribute__((noreturn));
/* Long loops (a state digest over all guest RAM) call kernel_keepalive()
 * every few ms of work: the hook (the pair's heartbeat sender) tells the
 * peer this host is alive though its main loop is busy. */
void kernel_set_keepalive(void (*fn)(void));
void kernel_keepalive(void);
/* One line: the main loop's time by service (power_off() calls it). */
void kernel_profile_report(void);

#endif
