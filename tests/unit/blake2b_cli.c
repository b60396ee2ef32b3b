/* Host helper for tests/unit/status_page_js.py: kernel/blake2b.c as a
 * filter. Each input line "OUTLEN KEYHEX MSGHEX" ("-" for empty) gives
 * one output line, the digest in hex, or "error" when blake2b() refuses
 * the sizes. */
#include "../../kernel/blake2b.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t unhex(const char *s, unsigned char *out, size_t max)
{
    size_t n = 0;
    if (strcmp(s, "-") == 0)
        return 0;
    for (; s[0] && s[1] && n < max; s += 2) {
        unsigned v;
        if (sscanf(s, "%2x", &v) != 1)
            break;
        out[n++] = (unsigned char)v;
    }
    return n;
}

int main(void)
{
    static char line[1 << 20];
    static char key_hex[1 << 10], msg_hex[1 << 19];
    static unsigned char key[512], msg[1 << 18];
    while (fgets(line, sizeof(line), stdin)) {
        unsigned outlen;
        if (sscanf(line, "%u %1023s %524287s", &outlen, key_hex, msg_hex) != 3) {
            printf("error\n");
            continue;
        }
        size_t kl = unhex(key_hex, key, sizeof(key)), ml = unhex(msg_hex, msg, sizeof(msg));
        unsigned char d[64];
        if (outlen > 64 || blake2b(d, outlen, key, kl, msg, ml)) {
            printf("error\n");
            continue;
        }
        for (unsigned i = 0; i < outlen; i++)
            printf("%02x", d[i]);
        printf("\n");
    }
    return 0;
}
