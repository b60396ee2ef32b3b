/* seqlong: seq with 12000 lines (about 85 s of guest time), for tests
 * that fail over twice and clone the guest in between
 * (tests/system/78-ft-reprotect.sh). */
#define LINES 12000u
#include "seq.c"
