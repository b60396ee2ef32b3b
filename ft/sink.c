/* The log sink client (ft/sink.h, docs/log-sink.md). */
#include "sink.h"
#include "../net/net.h"
#include "lwip/tcp.h"
#include "../kernel/clock.h"
#include "../kernel/format.h"
#include "../kernel/log.h"
#include "../kernel/service.h"
#include "../kernel/strutil.h"
#include <string.h>

#define CONNECT_TIMEOUT_MS 10000
#define ANSWER_TIMEOUT_MS 30000
#define RESP_HEADER 16

static struct {
    enum sink_state state;
    int op; /* 1 PUT, 2 GET */
    struct tcp_pcb *pcb;
    struct memlog *log;
    uint32_t ip;
    uint16_t port;
    uint8_t req[8 + 64];
    size_t req_len, req_sent;
    bool finish; /* PUT: the log is complete */
    uint8_t resp[RESP_HEADER];
    size_t resp_got;
    uint64_t body_len, body_got;
    int status;
    char text[240];
    size_t text_len;
    uint64_t bytes;
    uint64_t since_ms;
} S;

static uint64_t now_ms(void) { return clock_ns() / 1000000; }

enum sink_state sink_state(void) { return S.state; }
int sink_status(void) { return S.status; }
const char *sink_text(void) { return S.text; }
uint64_t sink_bytes(void) { return S.bytes; }

static void detach(void)
{
    if (!S.pcb)
        return;
    tcp_arg(S.pcb, NULL);
    tcp_recv(S.pcb, NULL);
    tcp_sent(S.pcb, NULL);
    tcp_err(S.pcb, NULL);
    if (tcp_close(S.pcb) != ERR_OK)
        tcp_abort(S.pcb);
    S.pcb = NULL;
}

static void fail(const char *why)
{
    if (S.state == SINK_DONE || S.state == SINK_FAILED)
        return;
    fmt_snprintf(S.text, sizeof(S.text), "log sink %u.%u.%u.%u:%u: %s", S.ip >> 24, (S.ip >> 16) & 255,
                 (S.ip >> 8) & 255, S.ip & 255, S.port, why);
    S.state = SINK_FAILED;
    detach();
}

