/* Interrupt and exception entry stubs for all 256 vectors. Each pushes a
 * zero error code when the CPU does not push one, then its vector, and
 * jumps to the common path, which saves the general registers and the
 * whole x87/SSE state (so a C handler can never disturb the interrupted
 * code's XMM registers), calls rt_trap(struct rt_frame *) and returns with
 * IRETQ to the (possibly changed) frame. */
#include "rt_layout.h"

    .code64
    .text

/* Vectors for which the CPU pushes an error code: #DF #TS #NP #SS #GP #PF
 * #AC #CP #VC #SX. */
#define HAS_ERR(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

    .balign 16
    .globl rt_isr_stubs
rt_isr_stubs:
    vec = 0
    .rept 256
    .if HAS_ERR(vec)
    nop
    nop
    .else
    pushq $0
    .endif
    pushq $vec
    jmp rt_isr_common
    /* Pad to the next 16-byte slot; the assembler refuses if the stub
     * grew beyond it (.org cannot move backwards). */
    .org rt_isr_stubs + 16 * (vec + 1), 0xcc
    vec = vec + 1
    .endr

rt_isr_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi             /* struct rt_frame * */
    movq %rsp, %rbx
    subq $512, %rsp
    andq $~15, %rsp
    fxsave64 (%rsp)
    cld
    call rt_trap
    fxrstor64 (%rsp)
    movq %rbx, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp              /* vector, error code */
    iretq

    .section .note.GNU-stack, "", @progbits
