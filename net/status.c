/* The status service: HTTP/1.0 on TCP port 80. GET /status returns the
 * host's state as JSON; GET / returns a page that fetches and renders it
 * every second; POST /ACTION?token=T runs an operator action (status.h)
 * whose token proves the pair key. Small, allocation-free (one request
 * per connection, the response built into a static buffer), and robust to
 * junk: anything that is not a complete request of a known path within
 * 2 KiB gets a 4xx. */
#include "status.h"
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
#define MAX_CONN 4
#define REQ_MAX 2048

struct conn {
    bool used;
    struct tcp_pcb *pcb;
    char req[REQ_MAX];
    size_t len;
    const char *resp;
    size_t resp_len, sent;
};

static struct conn conns[MAX_CONN];
static struct tcp_pcb *listener;
static uint64_t requests;
static const struct status_source *sources[8];
static int nsources;

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

static void respond(struct conn *c, const char *status, const char *type, const char *body, size_t len);

/* The token for action name under the current nonce, as 64 hex digits. */
static void action_token(const char *name, char out[65])
{
    const char *key = kernel_config()->pair.key;
    char msg[96];
    int n = fmt_snprintf(msg, sizeof(msg), "ftvisor %s %016llx", name, (unsigned long long)action_nonce);
    uint8_t h[32];
    blake2b(h, sizeof(h), key, strlen(key), msg, (size_t)n);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = "0123456789abcdef"[h[i] >> 4];
        out[2 * i + 1] = "0123456789abcdef"[h[i] & 15];
    }
    out[64] = 0;
}

/* POST /NAME?token=HEX: check the token (all 64 digits, in constant
 * time), then run the action once. */
static void post(struct conn *c, const char *path, size_t plen)
{
    static char reply[256];
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
    action_token(a->name, want);
    unsigned diff = !q || plen - (size_t)(q - path) != 1 + 6 + 64 || memcmp(q, "?token=", 7) != 0;
    for (int i = 0; !diff && i < 64; i++)
        diff |= (unsigned)(q[7 + i] ^ want[i]);
    if (diff || !kernel_config()->pair.key[0]) {
        log_warn("status", "POST /%s refused: bad or stale token", a->name);
        static const char m[] = "bad or stale token (GET /status for the action nonce)\n";
        respond(c, "403 Forbidden", "text/plain", m, sizeof(m) - 1);
        return;
    }
    random_bytes(&action_nonce, sizeof(action_nonce)); /* a token works once */
    char msg[200];
    int r = a->fn(msg, sizeof(msg));
    log_info("status", "POST /%s: %s", a->name, msg);
    int n = fmt_snprintf(reply, sizeof(reply), "%s\n", msg);
    respond(c, r ? "409 Conflict" : "200 OK", "text/plain", reply, (size_t)n);
}

static const char page[] =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>ftvisor</title>\n"
    "<style>body{font-family:sans-serif;margin:2em;background:#f6f7f9}h1{margin:0 0 .2em}"
    "table{border-collapse:collapse;margin:1em 0;background:#fff}td,th{border:1px solid #ccd;padding:.3em .7em;"
    "text-align:left}th{background:#eef}.ok{color:#070}.bad{color:#b00}#err{color:#b00}</style></head>\n"
    "<body><h1 id=\"title\">ftvisor</h1><div id=\"sub\"></div><div id=\"err\"></div>\n"
    "<table id=\"host\"></table><h2>Peers</h2><table id=\"peers\"></table><h2>Counters</h2>"
    "<table id=\"counters\"></table>\n"
    "<script>\n"
    "function row(k,v,c){return '<tr><th>'+k+'</th><td'+(c?' class=\"'+c+'\"':'')+'>'+v+'</td></tr>';}\n"
    "function render(s){document.getElementById('title').textContent='ftvisor: '+s.host;\n"
    " document.getElementById('sub').textContent='role '+s.role+', up '+(s.uptime_ms/1000).toFixed(1)+' s';\n"
    " var h=row('host',s.host)+row('role',s.role)+row('uptime',(s.uptime_ms/1000).toFixed(1)+' s')"
    "+row('ip',s.ip)+row('link',s.link,s.link=='up'?'ok':'bad')+row('nic',s.nic);\n"
    " document.getElementById('host').innerHTML=h;\n"
    " var p='<tr><th>peer</th><th>ip</th><th>reachable</th><th>rtt</th><th>heartbeat</th></tr>';\n"
    " s.peers.forEach(function(x){p+='<tr><td>'+x.name+'</td><td>'+x.ip+'</td><td class=\"'+"
    "(x.reachable?'ok':'bad')+'\">'+(x.reachable?'yes':'no')+'</td><td>'+(x.reachable?(x.rtt_us/1000).toFixed(2)+"
    "' ms':'-')+'</td><td class=\"'+(x.heartbeat=='alive'?'ok':'bad')+'\">'+x.heartbeat+'</td></tr>';});\n"
    " document.getElementById('peers').innerHTML=p;\n"
    " var c='';Object.keys(s.counters).forEach(function(k){c+=row(k,s.counters[k]);});\n"
    " document.getElementById('counters').innerHTML=c;}\n"
    "function tick(){fetch('/status').then(function(r){return r.json();}).then(function(s){"
    "document.getElementById('err').textContent='';render(s);}).catch(function(e){"
    "document.getElementById('err').textContent='status unavailable: '+e;});}\n"
    "tick();setInterval(tick,1000);\n"
    "</script></body></html>\n";

