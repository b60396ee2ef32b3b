/* The logging channel's MAC, old against new: HMAC-SHA256 (frames
 * version 1), keyed BLAKE2b-256 (version 2) and Poly1305 with its
 * per-frame one-time key from BLAKE2b (version 3, net/frame.c) over 4 MiB
 * in 16 KiB messages, the kernel's own code built as the kernel builds it
 * (-O2 -mgeneral-regs-only; kernel/poly1305_avx2.c -O2 -mavx2). tests/bench
 * runs it under callgrind, whose instruction counts do not depend on the
 * machine's load: what an emulator that counts instructions (Bochs) pays.
 * Argument: sha, blake2b, poly1305 (its AVX2 code when the CPU has AVX2),
 * poly1305-scalar (the scalar code only) or otk (the one-time keys alone,
 * to take out of the Poly1305 figures). */
#include <stdio.h>
#include <string.h>
#include "../../kernel/blake2b.h"
#include "../../kernel/poly1305.h"
#include "../../kernel/sha256.h"
#include "../../kernel/simd.h"

static unsigned char msg[16384];

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "sha") != 0 && strcmp(argv[1], "blake2b") != 0 &&
                      strcmp(argv[1], "poly1305") != 0 && strcmp(argv[1], "poly1305-scalar") != 0 &&
                      strcmp(argv[1], "otk") != 0)) {
        fprintf(stderr, "usage: mac_cost sha|blake2b|poly1305|poly1305-scalar|otk\n");
        return 2;
    }
    simd_host_allow(strcmp(argv[1], "poly1305-scalar") != 0);
    unsigned char key[32], mac[32], sum = 0;
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)i;
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (unsigned char)(i * 7);
    char kind = argv[1][0];
    for (int n = 0; n < 256; n++) {
        if (kind == 's') {
            hmac_sha256(key, sizeof(key), msg, sizeof(msg), mac);
        } else if (kind == 'b') {
            blake2b(mac, 32, key, sizeof(key), msg, sizeof(msg));
        } else {
            unsigned char nonce[13] = "FTVF", otk[32];
            nonce[4] = 1;
            nonce[5] = (unsigned char)n;
            blake2b(otk, 32, key, sizeof(key), nonce, sizeof(nonce));
            if (kind == 'o')
                memcpy(mac, otk, 16);
            else
                poly1305(mac, otk, msg, sizeof(msg));
        }
        sum ^= mac[n % 32];
    }
    printf("%02x\n", sum); /* keeps the work from being optimised away */
    return 0;
}
