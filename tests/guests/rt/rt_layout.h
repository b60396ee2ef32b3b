/* Constants shared by rt/entry.S, rt/isr.S and rt.h: GDT selectors and the
 * layout of struct rt_boot, the record of the mode transitions. */
#ifndef RT_LAYOUT_H
#define RT_LAYOUT_H

#define RT_SEL_CODE32 0x08
#define RT_SEL_DATA 0x10
#define RT_SEL_CODE64 0x18

/* struct rt_boot (rt.h) */
#define RT_BOOT_REAL_CR0 0x00 /* u32: CR0 as real mode saw it */
#define RT_BOOT_PM_CR0 0x04   /* u32: in 32-bit protected mode */
#define RT_BOOT_PM_EFER 0x08  /* u32: EFER (low half) in protected mode */
#define RT_BOOT_REAL_CS 0x0c  /* u16 */
#define RT_BOOT_PM_CS 0x0e    /* u16 */
#define RT_BOOT_LM_CR0 0x10   /* u64: in long mode */
#define RT_BOOT_LM_CR4 0x18   /* u64 */
#define RT_BOOT_LM_EFER 0x20  /* u32 */
#define RT_BOOT_LM_CS 0x24    /* u16 */
#define RT_BOOT_STAGES 0x28   /* u8[4]: 1 real, 2 protected, 3 long, in order */
#define RT_BOOT_MXCSR 0x2c    /* u32: scratch for LDMXCSR */
#define RT_BOOT_SIZE 0x30

/* Page directories for rt_map_2m() above 4 GiB. */
#define RT_PD_SPARE 4

#endif