static char json[8192];

static size_t json_status(void)
{
    const struct config *cfg = kernel_config();
    const struct cfg_host *me = kernel_this_host();
    struct netdev *nd = net_device();
    size_t n = 0;
#define PUT(...) (n += (size_t)fmt_snprintf(json + n, n < sizeof(json) ? sizeof(json) - n : 0, __VA_ARGS__))
    const char *role = "standalone";
    for (int i = 0; i < nsources; i++)
        if (sources[i]->role)
            role = sources[i]->role();
    PUT("{\"host\":\"%s\",\"role\":\"%s\",\"uptime_ms\":%llu,\"action_nonce\":\"%016llx\",", me ? me->name : "?",
        role, (unsigned long long)(clock_ns() / 1000000), (unsigned long long)action_nonce);
    if (me)
        PUT("\"ip\":\"%u.%u.%u.%u\",", me->ip >> 24, (me->ip >> 16) & 255, (me->ip >> 8) & 255, me->ip & 255);
    PUT("\"link\":\"%s\",\"nic\":\"%s\",\"peers\":[", net_link_up() ? "up" : "down", nd ? nd->name : "none");
    bool first = true;
    for (int i = 0; i < cfg->nhosts; i++) {
        const struct cfg_host *h = &cfg->hosts[i];
        if (h == me)
            continue;
        const struct peer_reach *r = ping_peer(i);
        const char *hb = "unknown";
        for (int k = 0; k < nsources; k++)
            if (sources[k]->peer_heartbeat)
                hb = sources[k]->peer_heartbeat(i);
        PUT("%s{\"name\":\"%s\",\"ip\":\"%u.%u.%u.%u\",\"reachable\":%s,\"rtt_us\":%llu,\"heartbeat\":\"%s\"}",
            first ? "" : ",", h->name, h->ip >> 24, (h->ip >> 16) & 255, (h->ip >> 8) & 255, h->ip & 255,
            r && r->reachable ? "true" : "false", r ? (unsigned long long)r->rtt_us : 0ull, hb);
        first = false;
    }
    PUT("],\"counters\":{\"http_requests\":%llu", (unsigned long long)requests);
    if (nd)
        PUT(",\"nic_rx_frames\":%llu,\"nic_tx_frames\":%llu,\"nic_rx_errors\":%llu,\"nic_tx_full\":%llu",
            (unsigned long long)nd->rx_frames, (unsigned long long)nd->tx_frames, (unsigned long long)nd->rx_errors,
            (unsigned long long)nd->tx_full);
    for (int i = 0; i < nsources; i++)
        if (sources[i]->counters)
            n += sources[i]->counters(json + n, n < sizeof(json) ? sizeof(json) - n : 0);
    PUT("}}\n");
#undef PUT
    return n < sizeof(json) ? n : sizeof(json) - 1;
}

static char head[256];

static void conn_close(struct conn *c)
{
    if (c->pcb) {
        tcp_arg(c->pcb, NULL);
        tcp_recv(c->pcb, NULL);
        tcp_sent(c->pcb, NULL);
        tcp_err(c->pcb, NULL);
        if (tcp_close(c->pcb) != ERR_OK)
            tcp_abort(c->pcb);
    }
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
        size_t n = json_status();
        respond(c, "200 OK", "application/json", json, n);
    } else if (plen == 1 && path[0] == '/') {
        respond(c, "200 OK", "text/html; charset=utf-8", page, sizeof(page) - 1);
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
        c->used = false;
    }
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
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    memset(c, 0, sizeof(*c));
    c->used = true;
    c->pcb = pcb;
    tcp_arg(pcb, c);
    tcp_recv(pcb, on_recv);
    tcp_sent(pcb, on_sent);
    tcp_err(pcb, on_err);
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

SERVICE(29, status, status_init, NULL);
