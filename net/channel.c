/* The logging channel (net/channel.h). Frames (net/frame.h) on one TCP
 * connection; the session handshake, acknowledgements, resume after a
 * reconnect, and the error policy: a frame that fails its CRC or MAC ends
 * the connection, which is then resumed from the last acknowledgement.
 *
 * Handshake (both HELLOs under K0 = HMAC-SHA256(pair key, "ftvisor channel
 * v1"); payload: version, host index, boot id, nonce, next expected seq):
 *   connector -> acceptor  HELLO(nonce_c)
 *   acceptor  -> connector HELLO(nonce_s)
 * Both then switch to Ks = HMAC-SHA256(K0, "session" | nonce_c | nonce_s),
 * and each resumes sending at the seq the other said it expects next. */
#include "channel.h"
#include "frame.h"
#include "net.h"
#include "status.h"
#include "lwip/tcp.h"
#include "../kernel/clock.h"
#include "../kernel/format.h"
#include "../kernel/kernel.h"
#include "../kernel/layout.h"
#include "../kernel/log.h"
#include "lwip/def.h"
#include "../kernel/pmm.h"
#include "../kernel/random.h"
#include "../kernel/service.h"
#include "../kernel/sha256.h"
#include <string.h>

#define T_HELLO 1
#define T_ACK 2
#define T_PING 3
#define HELLO_LEN 44
#define RING_BYTES (8u << 20)
#define RECONNECT_MS 300
/* Acknowledgements go at most this often, unless a user asks for one at
 * once (chan_ack_now(): the FT pair's held output waits on it); each is a
 * frame with a MAC that both hosts pay for. */
#define ACK_EVERY_MS 20
#define IDLE_PING_MS 100

enum state { ST_OFF, ST_DOWN, ST_CONNECTING, ST_HELLO_SENT, ST_WAIT_HELLO, ST_UP };

static enum state state = ST_OFF;
static const struct chan_user *user;
static struct chan_stats stats;
static int me = -1, peer = -1;
static bool connector;
static uint8_t k0[32], ks[32], nonce_mine[16];
/* Prepared once: the handshake key (fixed), and the session key of each
 * direction (Poly1305 with a one-time key per frame, counted: frames this
 * host sends, frames it receives). The connector's frames are direction 1. */
static struct frame_key fk0, fks_tx, fks_rx;
static uint64_t boot_id, peer_boot_id;
static struct tcp_pcb *listener, *pcb;
static struct frame_decoder dec;
static uint64_t down_since_ms, last_ack_sent_ms, last_tx_ms, last_rx_ms;

/* Receive side: the next seq expected from the peer. */
static uint64_t rx_next = 1, rx_acked_sent;
static bool ack_now;

/* Send side: a ring of messages, each [u64 seq][u32 len][u8 type][pad 3]
 * [payload], 8-byte aligned; a record with len = ~0 marks a wrap. */
struct rec {
    uint64_t seq;
    uint32_t len;
    uint8_t type, pad[3];
};
static uint8_t *ring;
static uint64_t ring_head, ring_tail; /* byte offsets, monotonically increasing */
static uint64_t next_seq = 1, acked, send_from_seq = 1;
static uint64_t send_pos;             /* ring offset of the next record to send */

/* The frame being pushed into TCP. */
static uint8_t txbuf[FRAME_HEADER + CHAN_MAX_MSG + FRAME_TRAILER];
static size_t tx_len, tx_off;

static uint64_t now_ms(void) { return clock_ns() / 1000000; }

void chan_set_user(const struct chan_user *u) { user = u; }
bool chan_up(void) { return state == ST_UP; }
void chan_ack_now(void) { ack_now = true; }
uint64_t chan_acked(void) { return acked; }
uint64_t chan_queued(void) { return ring_head - ring_tail; }
int chan_peer(void) { return peer; }
uint64_t chan_peer_boot(void) { return peer_boot_id; }
bool chan_all_acked_to_peer(void) { return rx_acked_sent == rx_next - 1; }
uint64_t chan_silence_ms(void) { return last_rx_ms ? now_ms() - last_rx_ms : UINT64_MAX; }
const struct chan_stats *chan_stats(void) { return &stats; }

