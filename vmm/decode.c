/* x86 instruction decoding and emulation for guest MMIO accesses; see
 * decode.h. Encoding references are to the Intel SDM Vol. 2A chapter 2
 * ("Instruction Format") unless stated otherwise. */
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <string.h>
#include "decode.h"

enum { RAX = 0, RCX = 1, RSI = 6, RDI = 7 };

static uint64_t size_mask(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

/* Sign-extend the low `size` bytes of v to 64 bits. */
static uint64_t sext(uint64_t v, unsigned size)
{
    uint64_t m = size_mask(size), sign = m ^ (m >> 1);
    return ((v & m) ^ sign) - sign;
}

static bool valid_size(unsigned size)
{
    return size == 1 || size == 2 || size == 4 || size == 8;
}

static bool valid_mode(enum cpu_mode mode)
{
    return mode == CPU_MODE_16 || mode == CPU_MODE_32 || mode == CPU_MODE_64;
}

/* ------------------------------------------------------------ decoding ---- */

/* The bytes being decoded. Every read goes through fetch(), which enforces
 * both the caller's bound and the architectural 15-byte limit (SDM Vol. 2A,
 * 2.1: longer instructions raise #GP). */
struct cursor {
    const uint8_t *p;
    size_t avail, pos;
};

static int fetch(struct cursor *c, uint8_t *b)
{
    if (c->pos >= INSN_MAX_LEN)
        return INSN_ERR_TOO_LONG;
    if (c->pos >= c->avail)
        return INSN_ERR_TRUNCATED;
    *b = c->p[c->pos++];
    return 0;
}

/* A little-endian field of n bytes (SDM Vol. 1, 1.3.1: byte order). */
static int fetch_le(struct cursor *c, unsigned n, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < n; i++) {
        uint8_t b;
        int err = fetch(c, &b);
        if (err)
            return err;
        x |= (uint64_t)b << (8 * i);
    }
    *v = x;
    return 0;
}

/* Legacy prefixes (SDM Vol. 2A, 2.1.1) in any order, then in 64-bit mode
 * REX (2.2.1). A REX only counts when it immediately precedes the opcode:
 * "other placements are ignored", so a legacy prefix after it cancels it.
 * Repeated prefixes of one group: the last one wins. Returns the first
 * non-prefix byte in *b. */
static int decode_prefixes(struct cursor *c, enum cpu_mode mode, struct insn *out, uint8_t *b)
{
    for (;;) {
        int err = fetch(c, b);
        if (err)
            return err;
        switch (*b) {
        case 0x66: out->opsize_prefix = true; break;
        case 0x67: out->addrsize_prefix = true; break;
        case 0xf0: out->lock = true; break;
        case 0xf2: out->rep = INSN_REP_NE; break;
        case 0xf3: out->rep = INSN_REP_E; break;
        case 0x26: out->seg = INSN_SEG_ES; break;
        case 0x2e: out->seg = INSN_SEG_CS; break;
        case 0x36: out->seg = INSN_SEG_SS; break;
        case 0x3e: out->seg = INSN_SEG_DS; break;
        case 0x64: out->seg = INSN_SEG_FS; break;
        case 0x65: out->seg = INSN_SEG_GS; break;
        default:
            /* 40-4F are INC/DEC outside 64-bit mode: an opcode. */
            if (mode == CPU_MODE_64 && (*b & 0xf0) == 0x40) {
                out->rex = *b;
                continue;
            }
            return 0;
        }
        out->rex = 0;
    }
}

/* ModR/M, SIB and displacement, SDM Vol. 2A, 2.1.5: Table 2-1 for 16-bit
 * addressing, Tables 2-2/2-3 for 32- and 64-bit addressing. The special
 * r/m and base values below test the 3-bit fields only: REX.B does not
 * change them (2.2.1.2, Table 2-5 "Special Cases of REX Encodings"). */
static int decode_mem(struct cursor *c, struct insn *out)
{
    unsigned mod = out->modrm >> 6, rm = out->modrm & 7, disp = 0;
    uint64_t v;
    int err;

    if (mod == 3)
        return INSN_ERR_INVALID; /* register-direct: no memory to emulate */
    out->has_mem = true;
    if (out->addrsize == 2) {
        /* No SIB in 16-bit addressing; mod=00 r/m=110 is a bare disp16. */
        if (mod == 1)
            disp = 1;
        else if (mod == 2 || rm == 6)
            disp = 2;
    } else {
        if (rm == 4) {
            /* r/m=100 selects a SIB byte; SIB base=101 with mod=00 means
             * disp32 and no base (Table 2-3 note). */
            err = fetch(c, &out->sib);
            if (err)
                return err;
            out->has_sib = true;
            if (mod == 0 && (out->sib & 7) == 5)
                disp = 4;
        }
        if (mod == 0 && rm == 5) {
            /* disp32 alone; RIP-relative in 64-bit mode (2.2.1.6), also
             * with a 67h prefix there (then EIP-relative). */
            disp = 4;
            out->rip_relative = out->mode == CPU_MODE_64;
        }
        if (mod == 1)
            disp = 1;
        else if (mod == 2)
            disp = 4;
    }
    if (disp) {
        err = fetch_le(c, disp, &v);
        if (err)
            return err;
        out->disp_size = (uint8_t)disp;
        out->disp = (int32_t)(uint32_t)sext(v, disp);
    }
    return 0;
}

