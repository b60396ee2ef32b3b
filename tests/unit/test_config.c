/* kernel/config.c: the ftvisor.conf parser, its error messages (each must
 * name the line at fault) and its helpers. */
#include "test.h"
#include <stdint.h>
#include <stdbool.h>
#include "../../kernel/config.h"

static struct config cfg;
static char err[CFG_ERR_MAX];

/* Parse len bytes from a heap copy of exactly that size (the text is not
 * NUL-terminated for the parser), so ASan catches reads past the end. */
static int parse_n(const char *text, size_t len)
{
    char *copy = malloc(len ? len : 1);
    memcpy(copy, text, len);
    memset(err, 'Z', sizeof(err));
    int r = config_parse(copy, len, "ftvisor.conf", &cfg, err, sizeof(err));
    free(copy);
    return r;
}

static int parse(const char *text) { return parse_n(text, strlen(text)); }

/* The parse must fail with "ftvisor.conf:LINE: ..." (or "ftvisor.conf: ..."
 * for line 0) and the message must contain want. */
static void fails_at(int src, const char *text, size_t len, int line, const char *want)
{
    char prefix[64];
    if (line > 0)
        snprintf(prefix, sizeof(prefix), "ftvisor.conf:%d: ", line);
    else
        snprintf(prefix, sizeof(prefix), "ftvisor.conf: ");
    int r = parse_n(text, len);
    if (r != -1)
        TEST_FAIL("line %d: config_parse returned %d, want -1 (%.60s)", src, r, text);
    else if (strncmp(err, prefix, strlen(prefix)) != 0)
        TEST_FAIL("line %d: error \"%s\" does not start with \"%s\"", src, err, prefix);
    else if (!strstr(err, want))
        TEST_FAIL("line %d: error \"%s\" lacks \"%s\"", src, err, want);
}
#define FAILS(text, line, want) fails_at(__LINE__, text, strlen(text), line, want)
#define FAILS_N(text, len, line, want) fails_at(__LINE__, text, len, line, want)

static void parses_at(int src, const char *text)
{
    if (parse(text) != 0)
        TEST_FAIL("line %d: rejected: %s", src, err);
}
#define PARSES(text) parses_at(__LINE__, text)