/* Push the request, then (PUT) log bytes, into TCP's send buffer. */
static void pump(void)
{
    if (!S.pcb || (S.state != SINK_STREAMING && S.state != SINK_CLOSING))
        return;
    while (S.req_sent < S.req_len) {
        u16_t room = tcp_sndbuf(S.pcb);
        size_t n = S.req_len - S.req_sent;
        if (!room)
            goto out;
        if (n > room)
            n = room;
        if (tcp_write(S.pcb, S.req + S.req_sent, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK)
            goto out;
        S.req_sent += n;
    }
    if (S.op == 1) {
        struct memlog *m = S.log;
        while (m->start < m->len) {
            u16_t room = tcp_sndbuf(S.pcb);
            size_t n = m->len - m->start;
            if (!room)
                break;
            if (n > room)
                n = room;
            if (tcp_write(S.pcb, m->buf + m->start, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK)
                break;
            m->start += n;
            S.bytes += n;
        }
        if (m->start == m->len) {
            /* All of it in TCP: the room is the recorder's again. */
            m->start = m->len = 0;
            if (S.finish && S.state == SINK_STREAMING) {
                S.state = SINK_CLOSING;
                S.since_ms = now_ms();
                tcp_output(S.pcb);
                tcp_shutdown(S.pcb, 0, 1); /* the end of the log: our sending side */
                return;
            }
        }
    }
out:
    tcp_output(S.pcb);
}

static void answer_done(void)
{
    size_t n = S.text_len < sizeof(S.text) - 1 ? S.text_len : sizeof(S.text) - 1;
    S.text[n] = 0;
    S.state = SINK_DONE;
    detach();
}

static void take(const uint8_t *d, size_t len)
{
    while (len && S.state != SINK_DONE && S.state != SINK_FAILED) {
        if (S.resp_got < RESP_HEADER) {
            size_t n = RESP_HEADER - S.resp_got;
            if (n > len)
                n = len;
            memcpy(S.resp + S.resp_got, d, n);
            S.resp_got += n;
            d += n;
            len -= n;
            if (S.resp_got == RESP_HEADER) {
                if (memcmp(S.resp, "FTLS", 4) != 0 || S.resp[4] != 1) {
                    fail("the answer is not an ftlog-sink response (magic or version)");
                    return;
                }
                S.status = S.resp[5];
                memcpy(&S.body_len, S.resp + 8, 8);
                S.text_len = 0;
                if (S.op == 2 && S.status == 0) {
                    if (S.body_len > S.log->cap) {
                        fail("the stored log is larger than the replay buffer");
                        return;
                    }
                    S.log->start = S.log->len = 0;
                }
                if (!S.body_len)
                    answer_done();
            }
            continue;
        }
        size_t n = S.body_len - S.body_got;
        if (n > len)
            n = len;
        if (S.op == 2 && S.status == 0) {
            memcpy(S.log->buf + S.log->len, d, n);
            S.log->len += n;
            S.bytes += n;
        } else {
            for (size_t i = 0; i < n; i++)
                if (S.text_len < sizeof(S.text) - 1)
                    S.text[S.text_len++] = (d[i] >= 0x20 && d[i] < 0x7f) ? (char)d[i] : '?';
        }
        S.body_got += n;
        d += n;
        len -= n;
        if (S.body_got == S.body_len)
            answer_done();
    }
}

static err_t on_recv(void *arg, struct tcp_pcb *tp, struct pbuf *p, err_t err)
{
    (void)arg;
    if (!p || err != ERR_OK) {
        if (p)
            pbuf_free(p);
        if (S.state != SINK_DONE)
            fail(S.resp_got ? "the connection closed in the middle of the answer"
                            : "the sink closed the connection without an answer");
        return ERR_OK;
    }
    for (struct pbuf *q = p; q; q = q->next)
        take(q->payload, q->len);
    if (S.pcb == tp)
        tcp_recved(tp, p->tot_len);
    pbuf_free(p);
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
    S.pcb = NULL; /* lwIP freed it */
    char why[80];
    fmt_snprintf(why, sizeof(why), "%s (lwIP error %d)",
                 err == ERR_RST ? "connection refused or reset" : err == ERR_ABRT ? "connection aborted"
                                                                                 : "connection failed",
                 (int)err);
    fail(why);
}

static err_t on_connected(void *arg, struct tcp_pcb *tp, err_t err)
{
    (void)arg;
    (void)tp;
    if (err != ERR_OK) {
        fail("cannot connect");
        return ERR_OK;
    }
    S.state = SINK_STREAMING;
    S.since_ms = now_ms();
    pump();
    return ERR_OK;
}

static int start(int op, uint32_t ip, uint16_t port, const char *name, struct memlog *log)
{
    size_t nl = strlen(name);
    if (S.state == SINK_CONNECTING || S.state == SINK_STREAMING || S.state == SINK_CLOSING || !nl || nl > 64)
        return -1;
    memset(&S, 0, sizeof(S));
    S.op = op;
    S.ip = ip;
    S.port = port;
    S.log = log;
    memcpy(S.req, "FTLS", 4);
    S.req[4] = 1;
    S.req[5] = (uint8_t)op;
    S.req[6] = (uint8_t)nl;
    S.req[7] = 0;
    memcpy(S.req + 8, name, nl);
    S.req_len = 8 + nl;
    S.state = SINK_CONNECTING;
    S.since_ms = now_ms();
    return 0;
}

static void connect_now(void)
{
    struct tcp_pcb *tp = tcp_new();
    if (!tp) {
        fail("out of TCP connections");
        return;
    }
    ip_addr_t a;
    IP_ADDR4(&a, S.ip >> 24, (S.ip >> 16) & 255, (S.ip >> 8) & 255, S.ip & 255);
    S.pcb = tp;
    tcp_arg(tp, NULL);
    tcp_recv(tp, on_recv);
    tcp_sent(tp, on_sent);
    tcp_err(tp, on_err);
    tcp_nagle_disable(tp);
    if (tcp_connect(tp, &a, S.port, on_connected) != ERR_OK) {
        tcp_abort(tp);
        S.pcb = NULL;
        fail("cannot connect (no route?)");
    }
}

int sink_put_start(uint32_t ip, uint16_t port, const char *name, struct memlog *log)
{
    return start(1, ip, port, name, log);
}

int sink_get_start(uint32_t ip, uint16_t port, const char *name, struct memlog *log)
{
    return start(2, ip, port, name, log);
}

void sink_put_finish(void)
{
    S.finish = true;
    S.since_ms = now_ms();
    pump();
}

static bool sink_poll(void)
{
    if (S.state == SINK_CONNECTING && !S.pcb) {
        /* Connect once the NIC is up (lwIP would fail without a route). */
        if (net_netif())
            connect_now();
        else if (now_ms() - S.since_ms > CONNECT_TIMEOUT_MS)
            fail("this host has no network interface up");
        return false;
    }
    if (S.state == SINK_CONNECTING && now_ms() - S.since_ms > CONNECT_TIMEOUT_MS) {
        fail("no connection within 10 s (is tools/ftlog-sink running and reachable?)");
        return false;
    }
    if ((S.state == SINK_CLOSING || (S.state == SINK_STREAMING && (S.finish || S.op == 2))) &&
        now_ms() - S.since_ms > ANSWER_TIMEOUT_MS) {
        fail("no answer within 30 s");
        return false;
    }
    if (S.state == SINK_STREAMING && S.op == 1 && S.log->start < S.log->len) {
        pump();
        return true;
    }
    return false;
}

SERVICE(38, ft_sink, NULL, sink_poll);
