/* Host tools: the [pair] key from an ftvisor.conf, through the hypervisor's
 * own config parser (so a tool reads the file exactly as the hosts do). */
#ifndef TOOLS_PAIR_KEY_H
#define TOOLS_PAIR_KEY_H

#include <stddef.h>

/* The key of the config at path into key (n bytes). 0, or -1 after a
 * message on stderr that starts with prog. */
int pair_key_from_config(const char *prog, const char *path, char *key, size_t n);

#endif
