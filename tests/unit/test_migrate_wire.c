/* ft/migrate_wire.c: live migration's page batches, encoded and decoded
 * back; zero pages as flags; every malformed batch refused with a
 * sentence before any page is handed out. */
#include "test.h"
#include "../../ft/migrate_wire.h"
#include <stdint.h>

static uint8_t buf[MIG_BATCH_BYTES + 64];
static uint8_t pages[MIG_BATCH_MAX + 1][MIG_PAGE];
static char why[200];

struct got {
    unsigned n;
    uint64_t gfn[MIG_BATCH_MAX + 1];
    const uint8_t *page[MIG_BATCH_MAX + 1];
    int stop_at; /* return 7 at this call (1-based), 0: never */
};

static int collect(void *ctx, uint64_t gfn, const uint8_t *page)
{
    struct got *g = ctx;
    g->gfn[g->n] = gfn;
    g->page[g->n] = page;
    g->n++;
    return g->stop_at && (int)g->n == g->stop_at ? 7 : 0;
}

static void fill(void)
{
    uint32_t x = 12345;
    for (unsigned i = 0; i <= MIG_BATCH_MAX; i++)
        for (unsigned j = 0; j < MIG_PAGE; j++) {
            x = x * 1103515245u + 12345u;
            pages[i][j] = (uint8_t)(x >> 16);
        }
    memset(pages[3], 0, MIG_PAGE); /* zero pages at 3 and 7 */
    memset(pages[7], 0, MIG_PAGE);
}

TEST(round_trip_with_zero_pages)
{
    fill();
    struct mig_batch b;
    mig_batch_begin(&b, buf);
    for (unsigned i = 0; i < MIG_BATCH_MAX; i++)
        CHECK(mig_batch_add(&b, 1000 + i * 3, pages[i]));
    CHECK(!mig_batch_add(&b, 5, pages[0])); /* full */
    CHECK(b.n == MIG_BATCH_MAX && b.zero == 2);
    CHECK(b.len == MIG_BATCH_HEAD + MIG_BATCH_MAX * MIG_ENTRY_HEAD + (MIG_BATCH_MAX - 2) * MIG_PAGE);
    CHECK(b.len <= MIG_BATCH_BYTES && MIG_BATCH_BYTES < 65536);
    struct got g = { 0 };
    CHECK(mig_batch_decode(buf, b.len, 1 << 20, collect, &g, why, sizeof(why)) == 0);
    CHECK(g.n == MIG_BATCH_MAX);
    for (unsigned i = 0; i < g.n; i++) {
        CHECK(g.gfn[i] == 1000 + i * 3);
        if (i == 3 || i == 7)
            CHECK(g.page[i] == NULL);
        else
            CHECK(g.page[i] && memcmp(g.page[i], pages[i], MIG_PAGE) == 0);
    }
}

TEST(zero_page_detection_sees_every_byte)
{
    static uint8_t p[MIG_PAGE];
    memset(p, 0, sizeof(p));
    CHECK(mig_page_is_zero(p));
    for (unsigned i = 0; i < MIG_PAGE; i += 511) {
        p[i] = 1;
        CHECK(!mig_page_is_zero(p));
        p[i] = 0;
    }
    p[MIG_PAGE - 1] = 0x80;
    CHECK(!mig_page_is_zero(p));
}

TEST(malformed_batches_are_refused_before_any_page)
{
    fill();
    struct mig_batch b;
    mig_batch_begin(&b, buf);
    CHECK(mig_batch_add(&b, 1, pages[0]));
    CHECK(mig_batch_add(&b, 2, pages[3])); /* zero */
    CHECK(mig_batch_add(&b, 3, pages[1]));
    struct got g = { 0 };
    /* Every truncation. */
    for (size_t len = 0; len < b.len; len++) {
        g.n = 0;
        if (mig_batch_decode(buf, len, 100, collect, &g, why, sizeof(why)) != -1 || g.n != 0) {
            TEST_FAIL("truncated to %zu bytes: accepted or pages given", len);
            return;
        }
    }
    /* A trailing byte. */
    g.n = 0;
    CHECK(mig_batch_decode(buf, b.len + 1, 100, collect, &g, why, sizeof(why)) == -1 && g.n == 0);
    CHECK_STR(why, "page batch has 1 bytes after its 3 pages");
    /* A page beyond the guest: even the last entry stops it all. */
    CHECK(mig_batch_decode(buf, b.len, 3, collect, &g, why, sizeof(why)) == -1 && g.n == 0);
    CHECK_STR(why, "page batch entry 3 names page 3; the guest has 3");
    /* Counts 0 and MIG_BATCH_MAX + 1. */
    buf[0] = 0;
    CHECK(mig_batch_decode(buf, b.len, 100, collect, &g, why, sizeof(why)) == -1);
    CHECK_STR(why, "page batch with 0 pages (1 to 15 allowed)");
    buf[0] = MIG_BATCH_MAX + 1;
    CHECK(mig_batch_decode(buf, b.len, 100, collect, &g, why, sizeof(why)) == -1 && g.n == 0);
    buf[0] = 3;
    /* A zero flag cleared: the lengths no longer add up. */
    buf[MIG_BATCH_HEAD + MIG_ENTRY_HEAD + MIG_PAGE] &= (uint8_t)~1;
    CHECK(mig_batch_decode(buf, b.len, 100, collect, &g, why, sizeof(why)) == -1 && g.n == 0);
}

TEST(callback_result_stops_decoding)
{
    fill();
    struct mig_batch b;
    mig_batch_begin(&b, buf);
    for (unsigned i = 0; i < 4; i++)
        CHECK(mig_batch_add(&b, i, pages[i]));
    struct got g = { .stop_at = 2 };
    CHECK(mig_batch_decode(buf, b.len, 100, collect, &g, why, sizeof(why)) == 7);
    CHECK(g.n == 2);
    /* A page number that does not fit the entry is refused by the encoder. */
    CHECK(!mig_batch_add(&b, 1ull << 63, pages[0]));
}

int main(void) { return test_main(); }