/* CHECK_STR for long strings (test.h's message buffer would truncate). */
#define CHECK_LONG_STR(a, b)                                                     \
    do {                                                                         \
        const char *a_ = (a), *b_ = (b);                                         \
        if (strcmp(a_, b_) != 0)                                                 \
            TEST_FAIL("%s:\n  got  \"%.180s\"\n  want \"%.180s\"", #a, a_, b_); \
    } while (0)

/* A valid [host] (4 lines) to put other sections after. */
#define HOST_A "[host alpha]\nmac = 52:54:00:00:00:01\nip = 10.0.0.1\nnetmask = 255.255.255.0\n"
#define HOST_B "[host beta]\nmac = 52:54:00:00:00:02\nip = 10.0.0.2\nnetmask = 255.255.255.0\n"
#define PAIR_KEY "key = 0123456789abcdef\n"
#define GUEST "[guest]\nkernel = bzImage\nmemory_mb = 64\n"

/* A string of n copies of c (static, one at a time). */
static const char *rep(char c, size_t n)
{
    static char buf[2048];
    memset(buf, c, n);
    buf[n] = 0;
    return buf;
}

/* -------------------------------------------------------- valid files ---- */

static const char full_config[] =
    "# ftvisor.conf for the test pair\n"          /* 1 */
    "; a semicolon comment\n"                     /* 2 */
    "\n"                                          /* 3 */
    "[host alpha]\n"                              /* 4 */
    "mac = 52:54:00:12:34:56\n"                   /* 5 */
    "ip = 10.0.0.1\n"                             /* 6 */
    "netmask = 255.255.255.0\n"                   /* 7 */
    "gateway = 10.0.0.254\n"                      /* 8 */
    "\n"                                          /* 9 */
    "[host beta]\n"                               /* 10 */
    "mac = 02-00-00-AB-cd-EF\n"                   /* 11 */
    "ip=10.0.0.2\n"                               /* 12 */
    "netmask=255.255.0.0\n"                       /* 13 */
    "\n"                                          /* 14 */
    "[pair]\n"                                    /* 15 */
    "key = correct-horse-battery-staple\n"        /* 16 */
    "arbiter = witness:10.0.0.9:7700\n"           /* 17 */
    "\n"                                          /* 18 */
    "[guest]\n"                                   /* 19 */
    "kernel = guest/bzImage\n"                    /* 20 */
    "initrd = guest/initrd.img\n"                 /* 21 */
    "disk = disks/shared-1.img\n"                 /* 22 */
    "cmdline = console=ttyS0 root=/dev/vda rw\n"  /* 23 */
    "memory_mb = 512\n"                           /* 24 */
    "\n"                                          /* 25 */
    "[debug]\n"                                   /* 26 */
    "host = beta\n"                               /* 27 */
    "on_guest_exit = halt\n"                      /* 28 */
    "exit_port = 0xf4\n"                          /* 29 */
    "fault_test = pf\n";                          /* 30 */

static bool mac_is(const uint8_t *mac, uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint8_t e, uint8_t f)
{
    const uint8_t want[6] = { a, b, c, d, e, f };
    return memcmp(mac, want, 6) == 0;
}

TEST(full_config_hosts)
{
    if (parse(full_config) != 0) {
        TEST_FAIL("%s", err);
        return;
    }
    CHECK_EQ(err[0], 0);
    CHECK_STR(cfg.file, "ftvisor.conf");
    CHECK_EQ(cfg.nhosts, 2);
    const struct cfg_host *a = &cfg.hosts[0], *b = &cfg.hosts[1];
    CHECK_STR(a->name, "alpha");
    CHECK(mac_is(a->mac, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56));
    CHECK_EQ(a->ip, 0x0a000001);
    CHECK_EQ(a->netmask, 0xffffff00);
    CHECK_EQ(a->gateway, 0x0a0000fe);
    CHECK_EQ(a->line, 4);
    CHECK_STR(b->name, "beta");
    CHECK(mac_is(b->mac, 0x02, 0x00, 0x00, 0xab, 0xcd, 0xef));
    CHECK_EQ(b->ip, 0x0a000002);
    CHECK_EQ(b->netmask, 0xffff0000);
    CHECK_EQ(b->gateway, 0);
    CHECK_EQ(b->line, 10);
}

TEST(full_config_pair)
{
    if (parse(full_config) != 0) {
        TEST_FAIL("%s", err);
        return;
    }
    CHECK(cfg.pair.present);
    CHECK_STR(cfg.pair.key, "correct-horse-battery-staple");
    CHECK_EQ(cfg.pair.heartbeat_ms, 100);
    CHECK_EQ(cfg.pair.failover_timeout_ms, 1000);
    CHECK_EQ(cfg.pair.arbiter, CFG_ARBITER_WITNESS);
    CHECK_EQ(cfg.pair.arbiter_ip, 0x0a000009);
    CHECK_EQ(cfg.pair.arbiter_port, 7700);
    CHECK_EQ(cfg.pair.line, 15);
}

TEST(full_config_guest)
{
    if (parse(full_config) != 0) {
        TEST_FAIL("%s", err);
        return;
    }
    CHECK(cfg.guest.present);
    CHECK_STR(cfg.guest.kernel.path, "guest/bzImage");
    CHECK_EQ(cfg.guest.kernel.line, 20);
    CHECK_STR(cfg.guest.initrd.path, "guest/initrd.img");
    CHECK_EQ(cfg.guest.initrd.line, 21);
    CHECK_STR(cfg.guest.disk.path, "disks/shared-1.img");
    CHECK_EQ(cfg.guest.disk.line, 22);
    CHECK_LONG_STR(cfg.guest.cmdline, "console=ttyS0 root=/dev/vda rw");
    CHECK_EQ(cfg.guest.memory_mb, 512);
    CHECK_EQ(cfg.guest.line, 19);
}

TEST(full_config_debug)
{
    if (parse(full_config) != 0) {
        TEST_FAIL("%s", err);
        return;
    }
    CHECK_STR(cfg.debug.host, "beta");
    CHECK_EQ(cfg.debug.host_line, 27);
    CHECK_EQ(cfg.debug.on_guest_exit, CFG_EXIT_HALT);
    CHECK_EQ(cfg.debug.exit_port, 0xf4);
    CHECK_EQ(cfg.debug.log_level, CFG_LOG_INFO); /* default */
    CHECK_EQ(cfg.debug.fault_test, CFG_FAULT_PF);
}

TEST(defaults_for_a_host_only_config)
{
    PARSES(HOST_A);
    CHECK_EQ(cfg.nhosts, 1);
    CHECK(!cfg.pair.present);
    CHECK(!cfg.guest.present);
    CHECK_EQ(cfg.pair.heartbeat_ms, 100);
    CHECK_EQ(cfg.pair.failover_timeout_ms, 1000);
    CHECK_EQ(cfg.pair.arbiter, CFG_ARBITER_NONE);
    CHECK_EQ(cfg.debug.host[0], 0);
    CHECK_EQ(cfg.debug.on_guest_exit, CFG_EXIT_POWEROFF);
    CHECK_EQ(cfg.debug.exit_port, 0);
    CHECK_EQ(cfg.debug.log_level, CFG_LOG_INFO);
    CHECK_EQ(cfg.debug.fault_test, CFG_FAULT_NONE);
    CHECK_EQ(cfg.guest.kernel.path[0], 0);
}

TEST(parse_clears_previous_result)
{
    PARSES(full_config);
    PARSES(HOST_A);
    CHECK_EQ(cfg.nhosts, 1);
    CHECK(!cfg.pair.present);
    CHECK_EQ(cfg.debug.host[0], 0);
    CHECK_EQ(cfg.guest.disk.path[0], 0);
}

TEST(crlf_whitespace_and_comments)
{
    const char *text = "  # indented comment\r\n"
                       "\t; tab-indented comment\r\n"
                       "   \t  \r\n"
                       "  [ host   alpha ]  \r\n"
                       "\tmac\t=\t52:54:00:00:00:01\t\r\n"
                       "ip=10.0.0.1\r\n"
                       "   netmask   =   255.255.255.0   \r\n"
                       "[pair]\r\n"
                       "key=0123456789abcdef#not-a-comment\r\n"
                       "heartbeat_ms = 50\r\n"
                       "failover_timeout_ms = 100\r\n"
                       "[debug]\r\n"
                       "log_level = debug\r\n"
                       "on_guest_exit = restart"; /* no final newline */
    PARSES(text);
    CHECK_STR(cfg.hosts[0].name, "alpha");
    CHECK_EQ(cfg.hosts[0].line, 4);
    CHECK(mac_is(cfg.hosts[0].mac, 0x52, 0x54, 0, 0, 0, 1));
    CHECK_EQ(cfg.hosts[0].ip, 0x0a000001);
    CHECK_EQ(cfg.hosts[0].netmask, 0xffffff00);
    CHECK_STR(cfg.pair.key, "0123456789abcdef#not-a-comment");
    CHECK_EQ(cfg.pair.heartbeat_ms, 50);
    CHECK_EQ(cfg.pair.failover_timeout_ms, 100);
    CHECK_EQ(cfg.debug.log_level, CFG_LOG_DEBUG);
    CHECK_EQ(cfg.debug.on_guest_exit, CFG_EXIT_RESTART);
}

TEST(line_numbers_count_crlf_lines_once)
{
    FAILS(HOST_A "\r\n\r\n[pair]\r\nkey = short\r\n", 8, "too short");
}

TEST(empty_lines_and_final_cr)
{
    PARSES("\n\n\n" HOST_A "\n\n\r");
    CHECK_EQ(cfg.hosts[0].line, 4);
}

TEST(every_enum_value)
{
    static const char *const exits[] = { "poweroff", "halt", "restart" };
    static const char *const levels[] = { "error", "warn", "info", "debug" };
    static const char *const faults[] = { "none", "ud", "pf", "de", "gp", "df" };
    char text[256];
    for (int i = 0; i < 3; i++) {
        snprintf(text, sizeof(text), HOST_A "[debug]\non_guest_exit = %s\n", exits[i]);
        PARSES(text);
        CHECK_EQ(cfg.debug.on_guest_exit, i);
        CHECK_STR(config_on_exit_name(cfg.debug.on_guest_exit), exits[i]);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(text, sizeof(text), HOST_A "[debug]\nlog_level = %s\n", levels[i]);
        PARSES(text);
        CHECK_EQ(cfg.debug.log_level, i);
        CHECK_STR(config_log_level_name(cfg.debug.log_level), levels[i]);
    }
    for (int i = 0; i < 6; i++) {
        snprintf(text, sizeof(text), HOST_A "[debug]\nfault_test = %s\n", faults[i]);
        PARSES(text);
        CHECK_EQ(cfg.debug.fault_test, i);
        CHECK_STR(config_fault_test_name(cfg.debug.fault_test), faults[i]);
    }
    CHECK_STR(config_arbiter_name(CFG_ARBITER_NONE), "none");
    CHECK_STR(config_arbiter_name(CFG_ARBITER_WITNESS), "witness");
    CHECK_STR(config_arbiter_name(CFG_ARBITER_DISK), "disk");
}

TEST(boundary_values_accepted)
{
    PARSES(HOST_A GUEST "[pair]\nkey = 0123456789abcdef\nheartbeat_ms = 10\nfailover_timeout_ms = 20\n");
    CHECK_EQ(cfg.pair.heartbeat_ms, 10);
    CHECK_EQ(cfg.pair.failover_timeout_ms, 20);
    PARSES(HOST_A "[pair]\n" PAIR_KEY "heartbeat_ms = 10000\nfailover_timeout_ms = 600000\n");
    CHECK_EQ(cfg.pair.failover_timeout_ms, 600000);
    PARSES(HOST_A "[guest]\nkernel = k\nmemory_mb = 16\n");
    CHECK_EQ(cfg.guest.memory_mb, 16);
    PARSES(HOST_A "[guest]\nkernel = k\nmemory_mb = 65536\n");
    CHECK_EQ(cfg.guest.memory_mb, 65536);
    PARSES(HOST_A "[debug]\nexit_port = 65535\n");
    CHECK_EQ(cfg.debug.exit_port, 65535);
    PARSES(HOST_A "[debug]\nexit_port = 1\n");
    CHECK_EQ(cfg.debug.exit_port, 1);
}

TEST(hex_numbers_accepted)
{
    PARSES(HOST_A "[debug]\nexit_port = 0xf4\n");
    CHECK_EQ(cfg.debug.exit_port, 0xf4);
    PARSES(HOST_A "[debug]\nexit_port = 0XF4\n");
    CHECK_EQ(cfg.debug.exit_port, 0xf4);
    PARSES(HOST_A "[guest]\nkernel = k\nmemory_mb = 0x100\n");
    CHECK_EQ(cfg.guest.memory_mb, 256);
}

TEST(gateway_on_subnet_accepted)
{
    PARSES("[host a]\nmac = 52:54:00:00:00:01\nip = 192.168.1.10\nnetmask = 255.255.255.0\ngateway = 192.168.1.1\n");
    CHECK_EQ(cfg.hosts[0].gateway, 0xc0a80101);
    PARSES("[host a]\nmac = 52:54:00:00:00:01\nip = 10.1.2.3\nnetmask = 255.0.0.0\ngateway = 10.255.255.254\n");
    PARSES("[host a]\nmac = 52:54:00:00:00:01\nip = 10.1.2.3\nnetmask = 255.255.255.255\n");
    CHECK_EQ(cfg.hosts[0].netmask, 0xffffffff);
}

TEST(longest_values_accepted)
{
    char text[2048];
    snprintf(text, sizeof(text), HOST_A "[guest]\nmemory_mb = 64\nkernel = %s\n", rep('k', CFG_PATH_MAX - 1));
    PARSES(text);
    CHECK_EQ(strlen(cfg.guest.kernel.path), CFG_PATH_MAX - 1);
    snprintf(text, sizeof(text), HOST_A "[pair]\nkey = %s\n", rep('p', CFG_KEY_MAX - 1));
    PARSES(text);
    CHECK_EQ(strlen(cfg.pair.key), CFG_KEY_MAX - 1);
    snprintf(text, sizeof(text), "[host %s]\nmac = 52:54:00:00:00:01\nip = 10.0.0.1\nnetmask = 255.0.0.0\n",
             rep('h', CFG_NAME_MAX - 1));
    PARSES(text);
    CHECK_EQ(strlen(cfg.hosts[0].name), CFG_NAME_MAX - 1);
}

TEST(longest_cmdline_and_line_accepted)
{
    static char text[4096];
    snprintf(text, sizeof(text), HOST_A GUEST "cmdline = %s\n", rep('c', CFG_CMDLINE_MAX - 1));
    PARSES(text);
    CHECK_EQ(strlen(cfg.guest.cmdline), CFG_CMDLINE_MAX - 1);
    /* A comment line of exactly CFG_LINE_MAX characters. */
    snprintf(text, sizeof(text), HOST_A "#%s\n", rep('x', CFG_LINE_MAX - 1));
    PARSES(text);
}

TEST(path_forms_accepted)
{
    PARSES(HOST_A "[guest]\nmemory_mb = 64\nkernel = ./a/.b/c..d/vmlinuz-6.1_x86.64\n");
    CHECK_STR(cfg.guest.kernel.path, "./a/.b/c..d/vmlinuz-6.1_x86.64");
    PARSES(HOST_A "[guest]\nmemory_mb = 64\nkernel = ...\n");
}

TEST(nic_mac_forms)
{
    PARSES(HOST_A GUEST "nic_mac = 52:54:00:00:99:01\n");
    CHECK(memcmp(cfg.guest.nic_mac, "\x52\x54\x00\x00\x99\x01", 6) == 0);
    PARSES(HOST_A GUEST);
    CHECK(memcmp(cfg.guest.nic_mac, "\0\0\0\0\0\0", 6) == 0);
    FAILS(HOST_A GUEST "nic_mac = 53:54:00:00:99:01\n", 8, "nic_mac: 53:54:00:00:99:01 is not a unicast NIC address");
    FAILS(HOST_A GUEST "nic_mac = 52:54:00:00:00:01\n", 8, "nic_mac: [host alpha] has this MAC: the guest needs its own");
    FAILS(HOST_A GUEST "nic_mac = guest\n", 8, "nic_mac: 'guest' is not a MAC address");
}

TEST(disk_device_forms)
{
    PARSES(HOST_A GUEST "disk_device = BXHD00012\n");
    CHECK_STR(cfg.guest.disk_serial, "BXHD00012");
    CHECK_EQ(cfg.guest.disk_partition, 0);
    PARSES(HOST_A GUEST "disk_device = S3Z9NB0K123456-X_y.z:128\n");
    CHECK_STR(cfg.guest.disk_serial, "S3Z9NB0K123456-X_y.z");
    CHECK_EQ(cfg.guest.disk_partition, 128);
    FAILS(HOST_A GUEST "disk_device = :2\n", 8,
          "disk_device: ':2' is not SERIAL[:PARTITION] (a serial number of 1 to 20 characters, e.g. BXHD00012 or "
          "S3Z9NB0K123456:2)");
    FAILS(HOST_A GUEST "disk_device = 123456789012345678901\n", 8, "disk_device: '123456789012345678901' is not");
    FAILS(HOST_A GUEST "disk_device = AB CD\n", 8, "disk_device: the serial number may not contain spaces");
    FAILS(HOST_A GUEST "disk_device = ABC:0\n", 8, "disk_device: partition '0' is not a number 1..128");
    FAILS(HOST_A GUEST "disk_device = ABC:129\n", 8, "disk_device: partition '129' is not a number 1..128");
    FAILS(HOST_A GUEST "disk_device = ABC:\n", 8, "disk_device: partition '' is not a number 1..128");
    FAILS(HOST_A GUEST "disk = d.img\ndisk_device = ABC\n", 9,
          "disk_device: the guest has one disk: either an image file (disk, line 8) or a device");
    PARSES(HOST_A GUEST "disk_device = ABC\n");
    CHECK_EQ(cfg.guest.disk_mode, CFG_DISK_SHARED);
    PARSES(HOST_A GUEST "disk_mode = private\ndisk_device = ABC\n");
    CHECK_EQ(cfg.guest.disk_mode, CFG_DISK_PRIVATE);
    PARSES(HOST_A GUEST "disk_device = ABC\ndisk_mode = shared\n");
    CHECK_EQ(cfg.guest.disk_mode, CFG_DISK_SHARED);
    FAILS(HOST_A GUEST "disk_mode = private\n", 8, "disk_mode: only a disk on a drive (disk_device) has a mode");
    FAILS(HOST_A GUEST "disk_device = ABC\ndisk_mode = copy\n", 9, "disk_mode: 'copy' is not one of: shared, private");
}

TEST(disk_reads_forms)
{
    PARSES(HOST_A GUEST "disk_device = ABC\n");
    CHECK_EQ(cfg.guest.disk_reads, CFG_READS_LOG);
    PARSES(HOST_A GUEST "disk_device = ABC\ndisk_reads = backup\n[pair]\n" PAIR_KEY);
    CHECK_EQ(cfg.guest.disk_reads, CFG_READS_BACKUP);
    PARSES(HOST_A GUEST "disk_device = ABC\ndisk_mode = private\ndisk_reads = backup\n[pair]\n" PAIR_KEY);
    CHECK_EQ(cfg.guest.disk_reads, CFG_READS_BACKUP);
    PARSES(HOST_A GUEST "disk_device = ABC\ndisk_reads = log\n");
    CHECK_EQ(cfg.guest.disk_reads, CFG_READS_LOG);
    FAILS(HOST_A GUEST "disk_reads = backup\n[pair]\n" PAIR_KEY, 8,
          "disk_reads: only a disk on a drive (disk_device) can be read by the backup");
    FAILS(HOST_A GUEST "disk_device = ABC\ndisk_reads = backup\n", 9,
          "disk_reads = backup is for a [pair]'s backup: a recording replayed later must carry its disk reads");
    FAILS(HOST_A GUEST "disk_device = ABC\ndisk_reads = backup\n[pair]\n" PAIR_KEY "[record]\nmode = selfcheck\n", 9,
          "disk_reads = backup is for a [pair]'s backup");
    FAILS(HOST_A GUEST "disk_device = ABC\ndisk_reads = primary\n", 9, "disk_reads: 'primary' is not one of: log, backup");
}

TEST(checkpoint_forms)
{
    PARSES(HOST_A GUEST "[debug]\ncheckpoint_every_ms = 10\n");
    CHECK_EQ(cfg.debug.checkpoint_every_ms, 10u);
    PARSES(HOST_A GUEST);
    CHECK_EQ(cfg.debug.checkpoint_every_ms, 0u);
    FAILS(HOST_A GUEST "[debug]\ncheckpoint_every_ms = 0\n", 9, "checkpoint_every_ms");
    FAILS(HOST_A GUEST "[pair]\n" PAIR_KEY "[debug]\ncheckpoint_every_ms = 10\n", 11,
          "checkpoint_every_ms tests a guest run alone: not with a [pair] or a [record] mode");
    FAILS(HOST_A GUEST "[record]\nmode = selfcheck\n[debug]\ncheckpoint_every_ms = 10\n", 11,
          "checkpoint_every_ms tests a guest run alone");
}

TEST(migrate_every_forms)
{
    PARSES(HOST_A HOST_B GUEST "[pair]\n" PAIR_KEY "[debug]\nmigrate_every_ms = 2000\n");
    CHECK_EQ(cfg.debug.migrate_every_ms, 2000u);
    FAILS(HOST_A GUEST "[debug]\nmigrate_every_ms = 2000\n", 9,
          "migrate_every_ms migrates a [pair]'s guest to the peer: there is no [pair]");
    FAILS(HOST_A HOST_B GUEST "[pair]\n" PAIR_KEY "[debug]\nmigrate_every_ms = 10\n", 15, "migrate_every_ms");
}

TEST(guest_nic_forms)
{
    PARSES(HOST_A "guest_nic = 52:54:00:00:00:11\n" GUEST "nic_mac = 52:54:00:00:00:99\n");
    CHECK_EQ(cfg.hosts[0].guest_nic[5], 0x11);
    CHECK_EQ(cfg.hosts[0].guest_nic_line, 5);
    FAILS(HOST_A "guest_nic = 52:54:00:00:00:11\n" GUEST, 5,
          "guest_nic: the guest has no network card ([guest] nic_mac) to carry");
    FAILS(HOST_A "guest_nic = 52:54:00:00:00:11\n", 5, "guest_nic: the guest has no network card");
    FAILS(HOST_A "guest_nic = 52:54:00:00:00:01\n" GUEST "nic_mac = 52:54:00:00:00:99\n", 5,
          "guest_nic: [host alpha] uses this MAC too: the guest's NIC is a second NIC of this host");
    FAILS(HOST_A "guest_nic = 52:54:00:00:00:11\n" HOST_B "guest_nic = 52:54:00:00:00:11\n" GUEST
          "nic_mac = 52:54:00:00:00:99\n", 5, "guest_nic: [host beta] uses this MAC too");
    FAILS(HOST_A "guest_nic = 52:54:00:00:00:99\n" GUEST "nic_mac = 52:54:00:00:00:99\n", 9,
          "nic_mac: [host alpha] has this MAC: the guest needs its own");
    FAILS(HOST_A "guest_nic = 01:54:00:00:00:11\n", 5, "guest_nic: 01:54:00:00:00:11 is not a unicast NIC address");
}

TEST(disk_test_key)
{
    PARSES(HOST_A "[debug]\ndisk_test = QM00001\n");
    CHECK_STR(cfg.debug.disk_test.serial, "QM00001");
    CHECK_EQ(cfg.debug.disk_test.line, 6);
    FAILS(HOST_A "[debug]\ndisk_test = A B\n", 6, "disk_test: the serial number may not contain spaces or control characters");
    FAILS(HOST_A "[debug]\ndisk_test = 123456789012345678901\n", 6,
          "disk_test: '123456789012345678901' is not a drive's serial number (1 to 20 characters)");
}

TEST(arbiter_forms_accepted)
{
    PARSES(HOST_A "[pair]\n" PAIR_KEY "arbiter = none\n");
    CHECK_EQ(cfg.pair.arbiter, CFG_ARBITER_NONE);
    PARSES(HOST_A "[guest]\nkernel = k\nmemory_mb = 64\ndisk_device = BXHD00012:1\n[pair]\n" PAIR_KEY
                  "arbiter = disk:BXHD00012:2\n");
    CHECK_EQ(cfg.pair.arbiter, CFG_ARBITER_DISK);
    CHECK_STR(cfg.pair.arbiter_serial, "BXHD00012");
    CHECK_EQ(cfg.pair.arbiter_partition, 2);
    /* The guest's disk may also come after the [pair] section, or be
     * another drive; the arbiter's may be a whole drive. */
    PARSES(HOST_A "[pair]\n" PAIR_KEY "arbiter = disk:ARB\n[guest]\nkernel = k\nmemory_mb = 64\ndisk_device = X:1\n");
    CHECK_EQ(cfg.pair.arbiter, CFG_ARBITER_DISK);
    CHECK_STR(cfg.pair.arbiter_serial, "ARB");
    CHECK_EQ(cfg.pair.arbiter_partition, 0);
    PARSES(HOST_A "[pair]\n" PAIR_KEY "arbiter = witness:255.255.255.255:65535\n");
    CHECK_EQ(cfg.pair.arbiter, CFG_ARBITER_WITNESS);
    CHECK_EQ(cfg.pair.arbiter_ip, 0xffffffff);
    CHECK_EQ(cfg.pair.arbiter_port, 65535);
    PARSES(HOST_A "[pair]\n" PAIR_KEY "arbiter = witness:1.2.3.4:1\n");
    CHECK_EQ(cfg.pair.arbiter_ip, 0x01020304);
    CHECK_EQ(cfg.pair.arbiter_port, 1);
}

TEST(file_name_used_in_messages)
{
    const char *text = "[nope]\n";
    CHECK_EQ(config_parse(text, strlen(text), "other.conf", &cfg, err, sizeof(err)), -1);
    CHECK(strncmp(err, "other.conf:1: ", 14) == 0);
    CHECK_STR(cfg.file, "other.conf");
}

/* ------------------------------------------------------ line reading ---- */

TEST(rejects_control_characters)
{
    const char nul[] = "[host alpha]\nmac = 52\0:54:00:00:00:01\n";
    FAILS_N(nul, sizeof(nul) - 1, 2, "control character 0x00");
    FAILS("[host alpha]\nmac = 52:54:00:00:00:01\nip = 10.0.0.1\x01\n", 3, "control character 0x01");
    FAILS("\x7f[host alpha]\n", 1, "control character 0x7f");
    FAILS("# comment\x1b[0m\n", 1, "control character 0x1b");
    /* A CR not followed by LF is not a line ending. */
    FAILS(HOST_A "gateway = 10.0.0.9\r10\n", 5, "control character 0x0d");
    FAILS("\x0c\n", 1, "control character 0x0c");
}

TEST(accepts_tab_and_high_bytes_in_comments)
{
    PARSES("#\tcaf\xc3\xa9\n" HOST_A);
}

TEST(rejects_line_too_long)
{
    static char text[4096];
    snprintf(text, sizeof(text), HOST_A "#%s\n", rep('x', CFG_LINE_MAX));
    FAILS(text, 5, "line too long (at most 1100 characters)");
    snprintf(text, sizeof(text), "%s\n" HOST_A, rep(' ', CFG_LINE_MAX + 500));
    FAILS(text, 1, "line too long");
}

/* ---------------------------------------------------------- sections ---- */

TEST(rejects_missing_equals)
{
    FAILS("[host alpha]\nmac 52:54:00:00:00:01\n", 2, "expected '[section]' or 'key = value'");
}

TEST(rejects_unterminated_header)
{
    FAILS("[host alpha\n", 1, "unterminated section header (missing ']')");
    FAILS(HOST_A "[pair\n", 5, "unterminated section header");
    FAILS(HOST_A "[pair] x\n", 5, "unterminated section header");
    FAILS("[\n", 1, "unterminated section header");
}

TEST(rejects_unknown_section)
{
    FAILS("[hosts alpha]\n", 1, "unknown section [hosts] (expected host NAME, pair, guest, record or debug)");
    FAILS(HOST_A "[Pair]\n", 5, "unknown section [Pair]");
    FAILS(HOST_A "[]\n", 5, "unknown section []");
}

TEST(rejects_host_without_name)
{
    FAILS("[host]\n", 1, "[host] needs a name: [host NAME]");
    FAILS(HOST_A "[host   ]\n", 5, "[host] needs a name");
}

TEST(rejects_invalid_host_name)
{
    FAILS("[host al/pha]\n", 1, "'al/pha' is not a host name");
    FAILS("[host a b]\n", 1, "'a b' is not a host name");
    FAILS("[host alpha.example]\n", 1, "is not a host name");
    char text[128];
    snprintf(text, sizeof(text), "[host %s]\n", rep('h', CFG_NAME_MAX));
    FAILS(text, 1, "is not a host name (letters, digits, '-', '_'; at most 31)");
}

TEST(rejects_duplicate_host)
{
    FAILS(HOST_A "\n[host alpha]\n", 6, "duplicate section [host alpha] (first at line 1)");
}

TEST(rejects_ninth_host)
{
    static char text[4096];
    size_t n = 0;
    for (int i = 0; i < CFG_MAX_HOSTS; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n,
                              "[host h%d]\nmac = 52:54:00:00:00:%02x\nip = 10.0.0.%d\nnetmask = 255.255.255.0\n", i,
                              i + 1, i + 1);
    PARSES(text);
    CHECK_EQ(cfg.nhosts, CFG_MAX_HOSTS);
    snprintf(text + n, sizeof(text) - n, "[host h8]\n");
    FAILS(text, 33, "too many [host] sections (at most 8)");
}

TEST(rejects_name_on_unnamed_section)
{
    FAILS(HOST_A "[guest foo]\n", 5, "section [guest] takes no name");
    FAILS(HOST_A "[pair x]\n", 5, "section [pair] takes no name");
    FAILS(HOST_A "[debug alpha]\n", 5, "section [debug] takes no name");
}

TEST(rejects_duplicate_unnamed_section)
{
    FAILS(HOST_A GUEST "\n" GUEST, 9, "duplicate section [guest] (first at line 5)");
    FAILS("[debug]\n" HOST_A "[debug]\n", 6, "duplicate section [debug] (first at line 1)");
    FAILS(HOST_A "[pair]\n" PAIR_KEY "[pair]\n", 7, "duplicate section [pair] (first at line 5)");
}

/* -------------------------------------------------------------- keys ---- */

TEST(rejects_key_outside_section)
{
    FAILS("# header\nmac = 52:54:00:00:00:01\n" HOST_A, 2, "key 'mac' outside any section");
}

TEST(rejects_bad_key_name)
{
    FAILS("[host alpha]\nma-c = 52:54:00:00:00:01\n", 2, "'ma-c' is not a key name");
    FAILS("[host alpha]\nmac address = 1\n", 2, "'mac address' is not a key name");
    FAILS("[host alpha]\nmac.1 = 1\n", 2, "'mac.1' is not a key name");
}

TEST(rejects_unknown_key_listing_expected)
{
    FAILS("[host alpha]\nmtu = 1500\n", 2, "unknown key 'mtu' in [host] (expected one of: mac, ip, netmask, gateway, guest_nic)");
    FAILS(HOST_A "[pair]\nsecret = x\n", 6,
          "unknown key 'secret' in [pair] (expected one of: key, heartbeat_ms, failover_timeout_ms, arbiter, primary, max_lag_ms, backup_wait_ms)");
    FAILS(HOST_A "[guest]\nvcpus = 2\n", 6,
          "unknown key 'vcpus' in [guest] (expected one of: kernel, initrd, disk, disk_device, disk_mode, disk_reads, nic_mac, cmdline, memory_mb, cpu_model)");
    FAILS(HOST_A "[debug]\nverbose = 1\n", 6,
          "unknown key 'verbose' in [debug] (expected one of: host, on_guest_exit, exit_port, log_level, fault_test, uptime_ms, channel_test_mb, replay_drip, disk_test, profile, read_ahead, checkpoint_every_ms, migrate_every_ms)");
    FAILS("[host alpha]\nMAC = 52:54:00:00:00:01\n", 2, "unknown key 'MAC'");
}

TEST(rejects_duplicate_key)
{
    FAILS("[host alpha]\nmac = 52:54:00:00:00:01\n# again\nmac = 52:54:00:00:00:02\n", 4,
          "duplicate key 'mac' (first at line 2)");
    FAILS(HOST_A "gateway = 10.0.0.9\ngateway = 10.0.0.9\n", 6, "duplicate key 'gateway' (first at line 5)");
}

TEST(rejects_empty_value)
{
    FAILS("[host alpha]\nip =\n", 2, "empty value for 'ip'");
    FAILS("[host alpha]\nip =   \t \n", 2, "empty value for 'ip'");
}

TEST(rejects_missing_key)
{
    FAILS("[host alpha]\n= 10.0.0.1\n", 2, "missing key before '='");
    FAILS("[host alpha]\n   =\n", 2, "missing key before '='");
}

/* ------------------------------------------------------------ values ---- */

TEST(rejects_bad_mac)
{
    static const char *const bad[] = {
        "52:54:00:00:00", "52:54:00:00:00:0g", "52:54:00:00:00:1", "52:54:00:00:00:01:02", "525400000001",
        "52.54.00.00.00.01", "52:54:00:00:00:01 x", "52:54:00:00:00:001", "x", "52::54:00:00:00:01",
    };
    char text[128];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "[host alpha]\nip = 10.0.0.1\nmac = %s\n", bad[i]);
        FAILS(text, 3, "is not a MAC address (expected six hex bytes, e.g. 52:54:00:12:34:56)");
    }
    FAILS("[host alpha]\nmac = 52:54:00:00:00\n", 2, "mac: '52:54:00:00:00' is not a MAC address");
}

