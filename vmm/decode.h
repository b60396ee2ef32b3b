/* x86 instruction decoding and emulation for guest MMIO accesses.
 *
 * After an EPT violation on an MMIO region the hypervisor knows the faulting
 * guest-physical address and whether the access was a read or a write, but
 * not what the instruction does with the data. decode_insn() decodes the
 * bytes at the guest's RIP (the subset of instructions that drivers use on
 * device registers) and insn_emulate() applies that instruction once:
 * performing the MMIO access through callbacks, updating registers, RFLAGS
 * and RIP as the CPU would.
 *
 * Encoding rules follow the Intel SDM Vol. 2A, chapter 2 ("Instruction
 * Format") and the per-instruction pages in chapters 3 and 4. Both halves
 * are pure: no global state, no allocation, no logging, so the same code runs
 * in the hypervisor, under record/replay and in the host unit tests. */
#ifndef VMM_DECODE_H
#define VMM_DECODE_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

/* SDM Vol. 2A, 2.1: an instruction is at most 15 bytes, prefixes included. */
#define INSN_MAX_LEN 15

/* The code size the guest executes in. 0 is deliberately not a mode, so a
 * zeroed argument is refused rather than taken as 16-bit. */
enum cpu_mode {
    CPU_MODE_16 = 1, /* real mode, virtual-8086 mode, or a CS with D=0 */
    CPU_MODE_32 = 2, /* protected/compatibility mode with CS.D=1 */
    CPU_MODE_64 = 3, /* IA-32e mode with CS.L=1 */
};

/* The mode from the guest's control state (SDM Vol. 3A, 5.2.1 and Vol. 1,
 * 3.6.1: IA-32e with CS.L selects 64-bit code, else CS.D picks the default
 * size; real and virtual-8086 mode run 16-bit code). */
static inline enum cpu_mode insn_cpu_mode(bool cr0_pe, bool rflags_vm, bool efer_lma, bool cs_l,
                                          bool cs_d)
{
    if (efer_lma && cs_l)
        return CPU_MODE_64;
    if (!cr0_pe || rflags_vm)
        return CPU_MODE_16;
    return cs_d ? CPU_MODE_32 : CPU_MODE_16;
}

/* Errors: decode_insn() and insn_emulate() return 0 or one of these.
 * insn_emulate() also passes on, unchanged, any negative value a callback
 * returns; callbacks should use values below INSN_ERR_LAST to keep them
 * distinguishable. */
enum {
    INSN_OK = 0,
    INSN_ERR_TRUNCATED = -1,   /* the bytes ended before the instruction did */
    INSN_ERR_TOO_LONG = -2,    /* the instruction would exceed 15 bytes (#GP) */
    INSN_ERR_UNSUPPORTED = -3, /* an opcode or form this emulator does not handle */
    INSN_ERR_INVALID = -4,     /* an encoding the CPU rejects (#UD), or one with no
                                  memory operand where this emulator needs one */
    INSN_ERR_ARG = -5,         /* bad arguments: NULL, unknown mode, missing callback */
    INSN_ERR_LAST = -5,
};

enum insn_op {
    INSN_OP_NONE = 0,
    INSN_OP_MOV,   /* 88-8B, C6/C7 /0, A0-A3 */
    INSN_OP_MOVZX, /* 0F B6, 0F B7 */
    INSN_OP_MOVSX, /* 0F BE, 0F BF, 63 (MOVSXD) */
    INSN_OP_ADD,
    INSN_OP_OR,
    INSN_OP_AND,
    INSN_OP_SUB,
    INSN_OP_XOR,
    INSN_OP_CMP,
    INSN_OP_TEST,
    INSN_OP_XCHG,
    INSN_OP_BT,
    INSN_OP_BTS,
    INSN_OP_BTR,
    INSN_OP_BTC,
    INSN_OP_MOVS, /* A4, A5 */
    INSN_OP_STOS, /* AA, AB */
    INSN_OP_LODS, /* AC, AD */
};

/* Segment registers, numbered as the SDM numbers Sreg operands (SDM Vol. 2A,
 * 3.1.1.3): ES=0, CS=1, SS=2, DS=3, FS=4, GS=5. */