/* How an instruction's immediate is encoded (SDM Vol. 2A, 3.1.1.1: ib, iw,
 * id; "iz" is 16 or 32 bits by operand size, sign-extended for 64). */
enum imm_kind { IMM_NONE, IMM_8, IMM_8S, IMM_Z };

/* Group 1 (80/81/83) and the ALU opcodes 00-3F share this order, indexed
 * by ModR/M reg or opcode bits 5:3 (SDM Vol. 2A, Table A-6). ADC and SBB
 * are not emulated. */
static const enum insn_op alu_ops[8] = {
    INSN_OP_ADD, INSN_OP_OR, INSN_OP_NONE, INSN_OP_NONE,
    INSN_OP_AND, INSN_OP_SUB, INSN_OP_XOR, INSN_OP_CMP,
};

int decode_insn(const uint8_t *bytes, size_t avail, enum cpu_mode mode, struct insn *out)
{
    struct cursor c = { bytes, avail, 0 };
    enum imm_kind imm = IMM_NONE;
    bool byte_op = false, modrm = false, reg_op = false, lockable = false, group = false;
    unsigned opsz, memsz = 0, defsz;
    uint8_t b;
    uint64_t v;
    int err;

    if (!out)
        return INSN_ERR_ARG;
    memset(out, 0, sizeof(*out));
    out->seg = INSN_SEG_NONE;
    if ((!bytes && avail) || !valid_mode(mode))
        return INSN_ERR_ARG;
    out->mode = mode;

    err = decode_prefixes(&c, mode, out, &b);
    if (err)
        return err;

    /* Operand size: SDM Vol. 1, 3.6 Table 3-3 (16/32-bit code: 66h toggles
     * the default) and 3.6.1 Table 3-4 (64-bit code: default 32, REX.W
     * makes 64 and beats 66h). Address size likewise: 67h toggles 16/32,
     * and selects 32 in 64-bit code. */
    defsz = mode == CPU_MODE_16 ? 2 : 4;
    opsz = out->opsize_prefix ? 6 - defsz : defsz;
    if (out->rex & 8)
        opsz = 8;
    defsz = mode == CPU_MODE_16 ? 2 : mode == CPU_MODE_32 ? 4 : 8;
    out->addrsize = (uint8_t)(!out->addrsize_prefix ? defsz : mode == CPU_MODE_64 ? 4 : 6 - defsz);

    out->opcode = b;
    if (b == 0x0f) {
        /* Two-byte opcode map (Table A-3). */
        err = fetch(&c, &b);
        if (err)
            return err;
        out->twobyte = true;
        out->opcode = b;
        switch (b) {
        case 0xb6: case 0xb7: /* MOVZX r, r/m8 / r/m16 */
        case 0xbe: case 0xbf: /* MOVSX r, r/m8 / r/m16 */
            out->op = b & 8 ? INSN_OP_MOVSX : INSN_OP_MOVZX;
            memsz = b & 1 ? 2 : 1;
            modrm = reg_op = true;
            break;
        case 0xa3: case 0xab: case 0xb3: case 0xbb: /* BT/BTS/BTR/BTC r/m, r */
            out->op = b == 0xa3 ? INSN_OP_BT : b == 0xab ? INSN_OP_BTS
                    : b == 0xb3 ? INSN_OP_BTR : INSN_OP_BTC;
            modrm = reg_op = out->mem_dst = true;
            lockable = b != 0xa3;
            break;
        case 0xba: /* group 8: BT* r/m, imm8 */
            modrm = group = out->mem_dst = true;
            imm = IMM_8;
            break;
        default:
            return INSN_ERR_UNSUPPORTED;
        }
    } else {
        switch (b) {
        case 0x00 ... 0x03: case 0x08 ... 0x0b: case 0x20 ... 0x23:
        case 0x28 ... 0x2b: case 0x30 ... 0x33: case 0x38 ... 0x3b:
            /* op r/m,r (bit 1 clear) or r,r/m; bit 0 clear for bytes. */
            out->op = alu_ops[(b >> 3) & 7];
            byte_op = !(b & 1);
            out->mem_dst = !(b & 2);
            modrm = reg_op = true;
            lockable = out->mem_dst && out->op != INSN_OP_CMP;
            break;
        case 0x63:
            /* MOVSXD r, r/m32 in 64-bit mode; ARPL elsewhere. Without
             * REX.W it moves 16 or 32 bits unextended (MOVSXD page). */
            if (mode != CPU_MODE_64)
                return INSN_ERR_UNSUPPORTED;
            out->op = INSN_OP_MOVSX;
            memsz = opsz == 8 ? 4 : opsz;
            modrm = reg_op = true;
            break;
        case 0x80: case 0x81: case 0x83: /* group 1: op r/m, imm */
            byte_op = b == 0x80;
            imm = b == 0x80 ? IMM_8 : b == 0x81 ? IMM_Z : IMM_8S;
            modrm = group = out->mem_dst = true;
            break;
        case 0x84: case 0x85: /* TEST r/m, r */
            out->op = INSN_OP_TEST;
            byte_op = b == 0x84;
            modrm = reg_op = out->mem_dst = true;
            break;
        case 0x86: case 0x87: /* XCHG r/m, r */
            out->op = INSN_OP_XCHG;
            byte_op = b == 0x86;
            modrm = reg_op = out->mem_dst = lockable = true;
            break;
        case 0x88 ... 0x8b: /* MOV r/m,r / r,r/m */
            out->op = INSN_OP_MOV;
            byte_op = !(b & 1);
            out->mem_dst = !(b & 2);
            modrm = reg_op = true;
            break;
        case 0xa0 ... 0xa3: /* MOV AL/eAX <-> moffs (2.2.1.4) */
            out->op = INSN_OP_MOV;
            byte_op = !(b & 1);
            out->mem_dst = b & 2;
            out->has_reg = true; /* the accumulator, reg = {0} */
            break;
        case 0xa4: case 0xa5:
            out->op = INSN_OP_MOVS;
            byte_op = b == 0xa4;
            out->mem_dst = true;
            break;
        case 0xaa: case 0xab:
            out->op = INSN_OP_STOS;
            byte_op = b == 0xaa;
            out->mem_dst = out->has_reg = true;
            break;
        case 0xac: case 0xad:
            out->op = INSN_OP_LODS;
            byte_op = b == 0xac;
            out->has_reg = true;
            break;
        case 0xc6: case 0xc7: /* group 11: MOV r/m, imm (only /0) */
            byte_op = b == 0xc6;
            imm = byte_op ? IMM_8 : IMM_Z;
            modrm = group = out->mem_dst = true;
            break;
        case 0xf6: case 0xf7: /* group 3: TEST r/m, imm is /0 */
            byte_op = b == 0xf6;
            imm = byte_op ? IMM_8 : IMM_Z;
            modrm = group = out->mem_dst = true;
            break;
        default:
            return INSN_ERR_UNSUPPORTED;
        }
    }

    if (byte_op)
        opsz = 1;
    out->opsize = (uint8_t)opsz;
    out->memsize = (uint8_t)(memsz ? memsz : opsz);

    if (modrm) {
        unsigned reg;
        err = fetch(&c, &out->modrm);
        if (err)
            return err;
        out->has_modrm = true;
        reg = (out->modrm >> 3) & 7;
        if (group) {
            /* The reg field extends the opcode (Table A-6). */
            switch (b) {
            case 0x80: case 0x81: case 0x83:
                out->op = alu_ops[reg];
                lockable = out->op != INSN_OP_CMP;
                break;
            case 0xc6: case 0xc7:
                out->op = reg == 0 ? INSN_OP_MOV : INSN_OP_NONE;
                break;
            case 0xf6: case 0xf7:
                out->op = reg == 0 ? INSN_OP_TEST : INSN_OP_NONE;
                break;
            case 0xba:
                /* /0-/3 are reserved: #UD. */
                if (reg < 4)
                    return INSN_ERR_INVALID;
                out->op = INSN_OP_BT + (reg - 4);
                lockable = reg != 4;
                break;
            }
            if (out->op == INSN_OP_NONE)
                return INSN_ERR_UNSUPPORTED;
        }
        if (reg_op) {
            /* REX.R extends reg (2.2.1.2). Byte registers 4-7 are AH-BH
             * without any REX and SPL-DIL with one (Vol. 1, 3.4.1.1). */
            reg |= (out->rex & 4) << 1;
            out->has_reg = true;
            if (byte_op && !out->rex && reg >= 4)
                out->reg = (struct insn_reg){ (uint8_t)(reg - 4), true };
            else
                out->reg = (struct insn_reg){ (uint8_t)reg, false };
        }
        err = decode_mem(&c, out);
        if (err)
            return err;
    }

    /* LOCK is allowed only on the read-modify-write forms listed on the
     * LOCK page (SDM Vol. 2A, chapter 3), with a memory destination;
     * anything else raises #UD. */
    if (out->lock && !lockable)
        return INSN_ERR_INVALID;

    if (out->op == INSN_OP_MOV && !out->has_modrm && out->has_reg) {
        /* moffs is address-size wide: 8 bytes in 64-bit mode unless 67h. */
        err = fetch_le(&c, out->addrsize, &out->moffs);
        if (err)
            return err;
        out->is_moffs = true;
    }

    if (imm != IMM_NONE) {
        unsigned n = imm == IMM_Z ? (opsz == 2 ? 2 : 4) : 1;
        err = fetch_le(&c, n, &v);
        if (err)
            return err;
        out->has_imm = true;
        out->imm_size = (uint8_t)n;
        /* 83's imm8 and a 32-bit iz under REX.W are sign-extended to the
         * operand size; ib with a byte operation or BT needs no extension. */
        if (imm != IMM_8)
            v = sext(v, n);
        out->imm = v & size_mask(opsz);
    }

    out->len = (uint8_t)c.pos;
    return 0;
}

