/* A text console on the UEFI GOP framebuffer: 8x16 glyphs from a Debian
 * console font (converted at build time by tools/psf2c), light grey on
 * black. It scrolls by half a screen at a time so that a long log costs one
 * large copy per many lines instead of one per line (this matters in an
 * emulator, where every framebuffer write is a device access). */
#include "console.h"
#include "bootinfo.h"
#include "paging.h"
#include "log.h"
#include <string.h>

extern const uint8_t fbcon_font[128][16];

static volatile uint32_t *fb;
static uint32_t width, height, stride, cols, rows, cx, cy;
static const uint32_t fg = 0x00c0c0c0, bg = 0;

bool fbcon_active(void) { return fb != NULL; }

void fbcon_init(const struct bootinfo *bi)
{
    if (!bi->fb_present || bi->fb_width < 8 || bi->fb_height < 16 || bi->fb_stride < bi->fb_width ||
        (uint64_t)bi->fb_stride * bi->fb_height * 4 > bi->fb_size) {
        log_info("fbcon", "no usable framebuffer: serial console only");
        return;
    }
    void *va = paging_map_mmio(bi->fb_base, bi->fb_size, MAP_WC);
    if (!va) {
        log_warn("fbcon", "cannot map the framebuffer at 0x%llx", (unsigned long long)bi->fb_base);
        return;
    }
    width = bi->fb_width;
    height = bi->fb_height;
    stride = bi->fb_stride;
    cols = width / 8;
    rows = height / 16;
    cx = cy = 0;
    fb = va;
    for (uint32_t y = 0; y < height; y++)
        for (uint32_t x = 0; x < width; x++)
            fb[(uint64_t)y * stride + x] = bg;
    /* Show what the log said before the framebuffer was mapped, so both
     * consoles carry the whole boot. */
    static char early[8192];
    fbcon_write(early, log_ring_read(early, sizeof(early)));
    log_info("fbcon", "framebuffer %ux%u (stride %u, %s) at 0x%llx: %ux%u text console", width, height, stride,
             bi->fb_format == BI_FB_RGBX ? "RGBX" : "BGRX", (unsigned long long)bi->fb_base, cols, rows);
}

static void glyph(uint32_t col, uint32_t row, char ch)
{
    const uint8_t *g = fbcon_font[(unsigned char)ch & 0x7f];
    volatile uint32_t *p = fb + (uint64_t)row * 16 * stride + col * 8;
    for (int y = 0; y < 16; y++, p += stride)
        for (int x = 0; x < 8; x++)
            p[x] = (g[y] & (0x80 >> x)) ? fg : bg;
}

static void scroll(void)
{
    uint32_t keep = rows / 2, drop = rows - keep;
    uint64_t line = (uint64_t)stride * 16;
    memmove((void *)fb, (const void *)(fb + drop * line), keep * line * 4);
    for (uint64_t i = keep * line; i < rows * line; i++)
        fb[i] = bg;
    cy = keep;
}

void fbcon_write(const char *s, size_t n)
{
    if (!fb)
        return;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\n' || cx == cols) {
            cx = 0;
            if (++cy == rows)
                scroll();
            if (c == '\n')
                continue;
        }
        if (c == '\r') {
            cx = 0;
            continue;
        }
        if (c == '\t') {
            cx = (cx + 8) & ~7u;
            if (cx > cols)
                cx = cols;
            continue;
        }
        glyph(cx++, cy, c);
    }
}