static struct rec *rec_at(uint64_t off) { return (struct rec *)(ring + off % RING_BYTES); }
static size_t rec_size(uint32_t len) { return (sizeof(struct rec) + len + 7) & ~(size_t)7; }

uint64_t chan_send(uint8_t type, const void *data, uint32_t len)
{
    if (!ring || len > CHAN_MAX_MSG || type < CHAN_TYPE_USER)
        return 0;
    size_t need = rec_size(len);
    uint64_t at = ring_head % RING_BYTES;
    size_t tail_room = RING_BYTES - at;
    size_t total = need + (tail_room < need ? tail_room : 0);
    if (RING_BYTES - (ring_head - ring_tail) < total + sizeof(struct rec))
        return 0;
    if (tail_room < need) {
        rec_at(ring_head)->len = ~0u; /* wrap marker */
        ring_head += tail_room;
    }
    struct rec *r = rec_at(ring_head);
    r->seq = next_seq;
    r->len = len;
    r->type = type;
    memcpy(r + 1, data, len);
    ring_head += need;
    return next_seq++;
}

/* Drop records the peer has acknowledged. */
static void release(uint64_t upto)
{
    while (ring_tail != ring_head) {
        struct rec *r = rec_at(ring_tail);
        if (r->len == ~0u) {
            ring_tail += RING_BYTES - ring_tail % RING_BYTES;
            continue;
        }
        if (r->seq > upto)
            break;
        ring_tail += rec_size(r->len);
    }
    if (send_pos < ring_tail)
        send_pos = ring_tail;
}

/* Position send_pos at the record with seq, or at the end. */
static void seek_send(uint64_t seq)
{
    send_pos = ring_tail;
    while (send_pos != ring_head) {
        struct rec *r = rec_at(send_pos);
        if (r->len == ~0u) {
            send_pos += RING_BYTES - send_pos % RING_BYTES;
            continue;
        }
        if (r->seq >= seq)
            break;
        send_pos += rec_size(r->len);
    }
}

static void derive_session(const uint8_t nc[16], const uint8_t ns[16])
{
    struct hmac_sha256_ctx c;
    hmac_sha256_init(&c, k0, sizeof(k0));
    hmac_sha256_update(&c, "session", 7);
    hmac_sha256_update(&c, nc, 16);
    hmac_sha256_update(&c, ns, 16);
    hmac_sha256_final(&c, ks);
}

static void drop_connection(const char *why, bool report)
{
    if (pcb) {
        tcp_arg(pcb, NULL);
        tcp_recv(pcb, NULL);
        tcp_sent(pcb, NULL);
        tcp_err(pcb, NULL);
        tcp_abort(pcb);
        pcb = NULL;
    }
    bool was_up = state == ST_UP;
    state = ST_DOWN;
    down_since_ms = now_ms();
    tx_len = tx_off = 0;
    if (report)
        log_warn("channel", "%s", why);
    if (was_up && user && user->down)
        user->down(user->ctx);
}

/* Encode one control or data frame straight into txbuf (one at a time). */
static bool stage(uint8_t type, uint64_t seq, const void *data, uint32_t len, struct frame_key *key)
{
    size_t n = frame_encode_key(txbuf, sizeof(txbuf), type, 0, seq, data, len, key);
    if (!n)
        return false;
    tx_len = n;
    tx_off = 0;
    return true;
}

/* Push the staged frame into TCP; true when it all went. */
static bool flush(void)
{
    while (tx_off < tx_len) {
        u16_t room = tcp_sndbuf(pcb);
        if (!room)
            return false;
        size_t chunk = tx_len - tx_off;
        if (chunk > room)
            chunk = room;
        if (chunk > 0xffff)
            chunk = 0xffff;
        if (tcp_write(pcb, txbuf + tx_off, (u16_t)chunk, TCP_WRITE_FLAG_COPY) != ERR_OK)
            return false;
        tx_off += chunk;
        stats.bytes_sent += chunk;
    }
    if (tx_len) {
        stats.frames_sent++;
        last_tx_ms = now_ms();
    }
    tx_len = tx_off = 0;
    return true;
}

