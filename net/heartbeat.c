/* Heartbeats between the hosts of a pair: a small authenticated UDP
 * datagram to every peer each [pair] heartbeat_ms, and a failure detector:
 * a peer not heard from for failover_timeout_ms is "lost" (DESIGN: heartbeat
 * loss, together with logging-channel silence, triggers failover).
 *
 * Datagram (40 bytes, little-endian):
 *   0  "FTHB"      4  version 1   5  sender's host index   6  role
 *   7  flags       8  sequence (u64, per sender boot, increasing)
 *   16 sender uptime in ms (u64)
 *   24 HMAC-SHA256(K_hb, bytes 0..23), first 16 bytes
 * K_hb = HMAC-SHA256(pair key, "ftvisor heartbeat v1"). Datagrams with a
 * bad HMAC, from an unknown host, or with a sequence number not above the
 * last one seen (replays) are dropped and counted. */
#include "heartbeat.h"
#include "net.h"
#include "status.h"
#include "lwip/udp.h"
#include "../kernel/clock.h"
#include "../kernel/format.h"
#include "../kernel/kernel.h"
#include "../kernel/log.h"
#include "lwip/def.h"
#include "../kernel/service.h"
#include "../kernel/sha256.h"
#include <string.h>

#define HB_PORT 7701
#define HB_LEN 40

struct peer_hb {
    bool heard, alive;
    uint64_t last_seq, last_ms, received;
};

static struct udp_pcb *pcb;
static uint8_t key[32];
static struct peer_hb peers[CFG_MAX_HOSTS];
static uint64_t seq, last_sent_ms, last_poll_ms, away_until, bad_mac, bad_sender, replays, sent;
static int me = -1;

static uint64_t now_ms(void) { return clock_ns() / 1000000; }

bool heartbeat_peer_alive(int host_index)
{
    return host_index >= 0 && host_index < CFG_MAX_HOSTS && peers[host_index].alive;
}

uint64_t heartbeat_peer_silence_ms(int host_index)
{
    if (host_index < 0 || host_index >= CFG_MAX_HOSTS || !peers[host_index].heard)
        return UINT64_MAX;
    return now_ms() - peers[host_index].last_ms;
}

/* A rejected datagram: counted, and logged at most once a second (a
 * flood must not flood the console). */
static uint64_t last_reject_log_ms, unlogged;
static void reject(uint64_t *counter, const char *why, uint32_t src)
{
    (*counter)++;
    uint64_t now = now_ms();
    if (last_reject_log_ms && now - last_reject_log_ms < 1000) {
        unlogged++;
        return;
    }
    log_warn("heartbeat", "datagram from %u.%u.%u.%u rejected: %s (%llu more rejected since the last report)",
             src >> 24, (src >> 16) & 255, (src >> 8) & 255, src & 255, why, (unsigned long long)unlogged);
    last_reject_log_ms = now;
    unlogged = 0;
}

static void on_recv(void *arg, struct udp_pcb *p, struct pbuf *pb, const ip_addr_t *addr, u16_t port)
{
    (void)arg;
    (void)p;
    (void)port;
    uint8_t m[HB_LEN];
    bool ok = pb->tot_len == HB_LEN && pbuf_copy_partial(pb, m, HB_LEN, 0) == HB_LEN;
    pbuf_free(pb);
    uint32_t src = lwip_ntohl(ip4_addr_get_u32(ip_2_ip4(addr)));
    if (!ok || memcmp(m, "FTHB", 4) != 0 || m[4] != 1) {
        reject(&bad_mac, "not a heartbeat of this version", src);
        return;
    }
    uint8_t mac[32];
    hmac_sha256(key, sizeof(key), m, 24, mac);
    if (!ct_equal(mac, m + 24, 16)) {
        reject(&bad_mac, "bad MAC (forged, or another pair's key)", src);
        return;
    }
    const struct config *cfg = kernel_config();
    unsigned from = m[5];
    if ((int)from >= cfg->nhosts || (int)from == me || cfg->hosts[from].ip != src) {
        reject(&bad_sender, "the sender is not the host it names", src);
        return;
    }
    uint64_t s;
    memcpy(&s, m + 8, 8);
    struct peer_hb *h = &peers[from];
    /* A rebooted peer starts again at 1: accept a restart after silence. */
    if (h->heard && s <= h->last_seq && h->alive) {
        reject(&replays, "replayed (sequence number not above the last one)", src);
        return;
    }
    h->last_seq = s;
    h->last_ms = now_ms();
    h->received++;
    if (!h->alive)
        log_info("heartbeat", "peer %s: heartbeats %s", cfg->hosts[from].name, h->heard ? "back" : "received");
    h->heard = h->alive = true;
}

