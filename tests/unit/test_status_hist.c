/* net/status_hist.c: the status page's history rings and the bounded JSON
 * writer. Every rendering is checked to be valid JSON by a small strict
 * parser here, including renderings into buffers too small for them
 * (which must say so rather than hand out a cut answer). */
#include "test.h"
#include "../../net/status_hist.h"
#include <stdint.h>

/* ---- a strict JSON checker (RFC 8259 syntax, no extensions) ---- */
static const char *jv(const char *p, int depth);
static const char *jws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    return p;
}
static const char *jstr(const char *p)
{
    if (*p++ != '"')
        return NULL;
    for (;;) {
        unsigned char c = (unsigned char)*p++;
        if (c == '"')
            return p;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            c = (unsigned char)*p++;
            if (c == 'u') {
                for (int i = 0; i < 4; i++, p++)
                    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
                        return NULL;
            } else if (!strchr("\"\\/bfnrt", c) || !c) {
                return NULL;
            }
        }
    }
}
static const char *jnum(const char *p)
{
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return NULL;
    return p;
}
static const char *jv(const char *p, int depth)
{
    if (depth > 32)
        return NULL;
    p = jws(p);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        bool obj = *p == '{';
        p = jws(p + 1);
        if (*p == close)
            return p + 1;
        for (;;) {
            if (obj) {
                p = jstr(jws(p));
                if (!p)
                    return NULL;
                p = jws(p);
                if (*p++ != ':')
                    return NULL;
            }
            p = jv(p, depth + 1);
            if (!p)
                return NULL;
            p = jws(p);
            if (*p == close)
                return p + 1;
            if (*p++ != ',')
                return NULL;
        }
    }
    if (*p == '"')
        return jstr(p);
    if (!strncmp(p, "true", 4))
        return p + 4;
    if (!strncmp(p, "false", 5))
        return p + 5;
    if (!strncmp(p, "null", 4))
        return p + 4;
    return jnum(p);
}
static bool json_valid(const char *s)
{
    const char *p = jv(s, 0);
    return p && *jws(p) == 0;
}

/* The history wrapped as a whole document, as net/status.c embeds it. */
static size_t render(const struct status_hist *h, char *buf, size_t cap, int npeers)
{
    static const char *const series[] = { "lag_ms", "log_Bps" };
    static const char *const peers[] = { "beta", "gamma\"q", "d", "e", "f", "g", "h" };
    struct jbuf b;
    jb_init(&b, buf, cap);
    jb_put(&b, "{\"host\":\"alpha\"");
    hist_json(h, &b, series, 2, peers, npeers);
    jb_put(&b, "}");
    return jb_ok(&b) ? b.n : 0;
}

static struct status_hist h;
static char buf[1 << 16];

static struct hist_sample sample_of(uint32_t lag, uint32_t bps, const char *hb, uint32_t rtt)
{
    struct hist_sample s;
    memset(&s, 0, sizeof(s));
    for (int k = 0; k < HIST_SERIES; k++)
        s.series[k] = HIST_NONE;
    for (int k = 0; k < HIST_PEERS; k++)
        s.rtt_us[k] = HIST_NONE;
    s.series[0] = lag;
    s.series[1] = bps;
    s.hb[0] = hb;
    s.rtt_us[0] = rtt;
    return s;
}

TEST(the_checker_tells_broken_json)
{
    CHECK(json_valid("{\"a\":[1,null,\"x\\\"\"],\"b\":{}}"));
    CHECK(!json_valid("{\"a\":}"));
    CHECK(!json_valid("{\"a\":[1,]}"));
    CHECK(!json_valid("{\"a\":\"\t\"}"));
    CHECK(!json_valid("{\"a\":1"));
    CHECK(!json_valid("{\"a\":1}}"));
    CHECK(!json_valid("[01]"));
}

TEST(empty_history_is_valid_json)
{
    hist_init(&h);
    size_t n = render(&h, buf, sizeof(buf), 1);
    CHECK(n > 0);
    CHECK(json_valid(buf));
    CHECK(strstr(buf, "\"samples\":0,") != NULL);
    CHECK(strstr(buf, "\"lag_ms\":[]") != NULL);
    CHECK(strstr(buf, "\"heartbeat\":\"\"") != NULL);
    CHECK(strstr(buf, "\"events_total\":0,\"events\":[]") != NULL);
}

TEST(samples_one_a_second_in_order_with_gaps)
{
    hist_init(&h);
    struct hist_sample s = sample_of(5, 1000, "alive", 250);
    CHECK(hist_due(&h, 0));
    hist_add(&h, 500, &s);
    CHECK(!hist_due(&h, 999));
    CHECK(hist_due(&h, 1000));
    s = sample_of(7, HIST_NONE, "alive", 300);
    hist_add(&h, 1200, &s);
    hist_add(&h, 1900, &s); /* same second: ignored */
    s = sample_of(9, 3000, "lost", HIST_NONE);
    hist_add(&h, 4100, &s); /* seconds 2 and 3 skipped: gaps */
    CHECK(render(&h, buf, sizeof(buf), 1) > 0);
    CHECK(json_valid(buf));
    CHECK(strstr(buf, "\"end_ms\":4000,\"samples\":5,") != NULL);
    CHECK(strstr(buf, "\"lag_ms\":[5,7,null,null,9]") != NULL);
    CHECK(strstr(buf, "\"log_Bps\":[1000,null,null,null,3000]") != NULL);
    CHECK(strstr(buf, "\"heartbeat_states\":[\"alive\",\"lost\"]") != NULL);
    CHECK(strstr(buf, "\"heartbeat\":\"aa--b\",\"rtt_us\":[250,300,null,null,null]") != NULL);
}