static void send_hello(void)
{
    uint8_t h[HELLO_LEN];
    memset(h, 0, sizeof(h));
    h[0] = 1;
    h[1] = (uint8_t)me;
    memcpy(h + 4, &boot_id, 8);
    memcpy(h + 12, nonce_mine, 16);
    memcpy(h + 28, &rx_next, 8);
    memcpy(h + 36, &acked, 8);
    stage(T_HELLO, 0, h, sizeof(h), &fk0);
    flush();
    tcp_output(pcb);
}

/* Send what can go: an ACK when due, then queued messages. */
static void pump(void)
{
    if (state != ST_UP || !pcb)
        return;
    if (tx_len && !flush())
        goto out;
    uint64_t now = now_ms();
    if (rx_next - 1 > rx_acked_sent && (ack_now || now - last_ack_sent_ms >= ACK_EVERY_MS)) {
        uint64_t a = rx_next - 1;
        ack_now = false;
        stage(T_ACK, 0, &a, 8, &fks_tx);
        rx_acked_sent = a;
        last_ack_sent_ms = now;
        if (!flush())
            goto out;
    }
    while (send_pos != ring_head) {
        struct rec *r = rec_at(send_pos);
        if (r->len == ~0u) {
            send_pos += RING_BYTES - send_pos % RING_BYTES;
            continue;
        }
        stage(r->type, r->seq, r + 1, r->len, &fks_tx);
        send_pos += rec_size(r->len);
        if (!flush())
            break;
    }
    if (state == ST_UP && !tx_len && now - last_tx_ms >= IDLE_PING_MS) {
        uint64_t t = now;
        stage(T_PING, 0, &t, 8, &fks_tx);
        flush();
    }
out:
    if (pcb)
        tcp_output(pcb);
}

static void handle_hello(const struct frame *f)
{
    const struct config *cfg = kernel_config();
    if (f->len != HELLO_LEN || f->payload[0] != 1 || f->payload[1] != peer) {
        stats.handshake_failures++;
        drop_connection("HELLO from an unexpected host or version: connection refused", true);
        return;
    }
    uint64_t pboot, pnext, packed;
    memcpy(&pboot, f->payload + 4, 8);
    memcpy(&pnext, f->payload + 28, 8);
    memcpy(&packed, f->payload + 36, 8);
    if (pboot != peer_boot_id) {
        if (peer_boot_id) {
            /* What is queued was for the peer's previous boot, numbered in
             * that stream; the new boot expects seq 1 and knows nothing of
             * it (the user sees the new boot id and starts over). */
            uint64_t dropped = next_seq - 1 - acked;
            ring_tail = send_pos = ring_head;
            next_seq = send_from_seq = 1;
            acked = 0;
            log_info("channel", "peer %s restarted (new boot id): both streams start again (%llu messages queued "
                                "for its previous boot dropped)",
                     cfg->hosts[peer].name, (unsigned long long)dropped);
        }
        peer_boot_id = pboot;
        rx_next = 1;
        rx_acked_sent = 0;
    }
    uint8_t nc[16], ns[16];
    if (connector) {
        memcpy(nc, nonce_mine, 16);
        memcpy(ns, f->payload + 12, 16);
    } else {
        memcpy(nc, f->payload + 12, 16);
        random_bytes(nonce_mine, 16);
        memcpy(ns, nonce_mine, 16);
        send_hello();
    }
    derive_session(nc, ns);
    frame_key_init_session(&fks_tx, ks, connector ? 1 : 2);
    frame_key_init_session(&fks_rx, ks, connector ? 2 : 1);
    frame_decoder_set_prepared_key(&dec, &fks_rx);
    /* Resume: everything below the peer's next expected seq it has. */
    if (pnext > acked) {
        acked = pnext - 1;
        release(acked);
        if (user && user->acked)
            user->acked(user->ctx, acked);
    }
    if (pnext < send_from_seq && pnext <= acked)
        log_warn("channel", "peer %s lost messages it had acknowledged (seq < %llu): resuming at what is left",
                 cfg->hosts[peer].name, (unsigned long long)acked + 1);
    seek_send(pnext);
    state = ST_UP;
    stats.connects++;
    last_ack_sent_ms = 0;
    log_info("channel", "up with %s (%s), session keys agreed; resuming at seq %llu, peer expects %llu",
             cfg->hosts[peer].name, connector ? "we connected" : "it connected",
             (unsigned long long)(send_pos != ring_head ? rec_at(send_pos)->seq : next_seq),
             (unsigned long long)pnext);
    if (user && user->up)
        user->up(user->ctx);
    pump();
}

