/* The Internet checksum's sum (RFC 1071) for lwIP (LWIP_CHKSUM in
 * net/port/lwipopts.h). Pure code. */
#ifndef NET_INET_SUM_H
#define NET_INET_SUM_H

#include <stdint.h>

/* The ones'-complement sum of the 16-bit words at p (in memory order, as
 * the CPU loads them: lwIP's "host order" sum, not inverted); an odd last
 * byte counts as a word with a zero second byte. */
uint16_t inet_sum(const void *p, int len);

#endif
