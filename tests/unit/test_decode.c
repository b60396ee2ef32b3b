/* vmm/decode.c: the MMIO instruction decoder and executor.
 *
 * Every byte sequence in the decode table was checked against GNU as and
 * objdump (the "text" column is the Intel-syntax source it assembles
 * from, except the two noted disp-only ModR/M forms). Decoding always happens from an exactly-sized heap copy, so
 * AddressSanitizer reports any read past `avail`. */
#include "test.h"
#include <stdint.h>
#include <stdbool.h>
#include "../../vmm/decode.h"

#define M16 CPU_MODE_16
#define M32 CPU_MODE_32
#define M64 CPU_MODE_64
#define O(x) INSN_OP_##x

#define CF INSN_RFLAGS_CF
#define PF INSN_RFLAGS_PF
#define AF INSN_RFLAGS_AF
#define ZF INSN_RFLAGS_ZF
#define SF INSN_RFLAGS_SF
#define DF INSN_RFLAGS_DF
#define OF INSN_RFLAGS_OF
#define ARITH INSN_RFLAGS_ARITH

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

/* Decode from a heap buffer of exactly n bytes. */
static int dec(enum cpu_mode mode, const uint8_t *b, size_t n, struct insn *out)
{
    uint8_t *p = malloc(n);
    int rc;
    if (n)
        memcpy(p, b, n);
    rc = decode_insn(p, n, mode, out);
    free(p);
    return rc;
}

#define BYTES(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })
#define DEC(mode, out, ...) dec(mode, BYTES(__VA_ARGS__), out)

