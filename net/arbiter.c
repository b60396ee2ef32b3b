/* The arbiter client (net/arbiter.h). */
#include "arbiter.h"
#include "net.h"
#include "witness.h"
#include "lwip/udp.h"
#include "../drivers/blockdev.h"
#include "../drivers/partition.h"
#include "../kernel/clock.h"
#include "../kernel/crc32c.h"
#include "../kernel/format.h"
#include "../kernel/kernel.h"
#include "../kernel/log.h"
#include "../kernel/random.h"
#include "../kernel/service.h"
#include <string.h>

#define ASK_EVERY_MS 250

static struct udp_pcb *pcb;
static uint8_t kw[32];
static enum arb_state state;
static uint64_t epoch, first_ms, last_ms;
static uint8_t nonce[16];
static int me = -1, holder = -1;
static uint64_t rejected;
static char desc[64];

static uint64_t now_ms(void) { return clock_ns() / 1000000; }

/* ---- the disk arbiter -------------------------------------------------------
 * A sector both hosts reach (the first of a shared drive or partition) is
 * a test-and-set register, made safe without an atomic instruction by
 * Fischer's timing rule (Lamport, "A Fast Mutual Exclusion Algorithm",
 * 1987, after M. Fischer): read the sector; if no host holds this epoch,
 * write a claim, but only if that write completes within CLAIM_MS of the
 * read that saw the sector free (else start over); wait SETTLE_MS, longer
 * than CLAIM_MS, and read again: the claim still there wins. A host whose
 * claim was overwritten, or that finds the epoch held, is refused; every
 * later question about the epoch gets the same holder from the sector. */
#define DISK_MAGIC "FTVARB01"
#define CLAIM_MS 500
#define SETTLE_MS 1500
#define RETRY_MS 200

enum disk_step { D_IDLE, D_READ1, D_WRITE, D_SETTLE, D_READ2, D_BACKOFF };

static struct {
    struct blockdev *bd;
    uint64_t lba;
    enum disk_step step;
    struct blk_io io;
    bool busy;
    uint8_t sector[BLOCKDEV_SECTOR];
    uint64_t read_ms, wait_until;
    uint64_t retries;
} D;

/* The sector holds epoch e for holder h (with nonce n)? */
static bool sector_claim(const uint8_t *s, uint64_t *e, int *h, uint8_t n[16])
{
    if (memcmp(s, DISK_MAGIC, 8) != 0)
        return false;
    uint32_t crc;
    memcpy(&crc, s + 44, 4);
    if (crc != crc32c(0, s, 44))
        return false;
    memcpy(e, s + 8, 8);
    *h = s[16];
    memcpy(n, s + 20, 16);
    return true;
}

static void disk_done(struct blk_io *io)
{
    (void)io;
    D.busy = false;
}

static void disk_io(enum blk_op op)
{
    D.io = (struct blk_io){ .op = op, .lba = D.lba, .count = 1, .buf = D.sector, .done = disk_done };
    D.busy = true;
    blockdev_submit(D.bd, &D.io);
}

static void disk_decide(bool granted, int h)
{
    holder = h;
    state = granted ? ARB_GRANTED : ARB_REFUSED;
    D.step = D_IDLE;
    log_info("arbiter", "the disk (%s, sector %llu) %s epoch %016llx %s", D.bd->name, (unsigned long long)D.lba,
             granted ? "grants" : "refuses", (unsigned long long)epoch,
             granted ? "to this host" : "(the peer holds it)");
}