/* ----------------------------------------------------------- execution ---- */

static uint64_t reg_get(const struct insn_regs *r, struct insn_reg reg, unsigned size)
{
    if (reg.high8)
        return (r->gpr[reg.num] >> 8) & 0xff;
    return r->gpr[reg.num] & size_mask(size);
}

/* Write a register as the CPU does (SDM Vol. 1, 3.4.1.1): 8- and 16-bit
 * results keep the other bits, 32-bit results zero-extend. Outside 64-bit
 * mode the upper half is undefined after a 32-bit write; zero-extending
 * there too is one of the permitted outcomes, and deterministic. */
static void reg_set(struct insn_regs *r, struct insn_reg reg, unsigned size, uint64_t v)
{
    uint64_t *g = &r->gpr[reg.num];
    if (reg.high8)
        *g = (*g & ~0xff00ull) | ((v & 0xff) << 8);
    else if (size >= 4)
        *g = v & size_mask(size);
    else
        *g = (*g & ~size_mask(size)) | (v & size_mask(size));
}

static bool parity_even(uint64_t v)
{
    uint8_t x = (uint8_t)v;
    x ^= x >> 4;
    x ^= x >> 2;
    x ^= x >> 1;
    return !(x & 1);
}

/* a op b at `size` bytes, setting the six status flags per each
 * instruction's "Flags Affected" (SDM Vol. 2A/2B: ADD, SUB, CMP; AND, OR,
 * XOR and TEST clear OF and CF and leave AF undefined, cleared here). PF
 * covers the low byte only (Vol. 1, 3.4.3.1). */
