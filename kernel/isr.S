/* Interrupt and exception entry stubs for all 256 vectors. Each pushes a
 * dummy error code where the CPU pushes none (Intel SDM Vol. 3A, 6.13), then
 * the vector, then the general registers, forming struct trap_frame
 * (kernel/trap.h), and calls trap_dispatch(frame). */
    .text

/* Vectors for which the CPU pushes an error code: #DF #TS #NP #SS #GP #PF
 * #AC #CP #VC #SX (8 10-14 17 21 29 30). */
.macro STUB v
    .balign 16
isr_\v:
    .if (\v == 8) || (\v >= 10 && \v <= 14) || (\v == 17) || (\v == 21) || (\v == 29) || (\v == 30)
    .else
    pushq $0
    .endif
    pushq $\v
    jmp isr_common
.endm

    .altmacro
.macro STUBS from, to
    STUB \from
    .if \to-\from
    STUBS %(\from+1), \to
    .endif
.endm
    STUBS 0, 63
    STUBS 64, 127
    STUBS 128, 191
    STUBS 192, 255

isr_common:
    cld
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
    mov %rsp, %rdi
    call trap_dispatch
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
    add $16, %rsp           /* vector and error code */
    iretq

/* The stubs' addresses, for idt_init(). */
.macro ADDR v
    .quad isr_\v
.endm
.macro ADDRS from, to
    ADDR \from
    .if \to-\from
    ADDRS %(\from+1), \to
    .endif
.endm
    .section .rodata
    .balign 8
    .globl isr_table
isr_table:
    ADDRS 0, 63
    ADDRS 64, 127
    ADDRS 128, 191
    ADDRS 192, 255

    .section .note.GNU-stack, "", @progbits
