#include "random.h"
#include "cpu.h"
#include "sha256.h"
#include <string.h>

static uint8_t pool[32];
static uint64_t counter;

static bool rdrand64(uint64_t *v)
{
    uint32_t a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    if (!(c & (1u << 30)))
        return false;
    for (int i = 0; i < 10; i++) {
        uint8_t ok;
        __asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok));
        if (ok)
            return true;
    }
    return false;
}

void random_bytes(void *buf, size_t n)
{
    uint8_t *out = buf;
    while (n) {
        struct sha256_ctx c;
        sha256_init(&c);
        sha256_update(&c, pool, sizeof(pool));
        uint64_t t = rdtsc(), r = 0;
        counter++;
        sha256_update(&c, &t, sizeof(t));
        sha256_update(&c, &counter, sizeof(counter));
        if (rdrand64(&r))
            sha256_update(&c, &r, sizeof(r));
        uint8_t block[32];
        sha256_final(&c, block);
        /* The pool moves on through a second hash, so an output never
         * reveals the next state. */
        sha256(block, sizeof(block), pool);
        size_t k = n < 16 ? n : 16;
        memcpy(out, block, k);
        out += k;
        n -= k;
    }
}