static uint64_t alu(enum insn_op op, unsigned size, uint64_t a, uint64_t b, uint64_t *rflags)
{
    uint64_t m = size_mask(size), sign = m ^ (m >> 1), r, f = 0;

    a &= m;
    b &= m;
    switch (op) {
    case INSN_OP_ADD:
        r = (a + b) & m;
        if (r < a)
            f |= INSN_RFLAGS_CF;
        if ((a ^ r) & (b ^ r) & sign) /* both inputs differ in sign from r */
            f |= INSN_RFLAGS_OF;
        f |= (a ^ b ^ r) & INSN_RFLAGS_AF; /* carry out of bit 3 */
        break;
    case INSN_OP_SUB:
    case INSN_OP_CMP:
        r = (a - b) & m;
        if (a < b)
            f |= INSN_RFLAGS_CF;
        if ((a ^ b) & (a ^ r) & sign)
            f |= INSN_RFLAGS_OF;
        f |= (a ^ b ^ r) & INSN_RFLAGS_AF; /* borrow into bit 3 */
        break;
    case INSN_OP_OR:
        r = a | b;
        break;
    case INSN_OP_XOR:
        r = a ^ b;
        break;
    default: /* AND, TEST */
        r = a & b;
        break;
    }
    if (r == 0)
        f |= INSN_RFLAGS_ZF;
    if (r & sign)
        f |= INSN_RFLAGS_SF;
    if (parity_even(r))
        f |= INSN_RFLAGS_PF;
    *rflags = (*rflags & ~INSN_RFLAGS_ARITH) | f;
    return r;
}

/* A string operand's guest-linear address: segment base plus the index
 * register truncated to the address size. In 64-bit mode only FS and GS
 * have a base (Vol. 1, 3.4.2.1); elsewhere linear addresses are 32 bits. */
