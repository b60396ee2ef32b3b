/* Pure formatting of one log line (log.h), host unit-tested. */
#include "log.h"
#include "format.h"

size_t log_format_line(char *buf, size_t size, uint64_t ns, enum log_level lvl, const char *subsys, const char *msg)
{
    static const char *const tags[] = { "ERROR: ", "WARNING: ", "", "debug: " };
    uint64_t us = ns / 1000;
    int n = fmt_snprintf(buf, size, "[%5llu.%06llu] %s%s: %s", (unsigned long long)(us / 1000000),
                         (unsigned long long)(us % 1000000), tags[lvl & 3], subsys, msg);
    if (size < 2) {
        if (size)
            buf[0] = 0;
        return 0;
    }
    size_t len = (size_t)n < size ? (size_t)n : size - 1;
    /* Always end in exactly one newline, even when truncated. */
    while (len && buf[len - 1] == '\n')
        len--;
    if (len + 1 >= size)
        len = size - 2;
    buf[len++] = '\n';
    buf[len] = 0;
    return len;
}
