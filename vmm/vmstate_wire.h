/* The machine-state blob's container (vmm/vmstate.h; docs/migration.md,
 * "Machine state"): a 40-byte header (magic "FTVS", version, section
 * count, the image's build ID, total length), then sections {u16 id,
 * u16 version, u32 length, u32 CRC32C of id, version, length and data,
 * data}, every id at most once. Pure code, no VMX: the host unit tests and the fuzzer take
 * it apart; vmstate.c fills and reads the sections. */
#ifndef VMM_VMSTATE_WIRE_H
#define VMM_VMSTATE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VS_MAGIC 0x53565446u /* "FTVS" little-endian */
#define VS_VERSION 1
#define VS_HEADER 40
#define VS_SEC_HEAD 12
#define VS_BUILD_ID 20

enum vs_section {
    VS_VM = 1,
    VS_CPU,
    VS_VMCS,
    VS_HW,
    VS_UART,
    VS_PIC,
    VS_PIT,
    VS_RTC,
    VS_LAPIC,
    VS_IOAPIC,
    VS_PLATFORM,
    VS_BLK,
    VS_NET,
    VS_IDS /* one past the last */
};
const char *vs_section_name(unsigned id);

struct vs_writer {
    uint8_t *buf;
    size_t cap, len, sec;
    unsigned count;
    bool full;
};
void vs_begin(struct vs_writer *w, uint8_t *buf, size_t cap);
void vs_sec_begin(struct vs_writer *w, unsigned id);
void vs_put(struct vs_writer *w, const void *p, size_t n);
void vs_sec_end(struct vs_writer *w);
void vs_put_sec(struct vs_writer *w, unsigned id, const void *p, size_t n);
/* Writes the header: the blob's length, or 0 if it did not fit. */
size_t vs_finish(struct vs_writer *w, const uint8_t build_id[VS_BUILD_ID]);

struct vs_sec {
    unsigned id;
    uint32_t len;
    const uint8_t *data; /* NULL: absent */
};
/* Checks the header (magic, version, build_id, length) and every section
 * (within the blob, CRC, known id, version 1, at most once, nothing after
 * the last) and fills sec[id]. 0, or -1 with a sentence in err. */
int vs_parse(const uint8_t *buf, size_t len, const uint8_t build_id[VS_BUILD_ID], struct vs_sec sec[VS_IDS],
             char *err, size_t n);
/* Two valid blobs section by section: 0 if equal, else -1 naming the
 * first differing section and byte. */
int vs_compare(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, const uint8_t build_id[VS_BUILD_ID],
               char *err, size_t n);

#endif
