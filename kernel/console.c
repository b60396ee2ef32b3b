#include "console.h"

void console_write(const char *s, size_t n)
{
    serial_write(s, n);
    fbcon_write(s, n);
}