static uint64_t str_linear(const struct insn *in, const struct insn_regs *r, int seg, unsigned idx)
{
    uint64_t base = r->seg_base[seg];
    uint64_t la;
    if (in->mode == CPU_MODE_64 && seg < INSN_SEG_FS)
        base = 0;
    la = base + (r->gpr[idx] & size_mask(in->addrsize));
    return in->mode == CPU_MODE_64 ? la : la & 0xffffffffull;
}

/* Step RSI or RDI by one element in the direction RFLAGS.DF gives, at the
 * address size (SDM Vol. 2B, MOVS/STOS/LODS "Operation"). */
static void str_step(const struct insn *in, struct insn_regs *r, unsigned idx)
{
    uint64_t d = in->memsize;
    uint64_t v = r->rflags & INSN_RFLAGS_DF ? r->gpr[idx] - d : r->gpr[idx] + d;
    reg_set(r, (struct insn_reg){ (uint8_t)idx, false }, in->addrsize, v);
}

static int cb(int rc)
{
    return rc > 0 ? INSN_ERR_ARG : rc;
}

static bool insn_sane(const struct insn *in)
{
    return valid_mode(in->mode) && in->len >= 1 && in->len <= INSN_MAX_LEN &&
           valid_size(in->opsize) && valid_size(in->memsize) &&
           (in->addrsize == 2 || in->addrsize == 4 || in->addrsize == 8) &&
           in->reg.num < 16 && (!in->reg.high8 || in->reg.num < 4) &&
           in->seg >= INSN_SEG_NONE && in->seg <= INSN_SEG_GS;
}