static void handle_frame(const struct frame *f)
{
    stats.frames_received++;
    last_rx_ms = now_ms();
    if (state != ST_UP) {
        if (f->type == T_HELLO)
            handle_hello(f);
        else
            drop_connection("frame before the handshake: connection refused", true);
        return;
    }
    switch (f->type) {
    case T_HELLO:
        drop_connection("second HELLO in a session: dropped", true);
        return;
    case T_ACK: {
        uint64_t a;
        if (f->len != 8)
            return;
        memcpy(&a, f->payload, 8);
        if (a > acked && a < next_seq) {
            acked = a;
            release(a);
            if (user && user->acked)
                user->acked(user->ctx, a);
        }
        return;
    }
    case T_PING:
        return;
    default:
        break;
    }
    if (f->type < CHAN_TYPE_USER)
        return;
    if (f->seq < rx_next) {
        stats.duplicates++; /* re-sent after a resume: already delivered */
        return;
    }
    if (f->seq > rx_next) {
        char why[120];
        fmt_snprintf(why, sizeof(why), "gap in the stream (got seq %llu, expected %llu): resynchronising",
                     (unsigned long long)f->seq, (unsigned long long)rx_next);
        stats.resyncs++;
        drop_connection(why, true);
        return;
    }
    rx_next++;
    if (user && user->recv)
        user->recv(user->ctx, f->type, f->payload, f->len, f->seq);
}

static err_t on_recv(void *arg, struct tcp_pcb *tp, struct pbuf *p, err_t err)
{
    (void)arg;
    if (!p || err != ERR_OK) {
        if (p)
            pbuf_free(p);
        drop_connection("the peer closed the connection", state == ST_UP);
        return ERR_ABRT;
    }
    for (struct pbuf *q = p; q && pcb == tp; q = q->next) {
        const uint8_t *data = q->payload;
        size_t left = q->len;
        while (left && pcb == tp) {
            size_t used = 0;
            struct frame f;
            int r = frame_decoder_feed(&dec, data, left, &used, &f);
            data += used;
            left -= used;
            if (r == FRAME_OK) {
                handle_frame(&f);
            } else if (r != FRAME_NEED_MORE) {
                char why[140];
                if (r == FRAME_ERR_CRC)
                    stats.crc_errors++;
                else if (r == FRAME_ERR_MAC)
                    stats.mac_errors++;
                else
                    stats.other_errors++;
                stats.resyncs++;
                fmt_snprintf(why, sizeof(why), "frame rejected: %s%s; dropping the connection to resynchronise",
                             frame_error_name(r),
                             r == FRAME_ERR_CRC ? " (corrupted in transit)"
                                                : r == FRAME_ERR_MAC ? " (forged, replayed or wrong key)" : "");
                drop_connection(why, true);
            } else {
                break;
            }
        }
    }
    stats.bytes_received += p->tot_len;
    if (pcb == tp)
        tcp_recved(tp, p->tot_len);
    pbuf_free(p);
    if (pcb != tp)
        return ERR_ABRT;
    pump();
    return ERR_OK;
}

static err_t on_sent(void *arg, struct tcp_pcb *tp, u16_t len)
{
    (void)arg;
    (void)tp;
    (void)len;
    pump();
    return ERR_OK;
}

static void on_err(void *arg, err_t err)
{
    (void)arg;
    (void)err;
    pcb = NULL; /* lwIP freed it */
    bool was_up = state == ST_UP;
    if (state != ST_OFF)
        state = ST_DOWN;
    down_since_ms = now_ms();
    if (was_up) {
        log_warn("channel", "connection to the peer lost (lwIP error %d)", (int)err);
        if (user && user->down)
            user->down(user->ctx);
    }
}

static void attach(struct tcp_pcb *tp)
{
    pcb = tp;
    tcp_arg(tp, NULL);
    tcp_recv(tp, on_recv);
    tcp_sent(tp, on_sent);
    tcp_err(tp, on_err);
    tcp_nagle_disable(tp);
    frame_decoder_init(&dec, k0);
    frame_decoder_set_prepared_key(&dec, &fk0);
}