enum insn_seg {
    INSN_SEG_NONE = -1,
    INSN_SEG_ES = 0,
    INSN_SEG_CS = 1,
    INSN_SEG_SS = 2,
    INSN_SEG_DS = 3,
    INSN_SEG_FS = 4,
    INSN_SEG_GS = 5,
};

enum insn_rep {
    INSN_REP_NONE = 0,
    INSN_REP_E = 1,  /* F3: REP / REPE */
    INSN_REP_NE = 2, /* F2: REPNE */
};

/* A general-purpose register operand. `num` is the SDM register number
 * (0 = RAX ... 15 = R15). With `high8` set the operand is bits 15:8 of
 * register `num` (0-3), i.e. AH, CH, DH or BH: what byte-register encodings
 * 4-7 mean when the instruction has no REX prefix (SDM Vol. 1, 3.4.1.1 and
 * Vol. 2A, Table 3-1 "Register Codes"). */
struct insn_reg {
    uint8_t num;
    bool high8;
};

struct insn {
    uint8_t len;        /* total length in bytes, 1..15 */
    enum cpu_mode mode; /* the mode it was decoded for */
    enum insn_op op;

    /* Sizes in bytes. opsize: the operation (and register destination) size,
     * 1/2/4/8. memsize: how many bytes the memory operand is (differs from
     * opsize only for MOVZX/MOVSX/MOVSXD). addrsize: 2/4/8. */
    uint8_t opsize, memsize, addrsize;

    /* Operand roles. mem_dst: the memory operand is the first (destination)
     * operand, e.g. "mov [rbx], eax" or "add [rbx], 1"; otherwise the
     * register is the destination and memory the source ("mov eax, [rbx]").
     * For CMP this fixes the order of the subtraction. */
    bool mem_dst;
    bool has_reg;         /* reg is an operand (also the implicit accumulator of
                             A0-A3 and STOS/LODS) */
    struct insn_reg reg;
    bool has_imm;
    uint8_t imm_size;     /* encoded immediate size in bytes */
    uint64_t imm;         /* the immediate as the instruction uses it: sign-
                             extended to opsize where the SDM says so (83, 81
                             and C7/F7 with REX.W), then truncated to opsize;
                             BT's imm8 bit offset is zero-extended */

    /* Prefixes. seg is the override as encoded (also for 64-bit mode, where
     * only FS and GS have an effect); rep and lock as encoded. */
    enum insn_seg seg;
    enum insn_rep rep;
    bool lock;
    bool opsize_prefix, addrsize_prefix; /* 66h, 67h seen */
    uint8_t rex;          /* the effective REX byte (0x40-0x4f), or 0 */

    /* Opcode: `opcode` with `twobyte` set for the 0F escape map. */
    uint8_t opcode;
    bool twobyte;

    /* The memory operand. has_mem: a ModR/M memory operand is present
     * (always, on success, for ModR/M forms: register-direct forms are
     * refused). is_moffs: A0-A3's direct offset. Neither: string forms,
     * which address memory through RSI/RDI. The effective address itself
     * is not computed: the EPT exit reports the guest-physical address. */
    bool has_modrm, has_sib, has_mem, is_moffs;
    uint8_t modrm, sib;
    uint8_t disp_size;    /* 0, 1, 2 or 4 */
    int32_t disp;         /* sign-extended (disp16 and disp8 too) */
    bool rip_relative;    /* 64-bit mode mod=00 r/m=101 */
    uint64_t moffs;       /* A0-A3 offset, zero-extended from addrsize */
};

/* Decode one instruction from bytes[0..avail). Reads no byte at or beyond
 * `avail` and none beyond the 15th. On success returns 0 and fills *out;
 * otherwise returns an INSN_ERR_* code and *out holds nothing useful. */
int decode_insn(const uint8_t *bytes, size_t avail, enum cpu_mode mode, struct insn *out);

/* ---------------------------------------------------------- execution ---- */

#define INSN_RFLAGS_CF (1ull << 0)
#define INSN_RFLAGS_PF (1ull << 2)
#define INSN_RFLAGS_AF (1ull << 4)
#define INSN_RFLAGS_ZF (1ull << 6)
#define INSN_RFLAGS_SF (1ull << 7)
#define INSN_RFLAGS_DF (1ull << 10)
#define INSN_RFLAGS_OF (1ull << 11)
#define INSN_RFLAGS_ARITH                                                        \
    (INSN_RFLAGS_CF | INSN_RFLAGS_PF | INSN_RFLAGS_AF | INSN_RFLAGS_ZF |          \
     INSN_RFLAGS_SF | INSN_RFLAGS_OF)