int insn_emulate(const struct insn *in, struct insn_regs *regs, uint64_t mmio_gpa, bool is_write,
                 const struct insn_mem_ops *ops, void *ctx)
{
    struct insn_regs r;
    bool string, rep;
    uint64_t m, x, cnt = 0;
    unsigned bits, bit;
    int err;

    if (!in || !regs || !ops || !ops->mmio_read || !ops->mmio_write || !insn_sane(in))
        return INSN_ERR_ARG;
    /* Work on a copy so a failed callback leaves the registers alone. */
    r = *regs;

    string = in->op == INSN_OP_MOVS || in->op == INSN_OP_STOS || in->op == INSN_OP_LODS;
    /* F2 on these behaves as F3 (no flag condition to test). */
    rep = string && in->rep != INSN_REP_NONE;
    if (rep) {
        cnt = r.gpr[RCX] & size_mask(in->addrsize);
        if (cnt == 0)
            goto advance;
    }

    switch (in->op) {
    case INSN_OP_MOV:
        if (in->mem_dst) {
            x = in->has_imm ? in->imm : reg_get(&r, in->reg, in->opsize);
            err = cb(ops->mmio_write(ctx, mmio_gpa, in->memsize, x & size_mask(in->memsize)));
            if (err)
                return err;
        } else {
            err = cb(ops->mmio_read(ctx, mmio_gpa, in->memsize, &m));
            if (err)
                return err;
            reg_set(&r, in->reg, in->opsize, m);
        }
        break;

    case INSN_OP_MOVZX:
    case INSN_OP_MOVSX:
        err = cb(ops->mmio_read(ctx, mmio_gpa, in->memsize, &m));
        if (err)
            return err;
        m = in->op == INSN_OP_MOVSX ? sext(m, in->memsize) : m & size_mask(in->memsize);
        reg_set(&r, in->reg, in->opsize, m);
        break;

    case INSN_OP_ADD:
    case INSN_OP_OR:
    case INSN_OP_AND:
    case INSN_OP_SUB:
    case INSN_OP_XOR:
    case INSN_OP_CMP:
    case INSN_OP_TEST:
        err = cb(ops->mmio_read(ctx, mmio_gpa, in->memsize, &m));
        if (err)
            return err;
        x = in->has_imm ? in->imm : reg_get(&r, in->reg, in->opsize);
        x = in->mem_dst ? alu(in->op, in->opsize, m, x, &r.rflags)
                        : alu(in->op, in->opsize, x, m, &r.rflags);
        if (in->op == INSN_OP_CMP || in->op == INSN_OP_TEST)
            break;
        if (in->mem_dst) {
            err = cb(ops->mmio_write(ctx, mmio_gpa, in->memsize, x));
            if (err)
                return err;
        } else {
            reg_set(&r, in->reg, in->opsize, x);
        }
        break;

    case INSN_OP_XCHG:
        err = cb(ops->mmio_read(ctx, mmio_gpa, in->memsize, &m));
        if (err)
            return err;
        err = cb(ops->mmio_write(ctx, mmio_gpa, in->memsize, reg_get(&r, in->reg, in->opsize)));
        if (err)
            return err;
        reg_set(&r, in->reg, in->opsize, m);
        break;

    case INSN_OP_BT:
    case INSN_OP_BTS:
    case INSN_OP_BTR:
    case INSN_OP_BTC:
        /* The bit offset is taken modulo the operand width. With an imm8
         * that is exact (BT page: "imm8 ... modulo 16/32/64"). A register
         * offset may address beyond the operand; the CPU then accesses the
         * unit holding the bit, and we assume mmio_gpa is that unit. This
         * is exact when the offset is within the operand (the usual case
         * for device registers) and otherwise relies on the exit's GPA. */
        err = cb(ops->mmio_read(ctx, mmio_gpa, in->memsize, &m));
        if (err)
            return err;
        bits = in->memsize * 8u;
        x = in->has_imm ? in->imm : reg_get(&r, in->reg, in->opsize);
        bit = (unsigned)(x & (bits - 1));
        r.rflags = (r.rflags & ~INSN_RFLAGS_CF) | ((m >> bit) & 1);
        if (in->op == INSN_OP_BT)
            break;
        if (in->op == INSN_OP_BTS)
            m |= 1ull << bit;
        else if (in->op == INSN_OP_BTR)
            m &= ~(1ull << bit);
        else
            m ^= 1ull << bit;
        err = cb(ops->mmio_write(ctx, mmio_gpa, in->memsize, m & size_mask(in->memsize)));
        if (err)
            return err;
        break;

    case INSN_OP_STOS:
        /* ES:rDI is the only memory operand, so it is the MMIO one. */
        err = cb(ops->mmio_write(ctx, mmio_gpa, in->memsize, reg_get(&r, in->reg, in->opsize)));
        if (err)
            return err;
        str_step(in, &r, RDI);
        break;

    case INSN_OP_LODS:
        err = cb(ops->mmio_read(ctx, mmio_gpa, in->memsize, &m));
        if (err)
            return err;
        reg_set(&r, in->reg, in->opsize, m);
        str_step(in, &r, RSI);
        break;

    case INSN_OP_MOVS: {
        /* Source DS:rSI (segment overridable), destination ES:rDI (never
         * overridden) per the MOVS page. The faulting access tells which
         * side is MMIO; the other goes through mem_read/mem_write, which
         * may itself find MMIO there (a device-to-device copy). */
        int seg = in->seg == INSN_SEG_NONE ? INSN_SEG_DS : in->seg;
        if (is_write) {
            if (!ops->mem_read)
                return INSN_ERR_ARG;
            err = cb(ops->mem_read(ctx, str_linear(in, &r, seg, RSI), in->memsize, &m));
            if (err)
                return err;
            err = cb(ops->mmio_write(ctx, mmio_gpa, in->memsize, m & size_mask(in->memsize)));
            if (err)
                return err;
        } else {
            if (!ops->mem_write)
                return INSN_ERR_ARG;
            err = cb(ops->mmio_read(ctx, mmio_gpa, in->memsize, &m));
            if (err)
                return err;
            err = cb(ops->mem_write(ctx, str_linear(in, &r, INSN_SEG_ES, RDI), in->memsize,
                                    m & size_mask(in->memsize)));
            if (err)
                return err;
        }
        str_step(in, &r, RSI);
        str_step(in, &r, RDI);
        break;
    }

    default:
        return INSN_ERR_ARG;
    }

    if (rep) {
        /* One element per call: RIP stays on the instruction until the
         * count runs out, so the guest re-executes it (and each iteration
         * is a separate, countable exit). */
        cnt--;
        reg_set(&r, (struct insn_reg){ RCX, false }, in->addrsize, cnt);
        if (cnt != 0)
            goto done;
    }
advance:
    /* EIP/IP wrap at the code size outside 64-bit mode. */
    r.rip += in->len;
    if (in->mode == CPU_MODE_32)
        r.rip &= 0xffffffffull;
    else if (in->mode == CPU_MODE_16)
        r.rip &= 0xffffull;
done:
    *regs = r;
    return 0;
}

/* ---------------------------------------------------------- reporting ---- */

const char *insn_error_name(int err)
{
    switch (err) {
    case INSN_OK: return "ok";
    case INSN_ERR_TRUNCATED: return "truncated";
    case INSN_ERR_TOO_LONG: return "longer than 15 bytes";
    case INSN_ERR_UNSUPPORTED: return "unsupported instruction";
    case INSN_ERR_INVALID: return "invalid encoding";
    case INSN_ERR_ARG: return "bad argument";
    default: return err < 0 ? "callback error" : "unknown";
    }
}

