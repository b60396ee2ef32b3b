/* The image's build ID: the SHA-1 the linker computes over ftvisor.elf
 * (--build-id=sha1, kept in .rodata by linker.ld). Two hosts that move a
 * guest's raw device state between them must run the same image. */
#ifndef KERNEL_BUILD_ID_H
#define KERNEL_BUILD_ID_H

#include <stdint.h>

#define BUILD_ID_LEN 20

/* The ID, or all zeros when the image has none (a link without the flag). */
const uint8_t *build_id(void);
/* Its first 8 bytes as 16 hex digits, for messages. */
const char *build_id_hex(void);

#endif