TEST(rejects_multicast_and_zero_mac)
{
    FAILS("[host alpha]\nmac = 01:00:5e:00:00:01\n", 2, "mac: 01:00:5e:00:00:01 is not a unicast NIC address");
    FAILS("[host alpha]\nmac = ff:ff:ff:ff:ff:ff\n", 2, "is not a unicast NIC address");
    FAILS("[host alpha]\nmac = 33-33-00-00-00-01\n", 2, "is not a unicast NIC address");
    FAILS("[host alpha]\nmac = 00:00:00:00:00:00\n", 2, "mac: 00:00:00:00:00:00 is not a unicast NIC address");
}

TEST(rejects_bad_ip)
{
    static const char *const bad[] = {
        "10.0.0",   "256.1.1.1", "01.2.3.4", "1.2.3.4.5", "1.2.3.", ".1.2.3", "1..2.3", "1.2.3.04",
        "1234.1.1.1", "a.b.c.d", "1.2.3.4 x", "-1.2.3.4", "1.2.3.256", "0x1.2.3.4",
    };
    char text[128];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "[host alpha]\nmac = 52:54:00:00:00:01\nip = %s\n", bad[i]);
        FAILS(text, 3, "is not an IPv4 address (expected e.g. 10.0.0.1)");
    }
    FAILS(HOST_A "gateway = 10.0.0\n", 5, "gateway: '10.0.0' is not an IPv4 address");
}

