/*
 * ftwitness - the arbiter of an ftvisor pair
 *
 *     ftwitness --state FILE (--config ftvisor.conf | --key KEY)
 *               [--listen ADDR:PORT] [--verbose]
 *
 * Before a host of the pair goes live, or keeps running a guest whose
 * backup it lost, it asks the witness. The first host to ask in a pair
 * epoch is granted it; every later question in that epoch, from either
 * host, gets the same holder back: granted to the holder, refused to the
 * other. Answers are written to the state file (and fsync'ed) before they
 * are sent, so a restarted witness gives the same answers. Protocol:
 * net/witness.h and docs/witness.md.
 *
 * Console lines (stdout, one per event):
 *   ftwitness: ready on ADDR:PORT (N epochs remembered)
 *   ftwitness: epoch E: granted to host H (first to ask)
 *   ftwitness: epoch E: host H asks again: granted
 *   ftwitness: epoch E: refused host H (host G holds it)
 *   ftwitness: rejected N bytes from ADDR:PORT: WHY
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../net/witness.h"
#include "../kernel/config.h"
#include "pair_key.h"

#define MAX_EPOCHS 65536

struct held {
    uint64_t epoch;
    uint8_t holder;
};

static struct held table[MAX_EPOCHS];
static size_t nheld;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: ftwitness --state FILE (--config ftvisor.conf | --key KEY) [--listen ADDR:PORT] "
                    "[--verbose]\n");
    exit(64);
}

static struct held *find(uint64_t epoch)
{
    for (size_t i = 0; i < nheld; i++)
        if (table[i].epoch == epoch)
            return &table[i];
    return NULL;
}

/* The state file: one line per epoch, "EPOCH_HEX HOLDER". A torn last line
 * (a crash while writing) is ignored: its answer was never sent. */
static int load(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : -1;
    char line[128];
    while (fgets(line, sizeof(line), f)) {
        uint64_t e;
        unsigned h;
        char nl;
        if (sscanf(line, "%" SCNx64 " %u%c", &e, &h, &nl) == 3 && nl == '\n' && h <= 1 && nheld < MAX_EPOCHS &&
            !find(e)) {
            table[nheld].epoch = e;
            table[nheld].holder = (uint8_t)h;
            nheld++;
        }
    }
    fclose(f);
    return 0;
}

static int persist(int fd, uint64_t epoch, uint8_t holder)
{
    char line[64];
    int n = snprintf(line, sizeof(line), "%016" PRIx64 " %u\n", epoch, holder);
    if (write(fd, line, (size_t)n) != n || fsync(fd) != 0)
        return -1;
    return 0;
}

static int parse_listen(const char *s, struct sockaddr_in *a)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof(host))
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return -1;
    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}


int main(int argc, char **argv)
{
    const char *state = NULL, *conf = NULL, *listen_at = "0.0.0.0:7700";
    char key[CFG_KEY_MAX] = "";
    bool verbose = false;
    static const struct option opts[] = {
        { "state", required_argument, 0, 's' }, { "config", required_argument, 0, 'c' },
        { "key", required_argument, 0, 'k' },   { "listen", required_argument, 0, 'l' },
        { "verbose", no_argument, 0, 'v' },     { 0, 0, 0, 0 },
    };
    for (int c; (c = getopt_long(argc, argv, "s:c:k:l:v", opts, NULL)) != -1;) {
        switch (c) {
        case 's': state = optarg; break;
        case 'c': conf = optarg; break;
        case 'k':
            if (strlen(optarg) >= sizeof(key)) {
                fprintf(stderr, "ftwitness: --key: the pair key is too long (at most %zu characters)\n", sizeof(key) - 1);
                return 64;
            }
            snprintf(key, sizeof(key), "%s", optarg);
            break;
        case 'l': listen_at = optarg; break;
        case 'v': verbose = true; break;
        default: usage();
        }
    }
    if (!state || (!conf == !key[0]) || optind != argc)
        usage();
    if (conf && pair_key_from_config("ftwitness", conf, key, sizeof(key)))
        return 1;
    if (load(state)) {
        fprintf(stderr, "ftwitness: cannot read %s: %s\n", state, strerror(errno));
        return 1;
    }
    int sfd = open(state, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (sfd < 0) {
        fprintf(stderr, "ftwitness: cannot write %s: %s\n", state, strerror(errno));
        return 1;
    }
    struct sockaddr_in la;
    if (parse_listen(listen_at, &la)) {
        fprintf(stderr, "ftwitness: --listen wants IPV4:PORT, not '%s'\n", listen_at);
        return 64;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&la, sizeof(la)) != 0) {
        fprintf(stderr, "ftwitness: cannot listen on %s: %s\n", listen_at, strerror(errno));
        return 1;
    }
    uint8_t kw[32];
    witness_key(key, kw);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: recvfrom returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("ftwitness: ready on %s (%zu epochs remembered)\n", listen_at, nheld);

    while (!stop) {
        uint8_t buf[512];
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "ftwitness: recvfrom: %s\n", strerror(errno));
            return 1;
        }
        char who[64];
        snprintf(who, sizeof(who), "%s:%u", inet_ntoa(from.sin_addr), ntohs(from.sin_port));
        struct witness_msg q;
        const char *why = "an answer, not a question";
        if (witness_decode(kw, buf, (size_t)n, &q, &why) || q.answer) {
            printf("ftwitness: rejected %zd bytes from %s: %s\n", n, who, why);
            continue;
        }
        struct held *h = find(q.epoch);
        if (!h) {
            if (nheld == MAX_EPOCHS) {
                printf("ftwitness: epoch %016" PRIx64 ": table full (%d epochs), not answering\n", q.epoch,
                       MAX_EPOCHS);
                continue;
            }
            if (persist(sfd, q.epoch, q.asker)) {
                printf("ftwitness: epoch %016" PRIx64 ": cannot record the answer (%s): not answering\n", q.epoch,
                       strerror(errno));
                continue;
            }
            h = &table[nheld++];
            h->epoch = q.epoch;
            h->holder = q.asker;
            printf("ftwitness: epoch %016" PRIx64 ": granted to host %u (first to ask, from %s)\n", q.epoch, q.asker,
                   who);
        } else if (h->holder == q.asker) {
            if (verbose)
                printf("ftwitness: epoch %016" PRIx64 ": host %u asks again: granted\n", q.epoch, q.asker);
        } else {
            printf("ftwitness: epoch %016" PRIx64 ": refused host %u (host %u holds it)\n", q.epoch, q.asker,
                   h->holder);
        }
        struct witness_msg a = q;
        a.answer = true;
        a.holder = h->holder;
        a.verdict = h->holder == q.asker ? WITNESS_GRANTED : WITNESS_REFUSED;
        uint8_t out[WITNESS_MSG_LEN];
        witness_encode(kw, &a, out);
        sendto(fd, out, sizeof(out), 0, (struct sockaddr *)&from, fl);
    }
    close(fd);
    close(sfd);
    return 0;
}
