/* Decode a failed VM entry into the VMCS field at fault (vmcs_check.c). */
#ifndef VMM_VMCS_CHECK_H
#define VMM_VMCS_CHECK_H

#include <stddef.h>
#include "vcpu.h"

void vmcs_check_all(struct vcpu *v, char *why, size_t n);

#endif