TEST(rejects_bad_netmask)
{
    FAILS("[host alpha]\nnetmask = 255.0.255.0\n", 2, "netmask: 255.0.255.0 is not a contiguous netmask");
    FAILS("[host alpha]\nnetmask = 0.0.0.0\n", 2, "netmask: 0.0.0.0 is not a contiguous netmask");
    FAILS("[host alpha]\nnetmask = 0.255.255.255\n", 2, "is not a contiguous netmask");
    FAILS("[host alpha]\nnetmask = 255.255.255.1\n", 2, "is not a contiguous netmask");
    FAILS("[host alpha]\nnetmask = 255.255.255\n", 2, "netmask: '255.255.255' is not an IPv4 netmask");
    FAILS("[host alpha]\nnetmask = /24\n", 2, "is not an IPv4 netmask");
}

TEST(rejects_bad_numbers)
{
    FAILS(HOST_A "[guest]\nmemory_mb = 64M\n", 6, "memory_mb: '64M' is not a number");
    FAILS(HOST_A "[guest]\nmemory_mb = -1\n", 6, "memory_mb: '-1' is not a number");
    FAILS(HOST_A "[guest]\nmemory_mb = +64\n", 6, "is not a number");
    FAILS(HOST_A "[guest]\nmemory_mb = 0x\n", 6, "memory_mb: '0x' is not a number");
    FAILS(HOST_A "[guest]\nmemory_mb = 0x1g\n", 6, "is not a number");
    FAILS(HOST_A "[guest]\nmemory_mb = 6 4\n", 6, "is not a number");
    /* Numbers too large for any key are out of range, not "not a number". */
    FAILS(HOST_A "[guest]\nmemory_mb = 99999999999\n", 6, "memory_mb: 99999999999 is out of range (16..65536)");
    FAILS(HOST_A "[guest]\nmemory_mb = 4294967296\n", 6, "is out of range");
    FAILS(HOST_A "[guest]\nmemory_mb = 0x100000000\n", 6, "memory_mb: 0x100000000 is out of range");
}

