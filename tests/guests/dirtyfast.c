/* dirtyfast: dirty.c writing 16 pages per ms (64 MB/s of guest time),
 * more than the emulated link carries: migration must converge by
 * throttling the guest (auto-converge). */
#define DIRTY_PAGES 16u
#include "dirty.c"