TEST(the_ring_keeps_the_last_300_seconds)
{
    hist_init(&h);
    for (uint32_t i = 0; i < 1000; i++) {
        struct hist_sample s = sample_of(i, 2 * i, i % 2 ? "alive" : "lost", i);
        hist_add(&h, (uint64_t)i * 1000, &s);
    }
    CHECK_EQ(h.count, HIST_SAMPLES);
    CHECK(render(&h, buf, sizeof(buf), 1) > 0);
    CHECK(json_valid(buf));
    CHECK(strstr(buf, "\"lag_ms\":[700,701,702,") != NULL);
    CHECK(strstr(buf, ",998,999],\"log_Bps\":[1400,") != NULL);
    CHECK(strstr(buf, "\"end_ms\":999000,\"samples\":300,") != NULL);
    /* A long stall: at most one window of gaps, then the new sample. */
    struct hist_sample s = sample_of(1, 1, "alive", 1);
    hist_add(&h, 5000000, &s);
    CHECK(render(&h, buf, sizeof(buf), 1) > 0);
    CHECK(strstr(buf, "\"lag_ms\":[null,null,") != NULL);
    CHECK(strstr(buf, ",null,1],\"log_Bps\"") != NULL);
}

TEST(events_keep_the_last_32_oldest_first_and_escaped)
{
    hist_init(&h);
    char text[200];
    for (int i = 1; i <= 40; i++) {
        snprintf(text, sizeof(text), "event %d", i);
        hist_event(&h, (uint64_t)i * 10, "migration out", text);
    }
    hist_event(&h, 999, "odd", "quote \" backslash \\ tab \t newline \n bell \a high \xc3\xa9 end");
    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = 0;
    hist_event(&h, 1000, "long", text);
    CHECK(render(&h, buf, sizeof(buf), 1) > 0);
    CHECK(json_valid(buf));
    CHECK(strstr(buf, "\"events_total\":42,\"events\":[{\"seq\":11,\"ms\":110,\"kind\":\"migration out\","
                      "\"text\":\"event 11\"}") != NULL);
    CHECK(strstr(buf, "\"seq\":10,") == NULL);
    CHECK(strstr(buf, "\"text\":\"quote \\\" backslash \\\\ tab \\u0009 newline \\u000a bell \\u0007 high ?? end\"") !=
          NULL);
    /* Cut at HIST_TEXT - 1 characters. */
    char want[HIST_TEXT + 16];
    snprintf(want, sizeof(want), "\"text\":\"%.*s\"}]", HIST_TEXT - 1, text);
    CHECK(strstr(buf, want) != NULL);
}

TEST(peer_names_are_escaped_and_every_peer_has_a_timeline)
{
    hist_init(&h);
    struct hist_sample s = sample_of(1, 2, "alive", 3);
    s.hb[1] = "never heard";
    s.rtt_us[1] = 4;
    hist_add(&h, 0, &s);
    CHECK(render(&h, buf, sizeof(buf), 7) > 0);
    CHECK(json_valid(buf));
    CHECK(strstr(buf, "{\"name\":\"gamma\\\"q\",\"heartbeat\":\"b\",\"rtt_us\":[4]}") != NULL);
    CHECK(strstr(buf, "{\"name\":\"h\",\"heartbeat\":\"-\",\"rtt_us\":[null]}") != NULL);
}

/* Every prefix size of the buffer: either the whole valid document or a
 * report that it did not fit; never a cut one that claims to be whole. */
TEST(a_small_buffer_reports_overflow_never_a_cut_document)
{
    hist_init(&h);
    for (uint32_t i = 0; i < 20; i++) {
        struct hist_sample s = sample_of(i * 1000000u, i * 12345u, "alive", i * 77u);
        hist_add(&h, (uint64_t)i * 1000, &s);
        hist_event(&h, i, "kind", "some \"text\"");
    }
    size_t full = render(&h, buf, sizeof(buf), 2);
    CHECK(full > 0 && json_valid(buf));
    static char small[1 << 16];
    int wrong = 0;
    for (size_t cap = 1; cap <= full + 1; cap++) {
        memset(small, '#', sizeof(small));
        size_t n = render(&h, small, cap, 2);
        if (cap <= full ? n != 0 : (n != full || !json_valid(small) || strcmp(small, buf)))
            wrong++;
        if (small[cap] != '#') /* nothing written past the buffer */
            wrong++;
    }
    CHECK_EQ(wrong, 0);
}

/* The worst case net/status.c sizes its buffer for (BODY_MAX, 48 KiB,
 * with room for the rest of the answer): every value at its widest,
 * seven peers, 32 events of the longest text (the FT layer's are plain
 * ASCII; texts full of characters to escape would leave the history out,
 * which the test above covers). */
TEST(worst_case_fits_in_44_kib)
{
    hist_init(&h);
    char text[HIST_TEXT];
    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = 0;
    for (uint32_t i = 0; i < 400; i++) {
        struct hist_sample s = sample_of(HIST_NONE - 1, HIST_NONE - 1, "never heard", HIST_NONE - 1);
        for (int k = 0; k < HIST_PEERS; k++) {
            s.hb[k] = "alive";
            s.rtt_us[k] = HIST_NONE - 1;
        }
        hist_add(&h, (uint64_t)i * 1000 + 999999999999ull, &s);
        hist_event(&h, 999999999999ull, "clone received", text);
    }
    size_t n = render(&h, buf, 44 * 1024, 7);
    CHECK(n > 0);
    CHECK(json_valid(buf));
}

int main(void) { return test_main(); }