static uint64_t mask(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

/* ------------------------------------------------------- decode table ---- */

struct row {
    enum cpu_mode mode;
    const char *text; /* what GNU as assembles to exactly these bytes */
    uint8_t n, b[15];
    enum insn_op op;
    uint8_t opsize, memsize, addrsize;
    bool mem_dst;
    int reg; /* -1 none, 0-15 a GPR, HI(n) the high byte of GPR n */
    bool has_imm;
    uint64_t imm;
};

#define B(...) sizeof((uint8_t[]){ __VA_ARGS__ }), { __VA_ARGS__ }
#define NOREG -1
#define HI(n) (16 + (n))
#define NOIMM false, 0
#define IMM(v) true, (v)
#define TO true
#define FROM false

static const struct row rows[] = {
    /* ---- 64-bit: MOV 88-8B and operand sizes */
    { M64, "mov eax, [rbx]", B(0x8b, 0x03), O(MOV), 4, 4, 8, FROM, RAX, NOIMM },
    { M64, "mov rax, [rbx]", B(0x48, 0x8b, 0x03), O(MOV), 8, 8, 8, FROM, RAX, NOIMM },
    { M64, "mov ax, [rbx]", B(0x66, 0x8b, 0x03), O(MOV), 2, 2, 8, FROM, RAX, NOIMM },
    { M64, "mov [rbx], ax", B(0x66, 0x89, 0x03), O(MOV), 2, 2, 8, TO, RAX, NOIMM },
    { M64, "mov [rbx], ecx", B(0x89, 0x0b), O(MOV), 4, 4, 8, TO, RCX, NOIMM },
    { M64, "mov [rbx], rdi", B(0x48, 0x89, 0x3b), O(MOV), 8, 8, 8, TO, RDI, NOIMM },
    { M64, "mov [rbx], ah", B(0x88, 0x23), O(MOV), 1, 1, 8, TO, HI(RAX), NOIMM },
    { M64, "mov [rbx], spl", B(0x40, 0x88, 0x23), O(MOV), 1, 1, 8, TO, RSP, NOIMM },
    { M64, "mov [rbx], bh", B(0x88, 0x3b), O(MOV), 1, 1, 8, TO, HI(RBX), NOIMM },
    { M64, "mov [rbx], dil", B(0x40, 0x88, 0x3b), O(MOV), 1, 1, 8, TO, RDI, NOIMM },
    { M64, "mov [rbx], cl", B(0x88, 0x0b), O(MOV), 1, 1, 8, TO, RCX, NOIMM },
    { M64, "mov al, [rbx]", B(0x8a, 0x03), O(MOV), 1, 1, 8, FROM, RAX, NOIMM },
    { M64, "mov ch, [rbx]", B(0x8a, 0x2b), O(MOV), 1, 1, 8, FROM, HI(RCX), NOIMM },
    { M64, "mov dh, [rbx]", B(0x8a, 0x33), O(MOV), 1, 1, 8, FROM, HI(RDX), NOIMM },
    { M64, "mov sil, [rbx]", B(0x40, 0x8a, 0x33), O(MOV), 1, 1, 8, FROM, RSI, NOIMM },
    { M64, "mov r8b, [rbx]", B(0x44, 0x8a, 0x03), O(MOV), 1, 1, 8, FROM, R8, NOIMM },
    { M64, "mov r15b, [r9]", B(0x45, 0x8a, 0x39), O(MOV), 1, 1, 8, FROM, R15, NOIMM },
    { M64, "mov r8d, [r11+0x10]", B(0x45, 0x8b, 0x43, 0x10), O(MOV), 4, 4, 8, FROM, R8, NOIMM },
    { M64, "mov r12w, [rbx]", B(0x66, 0x44, 0x8b, 0x23), O(MOV), 2, 2, 8, FROM, R12, NOIMM },
    /* ---- 64-bit: ModR/M, SIB, displacement and RIP-relative lengths */
    { M64, "mov eax, [rip+0x100]", B(0x8b, 0x05, 0x00, 0x01, 0x00, 0x00), O(MOV), 4, 4, 8, FROM, RAX, NOIMM },
    { M64, "mov rdx, [rip-0x10]", B(0x48, 0x8b, 0x15, 0xf0, 0xff, 0xff, 0xff), O(MOV), 8, 8, 8, FROM, RDX, NOIMM },
    { M64, "mov dword ptr [rip+0x100], 0x11223344", B(0xc7, 0x05, 0x00, 0x01, 0x00, 0x00, 0x44, 0x33, 0x22, 0x11), O(MOV), 4, 4, 8, TO, NOREG, IMM(0x11223344) },
    { M64, "mov eax, [rsp]", B(0x8b, 0x04, 0x24), O(MOV), 4, 4, 8, FROM, RAX, NOIMM },
    { M64, "mov eax, [r12]", B(0x41, 0x8b, 0x04, 0x24), O(MOV), 4, 4, 8, FROM, RAX, NOIMM },
    { M64, "mov eax, [rbp]", B(0x8b, 0x45, 0x00), O(MOV), 4, 4, 8, FROM, RAX, NOIMM },
    { M64, "mov eax, [r13]", B(0x41, 0x8b, 0x45, 0x00), O(MOV), 4, 4, 8, FROM, RAX, NOIMM },
    { M64, "mov eax, [rax+rcx*4+0x12345678]", B(0x8b, 0x84, 0x88, 0x78, 0x56, 0x34, 0x12), O(MOV), 4, 4, 8, FROM, RAX, NOIMM },
    { M64, "mov eax, [rcx*4+0x1000]", B(0x8b, 0x04, 0x8d, 0x00, 0x10, 0x00, 0x00), O(MOV), 4, 4, 8, FROM, RAX, NOIMM },
    { M64, "mov eax, ds:0x1000", B(0x8b, 0x04, 0x25, 0x00, 0x10, 0x00, 0x00), O(MOV), 4, 4, 8, FROM, RAX, NOIMM },
    { M64, "mov r15, [r15+r14*8-8]", B(0x4f, 0x8b, 0x7c, 0xf7, 0xf8), O(MOV), 8, 8, 8, FROM, R15, NOIMM },
    { M64, "mov ecx, [rbx+0x80]", B(0x8b, 0x8b, 0x80, 0x00, 0x00, 0x00), O(MOV), 4, 4, 8, FROM, RCX, NOIMM },
    { M64, "mov eax, [eax]", B(0x67, 0x8b, 0x00), O(MOV), 4, 4, 4, FROM, RAX, NOIMM },
    { M64, "mov eax, [r8d+r9d*2+4]", B(0x67, 0x43, 0x8b, 0x44, 0x48, 0x04), O(MOV), 4, 4, 4, FROM, RAX, NOIMM },
    { M64, "mov eax, fs:[rbx]", B(0x64, 0x8b, 0x03), O(MOV), 4, 4, 8, FROM, RAX, NOIMM },
    /* ---- 64-bit: MOV r/m, imm (C6/C7 /0) */
    { M64, "mov byte ptr [rbx], 0x80", B(0xc6, 0x03, 0x80), O(MOV), 1, 1, 8, TO, NOREG, IMM(0x80) },
    { M64, "mov word ptr [rbx], 0x1234", B(0x66, 0xc7, 0x03, 0x34, 0x12), O(MOV), 2, 2, 8, TO, NOREG, IMM(0x1234) },
    { M64, "mov dword ptr [rbx], 0x12345678", B(0xc7, 0x03, 0x78, 0x56, 0x34, 0x12), O(MOV), 4, 4, 8, TO, NOREG, IMM(0x12345678) },
    { M64, "mov qword ptr [rbx], -1", B(0x48, 0xc7, 0x03, 0xff, 0xff, 0xff, 0xff), O(MOV), 8, 8, 8, TO, NOREG, IMM(~0ull) },
    { M64, "mov qword ptr [rbx], 0x7fffffff", B(0x48, 0xc7, 0x03, 0xff, 0xff, 0xff, 0x7f), O(MOV), 8, 8, 8, TO, NOREG, IMM(0x7fffffff) },
    { M64, "mov byte ptr [rbx+0x10], 1", B(0xc6, 0x43, 0x10, 0x01), O(MOV), 1, 1, 8, TO, NOREG, IMM(1) },
    /* ---- 64-bit: MOV moffs (A0-A3), 8-byte offset unless 67h */
    { M64, "movabs eax, [0x1122334455667788]", B(0xa1, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11), O(MOV), 4, 4, 8, FROM, RAX, NOIMM },
    { M64, "movabs al, [0xfee00000]", B(0xa0, 0x00, 0x00, 0xe0, 0xfe, 0x00, 0x00, 0x00, 0x00), O(MOV), 1, 1, 8, FROM, RAX, NOIMM },
    { M64, "movabs [0xfee000b0], rax", B(0x48, 0xa3, 0xb0, 0x00, 0xe0, 0xfe, 0x00, 0x00, 0x00, 0x00), O(MOV), 8, 8, 8, TO, RAX, NOIMM },
    { M64, "movabs [0xfee000b0], ax", B(0x66, 0xa3, 0xb0, 0x00, 0xe0, 0xfe, 0x00, 0x00, 0x00, 0x00), O(MOV), 2, 2, 8, TO, RAX, NOIMM },
    { M64, "movabs [0xfee000b0], al", B(0xa2, 0xb0, 0x00, 0xe0, 0xfe, 0x00, 0x00, 0x00, 0x00), O(MOV), 1, 1, 8, TO, RAX, NOIMM },
    { M64, "addr32 mov eax, [0x12345678]", B(0x67, 0xa1, 0x78, 0x56, 0x34, 0x12), O(MOV), 4, 4, 4, FROM, RAX, NOIMM },
    /* ---- 64-bit: MOVZX, MOVSX, MOVSXD */
    { M64, "movzx eax, byte ptr [rbx]", B(0x0f, 0xb6, 0x03), O(MOVZX), 4, 1, 8, FROM, RAX, NOIMM },
    { M64, "movzx eax, word ptr [rbx]", B(0x0f, 0xb7, 0x03), O(MOVZX), 4, 2, 8, FROM, RAX, NOIMM },
    { M64, "movzx rax, byte ptr [rbx]", B(0x48, 0x0f, 0xb6, 0x03), O(MOVZX), 8, 1, 8, FROM, RAX, NOIMM },
    { M64, "movzx r9, word ptr [rbx]", B(0x4c, 0x0f, 0xb7, 0x0b), O(MOVZX), 8, 2, 8, FROM, R9, NOIMM },
    { M64, "movzx ax, byte ptr [rbx]", B(0x66, 0x0f, 0xb6, 0x03), O(MOVZX), 2, 1, 8, FROM, RAX, NOIMM },
    { M64, "movzx esi, byte ptr [rbx]", B(0x0f, 0xb6, 0x33), O(MOVZX), 4, 1, 8, FROM, RSI, NOIMM },
    { M64, "movsx eax, byte ptr [rbx]", B(0x0f, 0xbe, 0x03), O(MOVSX), 4, 1, 8, FROM, RAX, NOIMM },
    { M64, "movsx eax, word ptr [rbx]", B(0x0f, 0xbf, 0x03), O(MOVSX), 4, 2, 8, FROM, RAX, NOIMM },
    { M64, "movsx rcx, word ptr [rbx]", B(0x48, 0x0f, 0xbf, 0x0b), O(MOVSX), 8, 2, 8, FROM, RCX, NOIMM },
    { M64, "movsx ax, byte ptr [rbx]", B(0x66, 0x0f, 0xbe, 0x03), O(MOVSX), 2, 1, 8, FROM, RAX, NOIMM },
    { M64, "movsxd rax, dword ptr [rbx]", B(0x48, 0x63, 0x03), O(MOVSX), 8, 4, 8, FROM, RAX, NOIMM },
    { M64, "movsxd r10, dword ptr [rbx+8]", B(0x4c, 0x63, 0x53, 0x08), O(MOVSX), 8, 4, 8, FROM, R10, NOIMM },
    { M64, "movsxd eax, dword ptr [rbx]", B(0x63, 0x03), O(MOVSX), 4, 4, 8, FROM, RAX, NOIMM },
    /* ---- 64-bit: ALU r/m,r and r,r/m (00-3B) */
    { M64, "add [rbx], al", B(0x00, 0x03), O(ADD), 1, 1, 8, TO, RAX, NOIMM },
    { M64, "add [rbx], eax", B(0x01, 0x03), O(ADD), 4, 4, 8, TO, RAX, NOIMM },
    { M64, "add al, [rbx]", B(0x02, 0x03), O(ADD), 1, 1, 8, FROM, RAX, NOIMM },
    { M64, "add rax, [rbx]", B(0x48, 0x03, 0x03), O(ADD), 8, 8, 8, FROM, RAX, NOIMM },
    { M64, "or [rbx], ah", B(0x08, 0x23), O(OR), 1, 1, 8, TO, HI(RAX), NOIMM },
    { M64, "or [rbx], eax", B(0x09, 0x03), O(OR), 4, 4, 8, TO, RAX, NOIMM },
    { M64, "or cl, [rbx]", B(0x0a, 0x0b), O(OR), 1, 1, 8, FROM, RCX, NOIMM },
    { M64, "or ecx, [rbx]", B(0x0b, 0x0b), O(OR), 4, 4, 8, FROM, RCX, NOIMM },
    { M64, "and [rbx], dl", B(0x20, 0x13), O(AND), 1, 1, 8, TO, RDX, NOIMM },
    { M64, "and [rbx], dx", B(0x66, 0x21, 0x13), O(AND), 2, 2, 8, TO, RDX, NOIMM },
    { M64, "and dl, [rbx]", B(0x22, 0x13), O(AND), 1, 1, 8, FROM, RDX, NOIMM },
    { M64, "and edx, [rbx]", B(0x23, 0x13), O(AND), 4, 4, 8, FROM, RDX, NOIMM },
    { M64, "sub [rbx], bl", B(0x28, 0x1b), O(SUB), 1, 1, 8, TO, RBX, NOIMM },
    { M64, "sub [rbx], r11", B(0x4c, 0x29, 0x1b), O(SUB), 8, 8, 8, TO, R11, NOIMM },
    { M64, "sub bl, [rbx]", B(0x2a, 0x1b), O(SUB), 1, 1, 8, FROM, RBX, NOIMM },
    { M64, "sub ebx, [rbx]", B(0x2b, 0x1b), O(SUB), 4, 4, 8, FROM, RBX, NOIMM },
    { M64, "xor [rbx], bh", B(0x30, 0x3b), O(XOR), 1, 1, 8, TO, HI(RBX), NOIMM },
    { M64, "xor [rbx], esi", B(0x31, 0x33), O(XOR), 4, 4, 8, TO, RSI, NOIMM },
    { M64, "xor sil, [rbx]", B(0x40, 0x32, 0x33), O(XOR), 1, 1, 8, FROM, RSI, NOIMM },
    { M64, "xor si, [rbx]", B(0x66, 0x33, 0x33), O(XOR), 2, 2, 8, FROM, RSI, NOIMM },
    { M64, "cmp [rbx], al", B(0x38, 0x03), O(CMP), 1, 1, 8, TO, RAX, NOIMM },
    { M64, "cmp [rbx], eax", B(0x39, 0x03), O(CMP), 4, 4, 8, TO, RAX, NOIMM },
    { M64, "cmp al, [rbx]", B(0x3a, 0x03), O(CMP), 1, 1, 8, FROM, RAX, NOIMM },
    { M64, "cmp r8, [rbx]", B(0x4c, 0x3b, 0x03), O(CMP), 8, 8, 8, FROM, R8, NOIMM },
    /* ---- 64-bit: group 1 (80, 81, 83) */
    { M64, "add byte ptr [rbx], 0x80", B(0x80, 0x03, 0x80), O(ADD), 1, 1, 8, TO, NOREG, IMM(0x80) },
    { M64, "or byte ptr [rbx], 0x80", B(0x80, 0x0b, 0x80), O(OR), 1, 1, 8, TO, NOREG, IMM(0x80) },
    { M64, "and byte ptr [rbx], 0xfe", B(0x80, 0x23, 0xfe), O(AND), 1, 1, 8, TO, NOREG, IMM(0xfe) },
    { M64, "sub byte ptr [rbx], 1", B(0x80, 0x2b, 0x01), O(SUB), 1, 1, 8, TO, NOREG, IMM(1) },
    { M64, "xor byte ptr [rbx], 0xff", B(0x80, 0x33, 0xff), O(XOR), 1, 1, 8, TO, NOREG, IMM(0xff) },
    { M64, "cmp byte ptr [rbx], 0x7f", B(0x80, 0x3b, 0x7f), O(CMP), 1, 1, 8, TO, NOREG, IMM(0x7f) },
    { M64, "add dword ptr [rbx], 0x12345678", B(0x81, 0x03, 0x78, 0x56, 0x34, 0x12), O(ADD), 4, 4, 8, TO, NOREG, IMM(0x12345678) },
    { M64, "or word ptr [rbx], 0x8000", B(0x66, 0x81, 0x0b, 0x00, 0x80), O(OR), 2, 2, 8, TO, NOREG, IMM(0x8000) },
    { M64, "and qword ptr [rbx], -0x12345678", B(0x48, 0x81, 0x23, 0x88, 0xa9, 0xcb, 0xed), O(AND), 8, 8, 8, TO, NOREG, IMM(0xffffffffedcba988ull) },
    { M64, "sub dword ptr [rbx], 0x80000000", B(0x81, 0x2b, 0x00, 0x00, 0x00, 0x80), O(SUB), 4, 4, 8, TO, NOREG, IMM(0x80000000) },
    { M64, "xor qword ptr [rbx], 0x1000", B(0x48, 0x81, 0x33, 0x00, 0x10, 0x00, 0x00), O(XOR), 8, 8, 8, TO, NOREG, IMM(0x1000) },
    { M64, "cmp dword ptr [rbx], 0x1000", B(0x81, 0x3b, 0x00, 0x10, 0x00, 0x00), O(CMP), 4, 4, 8, TO, NOREG, IMM(0x1000) },
    { M64, "and dword ptr [rbx], 0xfffffff0", B(0x83, 0x23, 0xf0), O(AND), 4, 4, 8, TO, NOREG, IMM(0xfffffff0) },
    { M64, "and qword ptr [rbx], -16", B(0x48, 0x83, 0x23, 0xf0), O(AND), 8, 8, 8, TO, NOREG, IMM(0xfffffffffffffff0ull) },
    { M64, "and word ptr [rbx], -16", B(0x66, 0x83, 0x23, 0xf0), O(AND), 2, 2, 8, TO, NOREG, IMM(0xfff0) },
    { M64, "add dword ptr [rbx], 1", B(0x83, 0x03, 0x01), O(ADD), 4, 4, 8, TO, NOREG, IMM(1) },
    { M64, "or dword ptr [rbx], 0x7f", B(0x83, 0x0b, 0x7f), O(OR), 4, 4, 8, TO, NOREG, IMM(0x7f) },
    { M64, "sub qword ptr [rbx], -128", B(0x48, 0x83, 0x2b, 0x80), O(SUB), 8, 8, 8, TO, NOREG, IMM(0xffffffffffffff80ull) },
    { M64, "xor dword ptr [rbx], -1", B(0x83, 0x33, 0xff), O(XOR), 4, 4, 8, TO, NOREG, IMM(0xffffffff) },
    { M64, "cmp dword ptr [rbx+4], 0", B(0x83, 0x7b, 0x04, 0x00), O(CMP), 4, 4, 8, TO, NOREG, IMM(0) },
    /* ---- 64-bit: TEST (84, 85, F6 /0, F7 /0) */
    { M64, "test [rbx], bl", B(0x84, 0x1b), O(TEST), 1, 1, 8, TO, RBX, NOIMM },
    { M64, "test [rbx], ch", B(0x84, 0x2b), O(TEST), 1, 1, 8, TO, HI(RCX), NOIMM },
    { M64, "test [rbx], eax", B(0x85, 0x03), O(TEST), 4, 4, 8, TO, RAX, NOIMM },
    { M64, "test [rbx], r9", B(0x4c, 0x85, 0x0b), O(TEST), 8, 8, 8, TO, R9, NOIMM },
    { M64, "test byte ptr [rbx], 1", B(0xf6, 0x03, 0x01), O(TEST), 1, 1, 8, TO, NOREG, IMM(1) },
    { M64, "test word ptr [rbx], 0x8000", B(0x66, 0xf7, 0x03, 0x00, 0x80), O(TEST), 2, 2, 8, TO, NOREG, IMM(0x8000) },
    { M64, "test dword ptr [rbx], 0x80000000", B(0xf7, 0x03, 0x00, 0x00, 0x00, 0x80), O(TEST), 4, 4, 8, TO, NOREG, IMM(0x80000000) },
    { M64, "test qword ptr [rbx], -0x80000000", B(0x48, 0xf7, 0x03, 0x00, 0x00, 0x00, 0x80), O(TEST), 8, 8, 8, TO, NOREG, IMM(0xffffffff80000000ull) },
    /* ---- 64-bit: XCHG (86, 87) */
    { M64, "xchg [rbx], cl", B(0x86, 0x0b), O(XCHG), 1, 1, 8, TO, RCX, NOIMM },
    { M64, "xchg [rbx], ah", B(0x86, 0x23), O(XCHG), 1, 1, 8, TO, HI(RAX), NOIMM },
    { M64, "xchg [rbx], eax", B(0x87, 0x03), O(XCHG), 4, 4, 8, TO, RAX, NOIMM },
    { M64, "xchg [rbx], rax", B(0x48, 0x87, 0x03), O(XCHG), 8, 8, 8, TO, RAX, NOIMM },
    { M64, "xchg [rbx], r14w", B(0x66, 0x44, 0x87, 0x33), O(XCHG), 2, 2, 8, TO, R14, NOIMM },
    /* ---- 64-bit: BT/BTS/BTR/BTC, imm8 (0F BA /4-7) and register */
    { M64, "bt dword ptr [rbx], 5", B(0x0f, 0xba, 0x23, 0x05), O(BT), 4, 4, 8, TO, NOREG, IMM(5) },
    { M64, "bts dword ptr [rbx], 5", B(0x0f, 0xba, 0x2b, 0x05), O(BTS), 4, 4, 8, TO, NOREG, IMM(5) },
    { M64, "btr qword ptr [rbx], 63", B(0x48, 0x0f, 0xba, 0x33, 0x3f), O(BTR), 8, 8, 8, TO, NOREG, IMM(63) },
    { M64, "btc word ptr [rbx], 0x80", B(0x66, 0x0f, 0xba, 0x3b, 0x80), O(BTC), 2, 2, 8, TO, NOREG, IMM(0x80) },
    { M64, "bt [rbx], eax", B(0x0f, 0xa3, 0x03), O(BT), 4, 4, 8, TO, RAX, NOIMM },
    { M64, "bts [rbx], ecx", B(0x0f, 0xab, 0x0b), O(BTS), 4, 4, 8, TO, RCX, NOIMM },
    { M64, "btr [rbx], rdx", B(0x48, 0x0f, 0xb3, 0x13), O(BTR), 8, 8, 8, TO, RDX, NOIMM },
    { M64, "btc [rbx], r8w", B(0x66, 0x44, 0x0f, 0xbb, 0x03), O(BTC), 2, 2, 8, TO, R8, NOIMM },
    /* ---- 64-bit: string forms */
    { M64, "stosb", B(0xaa), O(STOS), 1, 1, 8, TO, RAX, NOIMM },
    { M64, "stosw", B(0x66, 0xab), O(STOS), 2, 2, 8, TO, RAX, NOIMM },
    { M64, "stosd", B(0xab), O(STOS), 4, 4, 8, TO, RAX, NOIMM },
    { M64, "stosq", B(0x48, 0xab), O(STOS), 8, 8, 8, TO, RAX, NOIMM },
    { M64, "rep stosd", B(0xf3, 0xab), O(STOS), 4, 4, 8, TO, RAX, NOIMM },
    { M64, "rep stosq", B(0xf3, 0x48, 0xab), O(STOS), 8, 8, 8, TO, RAX, NOIMM },
    { M64, "movsb", B(0xa4), O(MOVS), 1, 1, 8, TO, NOREG, NOIMM },
    { M64, "movsw", B(0x66, 0xa5), O(MOVS), 2, 2, 8, TO, NOREG, NOIMM },
    { M64, "movsd", B(0xa5), O(MOVS), 4, 4, 8, TO, NOREG, NOIMM },
    { M64, "movsq", B(0x48, 0xa5), O(MOVS), 8, 8, 8, TO, NOREG, NOIMM },
    { M64, "rep movsb", B(0xf3, 0xa4), O(MOVS), 1, 1, 8, TO, NOREG, NOIMM },
    { M64, "rep movsd", B(0xf3, 0xa5), O(MOVS), 4, 4, 8, TO, NOREG, NOIMM },
    { M64, "addr32 rep movsb", B(0x67, 0xf3, 0xa4), O(MOVS), 1, 1, 4, TO, NOREG, NOIMM },
    { M64, "lodsb", B(0xac), O(LODS), 1, 1, 8, FROM, RAX, NOIMM },
    { M64, "lodsw", B(0x66, 0xad), O(LODS), 2, 2, 8, FROM, RAX, NOIMM },
    { M64, "lodsd", B(0xad), O(LODS), 4, 4, 8, FROM, RAX, NOIMM },
    { M64, "lodsq", B(0x48, 0xad), O(LODS), 8, 8, 8, FROM, RAX, NOIMM },

    /* ---- 32-bit code */
    { M32, "mov eax, [ebx]", B(0x8b, 0x03), O(MOV), 4, 4, 4, FROM, RAX, NOIMM },
    { M32, "mov ax, [ebx]", B(0x66, 0x8b, 0x03), O(MOV), 2, 2, 4, FROM, RAX, NOIMM },
    { M32, "mov [ebx], ah", B(0x88, 0x23), O(MOV), 1, 1, 4, TO, HI(RAX), NOIMM },
    { M32, "mov [ebx], esp", B(0x89, 0x23), O(MOV), 4, 4, 4, TO, RSP, NOIMM },
    { M32, "mov eax, [ebp+0x10]", B(0x8b, 0x45, 0x10), O(MOV), 4, 4, 4, FROM, RAX, NOIMM },
    /* ModR/M disp32-only form; as prefers A1 here, objdump confirms 8b 05. */
    { M32, "mov eax, ds:0x12345678", B(0x8b, 0x05, 0x78, 0x56, 0x34, 0x12), O(MOV), 4, 4, 4, FROM, RAX, NOIMM },
    { M32, "mov eax, [esp+8]", B(0x8b, 0x44, 0x24, 0x08), O(MOV), 4, 4, 4, FROM, RAX, NOIMM },
    { M32, "mov eax, [esi*8+0xfee00000]", B(0x8b, 0x04, 0xf5, 0x00, 0x00, 0xe0, 0xfe), O(MOV), 4, 4, 4, FROM, RAX, NOIMM },
    { M32, "mov ax, [bx+si]", B(0x67, 0x66, 0x8b, 0x00), O(MOV), 2, 2, 2, FROM, RAX, NOIMM },
    { M32, "mov eax, [0xfee00020]", B(0xa1, 0x20, 0x00, 0xe0, 0xfe), O(MOV), 4, 4, 4, FROM, RAX, NOIMM },
    { M32, "mov [0xfee000b0], al", B(0xa2, 0xb0, 0x00, 0xe0, 0xfe), O(MOV), 1, 1, 4, TO, RAX, NOIMM },
    { M32, "addr16 mov eax, [0x1234]", B(0x67, 0xa1, 0x34, 0x12), O(MOV), 4, 4, 2, FROM, RAX, NOIMM },
    { M32, "mov dword ptr [ebx], 0x12345678", B(0xc7, 0x03, 0x78, 0x56, 0x34, 0x12), O(MOV), 4, 4, 4, TO, NOREG, IMM(0x12345678) },
    { M32, "mov word ptr [ebx], 0xbeef", B(0x66, 0xc7, 0x03, 0xef, 0xbe), O(MOV), 2, 2, 4, TO, NOREG, IMM(0xbeef) },
    { M32, "movzx eax, word ptr [ebx]", B(0x0f, 0xb7, 0x03), O(MOVZX), 4, 2, 4, FROM, RAX, NOIMM },
    { M32, "movsx ecx, byte ptr [ebx]", B(0x0f, 0xbe, 0x0b), O(MOVSX), 4, 1, 4, FROM, RCX, NOIMM },
    { M32, "or dword ptr [ebx], 0x100", B(0x81, 0x0b, 0x00, 0x01, 0x00, 0x00), O(OR), 4, 4, 4, TO, NOREG, IMM(0x100) },
    { M32, "and word ptr [ebx], -2", B(0x66, 0x83, 0x23, 0xfe), O(AND), 2, 2, 4, TO, NOREG, IMM(0xfffe) },
    { M32, "test byte ptr [ebx], 0x40", B(0xf6, 0x03, 0x40), O(TEST), 1, 1, 4, TO, NOREG, IMM(0x40) },
    { M32, "xchg [ebx], edx", B(0x87, 0x13), O(XCHG), 4, 4, 4, TO, RDX, NOIMM },
    { M32, "bts dword ptr [ebx], 31", B(0x0f, 0xba, 0x2b, 0x1f), O(BTS), 4, 4, 4, TO, NOREG, IMM(31) },
    { M32, "rep stosd", B(0xf3, 0xab), O(STOS), 4, 4, 4, TO, RAX, NOIMM },
    { M32, "rep movsw", B(0x66, 0xf3, 0xa5), O(MOVS), 2, 2, 4, TO, NOREG, NOIMM },
    { M32, "lodsd", B(0xad), O(LODS), 4, 4, 4, FROM, RAX, NOIMM },

    /* ---- 16-bit code (real mode) */
    { M16, "mov ax, [bx]", B(0x8b, 0x07), O(MOV), 2, 2, 2, FROM, RAX, NOIMM },
    { M16, "mov eax, [bx]", B(0x66, 0x8b, 0x07), O(MOV), 4, 4, 2, FROM, RAX, NOIMM },
    { M16, "mov ax, [bx+si]", B(0x8b, 0x00), O(MOV), 2, 2, 2, FROM, RAX, NOIMM },
    { M16, "mov ax, [bx+si+0x1234]", B(0x8b, 0x80, 0x34, 0x12), O(MOV), 2, 2, 2, FROM, RAX, NOIMM },
    /* ModR/M disp16-only form (mod=00 r/m=110); as prefers A1. */
    { M16, "mov ax, ds:0x1234", B(0x8b, 0x06, 0x34, 0x12), O(MOV), 2, 2, 2, FROM, RAX, NOIMM },
    { M16, "mov ax, [bp+0x10]", B(0x8b, 0x46, 0x10), O(MOV), 2, 2, 2, FROM, RAX, NOIMM },
    { M16, "mov ax, [bp]", B(0x8b, 0x46, 0x00), O(MOV), 2, 2, 2, FROM, RAX, NOIMM },
    { M16, "mov [di-2], dh", B(0x88, 0x75, 0xfe), O(MOV), 1, 1, 2, TO, HI(RDX), NOIMM },
    { M16, "mov ax, [ebx]", B(0x67, 0x8b, 0x03), O(MOV), 2, 2, 4, FROM, RAX, NOIMM },
    { M16, "mov ax, [eax+ecx*4]", B(0x67, 0x8b, 0x04, 0x88), O(MOV), 2, 2, 4, FROM, RAX, NOIMM },
    { M16, "mov al, [0x1234]", B(0xa0, 0x34, 0x12), O(MOV), 1, 1, 2, FROM, RAX, NOIMM },
    { M16, "mov [0x1234], ax", B(0xa3, 0x34, 0x12), O(MOV), 2, 2, 2, TO, RAX, NOIMM },
    { M16, "mov word ptr [bx], 0x1234", B(0xc7, 0x07, 0x34, 0x12), O(MOV), 2, 2, 2, TO, NOREG, IMM(0x1234) },
    { M16, "mov dword ptr [bx], 0x12345678", B(0x66, 0xc7, 0x07, 0x78, 0x56, 0x34, 0x12), O(MOV), 4, 4, 2, TO, NOREG, IMM(0x12345678) },
    { M16, "mov byte ptr [si+0x100], 0x55", B(0xc6, 0x84, 0x00, 0x01, 0x55), O(MOV), 1, 1, 2, TO, NOREG, IMM(0x55) },
    { M16, "movzx ax, byte ptr [bx]", B(0x0f, 0xb6, 0x07), O(MOVZX), 2, 1, 2, FROM, RAX, NOIMM },
    { M16, "add word ptr [bx], -1", B(0x83, 0x07, 0xff), O(ADD), 2, 2, 2, TO, NOREG, IMM(0xffff) },
    { M16, "cmp byte ptr [bx], 0x20", B(0x80, 0x3f, 0x20), O(CMP), 1, 1, 2, TO, NOREG, IMM(0x20) },
    { M16, "test ax, [bx]", B(0x85, 0x07), O(TEST), 2, 2, 2, TO, RAX, NOIMM },
    { M16, "rep movsb", B(0xf3, 0xa4), O(MOVS), 1, 1, 2, TO, NOREG, NOIMM },
    { M16, "rep stosw", B(0xf3, 0xab), O(STOS), 2, 2, 2, TO, RAX, NOIMM },
    { M16, "lodsb", B(0xac), O(LODS), 1, 1, 2, FROM, RAX, NOIMM },
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

static const char *mode_name(enum cpu_mode m)
{
    return m == M16 ? "16" : m == M32 ? "32" : "64";
}

static void check_row(const struct row *r)
{
    struct insn in;
    int rc = dec(r->mode, r->b, r->n, &in);
    int reg = !in.has_reg ? -1 : in.reg.high8 ? HI(in.reg.num) : in.reg.num;

    if (rc != 0) {
        TEST_FAIL("[%s] %s: rc %d (%s)", mode_name(r->mode), r->text, rc, insn_error_name(rc));
        return;
    }
    if (in.len != r->n || in.op != r->op || in.opsize != r->opsize || in.memsize != r->memsize ||
        in.addrsize != r->addrsize || in.mem_dst != r->mem_dst || reg != r->reg ||
        in.has_imm != r->has_imm || in.imm != r->imm || in.mode != r->mode)
        TEST_FAIL("[%s] %s: len %u op %d size %u/%u/%u dst %d reg %d imm %d/0x%llx", mode_name(r->mode),
                  r->text, in.len, in.op, in.opsize, in.memsize, in.addrsize, in.mem_dst, reg,
                  in.has_imm, (unsigned long long)in.imm);
    /* ModR/M forms have a memory operand; A0-A3 a moffs; strings neither. */
    bool string = r->op == O(MOVS) || r->op == O(STOS) || r->op == O(LODS);
    if (string && (in.has_mem || in.is_moffs || in.has_modrm))
        TEST_FAIL("%s: string form with a memory operand", r->text);
    if (!string && in.has_mem == in.is_moffs)
        TEST_FAIL("%s: has_mem %d is_moffs %d", r->text, in.has_mem, in.is_moffs);
}

TEST(decode_table)
{
    for (size_t i = 0; i < NROWS; i++)
        check_row(&rows[i]);
}

/* Every proper prefix of every table entry is truncated. */
TEST(decode_truncated_every_prefix)
{
    for (size_t i = 0; i < NROWS; i++) {
        for (size_t k = 0; k < rows[i].n; k++) {
            struct insn in;
            int rc = dec(rows[i].mode, rows[i].b, k, &in);
            if (rc != INSN_ERR_TRUNCATED)
                TEST_FAIL("%s cut to %zu bytes: rc %d", rows[i].text, k, rc);
        }
    }
}

/* Bytes after the instruction are not part of it. */
TEST(decode_ignores_trailing_bytes)
{
    for (size_t i = 0; i < NROWS; i++) {
        uint8_t buf[15 + 15];
        struct insn in;
        memcpy(buf, rows[i].b, rows[i].n);
        memset(buf + rows[i].n, 0x66, sizeof(buf) - rows[i].n);
        int rc = dec(rows[i].mode, buf, sizeof(buf), &in);
        if (rc != 0 || in.len != rows[i].n)
            TEST_FAIL("%s: rc %d len %u", rows[i].text, rc, in.len);
    }
}

/* --------------------------------------------------- decode details ---- */

TEST(decode_modrm_fields)
{
    struct insn in;

    /* 45 8b 43 10: mov r8d, [r11+0x10] */
    CHECK_EQ(DEC(M64, &in, 0x45, 0x8b, 0x43, 0x10), 0);
    CHECK_EQ(in.rex, 0x45);
    CHECK(in.has_modrm && in.has_mem && !in.has_sib && !in.rip_relative);
    CHECK_EQ(in.modrm, 0x43);
    CHECK_EQ(in.disp_size, 1);
    CHECK_EQ(in.disp, 0x10);
    CHECK_EQ(in.opcode, 0x8b);
    CHECK(!in.twobyte);

    /* RIP-relative: mod=00 r/m=101, disp32 */
    CHECK_EQ(DEC(M64, &in, 0x48, 0x8b, 0x15, 0xf0, 0xff, 0xff, 0xff), 0);
    CHECK(in.rip_relative);
    CHECK_EQ(in.disp_size, 4);
    CHECK_EQ(in.disp, -16);
    CHECK_EQ(in.len, 7);

    /* The same ModR/M in 32-bit code is an absolute disp32. */
    CHECK_EQ(DEC(M32, &in, 0x8b, 0x05, 0x78, 0x56, 0x34, 0x12), 0);
    CHECK(!in.rip_relative);
    CHECK_EQ(in.disp, 0x12345678);

    /* REX.B does not turn r/m=101 into a register base: [r13] needs mod=01
     * and 41 8b 05 is RIP-relative too. */
    CHECK_EQ(DEC(M64, &in, 0x41, 0x8b, 0x05, 0x00, 0x00, 0x00, 0x00), 0);
    CHECK(in.rip_relative);
    CHECK_EQ(in.len, 7);

    /* SIB with base=101 and mod=00: no base, disp32. REX.B=1 (base r13)
     * changes nothing. */
    CHECK_EQ(DEC(M64, &in, 0x8b, 0x04, 0x8d, 0x00, 0x10, 0x00, 0x00), 0);
    CHECK(in.has_sib);
    CHECK_EQ(in.sib, 0x8d);
    CHECK_EQ(in.disp_size, 4);
    CHECK_EQ(in.len, 7);
    CHECK_EQ(DEC(M64, &in, 0x41, 0x8b, 0x04, 0x8d, 0x00, 0x10, 0x00, 0x00), 0);
    CHECK_EQ(in.len, 8);
    /* SIB base=101 with mod=01: [rbp+index+disp8]. */
    CHECK_EQ(DEC(M64, &in, 0x8b, 0x44, 0x8d, 0x08), 0);
    CHECK_EQ(in.len, 4);
    CHECK_EQ(in.disp, 8);

    /* 16-bit addressing: mod=00 r/m=110 is disp16; disp8 sign-extends. */
    CHECK_EQ(DEC(M16, &in, 0x8b, 0x06, 0x34, 0x12), 0);
    CHECK_EQ(in.disp_size, 2);
    CHECK_EQ(in.disp, 0x1234);
    CHECK(!in.has_sib);
    CHECK_EQ(DEC(M16, &in, 0x88, 0x75, 0xfe), 0);
    CHECK_EQ(in.disp, -2);
    CHECK_EQ(DEC(M16, &in, 0x8b, 0x80, 0x00, 0x80), 0);
    CHECK_EQ(in.disp, -32768);
    /* r/m=100 in 16-bit addressing is [si], not a SIB. */
    CHECK_EQ(DEC(M16, &in, 0x8b, 0x04), 0);
    CHECK_EQ(in.len, 2);
    CHECK(!in.has_sib);

    /* Two-byte opcode. */
    CHECK_EQ(DEC(M64, &in, 0x0f, 0xb6, 0x03), 0);
    CHECK(in.twobyte);
    CHECK_EQ(in.opcode, 0xb6);
}

TEST(decode_moffs)
{
    struct insn in;

    CHECK_EQ(DEC(M64, &in, 0xa1, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11), 0);
    CHECK(in.is_moffs && !in.has_mem && !in.has_modrm);
    CHECK_EQ(in.moffs, 0x1122334455667788ull);
    CHECK_EQ(in.len, 9);
    CHECK_EQ(DEC(M64, &in, 0x67, 0xa1, 0x78, 0x56, 0x34, 0x12), 0);
    CHECK_EQ(in.moffs, 0x12345678);
    CHECK_EQ(in.len, 6);
    CHECK_EQ(DEC(M32, &in, 0xa1, 0x20, 0x00, 0xe0, 0xfe), 0);
    CHECK_EQ(in.moffs, 0xfee00020);
    CHECK_EQ(DEC(M16, &in, 0xa0, 0x34, 0x12), 0);
    CHECK_EQ(in.moffs, 0x1234);
    CHECK_EQ(in.len, 3);
    /* 66h changes the data size, not the offset size. */
    CHECK_EQ(DEC(M16, &in, 0x66, 0xa1, 0x34, 0x12), 0);
    CHECK_EQ(in.opsize, 4);
    CHECK_EQ(in.len, 4);
}

TEST(decode_prefixes)
{
    struct insn in;

    /* Defaults: no override, no rep, no lock. */
    CHECK_EQ(DEC(M64, &in, 0x8b, 0x03), 0);
    CHECK_EQ(in.seg, INSN_SEG_NONE);
    CHECK_EQ(in.rep, INSN_REP_NONE);
    CHECK(!in.lock && !in.opsize_prefix && !in.addrsize_prefix);
    CHECK_EQ(in.rex, 0);

    /* Each segment override. */
    static const uint8_t segs[6] = { 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65 };
    for (int i = 0; i < 6; i++) {
        uint8_t b[3] = { segs[i], 0xa4 };
        CHECK_EQ(dec(M64, b, 2, &in), 0);
        CHECK_EQ(in.seg, i);
        CHECK_EQ(in.len, 2);
    }
    /* The last of several overrides wins. */
    CHECK_EQ(DEC(M32, &in, 0x26, 0x64, 0xac), 0);
    CHECK_EQ(in.seg, INSN_SEG_FS);

    /* REP, REPNE, LOCK. */
    CHECK_EQ(DEC(M64, &in, 0xf3, 0xab), 0);
    CHECK_EQ(in.rep, INSN_REP_E);
    CHECK_EQ(DEC(M64, &in, 0xf2, 0xaa), 0);
    CHECK_EQ(in.rep, INSN_REP_NE);
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x09, 0x03), 0);
    CHECK(in.lock);
    CHECK_EQ(in.op, O(OR));
    CHECK_EQ(in.len, 3);
    /* Prefix order among legacy prefixes does not matter. */
    CHECK_EQ(DEC(M64, &in, 0x66, 0xf3, 0x64, 0x67, 0xa5), 0);
    CHECK_EQ(in.rep, INSN_REP_E);
    CHECK_EQ(in.seg, INSN_SEG_FS);
    CHECK_EQ(in.opsize, 2);
    CHECK_EQ(in.addrsize, 4);
    CHECK_EQ(in.len, 5);

    /* REX.W beats 66h. */
    CHECK_EQ(DEC(M64, &in, 0x66, 0x48, 0x89, 0x03), 0);
    CHECK_EQ(in.opsize, 8);
    /* A REX followed by a legacy prefix is ignored: 66h then applies. */
    CHECK_EQ(DEC(M64, &in, 0x48, 0x66, 0x89, 0x03), 0);
    CHECK_EQ(in.opsize, 2);
    CHECK_EQ(in.rex, 0);
    CHECK_EQ(in.len, 4);
    CHECK_EQ(DEC(M64, &in, 0x44, 0xf0, 0x09, 0x03), 0);
    CHECK_EQ(in.reg.num, RAX);
    /* ...and an ignored REX still makes 4-7 the high-byte registers. */
    CHECK_EQ(DEC(M64, &in, 0x40, 0x3e, 0x88, 0x23), 0);
    CHECK(in.reg.high8);
    CHECK_EQ(in.reg.num, RAX);
    /* Of two REX prefixes only the last counts. */
    CHECK_EQ(DEC(M64, &in, 0x44, 0x48, 0x8b, 0x03), 0);
    CHECK_EQ(in.rex, 0x48);
    CHECK_EQ(in.reg.num, RAX);
    CHECK_EQ(in.opsize, 8);
    /* An empty REX (40) only switches byte registers to SPL..DIL. */
    CHECK_EQ(DEC(M64, &in, 0x40, 0x8b, 0x03), 0);
    CHECK_EQ(in.opsize, 4);

    /* 66h and REX.W do not change a byte operation. */
    CHECK_EQ(DEC(M64, &in, 0x66, 0x48, 0x88, 0x03), 0);
    CHECK_EQ(in.opsize, 1);

    /* 67h in each mode. */
    CHECK_EQ(DEC(M16, &in, 0x67, 0xac), 0);
    CHECK_EQ(in.addrsize, 4);
    CHECK_EQ(DEC(M32, &in, 0x67, 0xac), 0);
    CHECK_EQ(in.addrsize, 2);
    CHECK_EQ(DEC(M64, &in, 0x67, 0xac), 0);
    CHECK_EQ(in.addrsize, 4);

    /* 40-4F are not REX outside 64-bit mode (they are INC/DEC). */
    CHECK_EQ(DEC(M32, &in, 0x48, 0x8b, 0x03), INSN_ERR_UNSUPPORTED);
    CHECK_EQ(DEC(M16, &in, 0x40, 0x8b, 0x03), INSN_ERR_UNSUPPORTED);
    /* A REX alone is truncated, not an instruction. */
    CHECK_EQ(DEC(M64, &in, 0x48), INSN_ERR_TRUNCATED);
}

