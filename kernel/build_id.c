/* The build ID note (ELF note: namesz, descsz, type 3 NT_GNU_BUILD_ID,
 * "GNU\0", then the ID). */
#include "build_id.h"
#include <string.h>

extern const uint8_t __build_id_note[], __build_id_note_end[];

const uint8_t *build_id(void)
{
    static const uint8_t none[BUILD_ID_LEN];
    const uint8_t *p = __build_id_note;
    if (__build_id_note_end - p < 16 + BUILD_ID_LEN)
        return none;
    uint32_t namesz, descsz, type;
    memcpy(&namesz, p, 4);
    memcpy(&descsz, p + 4, 4);
    memcpy(&type, p + 8, 4);
    if (namesz != 4 || descsz != BUILD_ID_LEN || type != 3 || memcmp(p + 12, "GNU", 4) != 0)
        return none;
    return p + 16;
}

const char *build_id_hex(void)
{
    static char s[17];
    const uint8_t *id = build_id();
    for (int i = 0; i < 8; i++) {
        s[2 * i] = "0123456789abcdef"[id[i] >> 4];
        s[2 * i + 1] = "0123456789abcdef"[id[i] & 15];
    }
    s[16] = 0;
    return s;
}