static err_t on_connected(void *arg, struct tcp_pcb *tp, err_t err)
{
    (void)arg;
    if (err != ERR_OK)
        return err;
    attach(tp);
    random_bytes(nonce_mine, 16);
    state = ST_HELLO_SENT;
    send_hello();
    return ERR_OK;
}

static err_t on_accept(void *arg, struct tcp_pcb *tp, err_t err)
{
    (void)arg;
    if (err != ERR_OK || !tp)
        return ERR_VAL;
    const struct config *cfg = kernel_config();
    uint32_t from = lwip_ntohl(ip4_addr_get_u32(ip_2_ip4(&tp->remote_ip)));
    if (from != cfg->hosts[peer].ip) {
        log_warn("channel", "connection from %u.%u.%u.%u, which is not the peer: refused", from >> 24,
                 (from >> 16) & 255, (from >> 8) & 255, from & 255);
        tcp_abort(tp);
        return ERR_ABRT;
    }
    if (pcb)
        drop_connection("the peer connected again; the old connection is replaced", false);
    attach(tp);
    state = ST_WAIT_HELLO;
    return ERR_OK;
}

static void try_connect(void)
{
    const struct config *cfg = kernel_config();
    struct tcp_pcb *tp = tcp_new();
    if (!tp)
        return;
    ip_addr_t a;
    uint32_t ip = cfg->hosts[peer].ip;
    IP_ADDR4(&a, ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
    tcp_err(tp, on_err);
    state = ST_CONNECTING;
    pcb = tp;
    if (tcp_connect(tp, &a, CHAN_PORT, on_connected) != ERR_OK) {
        tcp_abort(tp);
        pcb = NULL;
        state = ST_DOWN;
        down_since_ms = now_ms();
    }
}

static size_t chan_counters(char *buf, size_t size)
{
    return (size_t)fmt_snprintf(
        buf, size,
        ",\"channel_up\":%s,\"channel_frames_sent\":%llu,\"channel_frames_received\":%llu,"
        "\"channel_bytes_sent\":%llu,\"channel_crc_errors\":%llu,\"channel_mac_errors\":%llu,"
        "\"channel_resyncs\":%llu,\"channel_connects\":%llu,\"channel_queued_bytes\":%llu",
        state == ST_UP ? "true" : "false", (unsigned long long)stats.frames_sent,
        (unsigned long long)stats.frames_received, (unsigned long long)stats.bytes_sent,
        (unsigned long long)stats.crc_errors, (unsigned long long)stats.mac_errors, (unsigned long long)stats.resyncs,
        (unsigned long long)stats.connects, (unsigned long long)chan_queued());
}

static const struct status_source chan_status = { NULL, NULL, chan_counters };

static void chan_init(void)
{
    const struct config *cfg = kernel_config();
    const struct cfg_host *mine = kernel_this_host();
    if (!net_netif() || !cfg->pair.present || cfg->nhosts < 2)
        return;
    for (int i = 0; i < cfg->nhosts; i++)
        if (&cfg->hosts[i] == mine)
            me = i;
    /* The pair is the first two hosts of the config. */
    if (me > 1)
        return;
    peer = 1 - me;
    connector = me == 0;
    hmac_sha256(cfg->pair.key, strlen(cfg->pair.key), "ftvisor channel v1", 18, k0);
    frame_key_init(&fk0, k0);
    random_bytes(&boot_id, sizeof(boot_id));
    ring = phys_to_virt(pmm_alloc(RING_BYTES / PAGE_SIZE, 1));
    struct tcp_pcb *tp = tcp_new();
    if (!tp || tcp_bind(tp, IP_ADDR_ANY, CHAN_PORT) != ERR_OK)
        return;
    listener = tcp_listen(tp);
    tcp_accept(listener, on_accept);
    state = ST_DOWN;
    down_since_ms = 0;
    status_register(&chan_status);
    log_info("channel", "logging channel on TCP %d with %s: this host %s", CHAN_PORT, cfg->hosts[peer].name,
             connector ? "connects" : "accepts");
}

static bool chan_poll(void)
{
    if (state == ST_OFF || !net_link_up())
        return false;
    if (state == ST_DOWN && connector && now_ms() - down_since_ms >= RECONNECT_MS)
        try_connect();
    if (state == ST_UP)
        pump();
    return false;
}

SERVICE(23, channel, chan_init, chan_poll);