TEST(decode_immediates)
{
    struct insn in;

    CHECK_EQ(DEC(M64, &in, 0x83, 0x23, 0xf0), 0); /* and dword [rbx], -16 */
    CHECK_EQ(in.imm, 0xfffffff0);
    CHECK_EQ(in.imm_size, 1);
    CHECK_EQ(DEC(M64, &in, 0x48, 0xc7, 0x03, 0x00, 0x00, 0x00, 0x80), 0);
    CHECK_EQ(in.imm, 0xffffffff80000000ull);
    CHECK_EQ(in.imm_size, 4);
    CHECK_EQ(DEC(M64, &in, 0x66, 0xc7, 0x03, 0x34, 0x12), 0);
    CHECK_EQ(in.imm_size, 2);
    CHECK_EQ(in.len, 5);
    /* BT's imm8 is an unsigned bit offset. */
    CHECK_EQ(DEC(M64, &in, 0x0f, 0xba, 0x2b, 0xff), 0);
    CHECK_EQ(in.imm, 0xff);
    /* 16-bit mode: iz is 2 bytes; 66h makes it 4. */
    CHECK_EQ(DEC(M16, &in, 0x81, 0x07, 0x34, 0x12), 0);
    CHECK_EQ(in.len, 4);
    CHECK_EQ(DEC(M16, &in, 0x66, 0x81, 0x07, 0x78, 0x56, 0x34, 0x12), 0);
    CHECK_EQ(in.len, 7);
    /* disp and imm together: C7 with RIP-relative disp32. */
    CHECK_EQ(DEC(M64, &in, 0xc7, 0x05, 0x00, 0x01, 0x00, 0x00, 0x44, 0x33, 0x22, 0x11), 0);
    CHECK_EQ(in.len, 10);
    CHECK_EQ(in.disp, 0x100);
    CHECK_EQ(in.imm, 0x11223344);
}