TEST(rejects_numbers_out_of_range)
{
    FAILS(HOST_A "[guest]\nmemory_mb = 8\n", 6, "memory_mb: 8 is out of range (16..65536)");
    FAILS(HOST_A "[guest]\nmemory_mb = 65537\n", 6, "memory_mb: 65537 is out of range (16..65536)");
    FAILS(HOST_A "[guest]\nmemory_mb = 4294967295\n", 6, "memory_mb: 4294967295 is out of range");
    FAILS(HOST_A "[pair]\nheartbeat_ms = 5\n", 6, "heartbeat_ms: 5 is out of range (10..10000)");
    FAILS(HOST_A "[pair]\nfailover_timeout_ms = 600001\n", 6, "failover_timeout_ms: 600001 is out of range (20..600000)");
    FAILS(HOST_A "[debug]\nexit_port = 0\n", 6, "exit_port: 0 is out of range (1..65535)");
    FAILS(HOST_A "[debug]\nexit_port = 0x10000\n", 6, "exit_port: 0x10000 is out of range (1..65535)");
}

TEST(rejects_bad_paths)
{
    FAILS(HOST_A "[guest]\nkernel = /boot/bzImage\n", 6, "kernel: '/boot/bzImage': path must be relative to the config file");
    FAILS(HOST_A "[guest]\ninitrd = guest/../../etc/x\n", 6,
          "initrd: 'guest/../../etc/x': '..' is not allowed: files must be on the boot volume");
    FAILS(HOST_A "[guest]\ndisk = ..\n", 6, "'..' is not allowed");
    FAILS(HOST_A "[guest]\ndisk = a/..\n", 6, "'..' is not allowed");
    FAILS(HOST_A "[guest]\nkernel = a//b\n", 6, "kernel: 'a//b': empty path component");
    FAILS(HOST_A "[guest]\nkernel = guest/\n", 6, "empty path component");
    FAILS(HOST_A "[guest]\nkernel = bz Image\n", 6, "path may hold only letters, digits, '.', '_', '-' and '/'");
    FAILS(HOST_A "[guest]\nkernel = guest\\bzImage\n", 6, "path may hold only");
    FAILS(HOST_A "[guest]\nkernel = bzImage;rm\n", 6, "path may hold only");
    char text[512];
    snprintf(text, sizeof(text), HOST_A "[guest]\nkernel = %s\n", rep('k', CFG_PATH_MAX));
    FAILS(text, 6, "path too long (at most 127 characters)");
}

