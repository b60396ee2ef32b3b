/* ftvisor.conf parser: INI sections and keys, driven by one schema table per
 * section, so every key's type, range and requiredness is stated once. */
#include "config.h"
#include "format.h"
#include "strutil.h"

enum kind { K_MAC, K_IP, K_MASK, K_U32, K_FILE, K_STR, K_ENUM, K_NAME, K_ARBITER, K_PORT, K_KEY, K_DISKDEV, K_SERIAL };

struct keydef {
    const char *name;
    enum kind kind;
    size_t off;  /* offset in the section's struct */
    size_t size; /* of the target (strings) */
    uint32_t min, max;
    const char *const *enums; /* K_ENUM: NULL-terminated names, value = index */
    bool required;
};

enum section { S_NONE, S_HOST, S_PAIR, S_GUEST, S_RECORD, S_DEBUG };

static const char *const on_exit_names[] = { "poweroff", "halt", "restart", NULL };
static const char *const log_level_names[] = { "error", "warn", "info", "debug", NULL };
static const char *const fault_names[] = { "none", "ud", "pf", "de", "gp", "df", "vmentry", "log_corrupt", "log_retime", "log_mutate", "die_in_io", "backup_diverge", NULL };
static const char *const cpu_model_names[] = { "x86-64-v2", "x86-64-v3", NULL };
static const char *const record_mode_names[] = { "off", "selfcheck", "record", "replay", NULL };
static const char *const record_dest_names[] = { "memory", "sink", NULL };
static const char *const disk_mode_names[] = { "shared", "private", NULL };
static const char *const disk_reads_names[] = { "log", "backup", NULL };
static const char *const switch_names[] = { "off", "on", NULL };
static const char *const landmark_names[] = { "auto", "emulator", "exits", "pmu", "each", NULL };

#define F(type, field) offsetof(type, field), sizeof(((type *)0)->field)

static const struct keydef host_keys[] = {
    { "mac", K_MAC, F(struct cfg_host, mac), 0, 0, NULL, true },
    { "ip", K_IP, F(struct cfg_host, ip), 0, 0, NULL, true },
    { "netmask", K_MASK, F(struct cfg_host, netmask), 0, 0, NULL, true },
    { "gateway", K_IP, F(struct cfg_host, gateway), 0, 0, NULL, false },
    { "guest_nic", K_MAC, F(struct cfg_host, guest_nic), 0, 0, NULL, false },
    { NULL, 0, 0, 0, 0, 0, NULL, false },
};
static const struct keydef pair_keys[] = {
    { "key", K_KEY, F(struct cfg_pair, key), 16, CFG_KEY_MAX - 1, NULL, true },
    { "heartbeat_ms", K_U32, F(struct cfg_pair, heartbeat_ms), 10, 10000, NULL, false },
    { "failover_timeout_ms", K_U32, F(struct cfg_pair, failover_timeout_ms), 20, 600000, NULL, false },
    { "arbiter", K_ARBITER, 0, 0, 0, 0, NULL, false },
    { "primary", K_NAME, F(struct cfg_pair, primary), 0, 0, NULL, false },
    { "max_lag_ms", K_U32, F(struct cfg_pair, max_lag_ms), 10, 600000, NULL, false },
    { "backup_wait_ms", K_U32, F(struct cfg_pair, backup_wait_ms), 0, 86400000, NULL, false },
    { NULL, 0, 0, 0, 0, 0, NULL, false },
};
static const struct keydef guest_keys[] = {
    { "kernel", K_FILE, F(struct cfg_guest, kernel), 0, 0, NULL, true },
    { "initrd", K_FILE, F(struct cfg_guest, initrd), 0, 0, NULL, false },
    { "disk", K_FILE, F(struct cfg_guest, disk), 0, 0, NULL, false },
    { "disk_device", K_DISKDEV, 0, 0, 0, 0, NULL, false },
    { "disk_mode", K_ENUM, F(struct cfg_guest, disk_mode), 0, 0, disk_mode_names, false },
    { "disk_reads", K_ENUM, F(struct cfg_guest, disk_reads), 0, 0, disk_reads_names, false },
    { "nic_mac", K_MAC, F(struct cfg_guest, nic_mac), 0, 0, NULL, false },
    { "cmdline", K_STR, F(struct cfg_guest, cmdline), 0, 0, NULL, false },
    { "memory_mb", K_U32, F(struct cfg_guest, memory_mb), 16, 65536, NULL, true },
    { "cpu_model", K_ENUM, F(struct cfg_guest, cpu_model), 0, 0, cpu_model_names, false },
    { NULL, 0, 0, 0, 0, 0, NULL, false },
};
static const struct keydef record_keys[] = {
    { "mode", K_ENUM, F(struct cfg_record, mode), 0, 0, record_mode_names, true },
    { "span_ms", K_U32, F(struct cfg_record, span_ms), 1, 86400000, NULL, false },
    { "landmark", K_ENUM, F(struct cfg_record, landmark), 0, 0, landmark_names, false },
    { "digest_every", K_U32, F(struct cfg_record, digest_every), 0, 1000000000, NULL, false },
    { "digest_min_ms", K_U32, F(struct cfg_record, digest_min_ms), 0, 86400000, NULL, false },
    { "dest", K_ENUM, F(struct cfg_record, dest), 0, 0, record_dest_names, false },
    { "sink", K_IP, F(struct cfg_record, sink_ip), 0, 0, NULL, false },
    { "sink_port", K_PORT, F(struct cfg_record, sink_port), 1, 0xffff, NULL, false },
    { "log_name", K_NAME, F(struct cfg_record, log_name), 0, 0, NULL, false },
    { NULL, 0, 0, 0, 0, 0, NULL, false },
};
static const struct keydef debug_keys[] = {
    { "host", K_NAME, F(struct cfg_debug, host), 0, 0, NULL, false },
    { "on_guest_exit", K_ENUM, F(struct cfg_debug, on_guest_exit), 0, 0, on_exit_names, false },
    { "exit_port", K_PORT, F(struct cfg_debug, exit_port), 1, 0xffff, NULL, false },
    { "log_level", K_ENUM, F(struct cfg_debug, log_level), 0, 0, log_level_names, false },
    { "fault_test", K_ENUM, F(struct cfg_debug, fault_test), 0, 0, fault_names, false },
    { "uptime_ms", K_U32, F(struct cfg_debug, uptime_ms), 100, 86400000, NULL, false },
    { "channel_test_mb", K_U32, F(struct cfg_debug, channel_test_mb), 1, 4096, NULL, false },
    { "replay_drip", K_U32, F(struct cfg_debug, replay_drip), 1, 1048576, NULL, false },
    { "disk_test", K_SERIAL, F(struct cfg_debug, disk_test), 0, 0, NULL, false },
    { "profile", K_ENUM, F(struct cfg_debug, profile), 0, 0, switch_names, false },
    { "read_ahead", K_ENUM, F(struct cfg_debug, read_ahead), 0, 0, switch_names, false },
    { "checkpoint_every_ms", K_U32, F(struct cfg_debug, checkpoint_every_ms), 1, 86400000, NULL, false },
    { "migrate_every_ms", K_U32, F(struct cfg_debug, migrate_every_ms), 100, 86400000, NULL, false },
    { NULL, 0, 0, 0, 0, 0, NULL, false },
};