TEST(decode_unsupported)
{
    struct insn in;

    CHECK_EQ(DEC(M64, &in, 0x0f, 0x0b), INSN_ERR_UNSUPPORTED);         /* ud2 */
    CHECK_EQ(DEC(M64, &in, 0xff, 0x13), INSN_ERR_UNSUPPORTED);         /* call [rbx] */
    CHECK_EQ(DEC(M64, &in, 0xff, 0xd0), INSN_ERR_UNSUPPORTED);         /* call rax */
    CHECK_EQ(DEC(M64, &in, 0x90), INSN_ERR_UNSUPPORTED);               /* nop */
    CHECK_EQ(DEC(M64, &in, 0x11, 0x03), INSN_ERR_UNSUPPORTED);         /* adc [rbx], eax */
    CHECK_EQ(DEC(M64, &in, 0x83, 0x13, 0x01), INSN_ERR_UNSUPPORTED);   /* adc dword [rbx], 1 */
    CHECK_EQ(DEC(M64, &in, 0x83, 0x1b, 0x01), INSN_ERR_UNSUPPORTED);   /* sbb dword [rbx], 1 */
    CHECK_EQ(DEC(M64, &in, 0xf7, 0x13), INSN_ERR_UNSUPPORTED);         /* not dword [rbx] */
    CHECK_EQ(DEC(M64, &in, 0xf6, 0x1b), INSN_ERR_UNSUPPORTED);         /* neg byte [rbx] */
    CHECK_EQ(DEC(M64, &in, 0xc6, 0x0b, 0x00), INSN_ERR_UNSUPPORTED);   /* c6 /1 */
    CHECK_EQ(DEC(M64, &in, 0x05, 0x01, 0x00, 0x00, 0x00), INSN_ERR_UNSUPPORTED); /* add eax, imm */
    CHECK_EQ(DEC(M64, &in, 0xa6), INSN_ERR_UNSUPPORTED);               /* cmpsb */
    CHECK_EQ(DEC(M64, &in, 0xae), INSN_ERR_UNSUPPORTED);               /* scasb */
    CHECK_EQ(DEC(M64, &in, 0x0f, 0xb1, 0x0b), INSN_ERR_UNSUPPORTED);   /* cmpxchg */
    CHECK_EQ(DEC(M64, &in, 0x82, 0x03, 0x01), INSN_ERR_UNSUPPORTED);
    CHECK_EQ(DEC(M32, &in, 0x63, 0x03), INSN_ERR_UNSUPPORTED);         /* arpl */
    CHECK_EQ(DEC(M16, &in, 0x63, 0x07), INSN_ERR_UNSUPPORTED);
    CHECK_EQ(DEC(M64, &in, 0x0f), INSN_ERR_TRUNCATED);
}

TEST(decode_invalid)
{
    struct insn in;

    /* LOCK on forms that are not read-modify-write: #UD. */
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x89, 0x03), INSN_ERR_INVALID);       /* lock mov */
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x8b, 0x03), INSN_ERR_INVALID);
    CHECK_EQ(DEC(M64, &in, 0xf0, 0xc7, 0x03, 1, 0, 0, 0), INSN_ERR_INVALID);
    CHECK_EQ(DEC(M64, &in, 0xf0, 0xa1, 0, 0, 0, 0, 0, 0, 0, 0), INSN_ERR_INVALID);
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x0f, 0xb6, 0x03), INSN_ERR_INVALID); /* lock movzx */
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x39, 0x03), INSN_ERR_INVALID);       /* lock cmp */
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x83, 0x3b, 0x01), INSN_ERR_INVALID);
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x85, 0x03), INSN_ERR_INVALID);       /* lock test */
    CHECK_EQ(DEC(M64, &in, 0xf0, 0xf7, 0x03, 1, 0, 0, 0), INSN_ERR_INVALID);
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x0b, 0x03), INSN_ERR_INVALID);       /* lock or r, r/m */
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x0f, 0xa3, 0x03), INSN_ERR_INVALID); /* lock bt */
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x0f, 0xba, 0x23, 1), INSN_ERR_INVALID);
    CHECK_EQ(DEC(M64, &in, 0xf0, 0xa4), INSN_ERR_INVALID);             /* lock movsb */
    CHECK_EQ(DEC(M64, &in, 0xf0, 0xf3, 0xab), INSN_ERR_INVALID);
    /* ...and allowed on the lockable ones. */
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x01, 0x03), 0);
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x29, 0x03), 0);
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x31, 0x03), 0);
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x20, 0x03), 0);
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x83, 0x23, 0xf0), 0);
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x80, 0x0b, 0x01), 0);
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x87, 0x03), 0);
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x0f, 0xab, 0x03), 0);
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x0f, 0xb3, 0x03), 0);
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x0f, 0xbb, 0x03), 0);
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x0f, 0xba, 0x2b, 1), 0);
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x0f, 0xba, 0x33, 1), 0);
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x0f, 0xba, 0x3b, 1), 0);

    /* Register-direct ModR/M: no memory operand to emulate. */
    CHECK_EQ(DEC(M64, &in, 0x8b, 0xc3), INSN_ERR_INVALID);       /* mov eax, ebx */
    CHECK_EQ(DEC(M64, &in, 0x01, 0xd8), INSN_ERR_INVALID);       /* add eax, ebx */
    CHECK_EQ(DEC(M64, &in, 0xc7, 0xc0, 1, 0, 0, 0), INSN_ERR_INVALID);
    CHECK_EQ(DEC(M64, &in, 0x0f, 0xb6, 0xc3), INSN_ERR_INVALID); /* movzx eax, bl */
    CHECK_EQ(DEC(M64, &in, 0xf0, 0x01, 0xd8), INSN_ERR_INVALID); /* lock add eax, ebx */
    CHECK_EQ(DEC(M16, &in, 0x8b, 0xc7), INSN_ERR_INVALID);
    /* 0F BA /0-/3 are reserved. */
    CHECK_EQ(DEC(M64, &in, 0x0f, 0xba, 0x03, 0x01), INSN_ERR_INVALID);
    CHECK_EQ(DEC(M64, &in, 0x0f, 0xba, 0x1b, 0x01), INSN_ERR_INVALID);
}

TEST(decode_length_limit)
{
    struct insn in;
    uint8_t b[32];

    /* 13 prefixes + 8b 03 = 15 bytes: fine. */
    memset(b, 0x66, sizeof(b));
    b[13] = 0x8b;
    b[14] = 0x03;
    CHECK_EQ(dec(M64, b, 15, &in), 0);
    CHECK_EQ(in.len, 15);
    CHECK_EQ(in.opsize, 2);
    /* 14 prefixes + 8b 03 = 16 bytes. */
    memset(b, 0x66, sizeof(b));
    b[14] = 0x8b;
    b[15] = 0x03;
    CHECK_EQ(dec(M64, b, 16, &in), INSN_ERR_TOO_LONG);
    CHECK_EQ(dec(M64, b, 32, &in), INSN_ERR_TOO_LONG);
    /* 16 prefixes, then the opcode. */
    memset(b, 0x66, sizeof(b));
    b[16] = 0x8b;
    b[17] = 0x03;
    CHECK_EQ(dec(M64, b, 18, &in), INSN_ERR_TOO_LONG);
    CHECK_EQ(dec(M32, b, 18, &in), INSN_ERR_TOO_LONG);
    CHECK_EQ(dec(M16, b, 18, &in), INSN_ERR_TOO_LONG);
    /* Fewer bytes than 15 available: we cannot tell, so truncated. */
    CHECK_EQ(dec(M64, b, 10, &in), INSN_ERR_TRUNCATED);
    /* A 15-byte prefix run with a long tail: 8 prefixes + c7 05 disp32
     * imm32 = 18 bytes. */
    memset(b, 0x3e, sizeof(b));
    memcpy(b + 8, (uint8_t[]){ 0xc7, 0x05, 0, 0, 0, 0, 1, 2, 3, 4 }, 10);
    CHECK_EQ(dec(M64, b, 18, &in), INSN_ERR_TOO_LONG);
    /* 5 prefixes: exactly 15. */
    CHECK_EQ(dec(M64, b + 3, 15, &in), 0);
    CHECK_EQ(in.len, 15);
    /* REX prefixes count too. */
    memset(b, 0x48, sizeof(b));
    b[15] = 0x8b;
    b[16] = 0x03;
    CHECK_EQ(dec(M64, b, 17, &in), INSN_ERR_TOO_LONG);
}

TEST(decode_bad_args)
{
    struct insn in;
    uint8_t b[2] = { 0x8b, 0x03 };

    CHECK_EQ(decode_insn(b, 2, M64, NULL), INSN_ERR_ARG);
    CHECK_EQ(decode_insn(NULL, 2, M64, &in), INSN_ERR_ARG);
    CHECK_EQ(decode_insn(b, 2, (enum cpu_mode)0, &in), INSN_ERR_ARG);
    CHECK_EQ(decode_insn(b, 2, (enum cpu_mode)7, &in), INSN_ERR_ARG);
    CHECK_EQ(decode_insn(NULL, 0, M64, &in), INSN_ERR_TRUNCATED);
    CHECK_EQ(decode_insn(b, 0, M64, &in), INSN_ERR_TRUNCATED);
}

TEST(cpu_mode_helper)
{
    /* (cr0_pe, rflags_vm, efer_lma, cs_l, cs_d) */
    CHECK_EQ(insn_cpu_mode(false, false, false, false, false), M16);
    CHECK_EQ(insn_cpu_mode(true, false, false, false, false), M16);
    CHECK_EQ(insn_cpu_mode(true, false, false, false, true), M32);
    CHECK_EQ(insn_cpu_mode(true, true, false, false, true), M16);
    CHECK_EQ(insn_cpu_mode(true, false, true, false, true), M32); /* compatibility mode */
    CHECK_EQ(insn_cpu_mode(true, false, true, false, false), M16);
    CHECK_EQ(insn_cpu_mode(true, false, true, true, false), M64);
    CHECK_EQ(insn_cpu_mode(true, false, false, true, true), M32); /* CS.L ignored without LMA */
}

/* ----------------------------------------------------- fake platform ---- */

#define MMIO_GPA 0xfebf0000ull
#define MEM_GVA 0x10000ull

/* An MMIO window and a window of ordinary guest memory. Accesses outside
 * either fail, so a wrong address shows as an error. */
