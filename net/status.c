/* The status service: HTTP/1.0 on TCP port 80. GET /status returns the
 * host's state as JSON, with five minutes of per-second history and the
 * last events (net/status_hist.h); GET / returns the operator's page
 * (net/status.html, embedded by net/status_page.S) that renders it every
 * second and can ask for a migration; POST /ACTION?token=T runs an
 * operator action (status.h) whose token proves the pair key. Small and
 * allocation-free (one request per connection, JSON answers built into
 * one of a few static buffers each connection holds until sent), and
 * robust to junk: anything that is not a complete request of a known path
 * within 2 KiB gets a 4xx, and connections that idle are closed. */
#include "status.h"
#include "status_hist.h"
#include "net.h"
#include "ping.h"
#include "lwip/tcp.h"
#include "../drivers/netdev.h"
#include "../kernel/blake2b.h"
#include "../kernel/clock.h"
#include "../kernel/format.h"
#include "../kernel/kernel.h"
#include "../kernel/log.h"
#include "../kernel/random.h"
#include "../kernel/service.h"
#include <string.h>

#define STATUS_PORT 80
#define MAX_CONN 8
#define REQ_MAX 2048
/* GET /status: five minutes of two series and up to 7 peers' timelines
 * with 32 events need about 40 KiB at worst (json_status() checks). */
#define BODY_MAX (48 * 1024)
#define BODIES 4
#define REQUEST_MS 10000  /* a connection without a whole request by then is closed */
#define RESPONSE_MS 60000 /* one whose answer is still going out by then is aborted */

struct conn {
    bool used;
    struct tcp_pcb *pcb;
    uint64_t since_ms;
    char req[REQ_MAX];
    size_t len;
    const char *resp;
    size_t resp_len, sent;
    int body; /* the JSON buffer this answer is in, -1 none */
    char reply[256];
};

static struct conn conns[MAX_CONN];
static struct tcp_pcb *listener;
static uint64_t requests;
static const struct status_source *sources[8];
static int nsources;
/* A connection's answer stays referenced by lwIP until acknowledged (and
 * retransmitted from there), so each JSON answer has a buffer of its own
 * until its connection closes. */
static char bodies[BODIES][BODY_MAX];
static bool body_used[BODIES];

static uint64_t now_ms(void) { return clock_ns() / 1000000; }

void status_register(const struct status_source *s)
{
    if (nsources < 8)
        sources[nsources++] = s;
}

static const struct status_action *actions[4];
static int nactions;
static uint64_t action_nonce;

void status_register_action(const struct status_action *a)
{
    if (nactions < 4)
        actions[nactions++] = a;
}

/* ---- history ---------------------------------------------------------------- */

static struct status_hist hist;
static bool hist_ready;
static const struct status_series *series[HIST_SERIES];
static int nseries;

static void hist_start(void)
{
    if (!hist_ready) {
        hist_init(&hist);
        hist_ready = true;
    }
}

void status_register_series(const struct status_series *s)
{
    if (nseries < HIST_SERIES)
        series[nseries++] = s;
}

void status_event(const char *kind, const char *fmt, ...)
{
    char text[HIST_TEXT];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    hist_start();
    hist_event(&hist, now_ms(), kind, text);
}

/* The other hosts of the config, in order: the peer slots of the history
 * and the peers of GET /status. */
static int other_hosts(int *idx)
{
    const struct config *cfg = kernel_config();
    const struct cfg_host *me = kernel_this_host();
    int n = 0;
    for (int i = 0; i < cfg->nhosts && n < HIST_PEERS; i++)
        if (&cfg->hosts[i] != me)
            idx[n++] = i;
    return n;
}

static const char *peer_heartbeat(int host_index)
{
    const char *hb = NULL;
    for (int k = 0; k < nsources; k++)
        if (sources[k]->peer_heartbeat)
            hb = sources[k]->peer_heartbeat(host_index);
    return hb;
}

