/* The logging channel's MAC, old against new, on this machine's CPU:
 * HMAC-SHA256 (frames version 1) and keyed BLAKE2b-256 (version 2) over
 * 4 MiB in 16 KiB messages, the kernel's own code built as the kernel
 * builds it (-O2 -mgeneral-regs-only). tests/bench runs it under
 * callgrind, whose instruction counts do not depend on the machine's load:
 * what an emulator that counts instructions (Bochs) pays. Argument: sha or
 * blake2b. */
#include <stdio.h>
#include <string.h>
#include "../../kernel/blake2b.h"
#include "../../kernel/sha256.h"

static unsigned char msg[16384];

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "sha") != 0 && strcmp(argv[1], "blake2b") != 0)) {
        fprintf(stderr, "usage: mac_cost sha|blake2b\n");
        return 2;
    }
    unsigned char key[32], mac[32], sum = 0;
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)i;
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (unsigned char)(i * 7);
    int sha = argv[1][0] == 's';
    for (int n = 0; n < 256; n++) {
        if (sha)
            hmac_sha256(key, sizeof(key), msg, sizeof(msg), mac);
        else
            blake2b(mac, 32, key, sizeof(key), msg, sizeof(msg));
        sum ^= mac[n % 32];
    }
    printf("%02x\n", sum); /* keeps the work from being optimised away */
    return 0;
}
