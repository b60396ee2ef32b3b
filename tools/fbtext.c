/* fbtext SCREEN.ppm
 *
 * Read text back from a screenshot of ftvisor's framebuffer console (a P6
 * PPM as QEMU's screendump writes it): cut the screen into the console's
 * 8x16 cells and match each against the console font. System tests use it
 * to check that the framebuffer shows the same log as the serial port. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

extern const uint8_t fbcon_font[128][16];

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fbtext SCREEN.ppm\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    int w, h, max;
    if (fscanf(f, "P6 %d %d %d", &w, &h, &max) != 3 || w <= 0 || h <= 0 || w > 16384 || h > 16384 || max != 255) {
        fprintf(stderr, "fbtext: %s is not an 8-bit P6 PPM\n", argv[1]);
        return 1;
    }
    fgetc(f);
    size_t n = (size_t)w * h * 3;
    uint8_t *px = malloc(n);
    if (!px || fread(px, 1, n, f) != n) {
        fprintf(stderr, "fbtext: truncated image\n");
        return 1;
    }
    fclose(f);
    int cols = w / 8, rows = h / 16;
    char *line = malloc((size_t)cols + 1);
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
            uint8_t cell[16];
            for (int y = 0; y < 16; y++) {
                cell[y] = 0;
                for (int x = 0; x < 8; x++) {
                    const uint8_t *p = px + (((size_t)(r * 16 + y) * w) + (size_t)(c * 8 + x)) * 3;
                    if (p[0] + p[1] + p[2] > 3 * 96)
                        cell[y] |= (uint8_t)(0x80 >> x);
                }
            }
            int best = '?', bestd = 1 << 30;
            for (int g = 32; g < 127; g++) {
                int d = 0;
                for (int y = 0; y < 16; y++)
                    d += __builtin_popcount(cell[y] ^ fbcon_font[g][y]);
                if (d < bestd)
                    bestd = d, best = g;
            }
            line[c] = bestd <= 4 ? (char)best : '?';
        }
        int len = cols;
        while (len && line[len - 1] == ' ')
            len--;
        line[len] = 0;
        puts(line);
    }
    return 0;
}