/* Once a second: every series' value and each peer's heartbeat and ping. */
static void sample(void)
{
    uint64_t now = now_ms();
    hist_start();
    if (!hist_due(&hist, now))
        return;
    struct hist_sample s;
    for (int k = 0; k < HIST_SERIES; k++) {
        uint64_t v;
        s.series[k] = HIST_NONE;
        if (k < nseries && series[k]->value(&v))
            s.series[k] = v < HIST_NONE ? (uint32_t)v : HIST_NONE - 1;
    }
    int idx[HIST_PEERS];
    int n = other_hosts(idx);
    for (int k = 0; k < HIST_PEERS; k++) {
        s.hb[k] = NULL;
        s.rtt_us[k] = HIST_NONE;
        if (k >= n)
            continue;
        const struct peer_reach *r = ping_peer(idx[k]);
        s.hb[k] = peer_heartbeat(idx[k]);
        if (r && r->reachable)
            s.rtt_us[k] = r->rtt_us < HIST_NONE ? (uint32_t)r->rtt_us : HIST_NONE - 1;
    }
    hist_add(&hist, now, &s);
}

static void respond(struct conn *c, const char *status, const char *type, const char *body, size_t len);

/* The token for action name under the current nonce, as 64 hex digits;
 * -1 when the pair key cannot key BLAKE2b (over 64 bytes: the config
 * allows 127 characters) and no token can be right. */
static int action_token(const char *name, char out[65])
{
    const char *key = kernel_config()->pair.key;
    char msg[96];
    int n = fmt_snprintf(msg, sizeof(msg), "ftvisor %s %016llx", name, (unsigned long long)action_nonce);
    uint8_t h[32];
    if (blake2b(h, sizeof(h), key, strlen(key), msg, (size_t)n))
        return -1;
    for (int i = 0; i < 32; i++) {
        out[2 * i] = "0123456789abcdef"[h[i] >> 4];
        out[2 * i + 1] = "0123456789abcdef"[h[i] & 15];
    }
    out[64] = 0;
    return 0;
}

/* POST /NAME?token=HEX: check the token (all 64 digits, in constant
 * time), then run the action once. */
static void post(struct conn *c, const char *path, size_t plen)
{
    const char *q = memchr(path, '?', plen);
    size_t nlen = q ? (size_t)(q - path) - 1 : plen - 1;
    const struct status_action *a = NULL;
    for (int i = 0; i < nactions; i++)
        if (path[0] == '/' && strlen(actions[i]->name) == nlen && memcmp(path + 1, actions[i]->name, nlen) == 0)
            a = actions[i];
    if (!a) {
        static const char m[] = "no such action\n";
        respond(c, "404 Not Found", "text/plain", m, sizeof(m) - 1);
        return;
    }
    char want[65];
    if (!kernel_config()->pair.key[0] || action_token(a->name, want)) {
        log_warn("status", "POST /%s refused: the pair key cannot make tokens (none, or over 64 bytes)", a->name);
        static const char m[] = "this host takes no operator actions: its [pair] key is missing or over 64 bytes\n";
        respond(c, "403 Forbidden", "text/plain", m, sizeof(m) - 1);
        return;
    }
    unsigned diff = !q || plen - (size_t)(q - path) != 1 + 6 + 64 || memcmp(q, "?token=", 7) != 0;
    for (int i = 0; !diff && i < 64; i++)
        diff |= (unsigned)(q[7 + i] ^ want[i]);
    if (diff) {
        log_warn("status", "POST /%s refused: bad or stale token", a->name);
        static const char m[] = "bad or stale token (GET /status for the action nonce)\n";
        respond(c, "403 Forbidden", "text/plain", m, sizeof(m) - 1);
        return;
    }
    random_bytes(&action_nonce, sizeof(action_nonce)); /* a token works once */
    char msg[200];
    int r = a->fn(msg, sizeof(msg));
    log_info("status", "POST /%s: %s", a->name, msg);
    int n = fmt_snprintf(c->reply, sizeof(c->reply), "%s\n", msg);
    if (n >= (int)sizeof(c->reply))
        n = (int)sizeof(c->reply) - 1;
    respond(c, r ? "409 Conflict" : "200 OK", "text/plain", c->reply, (size_t)n);
}

