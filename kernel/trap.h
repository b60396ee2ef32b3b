/* Interrupts and exceptions on the host. */
#ifndef KERNEL_TRAP_H
#define KERNEL_TRAP_H

#include <stdint.h>

/* Built by kernel/isr.S; the tail is the CPU's own interrupt frame. */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

/* Vectors the host uses. The legacy PICs are remapped to 0x20-0x2f and
 * masked; their spurious interrupts land there and are ignored. */
#define VEC_PIC_BASE 0x20
#define VEC_LAPIC_TIMER 0x40
#define VEC_DEVICE_BASE 0x50 /* MSIs of host devices, one vector each */
#define VEC_LAPIC_ERROR 0xfe
#define VEC_SPURIOUS 0xff

typedef void (*irq_handler_t)(struct trap_frame *f);

void gdt_init(void);
void idt_init(void);
void irq_register(int vector, irq_handler_t h);
void trap_dispatch(struct trap_frame *f);

/* kernel/extable.c: redirect a faulting instruction that has a fixup. */
int extable_fixup(struct trap_frame *f);

#endif
