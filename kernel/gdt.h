#ifndef KERNEL_GDT_H
#define KERNEL_GDT_H

#define GDT_KCODE 0x08
#define GDT_KDATA 0x10
#define GDT_TSS 0x18

/* IST slots (1-based, as the IDT gate encodes them). */
#define IST_NMI 1
#define IST_DF 2
#define IST_MC 3

#endif
