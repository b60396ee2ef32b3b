/* ftvisor.conf: the one configuration file of a pair (docs/config.md).
 *
 * The parser is pure (no allocation, no I/O) so the UEFI loader, the kernel
 * and the host unit tests all run the same code. Every error names the line
 * at fault: "ftvisor.conf:LINE: message". */
#ifndef KERNEL_CONFIG_H
#define KERNEL_CONFIG_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

#define CFG_MAX_HOSTS 8
#define CFG_NAME_MAX 32
#define CFG_PATH_MAX 128
#define CFG_CMDLINE_MAX 1024
#define CFG_KEY_MAX 65 /* 64 characters: operator tokens key BLAKE2b with it (at most 64 bytes) */
#define CFG_SERIAL_MAX 20
#define CFG_LINE_MAX 1100
#define CFG_ERR_MAX 384

enum cfg_on_exit { CFG_EXIT_POWEROFF, CFG_EXIT_HALT, CFG_EXIT_RESTART };
enum cfg_arbiter { CFG_ARBITER_NONE, CFG_ARBITER_WITNESS, CFG_ARBITER_DISK };
enum cfg_log_level { CFG_LOG_ERROR, CFG_LOG_WARN, CFG_LOG_INFO, CFG_LOG_DEBUG };
enum cfg_switch { CFG_OFF, CFG_ON };
/* A deliberate fault at the end of boot, to test the exception reports. */
enum cfg_fault_test { CFG_FAULT_NONE, CFG_FAULT_UD, CFG_FAULT_PF, CFG_FAULT_DE, CFG_FAULT_GP, CFG_FAULT_DF,
                      CFG_FAULT_VMENTRY, /* corrupt the guest state: a failed VM entry must be decoded */
                      CFG_FAULT_LOG_CORRUPT, /* selfcheck: flip a bit in the log (its CRC must catch it) */
                      CFG_FAULT_LOG_RETIME, /* selfcheck: later times 1 ms later, validly (replay must diverge) */
                      CFG_FAULT_LOG_MUTATE, /* selfcheck: one ASYNC record's register CRC changed, validly */
                      CFG_FAULT_DIE_IN_IO,  /* pair primary: halt dead while the output rule holds disk writes */
                      CFG_FAULT_BACKUP_DIVERGE /* pair backup: flip a byte of guest RAM once (repair must follow) */ };

struct cfg_host {
    char name[CFG_NAME_MAX];
    uint8_t mac[6];
    uint32_t ip, netmask, gateway; /* host byte order; gateway 0 = none */
    /* guest_nic: a second NIC of this host that carries only the guest's
     * frames (all zero: the guest shares the NIC of mac with the host). */
    uint8_t guest_nic[6];
    int guest_nic_line;
    int line;                      /* of the [host NAME] header */
};

struct cfg_pair {
    bool present;
    char key[CFG_KEY_MAX];
    uint32_t heartbeat_ms;
    uint32_t failover_timeout_ms;
    enum cfg_arbiter arbiter;
    uint32_t arbiter_ip;
    uint16_t arbiter_port;
    /* arbiter = disk:SERIAL[:PARTITION]: the drive (or partition) whose
     * first sector is the test-and-set sector. */
    char arbiter_serial[CFG_SERIAL_MAX + 1];
    uint32_t arbiter_partition;
    int arbiter_line;
    char primary[CFG_NAME_MAX]; /* empty: the first [host] */
    int primary_line;
    uint32_t max_lag_ms;     /* the backup's replay may trail this much virtual time */
    uint32_t backup_wait_ms; /* the primary waits this long for its backup at boot */
    int line;
};

/* A file the loader reads from the boot volume. */
struct cfg_file {
    char path[CFG_PATH_MAX]; /* empty: not configured */
    int line;
};

/* A drive named by its serial number, and the line that named it. */
struct cfg_serial {
    char serial[CFG_SERIAL_MAX + 1]; /* empty: not configured */
    int line;
};

/* Guest CPU models (vmm/cpuid.c): what the guest's CPUID offers. */
enum cfg_cpu_model { CFG_CPU_X86_64_V2, CFG_CPU_X86_64_V3 };

/* A pair's guest disk on drives: one both hosts reach, or a copy each. */
enum cfg_disk_mode { CFG_DISK_SHARED, CFG_DISK_PRIVATE };
/* Where a pair's backup gets the guest's disk reads: from the log, or by
 * reading the disk itself (VMware FT's alternative). */
enum cfg_disk_reads { CFG_READS_LOG, CFG_READS_BACKUP };