/* One step of the question (arb_poll). */
static void disk_poll(void)
{
    if (state != ARB_ASKING || !D.bd || D.busy)
        return;
    uint64_t now = now_ms(), e;
    int h;
    uint8_t n[16];
    switch (D.step) {
    case D_IDLE:
    case D_BACKOFF:
        if (D.step == D_BACKOFF && now < D.wait_until)
            return;
        D.step = D_READ1;
        disk_io(BLK_READ);
        return;
    case D_READ1:
        if (D.io.status != BLK_OK)
            break;
        if (sector_claim(D.sector, &e, &h, n) && e == epoch) {
            disk_decide(h == me && memcmp(n, nonce, 16) == 0, h);
            return;
        }
        /* Free for this epoch: claim it. */
        D.read_ms = now;
        memset(D.sector, 0, sizeof(D.sector));
        memcpy(D.sector, DISK_MAGIC, 8);
        memcpy(D.sector + 8, &epoch, 8);
        D.sector[16] = (uint8_t)me;
        memcpy(D.sector + 20, nonce, 16);
        {
            uint32_t crc = crc32c(0, D.sector, 44);
            memcpy(D.sector + 44, &crc, 4);
        }
        D.step = D_WRITE;
        disk_io(BLK_WRITE);
        return;
    case D_WRITE:
        if (D.io.status != BLK_OK)
            break;
        if (now - D.read_ms > CLAIM_MS) {
            /* Too slow to be sure nobody claimed in between: the other
             * host may have read the sector free meanwhile; start over. */
            D.retries++;
            D.step = D_BACKOFF;
            D.wait_until = now + RETRY_MS;
            return;
        }
        D.step = D_SETTLE;
        D.wait_until = now + SETTLE_MS;
        return;
    case D_SETTLE:
        if (now < D.wait_until)
            return;
        D.step = D_READ2;
        disk_io(BLK_READ);
        return;
    case D_READ2:
        if (D.io.status != BLK_OK)
            break;
        if (sector_claim(D.sector, &e, &h, n) && e == epoch) {
            disk_decide(h == me && memcmp(n, nonce, 16) == 0, h);
            return;
        }
        D.retries++; /* overwritten by something else: ask again */
        D.step = D_BACKOFF;
        D.wait_until = now + RETRY_MS;
        return;
    }
    /* The drive failed the request: try again (the pair's messages say
     * that the arbiter does not answer). */
    D.retries++;
    D.step = D_BACKOFF;
    D.wait_until = now + 1000;
}

static void disk_init(const struct config *cfg)
{
    struct blockdev *bd = blockdev_find(cfg->pair.arbiter_serial);
    char err[CFG_ERR_MAX + 80], why[160];
    if (!bd) {
        fmt_snprintf(err, sizeof(err), "%s:%d: arbiter: no drive has the serial number '%s'", cfg->file,
                     cfg->pair.arbiter_line, cfg->pair.arbiter_serial);
        kernel_config_fail(err);
    }
    uint64_t first = 0, count = bd->sectors;
    if (cfg->pair.arbiter_partition) {
        static uint8_t scratch[4096];
        if (partition_lookup(blockdev_part_read, bd, bd->sectors, cfg->pair.arbiter_partition, scratch, &first,
                             &count, why, sizeof(why))) {
            fmt_snprintf(err, sizeof(err), "%s:%d: arbiter: %s (%s): %s", cfg->file, cfg->pair.arbiter_line, bd->serial,
                         bd->name, why);
            kernel_config_fail(err);
        }
    }
    D.bd = bd;
    D.lba = first;
    fmt_snprintf(desc, sizeof(desc), "disk %s sector %llu", bd->serial, (unsigned long long)first);
}

enum arb_state arbiter_state(void) { return state; }
int arbiter_holder(void) { return holder; }
uint64_t arbiter_asking_ms(void) { return state == ARB_ASKING ? now_ms() - first_ms : 0; }
const char *arbiter_describe(void) { return desc; }