/* net/status.html, embedded by net/status_page.S. */
extern const char status_page[], status_page_end[];

static void json_build(struct jbuf *b, bool with_history)
{
    const struct config *cfg = kernel_config();
    const struct cfg_host *me = kernel_this_host();
    struct netdev *nd = net_device();
    const char *role = "standalone";
    for (int i = 0; i < nsources; i++)
        if (sources[i]->role)
            role = sources[i]->role();
    jb_put(b, "{\"host\":");
    jb_str(b, me ? me->name : "?");
    jb_put(b, ",\"role\":");
    jb_str(b, role);
    jb_put(b, ",\"uptime_ms\":%llu,\"action_nonce\":\"%016llx\",", (unsigned long long)now_ms(),
           (unsigned long long)action_nonce);
    if (me)
        jb_put(b, "\"ip\":\"%u.%u.%u.%u\",", me->ip >> 24, (me->ip >> 16) & 255, (me->ip >> 8) & 255, me->ip & 255);
    jb_put(b, "\"link\":\"%s\",\"nic\":", net_link_up() ? "up" : "down");
    jb_str(b, nd ? nd->name : "none");
    jb_put(b, ",\"peers\":[");
    int idx[HIST_PEERS];
    const char *names[HIST_PEERS];
    int npeers = other_hosts(idx);
    for (int k = 0; k < npeers; k++) {
        const struct cfg_host *h = &cfg->hosts[idx[k]];
        const struct peer_reach *r = ping_peer(idx[k]);
        const char *hb = peer_heartbeat(idx[k]);
        names[k] = h->name;
        jb_put(b, k ? ",{\"name\":" : "{\"name\":");
        jb_str(b, h->name);
        jb_put(b, ",\"ip\":\"%u.%u.%u.%u\",\"reachable\":%s,\"rtt_us\":%llu,\"heartbeat\":", h->ip >> 24,
               (h->ip >> 16) & 255, (h->ip >> 8) & 255, h->ip & 255, r && r->reachable ? "true" : "false",
               r ? (unsigned long long)r->rtt_us : 0ull);
        jb_str(b, hb ? hb : "unknown");
        jb_put(b, "}");
    }
    jb_put(b, "],\"counters\":{\"http_requests\":%llu", (unsigned long long)requests);
    if (nd)
        jb_put(b, ",\"nic_rx_frames\":%llu,\"nic_tx_frames\":%llu,\"nic_rx_errors\":%llu,\"nic_tx_full\":%llu",
               (unsigned long long)nd->rx_frames, (unsigned long long)nd->tx_frames,
               (unsigned long long)nd->rx_errors, (unsigned long long)nd->tx_full);
    for (int i = 0; i < nsources; i++) {
        if (!sources[i]->counters)
            continue;
        size_t room;
        char *t = jb_tail(b, &room);
        jb_advance(b, sources[i]->counters(t, room));
    }
    jb_put(b, "}");
    if (with_history) {
        const char *snames[HIST_SERIES];
        for (int k = 0; k < nseries; k++)
            snames[k] = series[k]->name;
        hist_start();
        hist_json(&hist, b, snames, nseries, names, npeers);
    } else {
        jb_put(b, ",\"history_omitted\":\"larger than the answer's buffer\"");
    }
    jb_put(b, "}\n");
}

/* GET /status into buf: whole, or without the history if that does not
 * fit, or an error object: valid JSON whatever the sizes. */
static size_t json_status(char *buf, size_t cap)
{
    struct jbuf b;
    jb_init(&b, buf, cap);
    json_build(&b, true);
    if (jb_ok(&b))
        return b.n;
    static bool told;
    if (!told)
        log_warn("status", "GET /status needs %llu bytes of a %llu-byte buffer: the history is left out",
                 (unsigned long long)b.n, (unsigned long long)cap);
    told = true;
    jb_init(&b, buf, cap);
    json_build(&b, false);
    if (jb_ok(&b))
        return b.n;
    jb_init(&b, buf, cap);
    jb_put(&b, "{\"error\":\"the status is larger than the answer's buffer\"}\n");
    return jb_ok(&b) ? b.n : 0;
}