struct fake {
    uint8_t mmio[64];
    uint8_t mem[256];
    int mmio_reads, mmio_writes, mem_reads, mem_writes;
    uint64_t last_gva;
    unsigned last_size;
    int fail; /* when nonzero, every callback returns it */
};

static uint64_t get_le(const uint8_t *p, unsigned size)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put_le(uint8_t *p, unsigned size, uint64_t v)
{
    for (unsigned i = 0; i < size; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static int f_mmio_read(void *ctx, uint64_t gpa, unsigned size, uint64_t *val)
{
    struct fake *f = ctx;
    if (f->fail)
        return f->fail;
    if (gpa < MMIO_GPA || gpa + size > MMIO_GPA + sizeof(f->mmio) || (size != 1 && size != 2 && size != 4 && size != 8))
        return -100;
    f->mmio_reads++;
    f->last_size = size;
    *val = get_le(f->mmio + (gpa - MMIO_GPA), size);
    return 0;
}

static int f_mmio_write(void *ctx, uint64_t gpa, unsigned size, uint64_t val)
{
    struct fake *f = ctx;
    if (f->fail)
        return f->fail;
    if (gpa < MMIO_GPA || gpa + size > MMIO_GPA + sizeof(f->mmio) || (size != 1 && size != 2 && size != 4 && size != 8))
        return -100;
    if (size < 8 && (val >> (size * 8)))
        return -101; /* value wider than the access */
    f->mmio_writes++;
    f->last_size = size;
    put_le(f->mmio + (gpa - MMIO_GPA), size, val);
    return 0;
}

static int f_mem_read(void *ctx, uint64_t gva, unsigned size, uint64_t *val)
{
    struct fake *f = ctx;
    if (f->fail)
        return f->fail;
    if (gva < MEM_GVA || gva + size > MEM_GVA + sizeof(f->mem))
        return -102;
    f->mem_reads++;
    f->last_gva = gva;
    *val = get_le(f->mem + (gva - MEM_GVA), size);
    return 0;
}

static int f_mem_write(void *ctx, uint64_t gva, unsigned size, uint64_t val)
{
    struct fake *f = ctx;
    if (f->fail)
        return f->fail;
    if (gva < MEM_GVA || gva + size > MEM_GVA + sizeof(f->mem))
        return -102;
    if (size < 8 && (val >> (size * 8)))
        return -101;
    f->mem_writes++;
    f->last_gva = gva;
    put_le(f->mem + (gva - MEM_GVA), size, val);
    return 0;
}

static const struct insn_mem_ops fake_ops = { f_mmio_read, f_mmio_write, f_mem_read, f_mem_write };

static int run(enum cpu_mode mode, const uint8_t *b, size_t n, struct insn_regs *r, uint64_t gpa,
               bool is_write, struct fake *f)
{
    struct insn in;
    int rc = dec(mode, b, n, &in);
    if (rc)
        return rc;
    return insn_emulate(&in, r, gpa, is_write, &fake_ops, f);
}

/* RUN(mode, &regs, gpa, is_write, &fake, bytes...) */
#define RUN(mode, r, gpa, w, f, ...) run(mode, BYTES(__VA_ARGS__), r, gpa, w, f)

static void regs_init(struct insn_regs *r)
{
    memset(r, 0, sizeof(*r));
    for (int i = 0; i < 16; i++)
        r->gpr[i] = 0x1111111111111111ull * (uint64_t)(i + 1);
    r->rflags = 0x2;
    r->rip = 0x400000;
}

/* ------------------------------------------------------ executor: moves ---- */

TEST(emulate_mov_load_sizes)
{
    struct insn_regs r;
    struct fake f = { 0 };
    put_le(f.mmio, 8, 0x8877665544332211ull);

    regs_init(&r);
    r.gpr[RAX] = ~0ull;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0x8b, 0x03), 0); /* mov eax, [rbx] */
    CHECK_EQ(r.gpr[RAX], 0x44332211);                            /* zero-extended */
    CHECK_EQ(r.rip, 0x400002);
    CHECK_EQ(f.mmio_reads, 1);
    CHECK_EQ(f.last_size, 4);
    CHECK_EQ(f.mmio_writes, 0);

    r.gpr[RAX] = ~0ull;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0x48, 0x8b, 0x03), 0);
    CHECK_EQ(r.gpr[RAX], 0x8877665544332211ull);
    CHECK_EQ(f.last_size, 8);

    r.gpr[RAX] = ~0ull;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0x66, 0x8b, 0x03), 0); /* 16-bit keeps the rest */
    CHECK_EQ(r.gpr[RAX], 0xffffffffffff2211ull);

    r.gpr[RAX] = ~0ull;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0x8a, 0x03), 0); /* mov al */
    CHECK_EQ(r.gpr[RAX], 0xffffffffffffff11ull);

    r.gpr[RAX] = ~0ull;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA + 1, false, &f, 0x8a, 0x23), 0); /* mov ah, [rbx] */
    CHECK_EQ(r.gpr[RAX], 0xffffffffffff22ffull);

    r.gpr[RBX] = 0;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA + 2, false, &f, 0x8a, 0x3b), 0); /* mov bh, [rbx] */
    CHECK_EQ(r.gpr[RBX], 0x3300);

    r.gpr[RDI] = ~0ull;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA + 3, false, &f, 0x40, 0x8a, 0x3b), 0); /* mov dil */
    CHECK_EQ(r.gpr[RDI], 0xffffffffffffff44ull);

    r.gpr[R8] = ~0ull;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0x45, 0x8b, 0x43, 0x10), 0); /* mov r8d */
    CHECK_EQ(r.gpr[R8], 0x44332211);
    CHECK_EQ(r.rip, 0x400000 + 2 + 3 + 3 + 2 + 2 + 2 + 3 + 4);

    /* 32-bit code: a 32-bit load zero-extends there too (see reg_set). */
    r.gpr[RCX] = ~0ull;
    CHECK_EQ(RUN(M32, &r, MMIO_GPA, false, &f, 0x8b, 0x0b), 0);
    CHECK_EQ(r.gpr[RCX], 0x44332211);

    /* 16-bit code: mov ax, [bx]. */
    r.gpr[RAX] = 0xabcd0000;
    CHECK_EQ(RUN(M16, &r, MMIO_GPA, false, &f, 0x8b, 0x07), 0);
    CHECK_EQ(r.gpr[RAX], 0xabcd2211);
    /* mov eax, [bx] with 66h in 16-bit code. */
    CHECK_EQ(RUN(M16, &r, MMIO_GPA, false, &f, 0x66, 0x8b, 0x07), 0);
    CHECK_EQ(r.gpr[RAX], 0x44332211);
}

TEST(emulate_mov_store)
{
    struct insn_regs r;
    struct fake f = { 0 };

    regs_init(&r);
    r.gpr[RAX] = 0x1122334455667788ull;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0x89, 0x03), 0); /* mov [rbx], eax */
    CHECK_EQ(get_le(f.mmio, 8), 0x55667788);
    CHECK_EQ(f.last_size, 4);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA + 8, true, &f, 0x48, 0x89, 0x03), 0);
    CHECK_EQ(get_le(f.mmio + 8, 8), 0x1122334455667788ull);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA + 16, true, &f, 0x66, 0x89, 0x03), 0);
    CHECK_EQ(get_le(f.mmio + 16, 4), 0x7788);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA + 20, true, &f, 0x88, 0x23), 0); /* mov [rbx], ah */
    CHECK_EQ(f.mmio[20], 0x77);
    CHECK_EQ(f.last_size, 1);
    r.gpr[RSP] = 0x5a;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA + 21, true, &f, 0x40, 0x88, 0x23), 0); /* mov [rbx], spl */
    CHECK_EQ(f.mmio[21], 0x5a);
    CHECK_EQ(f.mmio_reads, 0);
    CHECK_EQ(r.gpr[RAX], 0x1122334455667788ull); /* sources untouched */

    /* Immediates. */
    CHECK_EQ(RUN(M64, &r, MMIO_GPA + 24, true, &f, 0xc7, 0x03, 0x78, 0x56, 0x34, 0x12), 0);
    CHECK_EQ(get_le(f.mmio + 24, 8), 0x12345678);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA + 32, true, &f, 0x48, 0xc7, 0x03, 0xfe, 0xff, 0xff, 0xff), 0);
    CHECK_EQ(get_le(f.mmio + 32, 8), 0xfffffffffffffffeull);
    CHECK_EQ(f.last_size, 8);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA + 40, true, &f, 0xc6, 0x03, 0x80), 0);
    CHECK_EQ(f.mmio[40], 0x80);
    CHECK_EQ(f.mmio[41], 0);
    CHECK_EQ(RUN(M16, &r, MMIO_GPA + 44, true, &f, 0xc7, 0x07, 0x34, 0x12), 0);
    CHECK_EQ(get_le(f.mmio + 44, 4), 0x1234);
    CHECK_EQ(f.last_size, 2);
}

TEST(emulate_moffs)
{
    struct insn_regs r;
    struct fake f = { 0 };
    put_le(f.mmio, 8, 0xcafef00ddeadbeefull);

    regs_init(&r);
    r.gpr[RAX] = ~0ull;
    /* The hypervisor uses the exit's GPA, not the encoded offset. */
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0xa1, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11), 0);
    CHECK_EQ(r.gpr[RAX], 0xdeadbeef);
    CHECK_EQ(r.rip, 0x400009);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0xa0, 0, 0, 0, 0, 0, 0, 0, 0), 0);
    CHECK_EQ(r.gpr[RAX], (0xdeadbeef & ~0xffull) | 0xef);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA + 8, true, &f, 0x48, 0xa3, 0, 0, 0, 0, 0, 0, 0, 0), 0);
    CHECK_EQ(get_le(f.mmio + 8, 8), 0xdeadbeef);
    CHECK_EQ(RUN(M32, &r, MMIO_GPA + 16, true, &f, 0xa2, 0xb0, 0x00, 0xe0, 0xfe), 0);
    CHECK_EQ(f.mmio[16], 0xef);
    CHECK_EQ(f.last_size, 1);
}

TEST(emulate_movzx_movsx)
{
    struct insn_regs r;
    struct fake f = { 0 };
    put_le(f.mmio, 8, 0x80000000ff80ull);

    regs_init(&r);
    r.gpr[RAX] = ~0ull;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0x0f, 0xb6, 0x03), 0); /* movzx eax, byte */
    CHECK_EQ(r.gpr[RAX], 0x80);
    CHECK_EQ(f.last_size, 1);
    r.gpr[RAX] = ~0ull;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0x0f, 0xb7, 0x03), 0); /* movzx eax, word */
    CHECK_EQ(r.gpr[RAX], 0xff80);
    CHECK_EQ(f.last_size, 2);
    r.gpr[RAX] = ~0ull;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0x66, 0x0f, 0xb6, 0x03), 0); /* movzx ax, byte */
    CHECK_EQ(r.gpr[RAX], 0xffffffffffff0080ull);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0x48, 0x0f, 0xb6, 0x03), 0);
    CHECK_EQ(r.gpr[RAX], 0x80);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0x0f, 0xbe, 0x03), 0); /* movsx eax, byte */
    CHECK_EQ(r.gpr[RAX], 0xffffff80);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0x48, 0x0f, 0xbe, 0x03), 0);
    CHECK_EQ(r.gpr[RAX], 0xffffffffffffff80ull);
    r.gpr[RAX] = 0x1234567800000000ull;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0x66, 0x0f, 0xbe, 0x03), 0); /* movsx ax, byte */
    CHECK_EQ(r.gpr[RAX], 0x123456780000ff80ull);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0x48, 0x0f, 0xbf, 0x0b), 0); /* movsx rcx, word */
    CHECK_EQ(r.gpr[RCX], 0xffffffffffffff80ull);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA + 2, false, &f, 0x48, 0x63, 0x03), 0); /* movsxd rax */
    CHECK_EQ(r.gpr[RAX], 0xffffffff80000000ull);
    CHECK_EQ(f.last_size, 4);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA + 2, false, &f, 0x63, 0x03), 0);      /* movsxd eax */
    CHECK_EQ(r.gpr[RAX], 0x80000000);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA + 3, false, &f, 0x0f, 0xbe, 0x03), 0); /* 0x00 */
    CHECK_EQ(r.gpr[RAX], 0);
    r.gpr[RAX] = 0xffffffff;
    CHECK_EQ(RUN(M16, &r, MMIO_GPA, false, &f, 0x0f, 0xbe, 0x07), 0); /* movsx ax, byte [bx] */
    CHECK_EQ(r.gpr[RAX], 0xffffff80);
    CHECK_EQ(f.mmio_writes, 0);
}

TEST(emulate_xchg)
{
    struct insn_regs r;
    struct fake f = { 0 };
    put_le(f.mmio, 8, 0x1122334455667788ull);

    regs_init(&r);
    r.gpr[RAX] = 0xaaaaaaaabbbbbbbbull;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0x87, 0x03), 0); /* xchg [rbx], eax */
    CHECK_EQ(r.gpr[RAX], 0x55667788);
    CHECK_EQ(get_le(f.mmio, 8), 0x11223344bbbbbbbbull);
    CHECK_EQ(f.mmio_reads, 1);
    CHECK_EQ(f.mmio_writes, 1);
    r.gpr[RAX] = 0x0000000000001200ull;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0x86, 0x23), 0); /* xchg [rbx], ah */
    CHECK_EQ(r.gpr[RAX], 0xbb00);
    CHECK_EQ(f.mmio[0], 0x12);
    r.gpr[R14] = 0xffffffffffff5678ull;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0x66, 0x44, 0x87, 0x33), 0); /* xchg [rbx], r14w */
    CHECK_EQ(r.gpr[R14], 0xffffffffffffbb12ull);
    CHECK_EQ(get_le(f.mmio, 2), 0x5678);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0xf0, 0x48, 0x87, 0x03), 0); /* lock xchg [rbx], rax */
    CHECK_EQ(get_le(f.mmio, 8), 0xbb00);
    CHECK_EQ(r.gpr[RAX], 0x11223344bbbb5678ull);
}