/* A bounded string builder: output past n-1 characters is dropped. */
struct sbuf {
    char *p;
    size_t n, len;
};

static void put(struct sbuf *s, const char *str)
{
    for (; *str; str++)
        if (s->len + 1 < s->n)
            s->p[s->len++] = *str;
}

static void put_hex(struct sbuf *s, uint64_t v)
{
    char tmp[19];
    int i = (int)sizeof(tmp) - 1;
    tmp[i] = '\0';
    do {
        tmp[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    tmp[--i] = 'x';
    tmp[--i] = '0';
    put(s, &tmp[i]);
}

static void put_dec(struct sbuf *s, unsigned v)
{
    char tmp[11];
    int i = (int)sizeof(tmp) - 1;
    tmp[i] = '\0';
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(s, &tmp[i]);
}

static const char *const reg_names[4][16] = {
    { "al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil",
      "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b" },
    { "ax", "cx", "dx", "bx", "sp", "bp", "si", "di",
      "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w" },
    { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
      "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d" },
    { "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
      "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" },
};
static const char *const high8_names[4] = { "ah", "ch", "dh", "bh" };
static const char *const seg_names[6] = { "es", "cs", "ss", "ds", "fs", "gs" };

static unsigned size_index(unsigned size)
{
    return size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3;
}

/* "r32 eax", "r8 ah". */
static void put_reg(struct sbuf *s, struct insn_reg reg, unsigned size)
{
    put(s, "r");
    put_dec(s, size * 8);
    put(s, " ");
    if (reg.high8)
        put(s, high8_names[reg.num & 3]);
    else
        put(s, reg_names[size_index(size)][reg.num & 15]);
}

/* "es:[rdi]" / "ds:[esi]" for string operands, at the address size. */
static void put_str_mem(struct sbuf *s, const struct insn *in, int seg, unsigned idx)
{
    put(s, seg_names[seg]);
    put(s, ":[");
    put(s, reg_names[size_index(in->addrsize)][idx]);
    put(s, "]");
}

/* The memory operand: "mem", "mem[0xfee000b0]" for moffs, or the string
 * form's implicit operand. */
static void put_mem(struct sbuf *s, const struct insn *in, bool dst)
{
    if (in->op == INSN_OP_MOVS || in->op == INSN_OP_STOS || in->op == INSN_OP_LODS) {
        if (dst)
            put_str_mem(s, in, INSN_SEG_ES, RDI);
        else
            put_str_mem(s, in, in->seg == INSN_SEG_NONE ? INSN_SEG_DS : in->seg, RSI);
        return;
    }
    put(s, "mem");
    if (in->is_moffs) {
        put(s, "[");
        put_hex(s, in->moffs);
        put(s, "]");
    }
}

static void put_src(struct sbuf *s, const struct insn *in)
{
    if (in->has_imm) {
        put(s, "imm ");
        put_hex(s, in->imm);
    } else {
        put_reg(s, in->reg, in->opsize);
    }
}

size_t insn_format(const struct insn *in, char *buf, size_t n)
{
    static const char *const names[] = {
        [INSN_OP_NONE] = "?", [INSN_OP_MOV] = "mov", [INSN_OP_MOVZX] = "movzx",
        [INSN_OP_MOVSX] = "movsx", [INSN_OP_ADD] = "add", [INSN_OP_OR] = "or",
        [INSN_OP_AND] = "and", [INSN_OP_SUB] = "sub", [INSN_OP_XOR] = "xor",
        [INSN_OP_CMP] = "cmp", [INSN_OP_TEST] = "test", [INSN_OP_XCHG] = "xchg",
        [INSN_OP_BT] = "bt", [INSN_OP_BTS] = "bts", [INSN_OP_BTR] = "btr",
        [INSN_OP_BTC] = "btc", [INSN_OP_MOVS] = "movs", [INSN_OP_STOS] = "stos",
        [INSN_OP_LODS] = "lods",
    };
    struct sbuf s = { buf, n, 0 };
    bool string;

    if (!buf || n == 0)
        return 0;
    if (!in || (unsigned)in->op >= sizeof(names) / sizeof(names[0]) || !insn_sane(in)) {
        put(&s, "(bad insn)");
        buf[s.len] = '\0';
        return s.len;
    }
    string = in->op == INSN_OP_MOVS || in->op == INSN_OP_STOS || in->op == INSN_OP_LODS;
    if (in->lock)
        put(&s, "lock ");
    if (string && in->rep != INSN_REP_NONE)
        put(&s, in->rep == INSN_REP_NE ? "repne " : "rep ");
    put(&s, in->op == INSN_OP_MOVSX && !in->twobyte ? "movsxd" : names[in->op]);
    put(&s, " ");

    switch (in->op) {
    case INSN_OP_MOV:
    case INSN_OP_MOVZX:
    case INSN_OP_MOVSX:
    case INSN_OP_STOS:
    case INSN_OP_LODS:
        /* Moves: "dst <- src". */
        if (in->mem_dst) {
            put_mem(&s, in, true);
            put(&s, " <- ");
            put_src(&s, in);
        } else {
            put_reg(&s, in->reg, in->opsize);
            put(&s, " <- ");
            put_mem(&s, in, false);
        }
        break;
    case INSN_OP_MOVS:
        put_mem(&s, in, true);
        put(&s, " <- ");
        put_mem(&s, in, false);
        break;
    case INSN_OP_XCHG:
        put_mem(&s, in, true);
        put(&s, " <-> ");
        put_reg(&s, in->reg, in->opsize);
        break;
    default:
        /* Operations: "dst, src" in Intel order. */
        if (in->mem_dst) {
            put_mem(&s, in, true);
            put(&s, ", ");
            put_src(&s, in);
        } else {
            put_reg(&s, in->reg, in->opsize);
            put(&s, ", ");
            put_mem(&s, in, false);
        }
        break;
    }
    put(&s, " (");
    put_dec(&s, in->memsize);
    put(&s, in->memsize == 1 ? " byte)" : " bytes)");
    buf[s.len] = '\0';
    return s.len;
}

int insn_linear_address(const struct insn *in, const struct insn_regs *regs, bool is_write, uint64_t *lin)
{
    if (!in || !regs || !lin)
        return INSN_ERR_ARG;
    uint64_t amask = in->addrsize == 2 ? 0xffffull : in->addrsize == 4 ? 0xffffffffull : ~0ull;
    uint64_t ea = 0;
    int seg = INSN_SEG_DS;
    if (in->op == INSN_OP_STOS || in->op == INSN_OP_LODS || in->op == INSN_OP_MOVS) {
        /* STOS writes ES:rDI; LODS reads DS:rSI; MOVS: the MMIO side. */
        bool dst = in->op == INSN_OP_STOS || (in->op == INSN_OP_MOVS && is_write);
        ea = regs->gpr[dst ? 7 : 6];
        seg = dst ? INSN_SEG_ES : (in->seg != INSN_SEG_NONE ? in->seg : INSN_SEG_DS);
    } else if (in->is_moffs) {
        ea = in->moffs;
        seg = in->seg != INSN_SEG_NONE ? in->seg : INSN_SEG_DS;
    } else if (in->has_mem) {
        unsigned mod = in->modrm >> 6, rm = in->modrm & 7;
        if (in->addrsize == 2) {
            static const int8_t base16[8] = { 3, 3, 5, 5, 6, 7, 5, 3 };  /* BX BX BP BP SI DI BP BX */
            static const int8_t index16[8] = { 6, 7, 6, 7, -1, -1, -1, -1 }; /* SI DI SI DI */
            if (!(mod == 0 && rm == 6)) {
                ea = regs->gpr[base16[rm]];
                if (index16[rm] >= 0)
                    ea += regs->gpr[index16[rm]];
                if (rm == 2 || rm == 3 || rm == 6)
                    seg = INSN_SEG_SS;
            }
            ea += (uint64_t)(int64_t)in->disp;
        } else {
            unsigned rex_b = (in->rex >> 0) & 1, rex_x = (in->rex >> 1) & 1;
            if (in->rip_relative) {
                ea = regs->rip + in->len;
            } else if (in->has_sib) {
                unsigned base = in->sib & 7, index = ((in->sib >> 3) & 7) | rex_x << 3, scale = in->sib >> 6;
                if (!(mod == 0 && base == 5)) {
                    ea = regs->gpr[base | rex_b << 3];
                    if (base == 4 || base == 5)
                        seg = INSN_SEG_SS;
                }
                if (index != 4)
                    ea += regs->gpr[index] << scale;
            } else if (!(mod == 0 && rm == 5)) {
                ea = regs->gpr[rm | rex_b << 3];
                if (rm == 4 || rm == 5)
                    seg = INSN_SEG_SS;
            }
            ea += (uint64_t)(int64_t)in->disp;
        }
        if (in->seg != INSN_SEG_NONE)
            seg = in->seg;
    } else {
        return INSN_ERR_ARG;
    }
    ea &= amask;
    uint64_t base = regs->seg_base[seg];
    if (in->mode == CPU_MODE_64 && seg != INSN_SEG_FS && seg != INSN_SEG_GS)
        base = 0;
    *lin = base + ea;
    if (in->mode != CPU_MODE_64)
        *lin &= 0xffffffffull;
    return 0;
}
