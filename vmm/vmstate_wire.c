/* The machine-state blob's container (vmstate_wire.h). */
#include "vmstate_wire.h"
#include "../kernel/crc32c.h"
#include "../kernel/format.h"
#include "../kernel/le.h"
#include <string.h>

static const char *const names[VS_IDS] = { "?",     "vm",  "cpu",   "vmcs",   "hw",       "uart", "pic",
                                           "pit",   "rtc", "lapic", "ioapic", "platform", "blk",  "net" };

const char *vs_section_name(unsigned id) { return id < VS_IDS ? names[id] : "?"; }

void vs_begin(struct vs_writer *w, uint8_t *buf, size_t cap)
{
    *w = (struct vs_writer){ buf, cap, VS_HEADER, 0, 0, cap < VS_HEADER };
}

void vs_put(struct vs_writer *w, const void *p, size_t n)
{
    if (!n)
        return;
    if (w->full || w->len + n > w->cap) {
        w->full = true;
        return;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

void vs_sec_begin(struct vs_writer *w, unsigned id)
{
    uint8_t head[VS_SEC_HEAD] = { 0 };
    le16_put(head, (uint16_t)id);
    le16_put(head + 2, 1);
    w->sec = w->len;
    vs_put(w, head, sizeof(head));
}

void vs_sec_end(struct vs_writer *w)
{
    if (w->full)
        return;
    uint32_t len = (uint32_t)(w->len - w->sec - VS_SEC_HEAD);
    le32_put(w->buf + w->sec + 4, len);
    /* The CRC covers the section's id, version and length too: a changed
     * id would otherwise load one device's bytes as another's. */
    uint32_t crc = crc32c(crc32c(0, w->buf + w->sec, 8), w->buf + w->sec + VS_SEC_HEAD, len);
    le32_put(w->buf + w->sec + 8, crc);
    w->count++;
}

void vs_put_sec(struct vs_writer *w, unsigned id, const void *p, size_t n)
{
    vs_sec_begin(w, id);
    vs_put(w, p, n);
    vs_sec_end(w);
}

size_t vs_finish(struct vs_writer *w, const uint8_t build_id[VS_BUILD_ID])
{
    if (w->full)
        return 0;
    memset(w->buf, 0, VS_HEADER);
    le32_put(w->buf, VS_MAGIC);
    le16_put(w->buf + 4, VS_VERSION);
    le16_put(w->buf + 6, (uint16_t)w->count);
    memcpy(w->buf + 8, build_id, VS_BUILD_ID);
    le32_put(w->buf + 32, (uint32_t)w->len);
    return w->len;
}

static void hex8(const uint8_t *id, char out[17])
{
    for (int i = 0; i < 8; i++) {
        out[2 * i] = "0123456789abcdef"[id[i] >> 4];
        out[2 * i + 1] = "0123456789abcdef"[id[i] & 15];
    }
    out[16] = 0;
}

int vs_parse(const uint8_t *buf, size_t len, const uint8_t build_id[VS_BUILD_ID], struct vs_sec sec[VS_IDS],
             char *err, size_t n)
{
    memset(sec, 0, sizeof(struct vs_sec) * VS_IDS);
    if (len < VS_HEADER) {
        fmt_snprintf(err, n, "the machine state is %llu bytes: shorter than its header", (unsigned long long)len);
        return -1;
    }
    uint32_t magic = le32_get(buf), total = le32_get(buf + 32);
    unsigned version = le16_get(buf + 4), count = le16_get(buf + 6);
    if (magic != VS_MAGIC || version != VS_VERSION) {
        fmt_snprintf(err, n, "not machine state of format %u (magic 0x%x, version %u)", VS_VERSION, magic, version);
        return -1;
    }
    if (memcmp(buf + 8, build_id, VS_BUILD_ID) != 0) {
        char theirs[17], mine[17];
        hex8(buf + 8, theirs);
        hex8(build_id, mine);
        fmt_snprintf(err, n, "the machine state comes from ftvisor build %s, this is build %s: both hosts must boot "
                             "the same image", theirs, mine);
        return -1;
    }
    if (total != len) {
        fmt_snprintf(err, n, "the machine state is %llu bytes, its header says %u", (unsigned long long)len, total);
        return -1;
    }
    size_t off = VS_HEADER;
    for (unsigned i = 0; i < count; i++) {
        if (len - off < VS_SEC_HEAD) {
            fmt_snprintf(err, n, "section %u of %u is cut off at byte %llu", i + 1, count, (unsigned long long)off);
            return -1;
        }
        unsigned id = le16_get(buf + off), ver = le16_get(buf + off + 2);
        uint32_t slen = le32_get(buf + off + 4), crc = le32_get(buf + off + 8);
        if (slen > len - off - VS_SEC_HEAD) {
            fmt_snprintf(err, n, "section %u (id %u) runs past the end (%u bytes at byte %llu)", i + 1, id, slen,
                         (unsigned long long)off);
            return -1;
        }
        const uint8_t *d = buf + off + VS_SEC_HEAD;
        if (crc32c(crc32c(0, buf + off, 8), d, slen) != crc) {
            fmt_snprintf(err, n, "section %s: CRC mismatch (damaged)", vs_section_name(id));
            return -1;
        }
        if (id == 0 || id >= VS_IDS || ver != 1 || sec[id].data) {
            fmt_snprintf(err, n, "section id %u: unknown, of version %u, or twice", id, ver);
            return -1;
        }
        sec[id] = (struct vs_sec){ id, slen, d };
        off += VS_SEC_HEAD + slen;
    }
    if (off != len) {
        fmt_snprintf(err, n, "%llu bytes after the last section", (unsigned long long)(len - off));
        return -1;
    }
    return 0;
}

int vs_compare(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, const uint8_t build_id[VS_BUILD_ID],
               char *err, size_t n)
{
    struct vs_sec sa[VS_IDS], sb[VS_IDS];
    if (vs_parse(a, alen, build_id, sa, err, n) || vs_parse(b, blen, build_id, sb, err, n))
        return -1;
    for (unsigned id = 1; id < VS_IDS; id++) {
        if (!sa[id].data != !sb[id].data || sa[id].len != sb[id].len) {
            fmt_snprintf(err, n, "section %s: present or sized differently", names[id]);
            return -1;
        }
        for (uint32_t i = 0; sa[id].data && i < sa[id].len; i++)
            if (sa[id].data[i] != sb[id].data[i]) {
                fmt_snprintf(err, n, "section %s differs at byte %u (0x%02x, then 0x%02x)", names[id], i,
                             sa[id].data[i], sb[id].data[i]);
                return -1;
            }
    }
    return 0;
}
