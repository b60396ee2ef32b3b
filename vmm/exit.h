/* VM-exit handling: one handler per basic exit reason, in a table
 * (vmm/exit.c), spread over files by concern. */
#ifndef VMM_EXIT_H
#define VMM_EXIT_H

#include "vcpu.h"

typedef void (*exit_handler_t)(struct vcpu *v);

void exit_dispatch(struct vcpu *v, uint32_t reason);

/* Handlers that live in their own files. */
void exit_io(struct vcpu *v);          /* vmm/exit_io.c */
void exit_rdmsr(struct vcpu *v);       /* vmm/exit_msr.c */
void exit_wrmsr(struct vcpu *v);
void exit_cr_access(struct vcpu *v);   /* vmm/exit_cr.c */
void exit_xsetbv(struct vcpu *v);
void exit_ept_violation(struct vcpu *v); /* vmm/exit_ept.c */
void exit_ept_misconfig(struct vcpu *v);
void exit_vmcall(struct vcpu *v);      /* vmm/hypercall.c */

#endif
