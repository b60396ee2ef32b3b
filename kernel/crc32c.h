/* CRC-32C (Castagnoli): the checksum of the FT logging channel's frames
 * (net/frame.c). Reflected polynomial 0x82F63B78, initial value and final
 * XOR 0xFFFFFFFF, as in RFC 3720 (iSCSI) section 12.1 and appendix B.4.
 *
 * All entry points are chainable: the value returned for one piece is the
 * `crc` argument for the next, starting from 0:
 *   crc32c(crc32c(0, a, n), b, m) == crc32c(0, a || b, n + m)
 *   crc32c(0, "123456789", 9) == 0xE3069283
 *
 * Pure and freestanding: no state, no allocation, no floating point. */
#ifndef KERNEL_CRC32C_H
#define KERNEL_CRC32C_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

/* The CRC: the SSE4.2 CRC32 instruction when the CPU has it, else the
 * tables. No state is kept, so this runs CPUID on every call of
 * CRC32C_HW_MIN bytes or more (shorter ones use the tables): callers with
 * many buffers should ask crc32c_hw_available() once and call crc32c_hw()
 * or crc32c_sw() themselves (net/frame.c keeps the answer per session). */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/* Slicing-by-8 tables: any CPU, about 1 byte per cycle. */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* The SSE4.2 CRC32 instruction (a general-purpose-register instruction, so
 * fine under -mgeneral-regs-only). Only when crc32c_hw_available(). */
uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len);

/* CPUID.01H:ECX.SSE4_2[bit 20]. Always false off x86-64. */
bool crc32c_hw_available(void);

/* CPUID costs ~100 cycles on bare metal but a VM exit (1 to several us)
 * when the hypervisor itself runs under one: below this the tables win. */
#define CRC32C_HW_MIN 4096

#endif