TEST(emulate_bt)
{
    struct insn_regs r;
    struct fake f = { 0 };

    regs_init(&r);
    r.rflags = 0x2 | CF | ZF;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0x0f, 0xba, 0x2b, 0x05), 0); /* bts dword [rbx], 5 */
    CHECK_EQ(get_le(f.mmio, 4), 0x20);
    CHECK_EQ(r.rflags, 0x2 | ZF); /* CF = old bit (0); ZF untouched */
    CHECK_EQ(r.rip, 0x400004);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0x0f, 0xba, 0x2b, 0x05), 0);
    CHECK_EQ(get_le(f.mmio, 4), 0x20);
    CHECK(r.rflags & CF);
    CHECK_EQ(f.mmio_writes, 2);
    /* bt does not write */
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0x0f, 0xba, 0x23, 0x04), 0);
    CHECK(!(r.rflags & CF));
    CHECK_EQ(f.mmio_writes, 2);
    /* imm8 offset is modulo the operand width: 37 mod 32 = 5 */
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0x0f, 0xba, 0x23, 37), 0);
    CHECK(r.rflags & CF);
    /* btr / btc */
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0x0f, 0xba, 0x33, 0x05), 0);
    CHECK_EQ(get_le(f.mmio, 4), 0);
    CHECK(r.rflags & CF);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0x48, 0x0f, 0xba, 0x3b, 63), 0); /* btc qword, 63 */
    CHECK_EQ(get_le(f.mmio, 8), 0x8000000000000000ull);
    CHECK(!(r.rflags & CF));
    CHECK_EQ(f.last_size, 8);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0x48, 0x0f, 0xba, 0x3b, 63), 0);
    CHECK_EQ(get_le(f.mmio, 8), 0);
    CHECK(r.rflags & CF);
    /* register offsets */
    r.gpr[RCX] = 3;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0x0f, 0xab, 0x0b), 0); /* bts [rbx], ecx */
    CHECK_EQ(get_le(f.mmio, 4), 8);
    CHECK(!(r.rflags & CF));
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0x0f, 0xa3, 0x0b), 0); /* bt [rbx], ecx */
    CHECK(r.rflags & CF);
    r.gpr[RDX] = 3;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0x48, 0x0f, 0xb3, 0x13), 0); /* btr [rbx], rdx */
    CHECK_EQ(get_le(f.mmio, 8), 0);
    CHECK(r.rflags & CF);
    r.gpr[R8] = 15;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0x66, 0x44, 0x0f, 0xbb, 0x03), 0); /* btc [rbx], r8w */
    CHECK_EQ(get_le(f.mmio, 4), 0x8000);
    CHECK_EQ(f.last_size, 2);
    /* A negative register offset selects the bit within its unit (-1 ->
     * bit 31 of the dword below, which the exit GPA would point at). */
    r.gpr[RCX] = 0xffffffff;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA + 4, true, &f, 0x0f, 0xab, 0x0b), 0);
    CHECK_EQ(get_le(f.mmio + 4, 4), 0x80000000);
    /* Flags other than CF are left alone. */
    r.rflags = 0x2 | OF | SF | ZF | AF | PF;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA + 4, false, &f, 0x0f, 0xba, 0x23, 31), 0);
    CHECK_EQ(r.rflags, 0x2 | OF | SF | ZF | AF | PF | CF);
}

/* ------------------------------------------------ executor: arithmetic ---- */

/* Run `op` natively on the host with flags `fi` on entry; return the
 * result and the flags after. The stack pointer is moved below the red
 * zone before pushing. */
#define HOST_OP(mn, m)                                                                    \
    __asm__ volatile("lea -128(%%rsp), %%rsp\n\t"                                         \
                     "push %[fi]\n\t"                                                     \
                     "popfq\n\t" mn " %" m "[b], %" m "[a]\n\t"                           \
                     "pushfq\n\t"                                                         \
                     "pop %[fo]\n\t"                                                      \
                     "lea 128(%%rsp), %%rsp"                                              \
                     : [a] "+&r"(a), [fo] "=&r"(fo)                                        \
                     : [b] "r"(b), [fi] "r"(fi)                                            \
                     : "cc", "memory")

#define HOST_SIZES(mn)                                                                    \
    switch (size) {                                                                       \
    case 1: HOST_OP(mn, "b"); break;                                                      \
    case 2: HOST_OP(mn, "w"); break;                                                      \
    case 4: HOST_OP(mn, "k"); break;                                                      \
    default: HOST_OP(mn, "q"); break;                                                     \
    }

/* AT&T "op b, a" computes a op b (cmp: a - b). */
static uint64_t host_alu(enum insn_op op, unsigned size, uint64_t a, uint64_t b, uint64_t fi,
                         uint64_t *flags)
{
    uint64_t fo = 0;
    switch (op) {
    case O(ADD): HOST_SIZES("add"); break;
    case O(OR): HOST_SIZES("or"); break;
    case O(AND): HOST_SIZES("and"); break;
    case O(SUB): HOST_SIZES("sub"); break;
    case O(XOR): HOST_SIZES("xor"); break;
    case O(CMP): HOST_SIZES("cmp"); break;
    default: HOST_SIZES("test"); break;
    }
    *flags = fo;
    return a & mask(size);
}

static uint64_t host_rflags(void)
{
    uint64_t f;
    __asm__ volatile("lea -128(%%rsp), %%rsp\n\tpushfq\n\tpop %0\n\tlea 128(%%rsp), %%rsp"
                     : "=r"(f) : : "memory");
    return f;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

/* Operands biased towards carry, overflow and sign boundaries. */
static uint64_t interesting(unsigned size)
{
    static const uint64_t edges[] = { 0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
                                      0x7fffffff, 0x80000000, 0xffffffff, 0x0f, 0x10, 0xf0,
                                      0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull };
    uint64_t r = rnd();
    switch (r & 3) {
    case 0: return edges[(r >> 8) % (sizeof(edges) / sizeof(edges[0]))] & mask(size);
    case 1: return (edges[(r >> 8) % (sizeof(edges) / sizeof(edges[0]))] + ((r >> 40) & 3) - 1) & mask(size);
    default: return rnd() & mask(size);
    }
}

static const enum insn_op alu_list[] = { O(ADD), O(OR), O(AND), O(SUB), O(XOR), O(CMP) };
static const uint8_t alu_base[] = { 0x00, 0x08, 0x20, 0x28, 0x30, 0x38 };
static const uint8_t alu_digit[] = { 0, 1, 4, 5, 6, 7 };

static bool is_logic(enum insn_op op)
{
    return op == O(AND) || op == O(OR) || op == O(XOR) || op == O(TEST);
}

/* Emulate one encoded ALU form and compare result and flags with the host.
 * mem_dst: memory is the first operand; imm: the source is that
 * immediate (already extended), else RCX. */
static void alu_case(const uint8_t *b, size_t n, enum insn_op op, unsigned size, bool mem_dst,
                     bool has_imm, uint64_t imm, uint64_t memval, uint64_t regval, uint64_t fi)
{
    struct insn_regs r;
    struct fake f = { 0 };
    uint64_t hflags, hres, src = has_imm ? imm : regval & mask(size);
    bool writes = op != O(CMP) && op != O(TEST);

    regs_init(&r);
    r.gpr[RCX] = regval;
    r.rflags = fi;
    put_le(f.mmio, 8, memval);
    int rc = run(M64, b, n, &r, MMIO_GPA, writes && mem_dst, &f);
    if (rc) {
        TEST_FAIL("op %d size %u: rc %d", op, size, rc);
        return;
    }
    if (mem_dst)
        hres = host_alu(op, size, memval & mask(size), src, fi, &hflags);
    else
        hres = host_alu(op, size, regval & mask(size), memval & mask(size), fi, &hflags);

    uint64_t fmask = is_logic(op) ? ~AF : ~0ull;
    if ((r.rflags & fmask) != (hflags & fmask))
        TEST_FAIL("op %d size %u %s a=0x%llx b=0x%llx: flags 0x%llx, host 0x%llx", op, size,
                  mem_dst ? "mem,src" : "reg,mem", (unsigned long long)(mem_dst ? memval : regval),
                  (unsigned long long)(mem_dst ? src : memval), (unsigned long long)r.rflags,
                  (unsigned long long)hflags);
    if (is_logic(op) && (r.rflags & AF))
        TEST_FAIL("op %d: AF not cleared", op);

    uint64_t want_mem = memval, want_rcx = regval;
    if (writes && mem_dst)
        want_mem = (memval & ~mask(size)) | hres;
    if (writes && !mem_dst)
        want_rcx = size == 4 ? hres : size == 8 ? hres : (regval & ~mask(size)) | hres;
    if (get_le(f.mmio, 8) != want_mem || r.gpr[RCX] != want_rcx)
        TEST_FAIL("op %d size %u: mem 0x%llx (want 0x%llx) rcx 0x%llx (want 0x%llx)", op, size,
                  (unsigned long long)get_le(f.mmio, 8), (unsigned long long)want_mem,
                  (unsigned long long)r.gpr[RCX], (unsigned long long)want_rcx);
    if (f.mmio_writes != (writes && mem_dst ? 1 : 0) || f.mmio_reads != 1)
        TEST_FAIL("op %d: %d reads %d writes", op, f.mmio_reads, f.mmio_writes);
    if (r.rip != 0x400000 + n)
        TEST_FAIL("op %d: rip 0x%llx", op, (unsigned long long)r.rip);
}

/* Entry flags: the host's own (so IF and friends match) with a random
 * choice of the status flags. */
static uint64_t random_entry_flags(void)
{
    return (host_rflags() & ~(ARITH | DF)) | (rnd() & ARITH);
}

/* 00-3B family: op r/m,r and op r,r/m at every size, against the host. */
TEST(emulate_alu_reg_forms_vs_host)
{
    static const unsigned sizes[] = { 1, 2, 4, 8 };
    for (int iter = 0; iter < 400; iter++) {
        for (size_t o = 0; o < 6; o++) {
            for (size_t s = 0; s < 4; s++) {
                for (int dir = 0; dir < 2; dir++) {
                    unsigned size = sizes[s];
                    uint8_t b[4];
                    size_t n = 0;
                    if (size == 2)
                        b[n++] = 0x66;
                    if (size == 8)
                        b[n++] = 0x48;
                    b[n++] = (uint8_t)(alu_base[o] + (size == 1 ? 0 : 1) + (dir ? 2 : 0));
                    b[n++] = 0x0b; /* reg=rcx, r/m=[rbx] */
                    alu_case(b, n, alu_list[o], size, !dir, false, 0,
                             interesting(8), interesting(8), random_entry_flags());
                }
            }
        }
    }
}

/* 80, 81, 83 group 1 forms against the host. */
TEST(emulate_alu_imm_forms_vs_host)
{
    for (int iter = 0; iter < 400; iter++) {
        for (size_t o = 0; o < 6; o++) {
            uint8_t modrm = (uint8_t)(0x03 | alu_digit[o] << 3);
            uint64_t mem = interesting(8), i8 = rnd() & 0xff, i32 = interesting(4);
            /* 80 /d ib */
            alu_case((uint8_t[]){ 0x80, modrm, (uint8_t)i8 }, 3, alu_list[o], 1, true, true, i8,
                     mem, 0, random_entry_flags());
            /* 83 /d ib, sign-extended, at 16/32/64 */
            alu_case((uint8_t[]){ 0x66, 0x83, modrm, (uint8_t)i8 }, 4, alu_list[o], 2, true, true,
                     ((i8 ^ 0x80) - 0x80) & 0xffff, mem, 0, random_entry_flags());
            alu_case((uint8_t[]){ 0x83, modrm, (uint8_t)i8 }, 3, alu_list[o], 4, true, true,
                     ((i8 ^ 0x80) - 0x80) & 0xffffffff, mem, 0, random_entry_flags());
            alu_case((uint8_t[]){ 0x48, 0x83, modrm, (uint8_t)i8 }, 4, alu_list[o], 8, true, true,
                     (i8 ^ 0x80) - 0x80, mem, 0, random_entry_flags());
            /* 81 /d iw / id, id sign-extended under REX.W */
            alu_case((uint8_t[]){ 0x66, 0x81, modrm, (uint8_t)i32, (uint8_t)(i32 >> 8) }, 5,
                     alu_list[o], 2, true, true, i32 & 0xffff, mem, 0, random_entry_flags());
            uint8_t id[4] = { (uint8_t)i32, (uint8_t)(i32 >> 8), (uint8_t)(i32 >> 16), (uint8_t)(i32 >> 24) };
            alu_case((uint8_t[]){ 0x81, modrm, id[0], id[1], id[2], id[3] }, 6, alu_list[o], 4,
                     true, true, i32, mem, 0, random_entry_flags());
            alu_case((uint8_t[]){ 0x48, 0x81, modrm, id[0], id[1], id[2], id[3] }, 7, alu_list[o],
                     8, true, true, (i32 ^ 0x80000000) - 0x80000000, mem, 0, random_entry_flags());
        }
    }
}

/* TEST 84/85 and F6/F7 /0 against the host. */
TEST(emulate_test_vs_host)
{
    for (int iter = 0; iter < 1000; iter++) {
        uint64_t mem = interesting(8), reg = interesting(8), i32 = interesting(4);
        uint8_t i8 = (uint8_t)rnd();
        alu_case((uint8_t[]){ 0x84, 0x0b }, 2, O(TEST), 1, true, false, 0, mem, reg, random_entry_flags());
        alu_case((uint8_t[]){ 0x66, 0x85, 0x0b }, 3, O(TEST), 2, true, false, 0, mem, reg, random_entry_flags());
        alu_case((uint8_t[]){ 0x85, 0x0b }, 2, O(TEST), 4, true, false, 0, mem, reg, random_entry_flags());
        alu_case((uint8_t[]){ 0x48, 0x85, 0x0b }, 3, O(TEST), 8, true, false, 0, mem, reg, random_entry_flags());
        alu_case((uint8_t[]){ 0xf6, 0x03, i8 }, 3, O(TEST), 1, true, true, i8, mem, reg, random_entry_flags());
        alu_case((uint8_t[]){ 0x66, 0xf7, 0x03, (uint8_t)i32, (uint8_t)(i32 >> 8) }, 5, O(TEST), 2,
                 true, true, i32 & 0xffff, mem, reg, random_entry_flags());
        uint8_t id[4] = { (uint8_t)i32, (uint8_t)(i32 >> 8), (uint8_t)(i32 >> 16), (uint8_t)(i32 >> 24) };
        alu_case((uint8_t[]){ 0xf7, 0x03, id[0], id[1], id[2], id[3] }, 6, O(TEST), 4, true, true,
                 i32, mem, reg, random_entry_flags());
        alu_case((uint8_t[]){ 0x48, 0xf7, 0x03, id[0], id[1], id[2], id[3] }, 7, O(TEST), 8, true,
                 true, (i32 ^ 0x80000000) - 0x80000000, mem, reg, random_entry_flags());
    }
}

/* Spot checks with known answers, independent of the host. */
TEST(emulate_alu_known_flags)
{
    struct insn_regs r;
    struct fake f = { 0 };

    regs_init(&r);
    /* add byte [rbx], 0x80 on 0x80: 0x00, CF OF ZF PF */
    f.mmio[0] = 0x80;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0x80, 0x03, 0x80), 0);
    CHECK_EQ(f.mmio[0], 0);
    CHECK_EQ(r.rflags & ARITH, CF | OF | ZF | PF);
    /* sub dword [rbx], 1 on 0: 0xffffffff, CF SF AF PF */
    put_le(f.mmio, 4, 0);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0x83, 0x2b, 0x01), 0);
    CHECK_EQ(get_le(f.mmio, 4), 0xffffffff);
    CHECK_EQ(r.rflags & ARITH, CF | SF | AF | PF);
    /* cmp eax, [rbx]: eax - mem (reg first) */
    r.gpr[RAX] = 5;
    put_le(f.mmio, 4, 7);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0x3b, 0x03), 0);
    CHECK_EQ(r.rflags & ARITH, CF | SF | AF); /* 5-7 = 0xfffffffe */
    CHECK_EQ(r.gpr[RAX], 5);
    CHECK_EQ(get_le(f.mmio, 4), 7);
    /* cmp [rbx], eax: mem - eax */
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0x39, 0x03), 0);
    CHECK_EQ(r.rflags & ARITH, 0); /* 7-5 = 2 */
    /* or ecx, [rbx] zero-extends the register */
    r.gpr[RCX] = 0xffffffff00000001ull;
    put_le(f.mmio, 4, 0x80000000);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0x0b, 0x0b), 0);
    CHECK_EQ(r.gpr[RCX], 0x80000001);
    CHECK_EQ(r.rflags & ARITH, SF);
    /* and [rbx], ah: high-byte source */
    r.gpr[RAX] = 0x0f00;
    f.mmio[0] = 0x3c;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0x20, 0x23), 0);
    CHECK_EQ(f.mmio[0], 0x0c);
    CHECK_EQ(r.rflags & ARITH, PF);
    /* xor bh, [rbx]: high-byte destination */
    r.gpr[RBX] = 0xffff00ffull;
    f.mmio[0] = 0x5a;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0x32, 0x3b), 0);
    CHECK_EQ(r.gpr[RBX], 0xffff5affull);
    /* lock or [rbx], eax */
    r.gpr[RAX] = 0x100;
    put_le(f.mmio, 4, 0x1);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0xf0, 0x09, 0x03), 0);
    CHECK_EQ(get_le(f.mmio, 4), 0x101);
    /* and with sign-extended imm8: 83 23 f0 */
    put_le(f.mmio, 4, 0x12345678);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0x83, 0x23, 0xf0), 0);
    CHECK_EQ(get_le(f.mmio, 8), 0x12345670);
    /* 16-bit code: add word [bx], -1 */
    put_le(f.mmio, 4, 0x10001);
    CHECK_EQ(RUN(M16, &r, MMIO_GPA, true, &f, 0x83, 0x07, 0xff), 0);
    CHECK_EQ(get_le(f.mmio, 4), 0x10000);
    CHECK_EQ(r.rflags & ARITH, CF | ZF | PF | AF);
    CHECK_EQ(f.last_size, 2);
}