TEST(rejects_cmdline_too_long)
{
    static char text[4096];
    snprintf(text, sizeof(text), HOST_A GUEST "cmdline = %s\n", rep('c', CFG_CMDLINE_MAX));
    FAILS(text, 8, "cmdline: value too long (at most 1023 characters)");
}

TEST(rejects_bad_pair_key)
{
    FAILS(HOST_A "[pair]\nkey = 0123456789abcde\n", 6, "key: the pair key is too short (15 characters; at least 16)");
    FAILS(HOST_A "[pair]\nkey = 0123456789 abcdef\n", 6, "key: the pair key may not contain spaces");
    FAILS(HOST_A "[pair]\nkey = 0123456789\tabcdef\n", 6, "may not contain spaces");
    char text[512];
    snprintf(text, sizeof(text), HOST_A "[pair]\nkey = %s\n", rep('p', CFG_KEY_MAX));
    FAILS(text, 6, "key: the pair key is too long (at most 64 characters)");
}

TEST(rejects_bad_enum_values)
{
    FAILS(HOST_A "[debug]\non_guest_exit = reboot\n", 6, "on_guest_exit: 'reboot' is not one of: poweroff, halt, restart");
    FAILS(HOST_A "[debug]\non_guest_exit = Halt\n", 6, "'Halt' is not one of");
    FAILS(HOST_A "[debug]\nlog_level = verbose\n", 6, "log_level: 'verbose' is not one of: error, warn, info, debug");
    FAILS(HOST_A "[debug]\nlog_level = 3\n", 6, "log_level: '3' is not one of");
    FAILS(HOST_A "[debug]\nfault_test = segv\n", 6, "fault_test: 'segv' is not one of: none, ud, pf, de, gp, df");
}

TEST(rejects_bad_debug_host_name)
{
    FAILS(HOST_A "[debug]\nhost = al/pha\n", 6, "host: 'al/pha' is not a host name");
}

TEST(rejects_bad_arbiter)
{
    FAILS(HOST_A "[pair]\n" PAIR_KEY "arbiter = witness:bad\n", 7,
          "arbiter: 'witness:bad' is not witness:IPV4:PORT (e.g. witness:10.0.0.9:7700)");
    FAILS(HOST_A "[pair]\n" PAIR_KEY "arbiter = witness:1.2.3.4:0\n", 7, "is not witness:IPV4:PORT");
    FAILS(HOST_A "[pair]\n" PAIR_KEY "arbiter = witness:1.2.3.4:70000\n", 7, "is not witness:IPV4:PORT");
    FAILS(HOST_A "[pair]\n" PAIR_KEY "arbiter = witness:1.2.3.4\n", 7, "is not witness:IPV4:PORT");
    FAILS(HOST_A "[pair]\n" PAIR_KEY "arbiter = witness:1.2.3.4:\n", 7, "is not witness:IPV4:PORT");
    FAILS(HOST_A "[pair]\n" PAIR_KEY "arbiter = witness::7700\n", 7, "is not witness:IPV4:PORT");
    FAILS(HOST_A "[pair]\n" PAIR_KEY "arbiter = witness:1.2.3.4.5.6.7.8.9:7700\n", 7, "is not witness:IPV4:PORT");
    FAILS(HOST_A "[pair]\n" PAIR_KEY "arbiter = witness:1.2.3.4:77x\n", 7, "is not witness:IPV4:PORT");
    FAILS(HOST_A "[pair]\n" PAIR_KEY "arbiter = quorum\n", 7,
          "arbiter: 'quorum' is not one of: none, disk:SERIAL[:PARTITION], witness:IPV4:PORT");
    FAILS(HOST_A "[pair]\n" PAIR_KEY "arbiter = Disk\n", 7, "is not one of: none, disk:SERIAL[:PARTITION], witness:IPV4:PORT");
}

TEST(rejects_disk_arbiter_without_guest_disk)
{
    FAILS(HOST_A "[pair]\n" PAIR_KEY "\narbiter = disk\n", 8, "arbiter: 'disk' is not disk:SERIAL[:PARTITION]");
    FAILS(HOST_A "[pair]\n" PAIR_KEY "arbiter = disk:A B\n", 7, "arbiter: 'disk:A B' is not disk:SERIAL[:PARTITION]");
    FAILS(HOST_A "[pair]\n" PAIR_KEY "arbiter = disk:ARB:0\n", 7, "is not disk:SERIAL[:PARTITION]");
    FAILS(HOST_A GUEST "disk_device = D:2\n[pair]\n" PAIR_KEY "arbiter = disk:D:2\n", 11,
          "arbiter: its sector would lie inside the guest's disk (disk_device, line 8): give the arbiter a partition of its own");
    FAILS(HOST_A GUEST "disk_device = D\n[pair]\n" PAIR_KEY "arbiter = disk:D:2\n", 11, "inside the guest's disk");
    FAILS(HOST_A GUEST "disk_device = D:1\n[pair]\n" PAIR_KEY "arbiter = disk:D\n", 11, "inside the guest's disk");
    PARSES(HOST_A GUEST "disk_device = D:1\n[pair]\n" PAIR_KEY "arbiter = disk:D:2\n");
}

/* --------------------------------------------------- required keys ---- */

TEST(rejects_host_missing_required_keys)
{
    FAILS("# c\n[host alpha]\nip = 10.0.0.1\nnetmask = 255.0.0.0\n", 2,
          "[host alpha] is missing the required key 'mac'");
    FAILS("[host alpha]\nmac = 52:54:00:00:00:01\nnetmask = 255.0.0.0\n[debug]\n", 1,
          "[host alpha] is missing the required key 'ip'");
    FAILS(HOST_A "\n[host beta]\nmac = 52:54:00:00:00:02\nip = 10.0.0.2\n", 6,
          "[host beta] is missing the required key 'netmask'");
    FAILS(HOST_A "[host beta]\n[host gamma]\n", 5, "[host beta] is missing the required key 'mac'");
}

TEST(rejects_pair_missing_key)
{
    FAILS(HOST_A "[pair]\nheartbeat_ms = 50\n", 5, "[pair] is missing the required key 'key'");
    FAILS(HOST_A "[pair]\n[debug]\n", 5, "[pair] is missing the required key 'key'");
}

TEST(rejects_guest_missing_required_keys)
{
    FAILS(HOST_A "[guest]\nmemory_mb = 64\n", 5, "[guest] is missing the required key 'kernel'");
    FAILS(HOST_A "[guest]\nkernel = k\n[debug]\n", 5, "[guest] is missing the required key 'memory_mb'");
}

TEST(rejects_no_host)
{
    FAILS("", 0, "no [host NAME] section: the config must describe at least this host");
    FAILS("# only a comment\n\n", 0, "no [host NAME] section");
    FAILS("[debug]\nlog_level = debug\n", 0, "no [host NAME] section");
}

/* ------------------------------------------------------- cross checks ---- */

TEST(rejects_duplicate_mac)
{
    FAILS(HOST_A "[host beta]\nmac = 52-54-00-00-00-01\nip = 10.0.0.2\nnetmask = 255.255.255.0\n", 5,
          "[host beta] has the same mac as [host alpha] (line 1)");
}

TEST(rejects_duplicate_ip)
{
    FAILS(HOST_A "\n\n[host beta]\nmac = 52:54:00:00:00:02\nip = 10.0.0.1\nnetmask = 255.255.255.0\n", 7,
          "[host beta] has the same ip as [host alpha] (line 1)");
}

TEST(rejects_gateway_off_subnet)
{
    FAILS(HOST_B HOST_A "gateway = 10.0.1.1\n", 5, "[host alpha]: the gateway is not on the host's subnet");
}

