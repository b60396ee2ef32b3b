/* The channel's self-test ([debug] channel_test_mb = N): the host that
 * connects streams N MiB of test messages to its peer; the peer checks
 * every byte (each 16 KiB message is a pseudo-random sequence seeded by its
 * sequence number) and both report. Both hosts power off shortly after
 * their side is done, so tests end by themselves. */
#include "channel.h"
#include "status.h"
#include "../kernel/clock.h"
#include "../kernel/format.h"
#include "../kernel/kernel.h"
#include "../kernel/log.h"
#include "../kernel/power.h"
#include "../kernel/service.h"
#include <string.h>

#define T_TEST (CHAN_TYPE_USER + 0)
#define MSG 16384

static uint64_t total_msgs, queued, received, verified, bad, start_ns, done_ns, last_progress_ns;
static bool sender, finished;
static uint8_t buf[MSG];
static uint64_t filled; /* the message buf holds (sender): a full channel refuses it until later */

static void fill(uint8_t *b, uint64_t seq)
{
    uint64_t x = seq * 0x9e3779b97f4a7c15ull | 1;
    for (size_t i = 0; i < MSG; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(b + i, &x, 8);
    }
}

static unsigned long long mbps(uint64_t bytes, uint64_t ns)
{
    return ns ? (unsigned long long)(bytes * 1000000ull / ns) : 0; /* MB/s, times 1000 */
}

static void recv_msg(void *ctx, uint8_t type, const uint8_t *data, uint32_t len, uint64_t seq)
{
    (void)ctx;
    if (type != T_TEST)
        return;
    if (!received)
        start_ns = clock_ns();
    received++;
    /* The message's own index is in its first bytes' seed: recompute it
     * from the index we expect (messages arrive in order). */
    fill(buf, received);
    if (len == MSG && memcmp(buf, data, MSG) == 0)
        verified++;
    else
        bad++;
    (void)seq;
    if (received == total_msgs) {
        done_ns = clock_ns();
        log_info("chantest", "received %llu MiB in %llu messages: %llu verified, %llu bad, %llu.%03llu MB/s",
                 (unsigned long long)(total_msgs * MSG >> 20), (unsigned long long)received,
                 (unsigned long long)verified, (unsigned long long)bad, mbps(received * MSG, done_ns - start_ns) / 1000,
                 mbps(received * MSG, done_ns - start_ns) % 1000);
        finished = true;
    }
}

static void acked(void *ctx, uint64_t seq)
{
    (void)ctx;
    if (sender && !finished && seq >= total_msgs) {
        done_ns = clock_ns();
        log_info("chantest", "sent %llu MiB in %llu messages, all acknowledged: %llu.%03llu MB/s",
                 (unsigned long long)(total_msgs * MSG >> 20), (unsigned long long)total_msgs,
                 mbps(total_msgs * MSG, done_ns - start_ns) / 1000, mbps(total_msgs * MSG, done_ns - start_ns) % 1000);
        finished = true;
    }
}

static const struct chan_user test_user = { recv_msg, acked, NULL, NULL, NULL };

static void ct_init(void)
{
    const struct config *cfg = kernel_config();
    if (!cfg->debug.channel_test_mb || chan_peer() < 0)
        return;
    total_msgs = (uint64_t)cfg->debug.channel_test_mb * (1u << 20) / MSG;
    const struct cfg_host *mine = kernel_this_host();
    sender = mine == &cfg->hosts[0];
    chan_set_user(&test_user);
    log_info("chantest", "%s %u MiB over the channel", sender ? "sending" : "expecting", cfg->debug.channel_test_mb);
}

static bool ct_poll(void)
{
    if (!total_msgs)
        return false;
    uint64_t now = clock_ns();
    if (finished) {
        if (now - done_ns > 2000000000ull)
            power_off("channel test done");
        return false;
    }
    if (!sender || !chan_up())
        return false;
    if (!queued)
        start_ns = now;
    bool did = false;
    while (queued < total_msgs) {
        if (filled != queued + 1) {
            fill(buf, queued + 1);
            filled = queued + 1;
        }
        if (!chan_send(T_TEST, buf, MSG))
            break;
        queued++;
        did = true;
    }
    if (now - last_progress_ns > 5000000000ull) {
        last_progress_ns = now;
        log_info("chantest", "progress: %llu of %llu messages queued, %llu acknowledged", (unsigned long long)queued,
                 (unsigned long long)total_msgs, (unsigned long long)chan_acked());
    }
    return did;
}

SERVICE(40, chantest, ct_init, ct_poll);
