#ifndef KERNEL_CMOS_H
#define KERNEL_CMOS_H

#include <stdint.h>
#include <stdbool.h>

/* The host RTC as Unix seconds, or 0 when it reads as nonsense. */
uint64_t cmos_unix_time(void);

#endif
