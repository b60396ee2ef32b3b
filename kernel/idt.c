/* The host IDT: exceptions are reported in full (vector, name, error code
 * decoded, registers, CR2, stack trace) and stop the machine; device
 * interrupts go to handlers registered with irq_register(). */
#include "trap.h"
#include "gdt.h"
#include "log.h"
#include "panic.h"
#include "console.h"
#include "cpu.h"
#include <string.h>

struct gate {
    uint16_t off_lo, sel;
    uint8_t ist, type;
    uint16_t off_mid;
    uint32_t off_hi, zero;
} __attribute__((packed));

static struct gate idt[256];
static irq_handler_t handlers[256];
extern const uint64_t isr_table[256];
static uint64_t unexpected[256];

static const char *const exc_names[32] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound range",
    "#UD invalid opcode", "#NM device not available", "#DF double fault", "coprocessor overrun",
    "#TS invalid TSS", "#NP segment not present", "#SS stack fault", "#GP general protection",
    "#PF page fault", "reserved 15", "#MF x87 error", "#AC alignment check", "#MC machine check",
    "#XM SIMD error", "#VE virtualization exception", "#CP control protection", "reserved 22", "reserved 23",
    "reserved 24", "reserved 25", "reserved 26", "reserved 27", "#HV hypervisor injection",
    "#VC VMM communication", "#SX security", "reserved 31",
};

static void set_gate(int v, uint64_t handler, int ist)
{
    idt[v].off_lo = (uint16_t)handler;
    idt[v].sel = GDT_KCODE;
    idt[v].ist = (uint8_t)ist;
    idt[v].type = 0x8e; /* present, DPL 0, 64-bit interrupt gate: IF cleared on entry */
    idt[v].off_mid = (uint16_t)(handler >> 16);
    idt[v].off_hi = (uint32_t)(handler >> 32);
    idt[v].zero = 0;
}

void idt_init(void)
{
    for (int v = 0; v < 256; v++)
        set_gate(v, isr_table[v], 0);
    set_gate(2, isr_table[2], IST_NMI);
    set_gate(8, isr_table[8], IST_DF);
    set_gate(18, isr_table[18], IST_MC);
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) idtr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
    __asm__ volatile("lidt %0" ::"m"(idtr));
}

void irq_register(int vector, irq_handler_t h) { handlers[vector & 255] = h; }

static void report(struct trap_frame *f)
{
    unsigned v = (unsigned)f->vector;
    kprintf("\nftvisor: EXCEPTION %s (vector %u) error code 0x%llx\n", v < 32 ? exc_names[v] : "?", v,
            (unsigned long long)f->error);
    if (v == 14)
        kprintf("  page fault: %s %s in %s mode%s at CR2=0x%016llx\n",
                f->error & 1 ? "protection violation," : "page not present,",
                f->error & 16 ? "instruction fetch" : f->error & 2 ? "write" : "read",
                f->error & 4 ? "user" : "supervisor", f->error & 8 ? " (reserved bit set)" : "",
                (unsigned long long)read_cr2());
    else if ((v == 13 || v == 10 || v == 11 || v == 12) && f->error)
        kprintf("  selector/vector 0x%llx (%s%s)\n", (unsigned long long)(f->error >> 3 << 3),
                f->error & 2 ? "IDT" : f->error & 4 ? "LDT" : "GDT", f->error & 1 ? ", external" : "");
    uint64_t off;
    const char *sym = ksym_lookup(f->rip, &off);
    kprintf("  RIP=%04llx:%016llx %s+0x%llx RFLAGS=%016llx\n", (unsigned long long)f->cs,
            (unsigned long long)f->rip, sym ? sym : "?", sym ? (unsigned long long)off : 0ull,
            (unsigned long long)f->rflags);
    kprintf("  RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n", (unsigned long long)f->rax,
            (unsigned long long)f->rbx, (unsigned long long)f->rcx, (unsigned long long)f->rdx);
    kprintf("  RSI=%016llx RDI=%016llx RBP=%016llx RSP=%016llx\n", (unsigned long long)f->rsi,
            (unsigned long long)f->rdi, (unsigned long long)f->rbp, (unsigned long long)f->rsp);
    kprintf("  R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n", (unsigned long long)f->r8,
            (unsigned long long)f->r9, (unsigned long long)f->r10, (unsigned long long)f->r11);
    kprintf("  R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n", (unsigned long long)f->r12,
            (unsigned long long)f->r13, (unsigned long long)f->r14, (unsigned long long)f->r15);
    kprintf("  CR0=%016llx CR2=%016llx CR3=%016llx CR4=%016llx\n", (unsigned long long)read_cr0(),
            (unsigned long long)read_cr2(), (unsigned long long)read_cr3(), (unsigned long long)read_cr4());
    stack_trace(f->rbp, 0);
}

void trap_dispatch(struct trap_frame *f)
{
    unsigned v = (unsigned)f->vector;
    if (handlers[v]) {
        handlers[v](f);
        return;
    }
    if (v == 13 && extable_fixup(f))
        return;
    if (v == 2) {
        /* NMIs come from watchdogs and front-panel buttons: say so, go on. */
        log_warn("trap", "NMI received at RIP 0x%llx", (unsigned long long)f->rip);
        return;
    }
    if (v < 32) {
        report(f);
        panic("unhandled exception %s at RIP 0x%llx", exc_names[v], (unsigned long long)f->rip);
    }
    if (v >= VEC_PIC_BASE && v < VEC_PIC_BASE + 16)
        return; /* spurious IRQ 7/15 from the masked legacy PICs */
    if (v == VEC_SPURIOUS)
        return; /* LAPIC spurious vector: no EOI (SDM 3A, 11.9) */
    if (!unexpected[v]++)
        log_warn("trap", "unexpected interrupt vector %u (reported once)", v);
}