static const struct {
    const char *name;
    enum section id;
    const struct keydef *keys;
    bool named;
} sections[] = {
    { "host", S_HOST, host_keys, true },
    { "pair", S_PAIR, pair_keys, false },
    { "guest", S_GUEST, guest_keys, false },
    { "record", S_RECORD, record_keys, false },
    { "debug", S_DEBUG, debug_keys, false },
};
#define NSECTIONS (int)(sizeof(sections) / sizeof(sections[0]))
#define MAX_KEYS 16

struct parser {
    struct config *cfg;
    char *err;
    size_t errlen;
    int line;
    int sec;   /* index in sections[], -1 before the first header */
    void *obj; /* the struct being filled */
    int seen[MAX_KEYS]; /* line a key was set on, 0 = not yet */
    int sec_line;
    int sec_first_line[NSECTIONS];
    const char *pending_name; /* [host NAME] for messages */
    char hostname[CFG_NAME_MAX];
    int arbiter_line, failover_line, heartbeat_line, disk_mode_line, disk_reads_line, nic_mac_line, checkpoint_line,
        migrate_line;
};

__attribute__((format(printf, 3, 4))) static int fail(struct parser *p, int line, const char *fmt, ...)
{
    char msg[CFG_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (line > 0)
        fmt_snprintf(p->err, p->errlen, "%s:%d: %s", p->cfg->file, line, msg);
    else
        fmt_snprintf(p->err, p->errlen, "%s: %s", p->cfg->file, msg);
    return -1;
}

static bool is_space(char c) { return c == ' ' || c == '\t'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static int hexval(char c)
{
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool config_parse_mac(const char *s, uint8_t mac[6])
{
    for (int i = 0; i < 6; i++) {
        int hi = hexval(s[0]), lo = hi < 0 ? -1 : hexval(s[1]);
        if (hi < 0 || lo < 0)
            return false;
        mac[i] = (uint8_t)(hi << 4 | lo);
        s += 2;
        if (i < 5) {
            if (*s != ':' && *s != '-')
                return false;
            s++;
        }
    }
    return *s == 0;
}

/* Strict decimal or 0x-hex: digits only, no sign. Values past 32 bits
 * saturate at 2^32 so the caller can say "out of range" rather than "not
 * a number". */
static bool parse_num(const char *s, uint64_t *out)
{
    const uint64_t cap = 1ull << 32;
    uint64_t v = 0;
    if (!is_digit(*s))
        return false;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        if (hexval(*s) < 0)
            return false;
        for (; *s; s++) {
            int d = hexval(*s);
            if (d < 0) return false;
            v = v * 16 + d;
            if (v > cap) v = cap;
        }
    } else {
        for (; *s; s++) {
            if (!is_digit(*s)) return false;
            v = v * 10 + (*s - '0');
            if (v > cap) v = cap;
        }
    }
    *out = v;
    return true;
}

bool config_parse_ipv4(const char *s, uint32_t *out)
{
    uint32_t ip = 0;
    for (int i = 0; i < 4; i++) {
        int n = 0, v = 0;
        while (is_digit(*s) && n < 3)
            v = v * 10 + (*s++ - '0'), n++;
        if (n == 0 || v > 255 || (n > 1 && s[-n] == '0'))
            return false;
        ip = ip << 8 | (uint32_t)v;
        if (i < 3 && *s++ != '.')
            return false;
    }
    if (*s)
        return false;
    *out = ip;
    return true;
}

static bool valid_name(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!is_alnum(s[n]) && s[n] != '-' && s[n] != '_')
            return false;
    return n > 0 && n < CFG_NAME_MAX;
}

/* Paths are relative to the config file and may not leave the boot
 * volume: letters, digits, '.', '_', '-', '/' and no '..' component. */
static const char *bad_path(const char *s)
{
    if (strlen(s) >= CFG_PATH_MAX)
        return "path too long (at most 127 characters)";
    if (s[0] == '/')
        return "path must be relative to the config file";
    const char *comp = s;
    for (const char *c = s;; c++) {
        if (*c == '/' || *c == 0) {
            size_t n = (size_t)(c - comp);
            if (n == 0)
                return "empty path component";
            if (n == 2 && comp[0] == '.' && comp[1] == '.')
                return "'..' is not allowed: files must be on the boot volume";
            if (*c == 0)
                break;
            comp = c + 1;
        } else if (!is_alnum(*c) && *c != '.' && *c != '_' && *c != '-') {
            return "path may hold only letters, digits, '.', '_', '-' and '/'";
        }
    }
    return NULL;
}

static void list_keys(const struct keydef *k, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = 0;
    for (; k->name; k++)
        len += (size_t)fmt_snprintf(buf + (len < n ? len : n), len < n ? n - len : 0, "%s%s", len ? ", " : "",
                                    k->name);
}

static int set_value(struct parser *p, const struct keydef *k, const char *v)
{
    uint8_t *dst = (uint8_t *)p->obj + k->off;
    switch (k->kind) {
    case K_MAC:
        if (!config_parse_mac(v, dst))
            return fail(p, p->line, "%s: '%s' is not a MAC address (expected six hex bytes, e.g. 52:54:00:12:34:56)",
                        k->name, v);
        if ((dst[0] & 1) || !(dst[0] | dst[1] | dst[2] | dst[3] | dst[4] | dst[5]))
            return fail(p, p->line, "%s: %s is not a unicast NIC address", k->name, v);
        return 0;
    case K_IP:
        if (!config_parse_ipv4(v, (uint32_t *)dst))
            return fail(p, p->line, "%s: '%s' is not an IPv4 address (expected e.g. 10.0.0.1)", k->name, v);
        return 0;
    case K_MASK: {
        uint32_t m;
        if (!config_parse_ipv4(v, &m))
            return fail(p, p->line, "%s: '%s' is not an IPv4 netmask (expected e.g. 255.255.255.0)", k->name, v);
        if (m == 0 || (~m & (~m + 1)) != 0)
            return fail(p, p->line, "%s: %s is not a contiguous netmask", k->name, v);
        *(uint32_t *)dst = m;
        return 0;
    }
    case K_U32:
    case K_PORT: {
        uint64_t n;
        if (!parse_num(v, &n))
            return fail(p, p->line, "%s: '%s' is not a number", k->name, v);
        if (n < k->min || n > k->max)
            return fail(p, p->line, "%s: %s is out of range (%u..%u)", k->name, v, k->min, k->max);
        if (k->kind == K_PORT)
            *(uint16_t *)dst = (uint16_t)n;
        else
            *(uint32_t *)dst = n;
        return 0;
    }
    case K_FILE: {
        const char *why = bad_path(v);
        if (why)
            return fail(p, p->line, "%s: '%s': %s", k->name, v, why);
        struct cfg_file *f = (struct cfg_file *)dst;
        str_copy(f->path, v, sizeof(f->path));
        f->line = p->line;
        return 0;
    }
    case K_SERIAL: {
        /* A drive's serial number as it reports it (ATA IDENTIFY words
         * 10-19, NVMe SN: at most 20 characters, no spaces). */
        struct cfg_serial *sn = (struct cfg_serial *)dst;
        size_t n = strlen(v);
        if (n == 0 || n > CFG_SERIAL_MAX)
            return fail(p, p->line, "%s: '%s' is not a drive's serial number (1 to %d characters)", k->name, v,
                        CFG_SERIAL_MAX);
        for (size_t i = 0; i < n; i++)
            if (v[i] <= ' ' || v[i] > '~')
                return fail(p, p->line, "%s: the serial number may not contain spaces or control characters",
                            k->name);
        str_copy(sn->serial, v, sizeof(sn->serial));
        sn->line = p->line;
        return 0;
    }
    case K_STR:
        if (strlen(v) >= k->size)
            return fail(p, p->line, "%s: value too long (at most %u characters)", k->name, (unsigned)k->size - 1);
        str_copy((char *)dst, v, k->size);
        return 0;
    case K_KEY: {
        size_t n = strlen(v);
        for (size_t i = 0; i < n; i++)
            if (v[i] == ' ' || v[i] == '\t')
                return fail(p, p->line, "%s: the pair key may not contain spaces", k->name);
        if (n < k->min)
            return fail(p, p->line, "%s: the pair key is too short (%u characters; at least %u)", k->name,
                        (unsigned)n, k->min);
        if (n > k->max)
            return fail(p, p->line, "%s: the pair key is too long (at most %u characters)", k->name, k->max);
        str_copy((char *)dst, v, k->size);
        return 0;
    }
    case K_NAME:
        if (!valid_name(v))
            return fail(p, p->line, "%s: '%s' is not a %sname (letters, digits, '-', '_'; at most 31)", k->name, v,
                        p->obj == &p->cfg->debug ? "host " : "");
        str_copy((char *)dst, v, k->size);
        if (p->obj == &p->cfg->debug)
            p->cfg->debug.host_line = p->line;
        return 0;
    case K_ENUM:
        for (int i = 0; k->enums[i]; i++) {
            if (strcmp(v, k->enums[i]) == 0) {
                *(int *)dst = i;
                return 0;
            }
        }
        {
            char all[128];
            size_t len = 0;
            for (int i = 0; k->enums[i]; i++)
                len += (size_t)fmt_snprintf(all + len, sizeof(all) - len, "%s%s", i ? ", " : "", k->enums[i]);
            return fail(p, p->line, "%s: '%s' is not one of: %s", k->name, v, all);
        }
    case K_ARBITER: {
        struct cfg_pair *pair = p->obj;
        p->arbiter_line = pair->arbiter_line = p->line;
        if (strcmp(v, "none") == 0) {
            pair->arbiter = CFG_ARBITER_NONE;
            return 0;
        }
        if (strncmp(v, "disk:", 5) == 0 || strcmp(v, "disk") == 0) {
            /* disk:SERIAL[:PARTITION], as disk_device names a drive. */
            const char *d = v[4] ? v + 5 : v + 4, *colon = strchr(d, ':');
            size_t n = colon ? (size_t)(colon - d) : strlen(d);
            bool ok = n >= 1 && n <= CFG_SERIAL_MAX;
            for (size_t i = 0; ok && i < n; i++)
                ok = d[i] > ' ' && d[i] <= '~';
            uint64_t part = 0;
            if (ok && colon)
                ok = parse_num(colon + 1, &part) && part >= 1 && part <= 128;
            if (!ok)
                return fail(p, p->line, "arbiter: '%s' is not disk:SERIAL[:PARTITION] (the shared drive, or its "
                                        "partition, whose first sector arbitrates; e.g. disk:BXHD00012:2)", v);
            memcpy(pair->arbiter_serial, d, n);
            pair->arbiter_serial[n] = 0;
            pair->arbiter_partition = (uint32_t)part;
            pair->arbiter = CFG_ARBITER_DISK;
            return 0;
        }
        if (strncmp(v, "witness:", 8) == 0) {
            char ip[16];
            const char *colon = strchr(v + 8, ':');
            size_t n = colon ? (size_t)(colon - (v + 8)) : 0;
            uint64_t port;
            if (colon && n < sizeof(ip)) {
                memcpy(ip, v + 8, n);
                ip[n] = 0;
                if (config_parse_ipv4(ip, &pair->arbiter_ip) && parse_num(colon + 1, &port) && port >= 1 &&
                    port <= 65535) {
                    pair->arbiter = CFG_ARBITER_WITNESS;
                    pair->arbiter_port = (uint16_t)port;
                    return 0;
                }
            }
            return fail(p, p->line, "arbiter: '%s' is not witness:IPV4:PORT (e.g. witness:10.0.0.9:7700)", v);
        }
        return fail(p, p->line, "arbiter: '%s' is not one of: none, disk:SERIAL[:PARTITION], witness:IPV4:PORT", v);
    }
    case K_DISKDEV: {
        /* SERIAL[:PARTITION]: the serial number as the drive reports it
         * (ATA IDENTIFY words 10-19, NVMe SN: at most 20 characters). */
        struct cfg_guest *g = p->obj;
        const char *colon = strchr(v, ':');
        size_t n = colon ? (size_t)(colon - v) : strlen(v);
        if (n == 0 || n > CFG_SERIAL_MAX)
            return fail(p, p->line, "disk_device: '%s' is not SERIAL[:PARTITION] (a serial number of 1 to %d "
                                    "characters, e.g. BXHD00012 or S3Z9NB0K123456:2)", v, CFG_SERIAL_MAX);
        for (size_t i = 0; i < n; i++)
            if (v[i] <= ' ' || v[i] > '~')
                return fail(p, p->line, "disk_device: the serial number may not contain spaces or control "
                                        "characters");
        memcpy(g->disk_serial, v, n);
        g->disk_serial[n] = 0;
        g->disk_partition = 0;
        if (colon) {
            uint64_t part;
            if (!parse_num(colon + 1, &part) || part < 1 || part > 128)
                return fail(p, p->line, "disk_device: partition '%s' is not a number 1..128", colon + 1);
            g->disk_partition = (uint32_t)part;
        }
        g->disk_device_line = p->line;
        return 0;
    }
    }
    return fail(p, p->line, "internal error: key kind %d", k->kind);
}

/* Close the current section: every required key must have been given. */
static int end_section(struct parser *p)
{
    if (p->sec < 0)
        return 0;
    const struct keydef *keys = sections[p->sec].keys;
    for (int i = 0; keys[i].name; i++) {
        if (keys[i].required && !p->seen[i]) {
            if (sections[p->sec].named)
                return fail(p, p->sec_line, "[%s %s] is missing the required key '%s'", sections[p->sec].name,
                            p->hostname, keys[i].name);
            return fail(p, p->sec_line, "[%s] is missing the required key '%s'", sections[p->sec].name, keys[i].name);
        }
    }
    return 0;
}

static int header(struct parser *p, char *s)
{
    /* s points at '[' with trailing space already trimmed. */
    size_t n = strlen(s);
    if (s[n - 1] != ']')
        return fail(p, p->line, "unterminated section header (missing ']')");
    s[n - 1] = 0;
    s++;
    while (is_space(*s))
        s++;
    char *name = s;
    while (*s && !is_space(*s))
        s++;
    char *arg = NULL;
    if (*s) {
        *s++ = 0;
        while (is_space(*s))
            s++;
        arg = s;
        size_t an = strlen(arg);
        while (an && is_space(arg[an - 1]))
            arg[--an] = 0;
        if (!an)
            arg = NULL;
    }
    if (end_section(p))
        return -1;
    int id = -1;
    for (int i = 0; i < NSECTIONS; i++)
        if (strcmp(name, sections[i].name) == 0)
            id = i;
    if (id < 0)
        return fail(p, p->line, "unknown section [%s] (expected host NAME, pair, guest, record or debug)", name);
    p->sec = id;
    p->sec_line = p->line;
    memset(p->seen, 0, sizeof(p->seen));
    struct config *cfg = p->cfg;
    if (sections[id].named) {
        if (!arg)
            return fail(p, p->line, "[host] needs a name: [host NAME]");
        if (!valid_name(arg))
            return fail(p, p->line, "'%s' is not a host name (letters, digits, '-', '_'; at most 31)", arg);
        for (int i = 0; i < cfg->nhosts; i++)
            if (strcmp(cfg->hosts[i].name, arg) == 0)
                return fail(p, p->line, "duplicate section [host %s] (first at line %d)", arg, cfg->hosts[i].line);
        if (cfg->nhosts == CFG_MAX_HOSTS)
            return fail(p, p->line, "too many [host] sections (at most %d)", CFG_MAX_HOSTS);
        struct cfg_host *h = &cfg->hosts[cfg->nhosts++];
        str_copy(h->name, arg, sizeof(h->name));
        str_copy(p->hostname, arg, sizeof(p->hostname));
        h->line = p->line;
        p->obj = h;
        return 0;
    }
    if (arg)
        return fail(p, p->line, "section [%s] takes no name", name);
    if (p->sec_first_line[id])
        return fail(p, p->line, "duplicate section [%s] (first at line %d)", name, p->sec_first_line[id]);
    p->sec_first_line[id] = p->line;
    switch (sections[id].id) {
    case S_PAIR:
        cfg->pair.present = true;
        cfg->pair.line = p->line;
        p->obj = &cfg->pair;
        break;
    case S_GUEST:
        cfg->guest.present = true;
        cfg->guest.line = p->line;
        p->obj = &cfg->guest;
        break;
    case S_RECORD:
        cfg->record.present = true;
        cfg->record.line = p->line;
        p->obj = &cfg->record;
        break;
    default:
        p->obj = &cfg->debug;
        break;
    }
    return 0;
}

static int assignment(struct parser *p, char *s)
{
    char *eq = strchr(s, '=');
    if (!eq)
        return fail(p, p->line, "expected '[section]' or 'key = value'");
    char *key = s, *kend = eq;
    while (kend > key && is_space(kend[-1]))
        kend--;
    *kend = 0;
    char *v = eq + 1;
    while (is_space(*v))
        v++;
    if (!*key)
        return fail(p, p->line, "missing key before '='");
    for (char *c = key; *c; c++)
        if (!is_alnum(*c) && *c != '_')
            return fail(p, p->line, "'%s' is not a key name", key);
    if (p->sec < 0)
        return fail(p, p->line, "key '%s' outside any section", key);
    const struct keydef *keys = sections[p->sec].keys;
    int idx = -1;
    for (int i = 0; keys[i].name; i++)
        if (strcmp(keys[i].name, key) == 0)
            idx = i;
    if (idx < 0) {
        char all[300];
        list_keys(keys, all, sizeof(all));
        return fail(p, p->line, "unknown key '%s' in [%s] (expected one of: %s)", key, sections[p->sec].name, all);
    }
    if (p->seen[idx])
        return fail(p, p->line, "duplicate key '%s' (first at line %d)", key, p->seen[idx]);
    if (!*v)
        return fail(p, p->line, "empty value for '%s'", key);
    p->seen[idx] = p->line;
    if (sections[p->sec].id == S_PAIR) {
        if (strcmp(key, "failover_timeout_ms") == 0)
            p->failover_line = p->line;
        if (strcmp(key, "heartbeat_ms") == 0)
            p->heartbeat_line = p->line;
        if (strcmp(key, "primary") == 0)
            p->cfg->pair.primary_line = p->line;
    }
    if (sections[p->sec].id == S_HOST && strcmp(key, "guest_nic") == 0)
        ((struct cfg_host *)p->obj)->guest_nic_line = p->line;
    if (sections[p->sec].id == S_GUEST && strcmp(key, "disk_mode") == 0)
        p->disk_mode_line = p->line;
    if (sections[p->sec].id == S_GUEST && strcmp(key, "disk_reads") == 0)
        p->disk_reads_line = p->line;
    if (sections[p->sec].id == S_DEBUG && strcmp(key, "checkpoint_every_ms") == 0)
        p->checkpoint_line = p->line;
    if (sections[p->sec].id == S_DEBUG && strcmp(key, "migrate_every_ms") == 0)
        p->migrate_line = p->line;
    if (sections[p->sec].id == S_GUEST && strcmp(key, "nic_mac") == 0)
        p->nic_mac_line = p->cfg->guest.nic_mac_line = p->line;
    return set_value(p, &keys[idx], v);
}

/* Checks across keys and sections, after the whole file was read. */
static int cross_check(struct parser *p)
{
    struct config *cfg = p->cfg;
    if (cfg->nhosts == 0)
        return fail(p, 0, "no [host NAME] section: the config must describe at least this host");
    for (int i = 0; i < cfg->nhosts; i++) {
        for (int j = 0; j < i; j++) {
            if (memcmp(cfg->hosts[i].mac, cfg->hosts[j].mac, 6) == 0)
                return fail(p, cfg->hosts[i].line, "[host %s] has the same mac as [host %s] (line %d)",
                            cfg->hosts[i].name, cfg->hosts[j].name, cfg->hosts[j].line);
            if (cfg->hosts[i].ip == cfg->hosts[j].ip)
                return fail(p, cfg->hosts[i].line, "[host %s] has the same ip as [host %s] (line %d)",
                            cfg->hosts[i].name, cfg->hosts[j].name, cfg->hosts[j].line);
        }
        const struct cfg_host *h = &cfg->hosts[i];
        if (h->gateway && (h->gateway & h->netmask) != (h->ip & h->netmask))
            return fail(p, h->line, "[host %s]: the gateway is not on the host's subnet", h->name);
    }
    if (cfg->pair.present) {
        if (cfg->pair.failover_timeout_ms < 2 * cfg->pair.heartbeat_ms)
            return fail(p, p->failover_line ? p->failover_line : p->heartbeat_line ? p->heartbeat_line : cfg->pair.line,
                        "failover_timeout_ms (%u) must be at least twice heartbeat_ms (%u)",
                        cfg->pair.failover_timeout_ms, cfg->pair.heartbeat_ms);
        if (cfg->pair.arbiter == CFG_ARBITER_DISK && strcmp(cfg->pair.arbiter_serial, cfg->guest.disk_serial) == 0 &&
            (cfg->pair.arbiter_partition == cfg->guest.disk_partition || !cfg->pair.arbiter_partition ||
             !cfg->guest.disk_partition))
            return fail(p, p->arbiter_line, "arbiter: its sector would lie inside the guest's disk (disk_device, "
                                            "line %d): give the arbiter a partition of its own",
                        cfg->guest.disk_device_line);
        if (cfg->pair.primary[0]) {
            int at = -1;
            for (int i = 0; i < cfg->nhosts; i++)
                if (strcmp(cfg->hosts[i].name, cfg->pair.primary) == 0)
                    at = i;
            if (at < 0 || at > 1)
                return fail(p, cfg->pair.primary_line,
                            at < 0 ? "primary: no [host %s] section in this file"
                                   : "primary: %s is not one of the pair (the first two [host] sections)",
                            cfg->pair.primary);
        }
    }
    static const uint8_t no_mac[6];
    for (int i = 0; i < cfg->nhosts && memcmp(cfg->guest.nic_mac, no_mac, 6) != 0; i++)
        if (memcmp(cfg->hosts[i].mac, cfg->guest.nic_mac, 6) == 0 ||
            memcmp(cfg->hosts[i].guest_nic, cfg->guest.nic_mac, 6) == 0)
            return fail(p, p->nic_mac_line, "nic_mac: [host %s] has this MAC: the guest needs its own",
                        cfg->hosts[i].name);
    for (int i = 0; i < cfg->nhosts; i++) {
        const struct cfg_host *h = &cfg->hosts[i];
        if (memcmp(h->guest_nic, no_mac, 6) == 0)
            continue;
        if (!cfg->guest.present || memcmp(cfg->guest.nic_mac, no_mac, 6) == 0)
            return fail(p, h->guest_nic_line, "guest_nic: the guest has no network card ([guest] nic_mac) to carry");
        for (int j = 0; j < cfg->nhosts; j++)
            if (memcmp(cfg->hosts[j].mac, h->guest_nic, 6) == 0 ||
                (j != i && memcmp(cfg->hosts[j].guest_nic, h->guest_nic, 6) == 0))
                return fail(p, h->guest_nic_line, "guest_nic: [host %s] uses this MAC too: the guest's NIC is a "
                                                  "second NIC of this host", cfg->hosts[j].name);
    }
    if (p->disk_mode_line && !cfg->guest.disk_serial[0])
        return fail(p, p->disk_mode_line, "disk_mode: only a disk on a drive (disk_device) has a mode");
    if (cfg->guest.disk_reads == CFG_READS_BACKUP && !cfg->guest.disk_serial[0])
        return fail(p, p->disk_reads_line, "disk_reads: only a disk on a drive (disk_device) can be read by the backup");
    if (cfg->guest.disk_reads == CFG_READS_BACKUP &&
        (!cfg->pair.present || (cfg->record.present && cfg->record.mode != CFG_REC_OFF)))
        return fail(p, p->disk_reads_line, "disk_reads = backup is for a [pair]'s backup: a recording replayed "
                                           "later must carry its disk reads in the log");
    if (p->checkpoint_line && (cfg->pair.present || (cfg->record.present && cfg->record.mode != CFG_REC_OFF)))
        return fail(p, p->checkpoint_line, "checkpoint_every_ms tests a guest run alone: not with a [pair] or a "
                                           "[record] mode");
    if (p->migrate_line && !cfg->pair.present)
        return fail(p, p->migrate_line, "migrate_every_ms migrates a [pair]'s guest to the peer: there is no [pair]");
    if (cfg->guest.disk.path[0] && cfg->guest.disk_serial[0])
        return fail(p, cfg->guest.disk_device_line,
                    "disk_device: the guest has one disk: either an image file (disk, line %d) or a device",
                    cfg->guest.disk.line);
    if (cfg->record.present && cfg->record.mode != CFG_REC_OFF && !cfg->guest.present)
        return fail(p, cfg->record.line, "[record] needs a [guest] to record");
    if (cfg->record.present && cfg->record.landmark == CFG_LM_EACH && cfg->record.mode != CFG_REC_SELFCHECK)
        return fail(p, cfg->record.line, "landmark = each is for mode = selfcheck (one backend after the other)");
    if (cfg->record.present && cfg->record.mode == CFG_REC_REPLAY && !cfg->record.sink_ip)
        return fail(p, cfg->record.line, "mode = replay reads the log from a sink: set sink = IP (tools/ftlog-sink)");
    if (cfg->record.present && cfg->record.mode == CFG_REC_RECORD && cfg->record.dest == CFG_DEST_SINK &&
        !cfg->record.sink_ip)
        return fail(p, cfg->record.line, "dest = sink needs sink = IP (tools/ftlog-sink)");
    if (cfg->debug.host[0]) {
        bool found = false;
        for (int i = 0; i < cfg->nhosts; i++)
            found |= strcmp(cfg->hosts[i].name, cfg->debug.host) == 0;
        if (!found)
            return fail(p, cfg->debug.host_line, "host: no [host %s] section in this file", cfg->debug.host);
    }
    return 0;
}

int config_parse(const char *text, size_t len, const char *file, struct config *cfg, char *err, size_t errlen)
{
    struct parser p;
    memset(&p, 0, sizeof(p));
    memset(cfg, 0, sizeof(*cfg));
    str_copy(cfg->file, file, sizeof(cfg->file));
    cfg->pair.heartbeat_ms = 100;
    cfg->pair.failover_timeout_ms = 1000;
    cfg->pair.max_lag_ms = 1000;
    cfg->pair.backup_wait_ms = 60000;
    cfg->debug.log_level = CFG_LOG_INFO;
    cfg->record.digest_every = 5000;
    cfg->record.digest_min_ms = 1000;
    cfg->debug.read_ahead = CFG_ON;
    cfg->record.sink_port = 7420;
    p.cfg = cfg;
    p.err = err;
    p.errlen = errlen;
    p.sec = -1;
    err[0] = 0;

    size_t pos = 0;
    char line[CFG_LINE_MAX + 2];
    while (pos < len) {
        p.line++;
        size_t n = 0;
        bool too_long = false;
        while (pos < len && text[pos] != '\n') {
            unsigned char c = (unsigned char)text[pos++];
            if (c == '\r' && (pos == len || text[pos] == '\n'))
                continue; /* CRLF files edited elsewhere */
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return fail(&p, p.line, "control character 0x%02x (is this a text file?)", c);
            if (n < CFG_LINE_MAX)
                line[n++] = (char)c;
            else
                too_long = true;
        }
        pos++; /* the '\n' */
        if (too_long)
            return fail(&p, p.line, "line too long (at most %d characters)", CFG_LINE_MAX);
        line[n] = 0;
        while (n && is_space(line[n - 1]))
            line[--n] = 0;
        char *s = line;
        while (is_space(*s))
            s++;
        if (!*s || *s == '#' || *s == ';')
            continue;
        int r = *s == '[' ? header(&p, s) : assignment(&p, s);
        if (r)
            return r;
    }
    if (end_section(&p))
        return -1;
    return cross_check(&p);
}

const struct cfg_file *config_file(const struct config *cfg, int index, const char **key)
{
    switch (index) {
    case 0: *key = "kernel"; return &cfg->guest.kernel;
    case 1: *key = "initrd"; return &cfg->guest.initrd;
    case 2: *key = "disk"; return &cfg->guest.disk;
    default: return NULL;
    }
}

int config_find_host(const struct config *cfg, const uint8_t (*macs)[6], int n, char *err, size_t errlen)
{
    if (cfg->debug.host[0]) {
        for (int i = 0; i < cfg->nhosts; i++)
            if (strcmp(cfg->hosts[i].name, cfg->debug.host) == 0)
                return i;
        fmt_snprintf(err, errlen, "%s:%d: host: no [host %s] section", cfg->file, cfg->debug.host_line,
                     cfg->debug.host);
        return -1;
    }
    for (int i = 0; i < cfg->nhosts; i++)
        for (int j = 0; j < n; j++)
            if (memcmp(cfg->hosts[i].mac, macs[j], 6) == 0)
                return i;
    size_t len = (size_t)fmt_snprintf(err, errlen, "%s: no [host] section has the MAC of a NIC of this machine (",
                                      cfg->file);
    if (n == 0)
        len += (size_t)fmt_snprintf(err + (len < errlen ? len : errlen), len < errlen ? errlen - len : 0,
                                    "no NIC found; set [debug] host = NAME");
    for (int j = 0; j < n && len < errlen; j++)
        len += (size_t)fmt_snprintf(err + len, errlen - len, "%s%02x:%02x:%02x:%02x:%02x:%02x", j ? ", " : "",
                                    macs[j][0], macs[j][1], macs[j][2], macs[j][3], macs[j][4], macs[j][5]);
    if (len < errlen)
        fmt_snprintf(err + len, errlen - len, ")");
    return -1;
}

const char *config_on_exit_name(enum cfg_on_exit v) { return on_exit_names[v]; }
const char *config_log_level_name(enum cfg_log_level v) { return log_level_names[v]; }
const char *config_fault_test_name(enum cfg_fault_test v) { return fault_names[v]; }
const char *config_cpu_model_name(enum cfg_cpu_model v) { return cpu_model_names[v]; }
const char *config_landmark_name(enum cfg_landmark v) { return landmark_names[v]; }
const char *config_arbiter_name(enum cfg_arbiter v)
{
    return v == CFG_ARBITER_WITNESS ? "witness" : v == CFG_ARBITER_DISK ? "disk" : "none";
}
