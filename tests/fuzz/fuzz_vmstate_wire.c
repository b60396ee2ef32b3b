/* libFuzzer target for vmm/vmstate_wire.c: any bytes as a machine-state
 * blob. The parser either refuses it with a sentence, or every section it
 * hands out lies inside the input, has a known id and appears once; and
 * writing those sections again (in id order) gives a blob that parses to
 * the same contents and compares equal with itself.
 *
 *   make fuzz-tests && build/tests/fuzz/fuzz_vmstate_wire -runs=200000 -seed=1 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../vmm/vmstate_wire.h"

#define REQUIRE(c)                                                                           \
    do {                                                                                     \
        if (!(c)) {                                                                          \
            fprintf(stderr, "fuzz_vmstate_wire.c:%d: requirement failed: %s\n", __LINE__, #c); \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

static const uint8_t id[VS_BUILD_ID] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20 };
static uint8_t again[1 << 17], in[1 << 17];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > sizeof(in) - VS_HEADER)
        return 0;
    /* Half the inputs get a valid header with this build's ID, so the
     * section walk is reached. */
    size_t len = size;
    memcpy(in, data, size);
    if (size && (data[0] & 1) && size >= VS_HEADER) {
        memcpy(in + 8, id, VS_BUILD_ID);
        in[0] = 'F', in[1] = 'T', in[2] = 'V', in[3] = 'S', in[4] = 1, in[5] = 0;
        in[32] = (uint8_t)len, in[33] = (uint8_t)(len >> 8), in[34] = (uint8_t)(len >> 16), in[35] = 0;
    }
    struct vs_sec sec[VS_IDS];
    char err[300];
    err[0] = 0;
    if (vs_parse(in, len, id, sec, err, sizeof(err))) {
        REQUIRE(err[0] != 0);
        return 0;
    }
    struct vs_writer w;
    vs_begin(&w, again, sizeof(again));
    for (unsigned k = 1; k < VS_IDS; k++)
        if (sec[k].data) {
            REQUIRE(sec[k].id == k);
            REQUIRE(sec[k].data >= in && sec[k].data + sec[k].len <= in + len);
            vs_put_sec(&w, k, sec[k].data, sec[k].len);
        }
    size_t n = vs_finish(&w, id);
    REQUIRE(n > 0 && n <= len);
    struct vs_sec s2[VS_IDS];
    REQUIRE(vs_parse(again, n, id, s2, err, sizeof(err)) == 0);
    for (unsigned k = 1; k < VS_IDS; k++) {
        REQUIRE(!sec[k].data == !s2[k].data);
        REQUIRE(!sec[k].data || (sec[k].len == s2[k].len && memcmp(sec[k].data, s2[k].data, sec[k].len) == 0));
    }
    REQUIRE(vs_compare(again, n, again, n, id, err, sizeof(err)) == 0);
    return 0;
}