struct cfg_guest {
    bool present;
    struct cfg_file kernel, initrd, disk;
    /* disk_device = SERIAL[:PARTITION]: the guest's disk on a host drive
     * (drivers/blockdev.h); partition 0: the whole drive. */
    char disk_serial[CFG_SERIAL_MAX + 1];
    uint32_t disk_partition;
    enum cfg_disk_mode disk_mode;
    enum cfg_disk_reads disk_reads;
    /* nic_mac: the guest's virtio-net NIC, bridged onto this host's NIC
     * (all zero: the guest has none). */
    uint8_t nic_mac[6];
    int nic_mac_line;
    int disk_device_line;
    char cmdline[CFG_CMDLINE_MAX];
    uint32_t memory_mb;
    enum cfg_cpu_model cpu_model;
    int line;
};

/* Recording and replay of the guest (ft/). */
enum cfg_record_mode { CFG_REC_OFF, CFG_REC_SELFCHECK, CFG_REC_RECORD, CFG_REC_REPLAY };
enum cfg_record_dest { CFG_DEST_MEMORY, CFG_DEST_SINK };
enum cfg_landmark { CFG_LM_AUTO, CFG_LM_EMULATOR, CFG_LM_EXITS, CFG_LM_PMU, CFG_LM_EACH };

struct cfg_record {
    bool present;
    enum cfg_record_mode mode;
    uint32_t span_ms;      /* selfcheck: virtual ms to record (0: until the guest ends) */
    enum cfg_landmark landmark;
    uint32_t digest_every; /* state digest every N event points (0: only at the end) */
    uint32_t digest_min_ms; /* ... and at least this much virtual time apart (0: no minimum) */
    enum cfg_record_dest dest; /* record: where the log goes */
    uint32_t sink_ip;          /* tools/ftlog-sink (host byte order); 0: none */
    uint16_t sink_port;
    char log_name[CFG_NAME_MAX]; /* the log's name at the sink (default: this host's name) */
    int line;
};

struct cfg_debug {
    char host[CFG_NAME_MAX]; /* empty: find this host by NIC MAC */
    int host_line;
    enum cfg_on_exit on_guest_exit;
    uint16_t exit_port; /* 0: none; QEMU isa-debug-exit port in tests */
    enum cfg_log_level log_level;
    enum cfg_fault_test fault_test;
    /* Power off after this long (0: never); also keeps a host without a
     * guest (or without VT-x) up that long, for network tests. */
    uint32_t uptime_ms;
    /* Stream this many MiB of test frames over the logging channel to the
     * other host and verify them (network tests and benchmarks). */
    uint32_t channel_test_mb;
    /* Selfcheck: hand the log to the replayer this many bytes per main-loop
     * pass, as if it were arriving (the backup's live replay). */
    uint32_t replay_drip;
    /* Exercise this drive's driver at boot: write, read back and compare
     * a pattern in its last 2 MiB (destroys what is there). */
    struct cfg_serial disk_test;
    /* Sample where the hypervisor spends its time; report at power-off. */
    enum cfg_switch profile;
    enum cfg_switch read_ahead; /* a backup with disk_reads = backup reads ahead of its replay */
    /* Save the machine state this often (virtual ms), rebuild the vCPU
     * and devices, restore it (ft/checkpoint.c): migration's state test. */
    uint32_t checkpoint_every_ms;
    /* A protected primary hands its guest over to the backup after this
     * many ms of protection (migration benchmarks and tests). */
    uint32_t migrate_every_ms;
};

struct config {
    char file[64]; /* name used in messages */
    int nhosts;
    struct cfg_host hosts[CFG_MAX_HOSTS];
    struct cfg_pair pair;
    struct cfg_guest guest;
    struct cfg_record record;
    struct cfg_debug debug;
};

/* Parse and validate. Returns 0, or -1 with "FILE:LINE: message" in err. */
int config_parse(const char *text, size_t len, const char *file, struct config *cfg, char *err, size_t errlen);

/* The files the config names, in a fixed order; *key gets the key's name.
 * Returns NULL past the last one. Unset files (empty path) are included. */
const struct cfg_file *config_file(const struct config *cfg, int index, const char **key);

/* This host: by [debug] host when set, else the [host] whose MAC is one of
 * macs[0..n). Returns the index or -1 with the reason in err. */
int config_find_host(const struct config *cfg, const uint8_t (*macs)[6], int n, char *err, size_t errlen);

/* Names for printing. */
const char *config_on_exit_name(enum cfg_on_exit v);
const char *config_arbiter_name(enum cfg_arbiter v);
const char *config_log_level_name(enum cfg_log_level v);
const char *config_fault_test_name(enum cfg_fault_test v);
const char *config_cpu_model_name(enum cfg_cpu_model v);
const char *config_landmark_name(enum cfg_landmark v);

/* "10.0.0.1" into host byte order; false when malformed. */
bool config_parse_ipv4(const char *s, uint32_t *out);
bool config_parse_mac(const char *s, uint8_t mac[6]);

#endif
