/* seqlong: seq with 12000 lines (about 85 s of guest time), for tests
 * that fail over twice and clone the guest in between
 * (tests/system/78-ft-reprotect.sh). Each line is written in two parts
 * with 1 ms of guest time between them, so that a failover or a
 * migration often lands in the middle of a line: the consoles must still
 * show every line whole. */
#define LINES 12000u
#define SPLIT_LINES
#include "seq.c"
