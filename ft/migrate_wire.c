/* Live migration's page batches (migrate_wire.h). Little-endian:
 *
 *   u16 count (1..MIG_BATCH_MAX)
 *   count times: u64 gfn << 1 | zero, then 4096 bytes unless zero
 *
 * The decoder walks the batch twice: first to check every field and that
 * the lengths add up exactly, then to hand the pages out, so a malformed
 * batch changes no guest memory at all. */
#include "migrate_wire.h"
#include "../kernel/format.h"
#include "../kernel/le.h"
#include <string.h>

bool mig_page_is_zero(const uint8_t *p)
{
    uint64_t acc = 0;
    for (unsigned i = 0; i < MIG_PAGE; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        acc |= w;
    }
    return acc == 0;
}

void mig_batch_begin(struct mig_batch *b, uint8_t *buf)
{
    b->buf = buf;
    b->len = MIG_BATCH_HEAD;
    b->n = 0;
    b->zero = 0;
    le16_put(buf, 0);
}

bool mig_batch_add(struct mig_batch *b, uint64_t gfn, const uint8_t *page)
{
    if (b->n == MIG_BATCH_MAX || gfn >> 63)
        return false;
    bool zero = mig_page_is_zero(page);
    le64_put(b->buf + b->len, gfn << 1 | (zero ? 1 : 0));
    b->len += MIG_ENTRY_HEAD;
    if (!zero) {
        memcpy(b->buf + b->len, page, MIG_PAGE);
        b->len += MIG_PAGE;
    } else {
        b->zero++;
    }
    le16_put(b->buf, (uint16_t)++b->n);
    return true;
}

int mig_batch_decode(const uint8_t *buf, size_t len, uint64_t npages, mig_page_fn fn, void *ctx, char *why,
                     size_t n)
{
    if (len < MIG_BATCH_HEAD) {
        fmt_snprintf(why, n, "page batch of %llu bytes: shorter than its 2-byte count", (unsigned long long)len);
        return -1;
    }
    unsigned count = le16_get(buf);
    if (count == 0 || count > MIG_BATCH_MAX) {
        fmt_snprintf(why, n, "page batch with %u pages (1 to %u allowed)", count, MIG_BATCH_MAX);
        return -1;
    }
    size_t pos = MIG_BATCH_HEAD;
    for (unsigned i = 0; i < count; i++) {
        if (len - pos < MIG_ENTRY_HEAD) {
            fmt_snprintf(why, n, "page batch ends inside entry %u of %u (at byte %llu of %llu)", i + 1, count,
                         (unsigned long long)pos, (unsigned long long)len);
            return -1;
        }
        uint64_t e = le64_get(buf + pos);
        pos += MIG_ENTRY_HEAD;
        if ((e >> 1) >= npages) {
            fmt_snprintf(why, n, "page batch entry %u names page %llu; the guest has %llu", i + 1,
                         (unsigned long long)(e >> 1), (unsigned long long)npages);
            return -1;
        }
        if (!(e & 1)) {
            if (len - pos < MIG_PAGE) {
                fmt_snprintf(why, n, "page batch ends inside page %llu (entry %u of %u: %llu of 4096 bytes)",
                             (unsigned long long)(e >> 1), i + 1, count, (unsigned long long)(len - pos));
                return -1;
            }
            pos += MIG_PAGE;
        }
    }
    if (pos != len) {
        fmt_snprintf(why, n, "page batch has %llu bytes after its %u pages", (unsigned long long)(len - pos), count);
        return -1;
    }
    pos = MIG_BATCH_HEAD;
    for (unsigned i = 0; i < count; i++) {
        uint64_t e = le64_get(buf + pos);
        pos += MIG_ENTRY_HEAD;
        const uint8_t *page = NULL;
        if (!(e & 1)) {
            page = buf + pos;
            pos += MIG_PAGE;
        }
        int r = fn(ctx, e >> 1, page);
        if (r)
            return r;
    }
    return 0;
}
