/* libFuzzer target for ft/migrate_wire.c: any bytes as a page batch. The
 * decoder either refuses the batch without handing out a page, or hands
 * out exactly the count's pages, each below the guest's size, each page
 * inside the input; and re-encoding what came out gives the input back
 * whenever no zero page was sent as data (the encoder turns those into
 * flags). (b) The input also drives a generator: a batch of real pages
 * (some zero) is encoded, maybe cut short or with one byte changed, and
 * decoded: unchanged, exactly those pages come out; changed, the batch
 * is refused or its pages still pass every bound.
 *
 *   make fuzz-tests && build/tests/fuzz/fuzz_migrate_wire -runs=200000 -seed=1 */
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../ft/migrate_wire.h"

#define REQUIRE(c)                                                                         \
    do {                                                                                   \
        if (!(c)) {                                                                        \
            fprintf(stderr, "fuzz_migrate_wire.c:%d: requirement failed: %s\n", __LINE__, #c); \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

struct seen {
    const uint8_t *in;
    size_t len;
    uint64_t npages;
    unsigned n;
    uint64_t gfn[MIG_BATCH_MAX];
    const uint8_t *page[MIG_BATCH_MAX];
};

static int take(void *ctx, uint64_t gfn, const uint8_t *page)
{
    struct seen *s = ctx;
    REQUIRE(s->n < MIG_BATCH_MAX);
    REQUIRE(gfn < s->npages);
    REQUIRE(!page || (page >= s->in && page + MIG_PAGE <= s->in + s->len));
    s->gfn[s->n] = gfn;
    s->page[s->n] = page;
    s->n++;
    return 0;
}

static uint8_t out[MIG_BATCH_BYTES];
static const uint8_t zero[MIG_PAGE];

static uint8_t gen_buf[MIG_BATCH_BYTES];
static uint8_t gen_pages[MIG_BATCH_MAX][MIG_PAGE];

static void generated(const uint8_t *data, size_t len)
{
    if (len < 4)
        return;
    unsigned count = data[0] % MIG_BATCH_MAX + 1;
    struct mig_batch b;
    mig_batch_begin(&b, gen_buf);
    uint64_t gfns[MIG_BATCH_MAX];
    for (unsigned i = 0; i < count; i++) {
        uint8_t k = data[(1 + i) % len];
        gfns[i] = (uint64_t)k * 7 + i;
        if (k & 1)
            memset(gen_pages[i], 0, MIG_PAGE);
        else
            for (unsigned j = 0; j < MIG_PAGE; j++)
                gen_pages[i][j] = (uint8_t)(data[(j + i) % len] + j + 1);
        REQUIRE(mig_batch_add(&b, gfns[i], gen_pages[i]));
    }
    size_t blen = b.len;
    int change = data[1] % 3; /* 0 none, 1 cut short, 2 one byte changed */
    size_t at = ((size_t)data[2] << 8 | data[3]) * 37 % blen;
    if (change == 1)
        blen = at;
    else if (change == 2)
        gen_buf[at] ^= (uint8_t)(data[3] | 1);
    struct seen s = { gen_buf, blen, 256 * 7 + MIG_BATCH_MAX, 0, { 0 }, { 0 } };
    char why[200];
    int r = mig_batch_decode(gen_buf, blen, s.npages, take, &s, why, sizeof(why));
    if (change == 0) {
        REQUIRE(r == 0 && s.n == count);
        for (unsigned i = 0; i < count; i++) {
            REQUIRE(s.gfn[i] == gfns[i]);
            if (mig_page_is_zero(gen_pages[i]))
                REQUIRE(s.page[i] == NULL);
            else
                REQUIRE(s.page[i] && memcmp(s.page[i], gen_pages[i], MIG_PAGE) == 0);
        }
    } else if (change == 1) {
        REQUIRE(r == -1 && s.n == 0);
    } else {
        REQUIRE(r == 0 || (r == -1 && s.n == 0));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    generated(data, len);
    /* Small page counts make the bound matter; the first byte picks it. */
    uint64_t npages = len ? (uint64_t)data[0] * 3 + 1 : 1;
    struct seen s = { data, len, npages, 0, { 0 }, { 0 } };
    char why[200];
    int r = mig_batch_decode(data, len, npages, take, &s, why, sizeof(why));
    if (r != 0) {
        REQUIRE(r == -1 && s.n == 0 && why[0]);
        return 0;
    }
    REQUIRE(s.n >= 1 && s.n == ((unsigned)data[0] | (unsigned)data[1] << 8));
    struct mig_batch b;
    mig_batch_begin(&b, out);
    bool zero_as_data = false;
    for (unsigned i = 0; i < s.n; i++) {
        const uint8_t *p = s.page[i] ? s.page[i] : zero;
        zero_as_data |= s.page[i] && mig_page_is_zero(s.page[i]);
        REQUIRE(mig_batch_add(&b, s.gfn[i], p));
    }
    if (!zero_as_data)
        REQUIRE(b.len == len && memcmp(out, data, len) == 0);
    return 0;
}