static char head[256];

static void body_free(struct conn *c)
{
    if (c->body >= 0)
        body_used[c->body] = false;
    c->body = -1;
}

static void conn_close(struct conn *c)
{
    if (c->pcb) {
        tcp_arg(c->pcb, NULL);
        tcp_recv(c->pcb, NULL);
        tcp_sent(c->pcb, NULL);
        tcp_err(c->pcb, NULL);
        tcp_poll(c->pcb, NULL, 0);
        if (tcp_close(c->pcb) != ERR_OK)
            tcp_abort(c->pcb);
    }
    body_free(c);
    c->used = false;
    c->pcb = NULL;
}

/* For a peer that stalls or a slot needed: no FIN handshake to wait for. */
static void conn_abort(struct conn *c)
{
    struct tcp_pcb *pcb = c->pcb;
    if (pcb) {
        tcp_arg(pcb, NULL);
        tcp_recv(pcb, NULL);
        tcp_sent(pcb, NULL);
        tcp_err(pcb, NULL);
        tcp_poll(pcb, NULL, 0);
        tcp_abort(pcb);
    }
    body_free(c);
    c->used = false;
    c->pcb = NULL;
}

static void push(struct conn *c)
{
    while (c->sent < c->resp_len) {
        u16_t room = tcp_sndbuf(c->pcb);
        size_t chunk = c->resp_len - c->sent;
        if (chunk > room)
            chunk = room;
        if (!chunk || tcp_write(c->pcb, c->resp + c->sent, (u16_t)chunk, 0) != ERR_OK)
            break;
        c->sent += chunk;
    }
    tcp_output(c->pcb);
    if (c->sent == c->resp_len && c->pcb && !c->pcb->unsent && !c->pcb->unacked)
        conn_close(c);
}

static void respond(struct conn *c, const char *status, const char *type, const char *body, size_t len)
{
    int h = fmt_snprintf(head, sizeof(head),
                         "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %u\r\nCache-Control: no-store\r\n"
                         "Connection: close\r\n\r\n",
                         status, type, (unsigned)len);
    /* Header and body go out as one buffer: copy into the JSON buffer's
     * tail would race later requests, so send them in order instead. */
    tcp_write(c->pcb, head, (u16_t)h, TCP_WRITE_FLAG_COPY);
    c->resp = body;
    c->resp_len = len;
    c->sent = 0;
    push(c);
}

