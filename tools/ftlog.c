/* ftlog: an FT event log in words (docs/ftlog.md).
 *
 *   ftlog dump [--from N] [--count N] [--frames] LOG
 *   ftlog stats [--bucket SECONDS] LOG
 *   ftlog diff [--context N] LOG_A LOG_B
 *
 * LOG is a log file as tools/ftlog-sink stores it, or a pcap (tools/ftlink
 * --pcap) of the pair's logging channel or of a PUT to a sink; for a pcap,
 * --key KEY or --conf ftvisor.conf give the pair key that verifies the
 * channel's MACs, --port the TCP port and --log N which log of the capture.
 * Exit status: 0 fine (diff: identical), 1 a malformed log (diff: the logs
 * differ), 2 usage, unreadable input (diff: a malformed log). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ftlog_core.h"
#include "pair_key.h"
#include "../kernel/config.h"

static void usage(void)
{
    fputs("usage: ftlog dump [--from N] [--count N] [--frames] LOG\n"
          "       ftlog stats [--bucket SECONDS] LOG\n"
          "       ftlog diff [--context N] LOG_A LOG_B\n"
          "LOG: a log file (tools/ftlog-sink) or a pcap of the logging channel or of a sink PUT;\n"
          "pcap options: --key KEY | --conf ftvisor.conf (verify the channel's MACs), --port P, --log N\n",
          stderr);
    exit(2);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "ftlog: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    while (b) {
        n += fread(b + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *nb = realloc(b, cap * 2);
        if (!nb) {
            free(b);
            b = NULL;
            break;
        }
        b = nb;
        cap *= 2;
    }
    if (!b || ferror(f)) {
        fprintf(stderr, "ftlog: %s: %s\n", path, b ? strerror(errno) : "out of memory");
        free(b);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = n;
    return b;
}


/* The log's bytes: the file itself, or what the pcap carried. *bad is set
 * when the capture had problems (damage, missing bytes, MAC failures). */
static uint8_t *load(const char *path, const struct ftlog_pcap_opts *po, size_t *len, bool *bad)
{
    uint8_t *b = read_file(path, len);
    if (!b || !ftlog_is_pcap(b, *len))
        return b;
    uint8_t *log;
    size_t loglen;
    int problems;
    char err[200];
    int rc = ftlog_pcap_extract(b, *len, po, &log, &loglen, &problems, err, sizeof(err));
    free(b);
    if (rc) {
        fprintf(stderr, "ftlog: %s: %s\n", path, err);
        return NULL;
    }
    if (problems) {
        fprintf(stderr, "ftlog: %s: %d problem%s in the capture (above)\n", path, problems, problems == 1 ? "" : "s");
        *bad = true;
    }
    *len = loglen;
    return log ? log : malloc(1);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help"))
        usage();
    static const struct option opts[] = {
        { "from", required_argument, 0, 'f' },   { "count", required_argument, 0, 'n' },
        { "frames", no_argument, 0, 'F' },       { "bucket", required_argument, 0, 'b' },
        { "context", required_argument, 0, 'c' }, { "key", required_argument, 0, 'k' },
        { "conf", required_argument, 0, 'C' },   { "port", required_argument, 0, 'p' },
        { "log", required_argument, 0, 'l' },    { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    unsigned long long from = 0, count = 0;
    double bucket_s = 0;
    int context = 3, port = 0, which = 0, c;
    bool frames = false;
    static char key[CFG_KEY_MAX + 1];
    const char *keyp = NULL;
    char *end;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'f': from = strtoull(optarg, &end, 10); if (*end || !*optarg) usage(); break;
        case 'n': count = strtoull(optarg, &end, 10); if (*end || !*optarg) usage(); break;
        case 'F': frames = true; break;
        case 'b': bucket_s = strtod(optarg, &end); if (*end || bucket_s <= 0 || bucket_s > 1e9) usage(); break;
        case 'c': context = atoi(optarg); if (context < 0 || context > 1000) usage(); break;
        case 'k': snprintf(key, sizeof(key), "%s", optarg); keyp = key; break;
        case 'C': if (pair_key_from_config("ftlog", optarg, key, sizeof(key))) return 2; keyp = key; break;
        case 'p': port = atoi(optarg); if (port <= 0 || port > 65535) usage(); break;
        case 'l': which = atoi(optarg); if (which < 0) usage(); break;
        default: usage();
        }
    }
    int nfiles = !strcmp(cmd, "diff") ? 2 : 1;
    if ((strcmp(cmd, "dump") && strcmp(cmd, "stats") && strcmp(cmd, "diff")) || argc - optind != nfiles)
        usage();
    struct ftlog_pcap_opts po = { .key = keyp, .port = port, .which = which, .notes = stderr };
    size_t len[2];
    bool bad = false;
    uint8_t *buf[2] = { NULL, NULL };
    for (int i = 0; i < nfiles; i++)
        if (!(buf[i] = load(argv[optind + i], &po, &len[i], &bad))) {
            free(buf[0]);
            return 2;
        }
    int rc;
    if (!strcmp(cmd, "dump"))
        rc = ftlog_cmd_dump(buf[0], len[0], from, count, frames, stdout);
    else if (!strcmp(cmd, "stats"))
        rc = ftlog_cmd_stats(buf[0], len[0], (uint64_t)(bucket_s * 1e9), stdout);
    else
        rc = ftlog_cmd_diff(buf[0], len[0], argv[optind], buf[1], len[1], argv[optind + 1], context, stdout);
    /* A capture with damage or MAC failures is malformed input too. */
    if (bad && rc == 0)
        rc = 1;
    if (bad && !strcmp(cmd, "diff"))
        rc = 2;
    free(buf[0]);
    free(buf[1]);
    return rc;
}