TEST(rejects_failover_below_twice_heartbeat)
{
    FAILS(HOST_A "[pair]\n" PAIR_KEY "heartbeat_ms = 100\nfailover_timeout_ms = 199\n", 8,
          "failover_timeout_ms (199) must be at least twice heartbeat_ms (100)");
    PARSES(HOST_A "[pair]\n" PAIR_KEY "heartbeat_ms = 100\nfailover_timeout_ms = 200\n");
    /* Only heartbeat_ms given: the default failover (1000) is too short;
     * reported at the heartbeat_ms line, the one to change. */
    FAILS(HOST_A "[pair]\n" PAIR_KEY "heartbeat_ms = 600\n", 7,
          "failover_timeout_ms (1000) must be at least twice heartbeat_ms (600)");
}

TEST(rejects_debug_host_not_defined)
{
    FAILS(HOST_A "[debug]\non_guest_exit = halt\nhost = gamma\n", 7, "host: no [host gamma] section in this file");
}

TEST(first_error_wins)
{
    /* A bad value before a missing key: the bad value's line is named. */
    FAILS("[host alpha]\nip = 10.0.0.300\n", 2, "not an IPv4 address");
    /* Section errors are found before cross-checks. */
    FAILS(HOST_A "[host beta]\nmac = 52:54:00:00:00:01\n", 5, "[host beta] is missing the required key 'ip'");
}

/* ------------------------------------------------------ error buffer ---- */

TEST(small_errlen_truncates_and_terminates)
{
    char small[16];
    const char *text = HOST_A "[pair]\nkey = short\n";
    memset(small, 'Z', sizeof(small));
    CHECK_EQ(config_parse(text, strlen(text), "ftvisor.conf", &cfg, small, sizeof(small)), -1);
    CHECK_STR(small, "ftvisor.conf:6:");
    char one[1] = { 'Z' };
    CHECK_EQ(config_parse(text, strlen(text), "ftvisor.conf", &cfg, one, sizeof(one)), -1);
    CHECK_EQ(one[0], 0);
}

TEST(long_value_in_message_is_truncated_safely)
{
    static char text[2048];
    snprintf(text, sizeof(text), "[host alpha]\nmac = %s\n", rep('q', 1000));
    FAILS(text, 2, "mac: 'qqqq");
    CHECK(strlen(err) < sizeof(err));
}

/* ------------------------------------------------------- config_file ---- */

TEST(config_file_order)
{
    PARSES(full_config);
    const char *key = NULL;
    const struct cfg_file *f = config_file(&cfg, 0, &key);
    CHECK(f == &cfg.guest.kernel);
    CHECK_STR(key, "kernel");
    CHECK_STR(f->path, "guest/bzImage");
    CHECK_EQ(f->line, 20);
    f = config_file(&cfg, 1, &key);
    CHECK(f == &cfg.guest.initrd);
    CHECK_STR(key, "initrd");
    CHECK_EQ(f->line, 21);
    f = config_file(&cfg, 2, &key);
    CHECK(f == &cfg.guest.disk);
    CHECK_STR(key, "disk");
    CHECK_STR(f->path, "disks/shared-1.img");
    CHECK(config_file(&cfg, 3, &key) == NULL);
    CHECK(config_file(&cfg, -1, &key) == NULL);
}

TEST(config_file_includes_unset_files)
{
    PARSES(HOST_A GUEST);
    const char *key;
    int n = 0;
    for (const struct cfg_file *f; (f = config_file(&cfg, n, &key)) != NULL; n++)
        if (n > 0)
            CHECK_EQ(f->path[0], 0);
    CHECK_EQ(n, 3);
}

/* --------------------------------------------------- config_find_host ---- */

static const uint8_t nic_alpha[6] = { 0x52, 0x54, 0, 0, 0, 1 };
static const uint8_t nic_beta[6] = { 0x52, 0x54, 0, 0, 0, 2 };
static const uint8_t nic_other[6] = { 0x02, 0, 0, 0xaa, 0xbb, 0xcc };

TEST(find_host_by_debug_host)
{
    PARSES(HOST_A HOST_B "[debug]\nhost = beta\n");
    const uint8_t macs[1][6] = { { 0x52, 0x54, 0, 0, 0, 1 } }; /* alpha's: ignored */
    CHECK_EQ(config_find_host(&cfg, macs, 1, err, sizeof(err)), 1);
    CHECK_EQ(config_find_host(&cfg, NULL, 0, err, sizeof(err)), 1);
}

TEST(find_host_by_mac)
{
    PARSES(HOST_A HOST_B);
    uint8_t macs[3][6];
    memcpy(macs[0], nic_other, 6);
    memcpy(macs[1], nic_beta, 6);
    CHECK_EQ(config_find_host(&cfg, (const uint8_t(*)[6])macs, 2, err, sizeof(err)), 1);
    memcpy(macs[2], nic_alpha, 6);
    CHECK_EQ(config_find_host(&cfg, (const uint8_t(*)[6])macs, 3, err, sizeof(err)), 0);
    CHECK_EQ(config_find_host(&cfg, (const uint8_t(*)[6])macs + 2, 1, err, sizeof(err)), 0);
}

TEST(find_host_failure_lists_macs)
{
    PARSES(HOST_A HOST_B);
    const uint8_t macs[2][6] = { { 0x02, 0, 0, 0xaa, 0xbb, 0xcc }, { 0x52, 0x54, 0, 0x12, 0x34, 0x56 } };
    CHECK_EQ(config_find_host(&cfg, macs, 2, err, sizeof(err)), -1);
    CHECK_LONG_STR(err, "ftvisor.conf: no [host] section has the MAC of a NIC of this machine "
                   "(02:00:00:aa:bb:cc, 52:54:00:12:34:56)");
}

TEST(find_host_failure_without_nics)
{
    PARSES(HOST_A);
    CHECK_EQ(config_find_host(&cfg, NULL, 0, err, sizeof(err)), -1);
    CHECK_LONG_STR(err, "ftvisor.conf: no [host] section has the MAC of a NIC of this machine "
                   "(no NIC found; set [debug] host = NAME)");
}

TEST(find_host_missing_debug_host)
{
    /* config_parse rejects this; a caller-built config can still have it. */
    PARSES(HOST_A "[debug]\nhost = alpha\n");
    strcpy(cfg.debug.host, "gamma");
    CHECK_EQ(config_find_host(&cfg, NULL, 0, err, sizeof(err)), -1);
    CHECK_STR(err, "ftvisor.conf:6: host: no [host gamma] section");
}

TEST(find_host_failure_message_truncates)
{
    PARSES(HOST_A);
    uint8_t macs[8][6];
    for (int i = 0; i < 8; i++)
        memcpy(macs[i], nic_other, 6), macs[i][5] = (uint8_t)i;
    for (size_t len = 1; len < 200; len += 7) {
        char small[200];
        memset(small, 'Z', sizeof(small));
        CHECK_EQ(config_find_host(&cfg, (const uint8_t(*)[6])macs, 8, small, len), -1);
        CHECK_EQ(strlen(small), len - 1);
        CHECK(small[len] == 'Z' || len == sizeof(small));
    }
    char small[90];
    memset(small, 'Z', sizeof(small));
    CHECK_EQ(config_find_host(&cfg, NULL, 0, small, sizeof(small)), -1);
    CHECK_EQ(strlen(small), sizeof(small) - 1);
}

/* --------------------------------------------------- ipv4 / mac direct ---- */

TEST(parse_ipv4_direct)
{
    uint32_t ip = 0x12345678;
    CHECK(config_parse_ipv4("0.0.0.0", &ip));
    CHECK_EQ(ip, 0);
    CHECK(config_parse_ipv4("255.255.255.255", &ip));
    CHECK_EQ(ip, 0xffffffff);
    CHECK(config_parse_ipv4("192.168.100.7", &ip));
    CHECK_EQ(ip, 0xc0a86407);
    CHECK(config_parse_ipv4("10.0.0.1", &ip));
    CHECK_EQ(ip, 0x0a000001);
    static const char *const bad[] = { "", "1", "1.2.3", "10.0.0", "256.1.1.1", "01.2.3.4", "1.2.3.4.5", "1.2.3.4.",
                                       " 1.2.3.4", "1.2.3.4 ", "1.2.3.-4", "1.2.3.999", "1.2.3.0x1", "1,2,3,4" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ip = 0x12345678;
        if (config_parse_ipv4(bad[i], &ip))
            TEST_FAIL("accepted \"%s\"", bad[i]);
        CHECK_EQ(ip, 0x12345678); /* untouched on failure */
    }
}

