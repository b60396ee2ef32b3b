/* The [pair] key from an ftvisor.conf (pair_key.h). */
#include "pair_key.h"
#include "../kernel/config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pair_key_from_config(const char *prog, const char *path, char *key, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        return -1;
    }
    static char text[1 << 20]; /* a config is a few KiB */
    size_t len = fread(text, 1, sizeof(text), f);
    fclose(f);
    static struct config cfg;
    char err[CFG_ERR_MAX];
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (config_parse(text, len, base, &cfg, err, sizeof(err))) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return -1;
    }
    if (!cfg.pair.present) {
        fprintf(stderr, "%s: %s has no [pair] section (the pair key is there)\n", prog, path);
        return -1;
    }
    snprintf(key, n, "%s", cfg.pair.key);
    return 0;
}
