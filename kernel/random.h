/* Unpredictable bytes for nonces and session keys: RDRAND when the CPU
 * has it, mixed with the TSC through SHA-256 either way (so a CPU without
 * RDRAND, or a broken one, still gives distinct, hard-to-guess values). */
#ifndef KERNEL_RANDOM_H
#define KERNEL_RANDOM_H

#include <stddef.h>

void random_bytes(void *buf, size_t n);

#endif
