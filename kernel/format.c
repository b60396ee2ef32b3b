#include "format.h"
#include <stdint.h>
#include <stdbool.h>

struct out {
    char *buf;
    size_t size, len;
};

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void pad(struct out *o, char c, int n)
{
    while (n-- > 0)
        put(o, c);
}

struct spec {
    bool left, zero, space, plus, alt;
    int width, prec; /* prec < 0: none */
};

static void emit_number(struct out *o, const struct spec *sp, uint64_t v, bool neg, bool is_signed, unsigned base,
                        bool upper, const char *prefix)
{
    char tmp[24];
    int n = 0;
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    if (v == 0 && sp->prec != 0)
        tmp[n++] = '0';
    while (v) {
        tmp[n++] = digits[v % base];
        v /= base;
    }
    /* '+' and ' ' apply to signed conversions only (C11 7.21.6.1). */
    char sign = neg ? '-' : !is_signed ? 0 : sp->plus ? '+' : sp->space ? ' ' : 0;
    int zeros = sp->prec > n ? sp->prec - n : 0;
    /* '#' with 'o' only forces a leading zero when there is none yet. */
    if (prefix && prefix[0] == '0' && !prefix[1] && (zeros || (n && tmp[n - 1] == '0')))
        prefix = NULL;
    int plen = prefix ? (int)__builtin_strlen(prefix) : 0;
    int total = n + zeros + (sign ? 1 : 0) + plen;
    bool zero_pad = sp->zero && !sp->left && sp->prec < 0;
    if (!sp->left && !zero_pad)
        pad(o, ' ', sp->width - total);
    if (sign)
        put(o, sign);
    for (int i = 0; i < plen; i++)
        put(o, prefix[i]);
    if (zero_pad)
        pad(o, '0', sp->width - total);
    pad(o, '0', zeros);
    while (n)
        put(o, tmp[--n]);
    if (sp->left)
        pad(o, ' ', sp->width - total);
}

static void emit_string(struct out *o, const struct spec *sp, const char *s)
{
    if (!s)
        s = "(null)";
    int n = 0;
    while (s[n] && (sp->prec < 0 || n < sp->prec))
        n++;
    if (!sp->left)
        pad(o, ' ', sp->width - n);
    for (int i = 0; i < n; i++)
        put(o, s[i]);
    if (sp->left)
        pad(o, ' ', sp->width - n);
}

int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = { buf, size, 0 };
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            put(&o, *p);
            continue;
        }
        struct spec sp = { .prec = -1 };
        for (;; p++) {
            char f = p[1];
            if (f == '-') sp.left = true;
            else if (f == '0') sp.zero = true;
            else if (f == ' ') sp.space = true;
            else if (f == '+') sp.plus = true;
            else if (f == '#') sp.alt = true;
            else break;
        }
        p++;
        if (*p == '*') {
            sp.width = va_arg(ap, int);
            if (sp.width < 0)
                sp.left = true, sp.width = -sp.width;
            p++;
        } else {
            while (*p >= '0' && *p <= '9')
                sp.width = sp.width * 10 + (*p++ - '0');
        }
        if (*p == '.') {
            p++;
            sp.prec = 0;
            if (*p == '*') {
                sp.prec = va_arg(ap, int);
                if (sp.prec < 0)
                    sp.prec = -1;
                p++;
            } else {
                while (*p >= '0' && *p <= '9')
                    sp.prec = sp.prec * 10 + (*p++ - '0');
            }
        }
        int len = 0; /* 0 int, 1 long, 2 long long, -1 short, -2 char */
        for (;; p++) {
            if (*p == 'l') len = len >= 1 ? 2 : 1;
            else if (*p == 'h') len = len <= -1 ? -2 : -1;
            else if (*p == 'z' || *p == 'j' || *p == 't') len = 2;
            else break;
        }
        char c = *p;
        if (!c)
            break;
        switch (c) {
        case 'd':
        case 'i': {
            int64_t v = len >= 2 ? va_arg(ap, long long) : len == 1 ? va_arg(ap, long) : va_arg(ap, int);
            if (len == -1) v = (short)v;
            if (len == -2) v = (signed char)v;
            uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            emit_number(&o, &sp, u, v < 0, true, 10, false, NULL);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            uint64_t v = len >= 2 ? va_arg(ap, unsigned long long)
                         : len == 1 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
            if (len == -1) v = (unsigned short)v;
            if (len == -2) v = (unsigned char)v;
            unsigned base = c == 'u' ? 10 : c == 'o' ? 8 : 16;
            const char *prefix = NULL;
            if (sp.alt && v && base == 16)
                prefix = c == 'X' ? "0X" : "0x";
            else if (sp.alt && base == 8)
                prefix = "0";
            emit_number(&o, &sp, v, false, false, base, c == 'X', prefix);
            break;
        }
        case 'p': {
            uint64_t v = (uintptr_t)va_arg(ap, void *);
            emit_number(&o, &sp, v, false, false, 16, false, "0x");
            break;
        }
        case 'c': {
            char s[2] = { (char)va_arg(ap, int), 0 };
            struct spec cs = sp;
            cs.prec = 1;
            emit_string(&o, &cs, s);
            break;
        }
        case 's':
            emit_string(&o, &sp, va_arg(ap, const char *));
            break;
        case '%':
            put(&o, '%');
            break;
        default:
            /* Unknown conversion: show it rather than guess. */
            put(&o, '%');
            put(&o, c);
            break;
        }
    }
    if (size)
        buf[o.len < size ? o.len : size - 1] = 0;
    return (int)o.len;
}

int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