/* ---------------------------------------------------- executor: strings ---- */

TEST(emulate_rep_stos_one_per_call)
{
    struct insn_regs r;
    struct fake f = { 0 };

    regs_init(&r);
    r.gpr[RAX] = 0xa5a5a5a5deadbeefull;
    r.gpr[RCX] = 3;
    r.gpr[RDI] = 0x7000;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(RUN(M64, &r, MMIO_GPA + 4 * (uint64_t)i, true, &f, 0xf3, 0xab), 0);
        CHECK_EQ(r.gpr[RCX], 2 - i);
        CHECK_EQ(r.gpr[RDI], 0x7000 + 4 * (i + 1));
        CHECK_EQ(r.rip, i < 2 ? 0x400000 : 0x400002); /* RIP moves only at the end */
        CHECK_EQ(f.mmio_writes, i + 1);
    }
    CHECK_EQ(get_le(f.mmio, 8), 0xdeadbeefdeadbeefull);
    CHECK_EQ(get_le(f.mmio + 8, 4), 0xdeadbeef);
    CHECK_EQ(f.last_size, 4);
    CHECK_EQ(f.mmio_reads, 0);

    /* RCX == 0: no access, RIP advances. */
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0xf3, 0xab), 0);
    CHECK_EQ(f.mmio_writes, 3);
    CHECK_EQ(r.rip, 0x400004);
    CHECK_EQ(r.gpr[RDI], 0x700c);
    CHECK_EQ(r.gpr[RCX], 0);

    /* DF=1: RDI goes down; stosq. */
    r.rflags |= DF;
    r.gpr[RCX] = 2;
    r.gpr[RDI] = 0x8000;
    r.rip = 0x400000;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA + 16, true, &f, 0xf3, 0x48, 0xab), 0);
    CHECK_EQ(r.gpr[RDI], 0x7ff8);
    CHECK_EQ(r.gpr[RCX], 1);
    CHECK_EQ(r.rip, 0x400000);
    CHECK_EQ(get_le(f.mmio + 16, 8), 0xa5a5a5a5deadbeefull);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA + 8, true, &f, 0xf3, 0x48, 0xab), 0);
    CHECK_EQ(r.gpr[RDI], 0x7ff0);
    CHECK_EQ(r.gpr[RCX], 0);
    CHECK_EQ(r.rip, 0x400003);

    /* Without REP: one element, RIP advances, RCX untouched. */
    r.rflags &= ~DF;
    r.gpr[RCX] = 77;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0xaa), 0); /* stosb */
    CHECK_EQ(f.mmio[0], 0xef);
    CHECK_EQ(r.gpr[RCX], 77);
    CHECK_EQ(r.gpr[RDI], 0x7ff1);
    CHECK_EQ(r.rip, 0x400004);
    CHECK_EQ(f.last_size, 1);

    /* REPNE on STOS acts as REP. */
    r.gpr[RCX] = 2;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0xf2, 0xaa), 0);
    CHECK_EQ(r.gpr[RCX], 1);
    CHECK_EQ(r.rip, 0x400004);
}

TEST(emulate_rep_stos_address_sizes)
{
    struct insn_regs r;
    struct fake f = { 0 };

    /* 67h in 64-bit code: ECX/EDI, written back zero-extended. */
    regs_init(&r);
    r.gpr[RCX] = 0xffffffff00000002ull;
    r.gpr[RDI] = 0xffffffff7ffffffcull;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0x67, 0xf3, 0xab), 0);
    CHECK_EQ(r.gpr[RCX], 1);
    CHECK_EQ(r.gpr[RDI], 0x80000000);
    CHECK_EQ(r.rip, 0x400000);
    /* ECX = 0 with garbage above: counts as zero. */
    r.gpr[RCX] = 0xffffffff00000000ull;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0x67, 0xf3, 0xab), 0);
    CHECK_EQ(r.rip, 0x400003);
    CHECK_EQ(f.mmio_writes, 1);

    /* 16-bit code: CX/DI, the upper bits kept, DI wraps. */
    regs_init(&r);
    r.rip = 0x100;
    r.gpr[RAX] = 0x4142;
    r.gpr[RCX] = 0xabcd0001;
    r.gpr[RDI] = 0x1234fffe;
    CHECK_EQ(RUN(M16, &r, MMIO_GPA, true, &f, 0xf3, 0xab), 0); /* rep stosw */
    CHECK_EQ(get_le(f.mmio, 2), 0x4142);
    CHECK_EQ(f.last_size, 2);
    CHECK_EQ(r.gpr[RCX], 0xabcd0000);
    CHECK_EQ(r.gpr[RDI], 0x12340000);
    CHECK_EQ(r.rip, 0x102);
    /* 32-bit code: ECX. */
    regs_init(&r);
    r.gpr[RCX] = 1;
    r.gpr[RDI] = 0x100;
    CHECK_EQ(RUN(M32, &r, MMIO_GPA, true, &f, 0xf3, 0xab), 0);
    CHECK_EQ(r.gpr[RCX], 0);
    CHECK_EQ(r.gpr[RDI], 0x104);
    CHECK_EQ(r.rip, 0x400002);
}

TEST(emulate_rep_movs_to_mmio)
{
    struct insn_regs r;
    struct fake f = { 0 };
    for (int i = 0; i < 256; i++)
        f.mem[i] = (uint8_t)i;

    /* rep movsb, memory -> MMIO (the EPT exit was a write). DS base is
     * ignored in 64-bit mode. */
    regs_init(&r);
    r.seg_base[INSN_SEG_DS] = 0x5000000;
    r.gpr[RSI] = MEM_GVA + 0x10;
    r.gpr[RDI] = 0x9000;
    r.gpr[RCX] = 3;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(RUN(M64, &r, MMIO_GPA + (uint64_t)i, true, &f, 0xf3, 0xa4), 0);
        CHECK_EQ(f.last_gva, MEM_GVA + 0x10 + (uint64_t)i);
        CHECK_EQ(r.gpr[RSI], MEM_GVA + 0x10 + (uint64_t)i + 1);
        CHECK_EQ(r.gpr[RDI], 0x9000 + (uint64_t)i + 1);
        CHECK_EQ(r.gpr[RCX], 2 - i);
        CHECK_EQ(r.rip, i < 2 ? 0x400000 : 0x400002);
    }
    CHECK_EQ(get_le(f.mmio, 4), 0x121110);
    CHECK_EQ(f.mem_reads, 3);
    CHECK_EQ(f.mmio_writes, 3);
    CHECK_EQ(f.mmio_reads, 0);
    CHECK_EQ(f.mem_writes, 0);

    /* DF=1, movsd: both pointers go down. */
    r.rflags |= DF;
    r.gpr[RCX] = 2;
    r.rip = 0x400000;
    r.gpr[RSI] = MEM_GVA + 0x40;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA + 8, true, &f, 0xf3, 0xa5), 0);
    CHECK_EQ(get_le(f.mmio + 8, 4), 0x43424140);
    CHECK_EQ(r.gpr[RSI], MEM_GVA + 0x3c);
    CHECK_EQ(r.gpr[RDI], 0x9003 - 4);
    CHECK_EQ(r.gpr[RCX], 1);
    CHECK_EQ(r.rip, 0x400000);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA + 4, true, &f, 0xf3, 0xa5), 0);
    CHECK_EQ(get_le(f.mmio + 4, 4), 0x3f3e3d3c);
    CHECK_EQ(r.gpr[RCX], 0);
    CHECK_EQ(r.rip, 0x400002);

    /* An FS override applies its base even in 64-bit mode. */
    r.rflags &= ~DF;
    r.seg_base[INSN_SEG_FS] = MEM_GVA;
    r.gpr[RSI] = 0x20;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0x64, 0xa4), 0); /* movsb fs:[rsi] */
    CHECK_EQ(f.last_gva, MEM_GVA + 0x20);
    CHECK_EQ(f.mmio[0], 0x20);
    CHECK_EQ(r.gpr[RSI], 0x21);

    /* 32-bit code: DS base counts, overrides too; ES for the other side. */
    regs_init(&r);
    r.seg_base[INSN_SEG_DS] = MEM_GVA - 0x1000;
    r.seg_base[INSN_SEG_SS] = MEM_GVA - 0x2000;
    r.gpr[RSI] = 0xffffffff00001004ull;
    CHECK_EQ(RUN(M32, &r, MMIO_GPA, true, &f, 0xa5), 0);
    CHECK_EQ(f.last_gva, MEM_GVA + 4);
    CHECK_EQ(get_le(f.mmio, 4), 0x07060504);
    CHECK_EQ(r.gpr[RSI], 0x1008);
    r.gpr[RSI] = 0x2008;
    CHECK_EQ(RUN(M32, &r, MMIO_GPA, true, &f, 0x36, 0x66, 0xa5), 0); /* movsw ss:[esi] */
    CHECK_EQ(f.last_gva, MEM_GVA + 8);
    CHECK_EQ(get_le(f.mmio, 4), 0x07060908);

    /* Real mode: segment base plus 16-bit SI. */
    regs_init(&r);
    r.seg_base[INSN_SEG_DS] = MEM_GVA;
    r.gpr[RSI] = 0xffff0030;
    CHECK_EQ(RUN(M16, &r, MMIO_GPA, true, &f, 0xa4), 0);
    CHECK_EQ(f.last_gva, MEM_GVA + 0x30);
    CHECK_EQ(r.gpr[RSI], 0xffff0031);
}

TEST(emulate_rep_movs_from_mmio)
{
    struct insn_regs r;
    struct fake f = { 0 };
    put_le(f.mmio, 8, 0x0807060504030201ull);

    /* MMIO -> memory (the EPT exit was a read): ES:RDI via mem_write. */
    regs_init(&r);
    r.gpr[RSI] = 0x3000;
    r.gpr[RDI] = MEM_GVA;
    r.gpr[RCX] = 2;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0xf3, 0x66, 0xa5), 0); /* rep movsw */
    CHECK_EQ(f.last_gva, MEM_GVA);
    CHECK_EQ(get_le(f.mem, 4), 0x0201);
    CHECK_EQ(r.gpr[RSI], 0x3002);
    CHECK_EQ(r.gpr[RDI], MEM_GVA + 2);
    CHECK_EQ(r.gpr[RCX], 1);
    CHECK_EQ(r.rip, 0x400000);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA + 2, false, &f, 0xf3, 0x66, 0xa5), 0);
    CHECK_EQ(get_le(f.mem, 4), 0x04030201);
    CHECK_EQ(r.gpr[RCX], 0);
    CHECK_EQ(r.rip, 0x400003);
    CHECK_EQ(f.mmio_reads, 2);
    CHECK_EQ(f.mem_writes, 2);
    CHECK_EQ(f.mmio_writes, 0);
    CHECK_EQ(f.mem_reads, 0);

    /* 32-bit code: ES base applies to the destination; DF=1. */
    regs_init(&r);
    r.rflags |= DF;
    r.seg_base[INSN_SEG_ES] = MEM_GVA;
    r.gpr[RDI] = 0x10;
    r.gpr[RSI] = 0x10;
    CHECK_EQ(RUN(M32, &r, MMIO_GPA, false, &f, 0xa5), 0); /* movsd */
    CHECK_EQ(f.last_gva, MEM_GVA + 0x10);
    CHECK_EQ(get_le(f.mem + 0x10, 4), 0x04030201);
    CHECK_EQ(r.gpr[RDI], 0xc);
    CHECK_EQ(r.gpr[RSI], 0xc);
    /* A segment override does not move the destination off ES. */
    r.seg_base[INSN_SEG_FS] = 0x7777777;
    CHECK_EQ(RUN(M32, &r, MMIO_GPA, false, &f, 0x64, 0xa4), 0);
    CHECK_EQ(f.last_gva, MEM_GVA + 0xc);

    /* MOVS needs the memory callbacks. */
    struct insn in;
    struct insn_mem_ops no_mem = { f_mmio_read, f_mmio_write, NULL, NULL };
    CHECK_EQ(DEC(M64, &in, 0xa4), 0);
    CHECK_EQ(insn_emulate(&in, &r, MMIO_GPA, true, &no_mem, &f), INSN_ERR_ARG);
    CHECK_EQ(insn_emulate(&in, &r, MMIO_GPA, false, &no_mem, &f), INSN_ERR_ARG);
}