static void send_all(void)
{
    const struct config *cfg = kernel_config();
    uint8_t m[HB_LEN];
    memcpy(m, "FTHB", 4);
    m[4] = 1;
    m[5] = (uint8_t)me;
    m[6] = 0;
    m[7] = 0;
    seq++;
    memcpy(m + 8, &seq, 8);
    uint64_t up = now_ms();
    memcpy(m + 16, &up, 8);
    uint8_t mac[32];
    hmac_sha256(key, sizeof(key), m, 24, mac);
    memcpy(m + 24, mac, 16);
    for (int i = 0; i < cfg->nhosts; i++) {
        if (i == me)
            continue;
        struct pbuf *pb = pbuf_alloc(PBUF_TRANSPORT, HB_LEN, PBUF_RAM);
        if (!pb)
            return;
        memcpy(pb->payload, m, HB_LEN);
        ip_addr_t a;
        uint32_t ip = cfg->hosts[i].ip;
        IP_ADDR4(&a, ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
        udp_sendto(pcb, pb, &a, HB_PORT);
        pbuf_free(pb);
        sent++;
    }
}

/* Send when a period has passed since the last send. */
static void send_if_due(uint64_t now)
{
    if (now - last_sent_ms >= kernel_config()->pair.heartbeat_ms) {
        last_sent_ms = now;
        send_all();
    }
}

/* The main loop is busy (kernel_keepalive()): send when due, receive
 * nothing (no lwIP input runs here, so nothing re-enters the caller). */
static void keepalive(void)
{
    if (pcb && net_link_up())
        send_if_due(now_ms());
}

static const char *hb_state(int i)
{
    return peers[i].alive ? "alive" : peers[i].heard ? "lost" : "never heard";
}

static size_t hb_counters(char *buf, size_t size)
{
    return (size_t)fmt_snprintf(buf, size,
                                ",\"heartbeats_sent\":%llu,\"heartbeats_bad_mac\":%llu,\"heartbeats_bad_sender\":%llu,"
                                "\"heartbeats_replayed\":%llu",
                                (unsigned long long)sent, (unsigned long long)bad_mac,
                                (unsigned long long)bad_sender, (unsigned long long)replays);
}

static const struct status_source hb_status = { NULL, hb_state, hb_counters };

static void hb_init(void)
{
    const struct config *cfg = kernel_config();
    if (!net_netif() || !cfg->pair.present)
        return;
    for (int i = 0; i < cfg->nhosts; i++)
        if (&cfg->hosts[i] == kernel_this_host())
            me = i;
    hmac_sha256(cfg->pair.key, strlen(cfg->pair.key), "ftvisor heartbeat v1", 20, key);
    pcb = udp_new();
    if (!pcb || udp_bind(pcb, IP_ADDR_ANY, HB_PORT) != ERR_OK)
        return;
    udp_recv(pcb, on_recv, NULL);
    status_register(&hb_status);
    kernel_set_keepalive(keepalive);
    log_info("heartbeat", "every %u ms to %d peer%s on UDP %d; a peer silent for %u ms is lost",
             cfg->pair.heartbeat_ms, cfg->nhosts - 1, cfg->nhosts == 2 ? "" : "s", HB_PORT,
             cfg->pair.failover_timeout_ms);
}

static bool hb_poll(void)
{
    if (!pcb || !net_link_up())
        return false;
    const struct config *cfg = kernel_config();
    uint64_t now = now_ms();
    send_if_due(now);
    /* Back from a long step: what the peers sent meanwhile is read only
     * now; judge them on the next pass. */
    if (now - last_poll_ms > cfg->pair.heartbeat_ms)
        away_until = now + 3 * cfg->pair.heartbeat_ms;
    bool away = now < away_until;
    last_poll_ms = now;
    for (int i = 0; i < cfg->nhosts && !away; i++) {
        struct peer_hb *h = &peers[i];
        if (h->alive && now - h->last_ms > cfg->pair.failover_timeout_ms) {
            h->alive = false;
            log_warn("heartbeat", "peer %s: no heartbeat for %llu ms: lost", cfg->hosts[i].name,
                     (unsigned long long)(now - h->last_ms));
        }
    }
    return false;
}

SERVICE(22, heartbeat, hb_init, hb_poll);