static void send_query(void)
{
    struct witness_msg q;
    memset(&q, 0, sizeof(q));
    q.asker = (uint8_t)me;
    q.epoch = epoch;
    memcpy(q.nonce, nonce, 16);
    struct pbuf *pb = pbuf_alloc(PBUF_TRANSPORT, WITNESS_MSG_LEN, PBUF_RAM);
    if (!pb)
        return;
    witness_encode(kw, &q, pb->payload);
    const struct config *cfg = kernel_config();
    ip_addr_t a;
    uint32_t ip = cfg->pair.arbiter_ip;
    IP_ADDR4(&a, ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
    udp_sendto(pcb, pb, &a, cfg->pair.arbiter_port);
    pbuf_free(pb);
    last_ms = now_ms();
}

static void on_recv(void *arg, struct udp_pcb *p, struct pbuf *pb, const ip_addr_t *addr, u16_t port)
{
    (void)arg;
    (void)p;
    const struct config *cfg = kernel_config();
    uint8_t m[WITNESS_MSG_LEN];
    size_t len = pb->tot_len;
    bool ok = len == WITNESS_MSG_LEN && pbuf_copy_partial(pb, m, WITNESS_MSG_LEN, 0) == WITNESS_MSG_LEN;
    pbuf_free(pb);
    uint32_t src = lwip_ntohl(ip4_addr_get_u32(ip_2_ip4(addr)));
    struct witness_msg a;
    const char *why = NULL;
    if (!ok)
        why = "wrong length";
    else if (src != cfg->pair.arbiter_ip || port != cfg->pair.arbiter_port)
        why = "not from the witness's address";
    else if (witness_decode(kw, m, len, &a, &why))
        ;
    else if (!a.answer || a.asker != me || a.epoch != epoch || memcmp(a.nonce, nonce, 16) != 0)
        why = "not the answer to this host's question (stale or replayed)";
    if (why) {
        rejected++;
        log_warn("arbiter", "datagram rejected: %s", why);
        return;
    }
    if (state != ARB_ASKING)
        return;
    holder = a.holder;
    state = a.verdict == WITNESS_GRANTED ? ARB_GRANTED : ARB_REFUSED;
    log_info("arbiter", "the witness %s epoch %016llx %s", state == ARB_GRANTED ? "grants" : "refuses",
             (unsigned long long)epoch,
             state == ARB_GRANTED ? "to this host" : a.holder == me ? "" : "(the peer holds it)");
}

void arbiter_ask(uint64_t e)
{
    const struct config *cfg = kernel_config();
    if (state != ARB_IDLE && e == epoch)
        return;
    epoch = e;
    holder = -1;
    first_ms = now_ms();
    if (cfg->pair.arbiter == CFG_ARBITER_NONE) {
        state = ARB_GRANTED;
        holder = me;
        return;
    }
    state = ARB_ASKING;
    random_bytes(nonce, sizeof(nonce));
    D.step = D_IDLE;
    if (cfg->pair.arbiter == CFG_ARBITER_WITNESS && pcb)
        send_query();
    if (cfg->pair.arbiter == CFG_ARBITER_DISK)
        disk_poll();
}

static void arb_init(void)
{
    const struct config *cfg = kernel_config();
    if (!cfg->pair.present)
        return;
    for (int i = 0; i < cfg->nhosts; i++)
        if (&cfg->hosts[i] == kernel_this_host())
            me = i;
    uint32_t ip = cfg->pair.arbiter_ip;
    if (cfg->pair.arbiter == CFG_ARBITER_WITNESS)
        fmt_snprintf(desc, sizeof(desc), "witness %u.%u.%u.%u:%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
                     ip & 255, cfg->pair.arbiter_port);
    else
        fmt_snprintf(desc, sizeof(desc), "%s", config_arbiter_name(cfg->pair.arbiter));
    if (cfg->pair.arbiter == CFG_ARBITER_DISK)
        disk_init(cfg);
    if (cfg->pair.arbiter != CFG_ARBITER_WITNESS || !net_netif())
        return;
    witness_key(cfg->pair.key, kw);
    pcb = udp_new();
    if (!pcb || udp_bind(pcb, IP_ADDR_ANY, 0) != ERR_OK) {
        pcb = NULL;
        return;
    }
    udp_recv(pcb, on_recv, NULL);
}

static bool arb_poll(void)
{
    if (state == ARB_ASKING && pcb && net_link_up() && now_ms() - last_ms >= ASK_EVERY_MS)
        send_query();
    disk_poll();
    return false;
}

SERVICE(24, arbiter, arb_init, arb_poll);