/* The guest state the executor reads and writes. gpr[] is in SDM register
 * number order: RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8..R15. seg_base[]
 * (indexed by enum insn_seg) is read only, for string instructions' guest-
 * linear addresses; in 64-bit mode the ES/CS/SS/DS bases are taken as 0
 * whatever is stored here (SDM Vol. 1, 3.4.2.1). */
struct insn_regs {
    uint64_t gpr[16];
    uint64_t rflags;
    uint64_t rip;
    uint64_t seg_base[6];
};

/* The accesses an instruction makes. mmio_read/mmio_write reach the MMIO
 * region at a guest-physical address; mem_read/mem_write reach ordinary
 * guest memory at a guest-linear address (the other operand of MOVS only).
 * size is 1, 2, 4 or 8; values are little-endian in the low bytes. Return 0,
 * or a negative error that insn_emulate() returns unchanged. mem_read and
 * mem_write may be NULL when no MOVS is emulated. */
struct insn_mem_ops {
    int (*mmio_read)(void *ctx, uint64_t gpa, unsigned size, uint64_t *val);
    int (*mmio_write)(void *ctx, uint64_t gpa, unsigned size, uint64_t val);
    int (*mem_read)(void *ctx, uint64_t gva, unsigned size, uint64_t *val);
    int (*mem_write)(void *ctx, uint64_t gva, unsigned size, uint64_t val);
};

/* Apply `in` once to the MMIO operand at mmio_gpa, the guest-physical
 * address the EPT violation reported. is_write is the exit qualification's
 * "data write" bit; it matters only for MOVS, where it tells which side is
 * the MMIO region (write: ES:RDI is; read: DS:RSI is, and the element is
 * stored to ES:RDI with mem_write). Other forms access mmio_gpa as their
 * operation requires (read, write, or read then write).
 *
 * Registers are written with x86 semantics: 8/16-bit destinations keep the
 * other bits, 32-bit destinations zero-extend to 64 bits. Arithmetic and
 * logic forms set CF PF AF ZF SF OF as the SDM defines (AF, undefined after
 * AND/OR/XOR/TEST, is cleared); BT* set CF and leave the others.
 *
 * REP string forms do one element per call: RSI/RDI/RCX step, and RIP moves
 * past the instruction only when RCX reaches 0 (or was 0 on entry, when
 * nothing else happens); the caller resumes the guest, which re-executes the
 * instruction for the next element. Every other form advances RIP by its
 * length. On error the registers are unchanged, though an MMIO or memory
 * write made before the failing callback stays made.
 *
 * Limitations: the operand is taken to start at mmio_gpa and not to cross
 * a page (the exit names one GPA). BT/BTS/BTR/BTC with a register bit
 * offset use the offset modulo the operand width at mmio_gpa: exact when
 * the offset lies within the operand, as with device registers; for larger
 * offsets it relies on the exit GPA naming the unit that holds the bit.
 * The effective address is never recomputed or cross-checked. */
int insn_emulate(const struct insn *in, struct insn_regs *regs, uint64_t mmio_gpa, bool is_write,
                 const struct insn_mem_ops *ops, void *ctx);

/* The guest-linear address of the instruction's memory operand (ModR/M,
 * moffs, or for string forms the MMIO side chosen by is_write as in
 * insn_emulate), from the registers before the instruction: effective
 * address per the addressing form (SDM Vol. 2A, 2.1.5; Vol. 1, 3.7.5),
 * truncated to the address size, plus the segment base (in 64-bit mode only
 * FS and GS have one). Used to find where an access that straddles into an
 * MMIO page really starts. Returns 0 or INSN_ERR_ARG. */
int insn_linear_address(const struct insn *in, const struct insn_regs *regs, bool is_write, uint64_t *lin);

/* A static name for an INSN_ERR_* code ("truncated", ...); "callback error"
 * for other negative values. */
const char *insn_error_name(int err);

/* A short description for error reports, e.g. "mov r32 eax <- mem (4
 * bytes)", written to buf (always NUL-terminated when n > 0, truncated to
 * fit). Returns the length written, excluding the NUL. */
size_t insn_format(const struct insn *in, char *buf, size_t n);

#endif