TEST(emulate_lods)
{
    struct insn_regs r;
    struct fake f = { 0 };
    put_le(f.mmio, 8, 0x8877665544332211ull);

    regs_init(&r);
    r.gpr[RAX] = ~0ull;
    r.gpr[RSI] = 0x100;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0xac), 0); /* lodsb */
    CHECK_EQ(r.gpr[RAX], 0xffffffffffffff11ull);
    CHECK_EQ(r.gpr[RSI], 0x101);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0xad), 0); /* lodsd */
    CHECK_EQ(r.gpr[RAX], 0x44332211);
    CHECK_EQ(r.gpr[RSI], 0x105);
    r.rflags |= DF;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0x48, 0xad), 0); /* lodsq */
    CHECK_EQ(r.gpr[RAX], 0x8877665544332211ull);
    CHECK_EQ(r.gpr[RSI], 0xfd);
    CHECK_EQ(r.rip, 0x400004);
    /* rep lodsw, one element per call */
    r.rflags &= ~DF;
    r.gpr[RCX] = 2;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0xf3, 0x66, 0xad), 0);
    CHECK_EQ(r.gpr[RAX], 0x8877665544332211ull);
    CHECK_EQ(r.gpr[RCX], 1);
    CHECK_EQ(r.rip, 0x400004);
    CHECK_EQ(f.mmio_writes, 0);
}

/* ----------------------------------------------------- executor: misc ---- */

TEST(emulate_rip_wraps)
{
    struct insn_regs r;
    struct fake f = { 0 };

    regs_init(&r);
    r.rip = 0xfffe;
    CHECK_EQ(RUN(M16, &r, MMIO_GPA, false, &f, 0x8b, 0x07), 0);
    CHECK_EQ(r.rip, 0);
    r.rip = 0xfffffffe;
    CHECK_EQ(RUN(M32, &r, MMIO_GPA, false, &f, 0x8b, 0x03), 0);
    CHECK_EQ(r.rip, 0);
    r.rip = 0xfffffffe;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0x8b, 0x03), 0);
    CHECK_EQ(r.rip, 0x100000000ull);
}

TEST(emulate_callback_errors)
{
    struct insn_regs r, before;
    struct fake f = { 0 };
    struct insn in;

    regs_init(&r);
    r.gpr[RCX] = 5;
    before = r;
    f.fail = -42;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0x8b, 0x03), -42);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0x89, 0x03), -42);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0x09, 0x03), -42);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0xf3, 0xab), -42);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0xf3, 0xa4), -42);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, false, &f, 0xf3, 0xa4), -42);
    CHECK_EQ(RUN(M64, &r, MMIO_GPA, true, &f, 0x0f, 0xab, 0x03), -42);
    CHECK(memcmp(&r, &before, sizeof(r)) == 0); /* nothing changed */
    CHECK_STR(insn_error_name(-42), "callback error");

    /* A failing write after a successful read leaves registers alone too. */
    f.fail = 0;
    CHECK_EQ(RUN(M64, &r, MMIO_GPA + 64, false, &f, 0x8b, 0x03), -100); /* out of the window */
    CHECK(memcmp(&r, &before, sizeof(r)) == 0);

    /* Bad arguments. */
    CHECK_EQ(DEC(M64, &in, 0x8b, 0x03), 0);
    CHECK_EQ(insn_emulate(NULL, &r, MMIO_GPA, false, &fake_ops, &f), INSN_ERR_ARG);
    CHECK_EQ(insn_emulate(&in, NULL, MMIO_GPA, false, &fake_ops, &f), INSN_ERR_ARG);
    CHECK_EQ(insn_emulate(&in, &r, MMIO_GPA, false, NULL, &f), INSN_ERR_ARG);
    struct insn_mem_ops none = { 0 };
    CHECK_EQ(insn_emulate(&in, &r, MMIO_GPA, false, &none, &f), INSN_ERR_ARG);
    struct insn bad = in;
    bad.reg.num = 16;
    CHECK_EQ(insn_emulate(&bad, &r, MMIO_GPA, false, &fake_ops, &f), INSN_ERR_ARG);
    bad = in;
    bad.memsize = 3;
    CHECK_EQ(insn_emulate(&bad, &r, MMIO_GPA, false, &fake_ops, &f), INSN_ERR_ARG);
    bad = in;
    bad.reg = (struct insn_reg){ 5, true };
    CHECK_EQ(insn_emulate(&bad, &r, MMIO_GPA, false, &fake_ops, &f), INSN_ERR_ARG);
    bad = in;
    bad.op = INSN_OP_NONE;
    CHECK_EQ(insn_emulate(&bad, &r, MMIO_GPA, false, &fake_ops, &f), INSN_ERR_ARG);
    struct insn zero;
    memset(&zero, 0, sizeof(zero));
    CHECK_EQ(insn_emulate(&zero, &r, MMIO_GPA, false, &fake_ops, &f), INSN_ERR_ARG);
    CHECK(memcmp(&r, &before, sizeof(r)) == 0);
}

TEST(error_names)
{
    CHECK_STR(insn_error_name(INSN_OK), "ok");
    CHECK_STR(insn_error_name(INSN_ERR_TRUNCATED), "truncated");
    CHECK_STR(insn_error_name(INSN_ERR_TOO_LONG), "longer than 15 bytes");
    CHECK_STR(insn_error_name(INSN_ERR_UNSUPPORTED), "unsupported instruction");
    CHECK_STR(insn_error_name(INSN_ERR_INVALID), "invalid encoding");
    CHECK_STR(insn_error_name(INSN_ERR_ARG), "bad argument");
    CHECK_STR(insn_error_name(-1000), "callback error");
    CHECK_STR(insn_error_name(3), "unknown");
}

/* ------------------------------------------------------------ format ---- */

static const char *fmt(enum cpu_mode mode, const uint8_t *b, size_t n)
{
    static char buf[128];
    struct insn in;
    if (dec(mode, b, n, &in) != 0)
        return "(decode failed)";
    insn_format(&in, buf, sizeof(buf));
    return buf;
}
#define FMT(mode, ...) fmt(mode, BYTES(__VA_ARGS__))

TEST(format)
{
    CHECK_STR(FMT(M64, 0x8b, 0x03), "mov r32 eax <- mem (4 bytes)");
    CHECK_STR(FMT(M64, 0x48, 0x8b, 0x03), "mov r64 rax <- mem (8 bytes)");
    CHECK_STR(FMT(M64, 0x88, 0x23), "mov mem <- r8 ah (1 byte)");
    CHECK_STR(FMT(M64, 0x40, 0x88, 0x23), "mov mem <- r8 spl (1 byte)");
    CHECK_STR(FMT(M64, 0x45, 0x8b, 0x43, 0x10), "mov r32 r8d <- mem (4 bytes)");
    CHECK_STR(FMT(M64, 0x66, 0x44, 0x89, 0x03), "mov mem <- r16 r8w (2 bytes)");
    CHECK_STR(FMT(M64, 0x44, 0x88, 0x03), "mov mem <- r8 r8b (1 byte)");
    CHECK_STR(FMT(M64, 0xc7, 0x03, 0x78, 0x56, 0x34, 0x12), "mov mem <- imm 0x12345678 (4 bytes)");
    CHECK_STR(FMT(M64, 0xa1, 0x20, 0, 0xe0, 0xfe, 0, 0, 0, 0), "mov r32 eax <- mem[0xfee00020] (4 bytes)");
    CHECK_STR(FMT(M64, 0x0f, 0xb6, 0x03), "movzx r32 eax <- mem (1 byte)");
    CHECK_STR(FMT(M64, 0x48, 0x63, 0x03), "movsxd r64 rax <- mem (4 bytes)");
    CHECK_STR(FMT(M64, 0x48, 0x0f, 0xbf, 0x0b), "movsx r64 rcx <- mem (2 bytes)");
    CHECK_STR(FMT(M64, 0xf0, 0x09, 0x03), "lock or mem, r32 eax (4 bytes)");
    CHECK_STR(FMT(M64, 0x83, 0x23, 0xf0), "and mem, imm 0xfffffff0 (4 bytes)");
    CHECK_STR(FMT(M64, 0x3b, 0x03), "cmp r32 eax, mem (4 bytes)");
    CHECK_STR(FMT(M64, 0xf6, 0x03, 0x01), "test mem, imm 0x1 (1 byte)");
    CHECK_STR(FMT(M64, 0x87, 0x03), "xchg mem <-> r32 eax (4 bytes)");
    CHECK_STR(FMT(M64, 0x0f, 0xba, 0x2b, 0x05), "bts mem, imm 0x5 (4 bytes)");
    CHECK_STR(FMT(M64, 0x0f, 0xa3, 0x03), "bt mem, r32 eax (4 bytes)");
    CHECK_STR(FMT(M64, 0xf3, 0xab), "rep stos es:[rdi] <- r32 eax (4 bytes)");
    CHECK_STR(FMT(M64, 0xf3, 0xa4), "rep movs es:[rdi] <- ds:[rsi] (1 byte)");
    CHECK_STR(FMT(M64, 0x67, 0x64, 0xa5), "movs es:[edi] <- fs:[esi] (4 bytes)");
    CHECK_STR(FMT(M16, 0xac), "lods r8 al <- ds:[si] (1 byte)");
    CHECK_STR(FMT(M16, 0x8b, 0x07), "mov r16 ax <- mem (2 bytes)");

    /* Truncation keeps a NUL-terminated prefix. */
    struct insn in;
    char small[8];
    CHECK_EQ(DEC(M64, &in, 0x8b, 0x03), 0);
    CHECK_EQ(insn_format(&in, small, sizeof(small)), 7);
    CHECK_STR(small, "mov r32");
    CHECK_EQ(insn_format(&in, small, 1), 0);
    CHECK_STR(small, "");
    CHECK_EQ(insn_format(&in, NULL, 10), 0);
    /* A struct that is not a decoded instruction. */
    memset(&in, 0, sizeof(in));
    char buf[32];
    insn_format(&in, buf, sizeof(buf));
    CHECK_STR(buf, "(bad insn)");
    insn_format(NULL, buf, sizeof(buf));
    CHECK_STR(buf, "(bad insn)");
}

/* Every table entry formats to something bounded and non-empty. */
TEST(format_every_row)
{
    for (size_t i = 0; i < NROWS; i++) {
        struct insn in;
        char buf[96];
        if (dec(rows[i].mode, rows[i].b, rows[i].n, &in) != 0)
            continue;
        size_t len = insn_format(&in, buf, sizeof(buf));
        if (len == 0 || len != strlen(buf) || strstr(buf, "?") || strstr(buf, "bad"))
            TEST_FAIL("%s: \"%s\"", rows[i].text, buf);
    }
}

/* -------------------------------------------------------- robustness ---- */

static int l_mmio_read(void *ctx, uint64_t gpa, unsigned size, uint64_t *val)
{
    *val = rnd() & mask(size);
    return 0;
}
static int l_mmio_write(void *ctx, uint64_t gpa, unsigned size, uint64_t val)
{
    return size < 8 && (val >> (size * 8)) ? -101 : 0;
}
static int l_mem_read(void *ctx, uint64_t gva, unsigned size, uint64_t *val)
{
    *val = rnd() & mask(size);
    return 0;
}
static const struct insn_mem_ops loose_ops = { l_mmio_read, l_mmio_write, l_mem_read, l_mmio_write };

/* Bytes drawn mostly from prefixes and supported opcodes so that many
 * strings decode and the interesting paths are reached. */
static uint8_t fuzz_byte(void)
{
    static const uint8_t hot[] = { 0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64,
                                   0x65, 0x40, 0x41, 0x44, 0x48, 0x4c, 0x4f, 0x0f, 0x88, 0x89,
                                   0x8a, 0x8b, 0xc6, 0xc7, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5,
                                   0xaa, 0xab, 0xac, 0xad, 0x80, 0x81, 0x83, 0x84, 0x85, 0x86,
                                   0x87, 0xf6, 0xf7, 0x63, 0xb6, 0xb7, 0xbe, 0xbf, 0xba, 0xa3,
                                   0xab, 0xb3, 0xbb, 0x01, 0x09, 0x21, 0x29, 0x31, 0x39, 0x04,
                                   0x05, 0x24, 0x25, 0x44, 0x45, 0x84, 0x85, 0x06, 0x46, 0x86 };
    uint64_t r = rnd();
    return (r & 1) ? hot[(r >> 8) % sizeof(hot)] : (uint8_t)(r >> 16);
}

TEST(robustness_random_bytes)
{
    static const enum cpu_mode modes[3] = { M16, M32, M64 };
    unsigned ok = 0, by_err[8] = { 0 };
    rng_state = 12345;
    for (int i = 0; i < 200000; i++) {
        uint8_t b[20];
        size_t avail = (size_t)(rnd() % 21);
        for (size_t k = 0; k < avail; k++)
            b[k] = fuzz_byte();
        if ((rnd() & 15) == 0) {
            /* A long prefix run, to reach the 15-byte limit. */
            static const uint8_t pfx[] = { 0x66, 0x67, 0x2e, 0x3e, 0xf3, 0x48, 0x64 };
            size_t run = 10 + (size_t)(rnd() % 8);
            avail = 20;
            for (size_t k = 0; k < run; k++)
                b[k] = pfx[rnd() % sizeof(pfx)];
            for (size_t k = run; k < avail; k++)
                b[k] = fuzz_byte();
        }
        for (int m = 0; m < 3; m++) {
            struct insn in;
            int rc = dec(modes[m], b, avail, &in);
            if (rc < 0) {
                if (rc < INSN_ERR_LAST) {
                    TEST_FAIL("unexpected rc %d", rc);
                    return;
                }
                by_err[-rc]++;
                continue;
            }
            if (rc != 0 || in.len == 0 || in.len > 15 || in.len > avail) {
                TEST_FAIL("rc %d len %u avail %zu", rc, in.len, avail);
                return;
            }
            ok++;
            /* Whatever decodes must also emulate and format. */
            struct insn_regs r;
            regs_init(&r);
            r.rip = 0x1000; /* below 64K, so no mode wraps it */
            r.gpr[RCX] = rnd() & 3;
            r.rflags = 0x2 | (rnd() & (ARITH | DF));
            uint64_t rip = r.rip;
            rc = insn_emulate(&in, &r, MMIO_GPA, rnd() & 1, &loose_ops, NULL);
            if (rc != 0) {
                TEST_FAIL("emulate rc %d", rc);
                return;
            }
            if (r.rip != rip + in.len && r.rip != rip) {
                TEST_FAIL("rip moved by %lld", (long long)(r.rip - rip));
                return;
            }
            char buf[80];
            if (insn_format(&in, buf, sizeof(buf)) >= sizeof(buf)) {
                TEST_FAIL("format overflow");
                return;
            }
        }
    }
    /* The generator reached every outcome. */
    CHECK(ok > 10000);
    CHECK(by_err[-INSN_ERR_TRUNCATED] > 0);
    CHECK(by_err[-INSN_ERR_TOO_LONG] > 0);
    CHECK(by_err[-INSN_ERR_UNSUPPORTED] > 0);
    CHECK(by_err[-INSN_ERR_INVALID] > 0);
}

int main(void)
{
    return test_main();
}
