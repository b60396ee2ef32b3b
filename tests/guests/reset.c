/* reset: the three ways a PC OS resets the machine, one after another;
 * ftvisor reboots the guest from its image each time (like a PC):
 *   boot 1 -> port 0xCF9 (reset control: 0x02 then 0x06, as Linux's
 *             reboot=pci does)
 *   boot 2 -> port 0x92 bit 0 (fast reset, PS/2 system control port A)
 *   boot 3 -> port 0x64 command 0xFE (keyboard controller pulses reset)
 *   boot 4 -> checks, then exits with 0.
 * The stage is kept in CMOS RAM byte 0x40, which a PC's reset does not
 * touch (it is battery-backed). Should it be lost, the stage is inferred
 * from the TSC instead (virtual time keeps running across a reset here;
 * each boot waits until the next 300 ms mark before resetting), so all
 * three resets are still exercised, and the loss is reported as a failed
 * check on every later boot. Guest RAM is inspected for a value the
 * previous boot left, and only reported (ftvisor clears RAM on reset, a
 * PC need not). */
#include "rt/rt.h"

#define CMOS_STAGE 0x40
#define MAGIC 0xa0
#define STEP_MS 300
#define RAM_CANARY 0x200000ull

static uint8_t cmos_read(uint8_t reg)
{
    outb(0x70, reg);
    return inb(0x71);
}

static void cmos_write(uint8_t reg, uint8_t v)
{
    outb(0x70, reg);
    outb(0x71, v);
}

int guest_main(void)
{
    uint64_t hz = rt_tsc_hz(), t = rdtsc();
    uint64_t ms = t * 1000 / hz;
    uint8_t c = cmos_read(CMOS_STAGE);
    bool cmos_ok = (c & 0xf0) == MAGIC;
    unsigned by_tsc = (unsigned)(ms / STEP_MS), stage = cmos_ok ? (c & 0x0f) : by_tsc;
    uint64_t canary = mmio_read64(RAM_CANARY);
    rt_printf("reset: boot %u: TSC at %llu ms, CMOS byte 0x40 = 0x%02x, RAM at 0x%llx = 0x%llx\n", stage + 1,
              (unsigned long long)ms, c, (unsigned long long)RAM_CANARY, (unsigned long long)canary);
    if (stage > 0)
        CHECK(cmos_ok && (c & 0x0f) == by_tsc, "CMOS RAM kept across reset %u (byte 0x40 = 0x%02x, want 0x%02x)",
              stage, c, MAGIC | by_tsc);
    mmio_write64(RAM_CANARY, 0x5245534554000000ull | stage);
    if (stage >= 3) {
        rt_printf("reset: booted 4 times: through 0xCF9, 0x92 and 0x64\n");
        return rt_result("reset");
    }
    cmos_write(CMOS_STAGE, (uint8_t)(MAGIC | (stage + 1)));
    /* Wait for the next mark, so that the next boot knows its stage from the
     * TSC too. */
    while (rdtsc() * 1000 / hz < (uint64_t)(stage + 1) * STEP_MS + 20)
        cpu_pause();
    switch (stage) {
    case 0:
        rt_printf("reset: resetting through port 0xCF9\n");
        outb(0xcf9, 0x02);
        outb(0xcf9, 0x06);
        break;
    case 1:
        rt_printf("reset: resetting through port 0x92\n");
        outb(0x92, inb(0x92) | 1);
        break;
    case 2:
        rt_printf("reset: resetting through the keyboard controller\n");
        outb(0x64, 0xfe);
        break;
    }
    rt_delay_us(1000);
    rt_printf("FAIL: boot %u: the reset did not happen\n", stage + 1);
    return 1;
}