static void handle(struct conn *c)
{
    requests++;
    c->req[c->len < REQ_MAX ? c->len : REQ_MAX - 1] = 0;
    if (strncmp(c->req, "POST ", 5) == 0) {
        const char *path = c->req + 5;
        size_t plen = 0;
        while (path[plen] && path[plen] != ' ' && path[plen] != '\r' && path[plen] != '\n')
            plen++;
        post(c, path, plen);
        return;
    }
    if (strncmp(c->req, "GET ", 4) != 0) {
        static const char m[] = "only GET\n";
        respond(c, "405 Method Not Allowed", "text/plain", m, sizeof(m) - 1);
        return;
    }
    const char *path = c->req + 4;
    size_t plen = 0;
    while (path[plen] && path[plen] != ' ' && path[plen] != '\r' && path[plen] != '\n')
        plen++;
    if (plen == 7 && memcmp(path, "/status", 7) == 0) {
        for (int i = 0; i < BODIES && c->body < 0; i++)
            if (!body_used[i]) {
                body_used[i] = true;
                c->body = i;
            }
        if (c->body < 0) {
            static const char m[] = "busy: every answer buffer is in use, try again\n";
            respond(c, "503 Service Unavailable", "text/plain", m, sizeof(m) - 1);
            return;
        }
        size_t n = json_status(bodies[c->body], BODY_MAX);
        respond(c, "200 OK", "application/json", bodies[c->body], n);
    } else if (plen == 1 && path[0] == '/') {
        respond(c, "200 OK", "text/html; charset=utf-8", status_page, (size_t)(status_page_end - status_page));
    } else {
        static const char m[] = "not found\n";
        respond(c, "404 Not Found", "text/plain", m, sizeof(m) - 1);
    }
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct conn *c = arg;
    if (!p || err != ERR_OK) {
        if (p)
            pbuf_free(p);
        /* The client's FIN while its answer is still going out (or not
         * yet acknowledged): lwIP sends on from the answer's buffer, so
         * keep it until push() sees it all acknowledged (or on_poll()
         * gives up). */
        if (!p && c->resp && (c->sent < c->resp_len || pcb->unsent || pcb->unacked))
            return ERR_OK;
        conn_close(c);
        return ERR_OK;
    }
    if (c->resp) { /* already answering: ignore what follows */
        tcp_recved(pcb, p->tot_len);
        pbuf_free(p);
        return ERR_OK;
    }
    size_t room = REQ_MAX - 1 - c->len;
    size_t take = p->tot_len < room ? p->tot_len : room;
    pbuf_copy_partial(p, c->req + c->len, (u16_t)take, 0);
    c->len += take;
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    c->req[c->len] = 0;
    if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n")) {
        handle(c);
    } else if (c->len >= REQ_MAX - 1) {
        static const char m[] = "request too large\n";
        respond(c, "431 Request Header Fields Too Large", "text/plain", m, sizeof(m) - 1);
    }
    return ERR_OK;
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)pcb;
    (void)len;
    struct conn *c = arg;
    if (c && c->used && c->resp)
        push(c);
    return ERR_OK;
}

static void on_err(void *arg, err_t err)
{
    (void)err;
    struct conn *c = arg;
    if (c) {
        c->pcb = NULL; /* lwIP already freed it */
        body_free(c);
        c->used = false;
    }
}

/* Every 2 s (lwIP's slow timer): a browser's idle or speculative
 * connection would otherwise hold its slot for as long as it likes. */
static err_t on_poll(void *arg, struct tcp_pcb *pcb)
{
    (void)pcb;
    struct conn *c = arg;
    if (!c)
        return ERR_OK;
    uint64_t age = now_ms() - c->since_ms;
    if ((!c->resp && age > REQUEST_MS) || age > RESPONSE_MS) {
        conn_abort(c);
        return ERR_ABRT;
    }
    return ERR_OK;
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    struct conn *c = NULL;
    for (int i = 0; i < MAX_CONN; i++)
        if (!conns[i].used)
            c = &conns[i];
    if (!c) {
        /* Full: the oldest connection still without a request gives way
         * (browsers open connections they may never use). */
        for (int i = 0; i < MAX_CONN; i++)
            if (!conns[i].resp && (!c || conns[i].since_ms < c->since_ms))
                c = &conns[i];
        if (!c) {
            tcp_abort(pcb);
            return ERR_ABRT;
        }
        conn_abort(c);
    }
    memset(c, 0, sizeof(*c));
    c->used = true;
    c->pcb = pcb;
    c->body = -1;
    c->since_ms = now_ms();
    tcp_arg(pcb, c);
    tcp_recv(pcb, on_recv);
    tcp_sent(pcb, on_sent);
    tcp_err(pcb, on_err);
    tcp_poll(pcb, on_poll, 4);
    return ERR_OK;
}

static void status_init(void)
{
    if (!net_netif())
        return;
    struct tcp_pcb *pcb = tcp_new();
    if (!pcb || tcp_bind(pcb, IP_ADDR_ANY, STATUS_PORT) != ERR_OK)
        return;
    listener = tcp_listen(pcb);
    tcp_accept(listener, on_accept);
    random_bytes(&action_nonce, sizeof(action_nonce));
    log_info("status", "HTTP status service on port %d (GET /status, GET /, POST /ACTION)", STATUS_PORT);
}

static bool status_poll(void)
{
    if (listener)
        sample();
    return false;
}

SERVICE(29, status, status_init, status_poll);
