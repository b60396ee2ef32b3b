/* lwIP architecture port for ftvisor: freestanding x86-64, no libc headers
 * beyond the compiler's and kernel/libc. */
#ifndef FTVISOR_LWIP_ARCH_CC_H
#define FTVISOR_LWIP_ARCH_CC_H

#include <stdint.h>
#include <stddef.h>

#define LWIP_NO_INTTYPES_H 1
#define LWIP_NO_CTYPE_H 1
#define LWIP_NO_LIMITS_H 1
#define LWIP_NO_UNISTD_H 1
#define SSIZE_MAX 0x7fffffffffffffffL
typedef long ssize_t;

#define X8_F "02x"
#define U16_F "u"
#define S16_F "d"
#define X16_F "x"
#define U32_F "u"
#define S32_F "d"
#define X32_F "x"
#define SZT_F "zu"

#define BYTE_ORDER LITTLE_ENDIAN

void lwip_port_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void lwip_port_assert(const char *msg, int line, const char *file) __attribute__((noreturn));
uint32_t lwip_port_rand(void);

#define LWIP_PLATFORM_DIAG(x) do { lwip_port_diag x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) lwip_port_assert(x, __LINE__, __FILE__)
#define LWIP_RAND() lwip_port_rand()

#endif
