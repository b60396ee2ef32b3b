/* VM entry and exit (SDM Vol. 3, "VM Entries", "VM Exits").
 *
 * int vmx_enter(struct guest_regs *regs, int launched)
 *
 * Saves the host's callee-saved registers, records the stack in HOST_RSP,
 * loads the guest's general registers and CR2 (neither lives in the VMCS)
 * and executes VMLAUNCH or VMRESUME. The next VM exit lands at
 * vmx_exit_entry (HOST_RIP) on the same stack, which stores the guest's
 * registers back and returns 0. A failed entry returns 1 (VMfailValid) or
 * 2 (VMfailInvalid). */
#define VMCS_HOST_RSP 0x6c14
#define R_RAX 0
#define R_RCX 8
#define R_RDX 16
#define R_RBX 24
#define R_RBP 40
#define R_RSI 48
#define R_RDI 56
#define R_R8 64
#define R_R9 72
#define R_R10 80
#define R_R11 88
#define R_R12 96
#define R_R13 104
#define R_R14 112
#define R_R15 120
#define R_CR2 128
#define R_TSC_ENTRY 136
#define R_TSC_EXIT 144

    .text
    .globl vmx_enter
vmx_enter:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdi                   /* regs, found again at (%rsp) on exit */
    mov $VMCS_HOST_RSP, %rax
    vmwrite %rsp, %rax
    mov R_CR2(%rdi), %rax
    mov %rax, %cr2
    /* The entry timestamp: the instructions from here to VMRESUME are a
     * fixed sequence, part of the calibrated stub constant. */
    rdtsc
    shl $32, %rdx
    or %rdx, %rax
    mov %rax, R_TSC_ENTRY(%rdi)
    test %esi, %esi             /* MOVs below keep the flags */
    mov R_RAX(%rdi), %rax
    mov R_RCX(%rdi), %rcx
    mov R_RDX(%rdi), %rdx
    mov R_RBX(%rdi), %rbx
    mov R_RBP(%rdi), %rbp
    mov R_RSI(%rdi), %rsi
    mov R_R8(%rdi), %r8
    mov R_R9(%rdi), %r9
    mov R_R10(%rdi), %r10
    mov R_R11(%rdi), %r11
    mov R_R12(%rdi), %r12
    mov R_R13(%rdi), %r13
    mov R_R14(%rdi), %r14
    mov R_R15(%rdi), %r15
    mov R_RDI(%rdi), %rdi
    jnz 1f
    vmlaunch
    jmp 2f
1:  vmresume
2:  /* Entry failed: CF set = VMfailInvalid, ZF set = VMfailValid. POPs
     * keep the flags. */
    pop %rdi
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    mov $1, %eax
    jnc 3f
    mov $2, %eax
3:  ret

    .globl vmx_exit_entry
vmx_exit_entry:
    push %rdi
    mov 8(%rsp), %rdi
    mov %rax, R_RAX(%rdi)
    mov %rdx, R_RDX(%rdi)
    rdtsc                       /* the exit timestamp, as early as possible */
    shl $32, %rdx
    or %rdx, %rax
    mov %rax, R_TSC_EXIT(%rdi)
    mov %rcx, R_RCX(%rdi)
    mov %rbx, R_RBX(%rdi)
    mov %rbp, R_RBP(%rdi)
    mov %rsi, R_RSI(%rdi)
    mov %r8, R_R8(%rdi)
    mov %r9, R_R9(%rdi)
    mov %r10, R_R10(%rdi)
    mov %r11, R_R11(%rdi)
    mov %r12, R_R12(%rdi)
    mov %r13, R_R13(%rdi)
    mov %r14, R_R14(%rdi)
    mov %r15, R_R15(%rdi)
    pop %rax
    mov %rax, R_RDI(%rdi)
    mov %cr2, %rax
    mov %rax, R_CR2(%rdi)
    pop %rdi
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    xor %eax, %eax
    ret

    .section .note.GNU-stack, "", @progbits