TEST(parse_mac_direct)
{
    uint8_t mac[6];
    CHECK(config_parse_mac("52:54:00:12:34:56", mac));
    CHECK(mac_is(mac, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56));
    CHECK(config_parse_mac("AA-bb-Cc-dD-ee-FF", mac));
    CHECK(mac_is(mac, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff));
    CHECK(config_parse_mac("00:00:00:00:00:00", mac)); /* syntax only */
    CHECK(mac_is(mac, 0, 0, 0, 0, 0, 0));
    static const char *const bad[] = { "", "52", "52:54:00:12:34", "52:54:00:12:34:5", "52:54:00:12:34:567",
                                       "52:54:00:12:34:56:", "52 54 00 12 34 56", "5:54:00:12:34:56",
                                       "52:54:00:12:34:5g", "525400123456" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (config_parse_mac(bad[i], mac))
            TEST_FAIL("accepted \"%s\"", bad[i]);
}

/* -------------------------------------------------------- robustness ---- */

static uint32_t rng_state;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* The parse either succeeds or fails with a terminated "ftvisor.conf:"
 * message; a success leaves a consistent config. */
static bool sane_result(int r)
{
    if (r == 0)
        return cfg.nhosts >= 1 && cfg.nhosts <= CFG_MAX_HOSTS && err[0] == 0 &&
               memchr(cfg.hosts[0].name, 0, CFG_NAME_MAX) != NULL && cfg.hosts[0].name[0] != 0;
    return r == -1 && memchr(err, 0, sizeof(err)) != NULL && strncmp(err, "ftvisor.conf:", 13) == 0;
}

TEST(random_bytes_never_crash)
{
    static const char alphabet[] = "[]=#;\n\r\t :.-_/0123456789abcdefhostpairguestdebugmacipkey\x01\x7f\xff";
    static char buf[600];
    rng_state = 0x1234567;
    for (int iter = 0; iter < 2000; iter++) {
        size_t len = rng() % sizeof(buf);
        bool raw = iter % 2;
        for (size_t i = 0; i < len; i++)
            buf[i] = raw ? (char)rng() : alphabet[rng() % (sizeof(alphabet) - 1)];
        int r = parse_n(buf, len);
        if (!sane_result(r)) {
            TEST_FAIL("iteration %d: result %d, err \"%.80s\"", iter, r, err);
            return;
        }
    }
}

TEST(mutated_configs_never_crash)
{
    static char buf[sizeof(full_config) + 64];
    const size_t base = sizeof(full_config) - 1;
    static const char pool[] = "[]=#;\n\r\t :.-_/0x9azZ\x01\x7f";
    rng_state = 0xc0ffee;
    int accepted = 0;
    for (int iter = 0; iter < 2000; iter++) {
        memcpy(buf, full_config, base);
        size_t len = base;
        int edits = 1 + (int)(rng() % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = rng() % len;
            char c = pool[rng() % (sizeof(pool) - 1)];
            switch (rng() % 4) {
            case 0: /* replace */
                buf[at] = c;
                break;
            case 1: /* insert */
                if (len < sizeof(buf)) {
                    memmove(buf + at + 1, buf + at, len - at);
                    buf[at] = c;
                    len++;
                }
                break;
            case 2: /* delete */
                memmove(buf + at, buf + at + 1, len - at - 1);
                len--;
                break;
            default: /* truncate */
                len = at + 1;
                break;
            }
            if (!len)
                break;
        }
        int r = parse_n(buf, len);
        if (!sane_result(r)) {
            TEST_FAIL("iteration %d: result %d, err \"%.80s\"", iter, r, err);
            return;
        }
        accepted += r == 0;
    }
    /* Some mutations are harmless (in comments, blank lines): both paths
     * were exercised. */
    CHECK(accepted > 0);
    CHECK(accepted < 2000);
}

int main(void) { return test_main(); }

TEST(record_section)
{
    PARSES(HOST_A GUEST "[record]\nmode = selfcheck\n");
    CHECK_EQ(cfg.record.mode, CFG_REC_SELFCHECK);
    CHECK_EQ(cfg.record.dest, CFG_DEST_MEMORY);
    CHECK_EQ(cfg.record.sink_port, 7420);
    CHECK_EQ(cfg.record.digest_every, 5000);
    CHECK_EQ(cfg.record.digest_min_ms, 1000);
    CHECK_EQ(cfg.record.landmark, CFG_LM_AUTO);
    CHECK_EQ(cfg.record.log_name[0], 0);
    PARSES(HOST_A GUEST "[record]\nmode = record\ndest = sink\nsink = 10.0.0.9\nsink_port = 9000\nlog_name = run-1\n"
                        "landmark = exits\nspan_ms = 500\ndigest_every = 0\ndigest_min_ms = 0\n");
    CHECK_EQ(cfg.record.mode, CFG_REC_RECORD);
    CHECK_EQ(cfg.record.dest, CFG_DEST_SINK);
    CHECK_EQ(cfg.record.sink_ip, 0x0a000009u);
    CHECK_EQ(cfg.record.sink_port, 9000);
    CHECK_STR(cfg.record.log_name, "run-1");
    CHECK_EQ(cfg.record.landmark, CFG_LM_EXITS);
    CHECK_EQ(cfg.record.span_ms, 500);
    CHECK_EQ(cfg.record.digest_every, 0);
    CHECK_EQ(cfg.record.digest_min_ms, 0);
    CHECK_EQ(cfg.debug.host_line, 0); /* log_name is not [debug] host */
    PARSES(HOST_A GUEST "[record]\nmode = selfcheck\nlandmark = each\n[debug]\nreplay_drip = 4\n");
    CHECK_EQ(cfg.debug.replay_drip, 4);
    CHECK_EQ(cfg.record.landmark, CFG_LM_EACH);
    PARSES(HOST_A GUEST "[record]\nmode = replay\nsink = 10.0.0.9\n");
    CHECK_EQ(cfg.record.mode, CFG_REC_REPLAY);
}

TEST(record_section_errors)
{
    FAILS(HOST_A "[record]\nmode = selfcheck\n", 5, "[record] needs a [guest] to record");
    FAILS(HOST_A GUEST "[record]\nmode = replay\n", 8, "mode = replay reads the log from a sink: set sink = IP");
    FAILS(HOST_A GUEST "[record]\nmode = record\ndest = sink\n", 8, "dest = sink needs sink = IP");
    FAILS(HOST_A GUEST "[record]\nmode = record\ndest = disk\n", 10, "dest: 'disk' is not one of: memory, sink");
    FAILS(HOST_A GUEST "[record]\nmode = record\nlog_name = a/b\n", 10, "log_name: 'a/b' is not a name");
    FAILS(HOST_A GUEST "[record]\nmode = rewind\n", 9, "mode: 'rewind' is not one of: off, selfcheck, record, replay");
    FAILS(HOST_A GUEST "[record]\nmode = record\nsink_port = 0\n", 10, "sink_port: 0 is out of range");
    FAILS(HOST_A GUEST "[record]\nmode = record\nlandmark = each\n", 8, "landmark = each is for mode = selfcheck");
}

TEST(pair_roles_and_lag_bounds)
{
    PARSES(HOST_A HOST_B "[pair]\n" PAIR_KEY);
    CHECK_EQ(cfg.pair.primary[0], 0); /* the first host */
    CHECK_EQ(cfg.pair.max_lag_ms, 1000);
    CHECK_EQ(cfg.pair.backup_wait_ms, 60000);
    PARSES(HOST_A HOST_B "[pair]\n" PAIR_KEY "primary = beta\nmax_lag_ms = 250\nbackup_wait_ms = 0\n");
    CHECK_STR(cfg.pair.primary, "beta");
    CHECK_EQ(cfg.pair.max_lag_ms, 250);
    CHECK_EQ(cfg.pair.backup_wait_ms, 0);
    FAILS(HOST_A HOST_B "[pair]\n" PAIR_KEY "primary = gamma\n", 11, "primary: no [host gamma] section in this file");
    FAILS(HOST_A HOST_B "[host gamma]\nmac = 52:54:00:00:00:03\nip = 10.0.0.3\nnetmask = 255.255.255.0\n[pair]\n" PAIR_KEY
          "primary = gamma\n",
          15, "primary: gamma is not one of the pair (the first two [host] sections)");
    FAILS(HOST_A HOST_B "[pair]\n" PAIR_KEY "max_lag_ms = 5\n", 11, "max_lag_ms: 5 is out of range (10..600000)");
}
