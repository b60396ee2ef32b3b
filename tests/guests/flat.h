/* Shared by the flat test guests (assembled with gcc -c, linked at 0x8000
 * as a raw binary; see vmm/loader.h for the format). */
#define HC_PRINT 0x46540001
#define HC_EXIT 0x46540002
#define COM1 0x3f8

/* The image header: a short jump over the magic. */
.macro FLAT_HEADER
    .code16
    .globl _start
_start:
    jmp 1f
    .ascii "FTVFLAT1"
    .balign 16
1:
.endm
