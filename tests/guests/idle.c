/* idle: dirty.c writing nothing: a guest that sleeps in HLT between 1 kHz
 * timer ticks and prints a line every 100 ms (migration's idle case). */
#define DIRTY_PAGES 0u
#include "dirty.c"
