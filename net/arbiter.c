/* The arbiter client (net/arbiter.h). */
#include "arbiter.h"
#include "net.h"
#include "witness.h"
#include "lwip/udp.h"
#include "../kernel/clock.h"
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
    if (cfg->pair.arbiter == CFG_ARBITER_WITNESS && pcb) {
        random_bytes(nonce, sizeof(nonce));
        send_query();
    }
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
    return false;
}

SERVICE(24, arbiter, arb_init, arb_poll);
