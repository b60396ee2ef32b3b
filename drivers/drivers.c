/* The drivers service: scan PCI, let each driver claim its devices, tell
 * the kernel the NICs' MACs (how "this host" is found in the config), and
 * drive the block devices' requests from the main loop. */
#include "netdev.h"
#include "blockdev.h"
#include "pci.h"
#include "../kernel/kernel.h"
#include "../kernel/log.h"
#include "../kernel/service.h"

static struct netdev *nds[NETDEV_MAX];
static int nnds;

void netdev_register(struct netdev *nd)
{
    if (nnds == NETDEV_MAX) {
        log_warn("net", "%s: too many NICs, ignored", nd->name);
        return;
    }
    nds[nnds++] = nd;
    log_info("net", "%s (%s): MAC %02x:%02x:%02x:%02x:%02x:%02x", nd->name, nd->model, nd->mac[0], nd->mac[1],
             nd->mac[2], nd->mac[3], nd->mac[4], nd->mac[5]);
}

int netdev_count(void) { return nnds; }
struct netdev *netdev_get(int i) { return i >= 0 && i < nnds ? nds[i] : NULL; }

static void drivers_init(void)
{
    pci_init();
    e1000_probe();
    virtio_net_probe();
    ata_probe();
    ahci_probe();
    nvme_probe();
    uint8_t macs[NETDEV_MAX][6];
    for (int i = 0; i < nnds; i++)
        for (int b = 0; b < 6; b++)
            macs[i][b] = nds[i]->mac[b];
    kernel_identify_host((const uint8_t(*)[6])macs, nnds);
}

/* Block requests advance from the main loop; while one is in flight the
 * loop does not halt (the drivers poll, they take no interrupts). */
static bool drivers_poll(void)
{
    return blockdev_poll_all();
}

SERVICE(10, drivers, drivers_init, drivers_poll);
