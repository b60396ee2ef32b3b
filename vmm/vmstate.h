/* The guest's machine state apart from its RAM, as one self-checking blob:
 * what a live migration's stop-and-copy carries (docs/migration.md,
 * docs/migration-state.md), and what a one-host checkpoint test saves,
 * throws away and restores (ft/checkpoint.c).
 *
 * Contents: virtual time and the virtual TSC's rate; the vCPU (general
 * registers, CR2, the VMCS guest-state fields, pending events including
 * one a VM exit interrupted, the window-exit requests); the state VMX
 * leaves in the CPU (the six passed-through MSRs STAR, LSTAR, CSTAR,
 * FMASK, KERNEL_GS_BASE and TSC_AUX, DR0-DR3 and DR6, XCR0, and the
 * x87/SSE/AVX registers); and every device model (UART, PICs, PIT, RTC,
 * local APIC, I/O APIC, ACPI and PCI registers, virtio-blk, virtio-net).
 *
 * Format (docs/migration.md, "Machine state"; the container is
 * vmstate_wire.c): a 40-byte header (magic "FTVS", version, section
 * count, the image's build ID, total length), then sections {u16 id, u16
 * version, u32 length, u32 CRC32C of the rest, data}. The device
 * models are pure data and travel as their structs with every pointer
 * zeroed, which the build ID makes safe (both hosts run the same image);
 * the destination keeps its own pointers. */
#ifndef VMM_VMSTATE_H
#define VMM_VMSTATE_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

struct vm;

#define VMSTATE_MAX (48 * 1024) /* a blob always fits this */

/* Save vm's state into buf (VMSTATE_MAX bytes). Between two runs of the
 * vCPU only, with no disk request in flight (the caller quiesces the disk
 * first; the migration's in-flight requests travel with ft/ state).
 * vtime: the virtual time the guest stops at (the input source's now,
 * at least vm->time_now), where the destination's clock continues.
 * Returns the blob's length, or 0 with the reason in err. */
size_t vmstate_save(struct vm *vm, uint64_t vtime, uint8_t *buf, size_t cap, char *err, size_t n);

/* Check a blob completely without changing anything: header, build ID,
 * every section's CRC and length, the VMCS fields it may write, the MSR,
 * debug-register, XCR0 and XSAVE values the CPU would fault on, the
 * devices' indices, and that it fits this VM (memory size, CPU model,
 * disk capacity, MAC). 0, or -1 with a sentence in err. */
int vmstate_check(const struct vm *vm, const uint8_t *buf, size_t len, char *err, size_t n);

/* Load a blob that vmstate_check() accepted into a VM just wired by
 * vm_rewire(): a fresh VMCS and fresh devices, RAM already in place. The
 * CPU-held state is loaded last; the next VM entry resumes the guest. 0,
 * or -1 with the reason (the blob failed vmstate_check()). */
int vmstate_load(struct vm *vm, const uint8_t *buf, size_t len, char *err, size_t n);

/* The virtual time a blob was taken at (its VM section), for the input
 * source that continues it; 0 if it has none. */
uint64_t vmstate_vtime(const uint8_t *buf, size_t len);

/* Compare two blobs section by section: 0 if equal, else -1 with the
 * first differing section and byte offset in err (the checkpoint test's
 * proof that a restore gave back what was saved). */
int vmstate_compare(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, char *err, size_t n);

#endif
