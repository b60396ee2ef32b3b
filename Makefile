# ftvisor build. `make` builds the UEFI loader and the hypervisor;
# `make deps` installs what building, testing and the emulators need;
# `make image CONF=...`, `make run`, `make test`, `make bench`.
#
# Third-party sources (lwIP, libfdt) are fetched from Debian into build/
# by the build itself, verified, and compiled freestanding with the port
# files in net/port and kernel/port. Nothing fetched is committed.

BUILD      ?= build
CONF       ?= tests/configs/demo.conf
BOCHS_HOME ?= $(if $(FTVISOR_BOCHS),$(FTVISOR_BOCHS),/opt/ftvisor/bochs-3.0)
export FTVISOR_BOCHS := $(BOCHS_HOME)

CC      := gcc
LD      := ld
OBJCOPY := objcopy
GCC_INC := $(shell $(CC) -print-file-name=include)
GIT     := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

LIBFDT_DIR := $(BUILD)/third_party/libfdt
LWIP_DIR   := $(BUILD)/third_party/lwip
FONT       := /usr/share/consolefonts/Lat15-Fixed16.psf.gz

.PHONY: all deps image run test bench clean unit-tests check-deps
all: $(BUILD)/BOOTX64.EFI $(BUILD)/ftvisor.elf

# ---------------------------------------------------------------- deps ----
deps:
	@tools/deps

# The build itself needs only the toolchain, gnu-efi and linux-source; say
# so plainly instead of failing deep inside a recipe.
check-deps:
	@for f in /usr/include/efi/efi.h /usr/lib/crt0-efi-x86_64.o /usr/src/linux-source-6.1.tar.xz $(FONT); do \
	    [ -e $$f ] || { echo "missing $$f: run 'make deps' (as root) first"; exit 1; }; done

# ------------------------------------------------------- third party ----
$(LIBFDT_DIR)/ORIGIN: tools/fetch-libfdt | check-deps
	tools/fetch-libfdt $(LIBFDT_DIR)

$(LWIP_DIR)/ORIGIN: tools/fetch-lwip tools/apt-source
	tools/fetch-lwip $(LWIP_DIR)

LIBFDT_SRCS := fdt fdt_ro fdt_rw fdt_sw fdt_wip fdt_strerror fdt_empty_tree
LWIP_SRCS := core/init core/def core/inet_chksum core/ip core/mem core/memp core/netif core/pbuf core/raw \
             core/stats core/sys core/tcp core/tcp_in core/tcp_out core/timeouts core/udp \
             core/ipv4/etharp core/ipv4/icmp core/ipv4/ip4 core/ipv4/ip4_addr core/ipv4/ip4_frag \
             netif/ethernet

# ------------------------------------------------------------ kernel ----
# -mgeneral-regs-only: code between VM exits must not touch the guest's
# SSE/x87 state (except kernel/poly1305_avx2.c, below, inside the save and
# restore of kernel/simd.c). -mcmodel=kernel: linked in the top 2 GiB.
KCFLAGS := -std=gnu11 -O2 -g -ffreestanding -nostdinc -isystem $(GCC_INC) \
           -Ikernel/libc -Ikernel/port -I$(LIBFDT_DIR) -Inet/port -I$(LWIP_DIR)/src/include \
           -mcmodel=kernel -mno-red-zone -mgeneral-regs-only -fno-pic -fno-pie \
           -fno-stack-protector -fno-omit-frame-pointer -fno-asynchronous-unwind-tables \
           -fcf-protection=none -fno-strict-aliasing -DFTVISOR_GIT='"$(GIT)"' -MMD -MP
KWARN   := -Wall -Wextra -Werror -Wno-unused-parameter

KERNEL_DIRS := kernel vmm ft drivers net
KERNEL_PENDING :=
# kernel/simd.h for host builds (unit tests, fuzzers, benchmarks).
KERNEL_HOST_ONLY := kernel/simd_host.c
KERNEL_C    := $(sort $(foreach d,$(KERNEL_DIRS),$(wildcard $(d)/*.c $(d)/dev/*.c)))
# Sources written but not yet wired into the hypervisor (unit-tested only).
KERNEL_C    := $(filter-out $(KERNEL_PENDING) $(KERNEL_HOST_ONLY),$(KERNEL_C))
KERNEL_S    := $(sort $(foreach d,$(KERNEL_DIRS),$(wildcard $(d)/*.S)))
KOBJ        := $(BUILD)/kobj
KERNEL_OBJS := $(patsubst %.c,$(KOBJ)/%.o,$(KERNEL_C)) $(patsubst %.S,$(KOBJ)/%.o,$(KERNEL_S)) \
               $(KOBJ)/gen/font.o \
               $(patsubst %,$(KOBJ)/libfdt/%.o,$(LIBFDT_SRCS)) \
               $(patsubst %,$(KOBJ)/lwip/%.o,$(LWIP_SRCS))

$(KOBJ)/%.o: %.c $(LIBFDT_DIR)/ORIGIN $(LWIP_DIR)/ORIGIN
	@mkdir -p $(dir $@)
	$(CC) $(KCFLAGS) $(KWARN) -c $< -o $@

$(KOBJ)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(KCFLAGS) -c $< -o $@

# The status page, embedded with .incbin (which -MMD does not see).
$(KOBJ)/net/status_page.o: net/status.html

# The one kernel file with vector registers: Poly1305 in AVX2, which runs
# only between simd_begin() and simd_end() (kernel/simd.h save and restore
# the guest's vector state around it). Host builds compile it the same way.
AVX2_CFLAGS := -mavx2
$(KOBJ)/kernel/poly1305_avx2.o: KCFLAGS := $(filter-out -mgeneral-regs-only,$(KCFLAGS)) $(AVX2_CFLAGS)

$(KOBJ)/libfdt/%.o: $(LIBFDT_DIR)/ORIGIN
	@mkdir -p $(dir $@)
	$(CC) $(KCFLAGS) -w -c $(LIBFDT_DIR)/$*.c -o $@

$(KOBJ)/lwip/%.o: $(LWIP_DIR)/ORIGIN
	@mkdir -p $(dir $@)
	$(CC) $(KCFLAGS) -w -c $(LWIP_DIR)/src/$*.c -o $@

$(BUILD)/tools/psf2c: tools/psf2c.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -o $@ $<

# Host tool for tests: reads the framebuffer console back from a screenshot.
$(BUILD)/tools/fbtext: tools/fbtext.c $(BUILD)/gen/font.c
	$(CC) -O2 -Wall -o $@ tools/fbtext.c $(BUILD)/gen/font.c

# Host tool: the emulators' shared Ethernet link with fault injection.
$(BUILD)/tools/ftlink: tools/ftlink.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $<

# Host tool: stores event logs sent over TCP, checked by ft/log.c's decoder.
FTLOG_SINK_SRCS := tools/ftlog-sink.c ft/log.c kernel/crc32c.c kernel/sha256.c
$(BUILD)/tools/ftlog-sink: $(FTLOG_SINK_SRCS) ft/log.h kernel/crc32c.h kernel/sha256.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -o $@ $(FTLOG_SINK_SRCS)

# Host tool: an event log (a sink's file or a pcap of the channel) in words.
# Poly1305's AVX2 part is an object of its own: only it gets -mavx2.
FTLOG_SRCS := tools/ftlog.c tools/ftlog_core.c tools/ftlog_pcap.c ft/log.c net/frame.c kernel/crc32c.c \
              kernel/sha256.c kernel/blake2b.c kernel/poly1305.c kernel/simd_host.c kernel/config.c kernel/format.c \
              tools/pair_key.c
$(BUILD)/tools/obj/poly1305_avx2.o: kernel/poly1305_avx2.c kernel/poly1305.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror $(AVX2_CFLAGS) -c -o $@ $<
$(BUILD)/tools/ftlog: $(FTLOG_SRCS) $(BUILD)/tools/obj/poly1305_avx2.o tools/ftlog_core.h ft/log.h net/frame.h \
                      kernel/config.h tools/pair_key.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -o $@ $(FTLOG_SRCS) $(BUILD)/tools/obj/poly1305_avx2.o

$(BUILD)/gen/font.c: $(BUILD)/tools/psf2c | check-deps
	@mkdir -p $(dir $@)
	zcat $(FONT) > $(BUILD)/gen/font.psf
	$(BUILD)/tools/psf2c $(BUILD)/gen/font.psf > $@

$(KOBJ)/gen/font.o: $(BUILD)/gen/font.c
	@mkdir -p $(dir $@)
	$(CC) $(KCFLAGS) -c $< -o $@

# Two links: the first gives the symbol table that the second embeds for
# stack traces. Code addresses must not move between them: checked.
KLDFLAGS := -nostdlib -static -z max-page-size=4096 -z noexecstack --build-id=sha1 -T linker.ld
$(BUILD)/ftvisor.elf: $(KERNEL_OBJS) linker.ld tools/gen-ksyms
	tools/gen-ksyms > $(BUILD)/ksyms0.S
	$(CC) -c $(BUILD)/ksyms0.S -o $(BUILD)/ksyms0.o
	$(LD) $(KLDFLAGS) -o $(BUILD)/ftvisor.pass1.elf $(KERNEL_OBJS) $(BUILD)/ksyms0.o
	tools/gen-ksyms $(BUILD)/ftvisor.pass1.elf > $(BUILD)/ksyms.S
	$(CC) -c $(BUILD)/ksyms.S -o $(BUILD)/ksyms.o
	$(LD) $(KLDFLAGS) -o $@.tmp $(KERNEL_OBJS) $(BUILD)/ksyms.o
	@nm -n $(BUILD)/ftvisor.pass1.elf | awk '$$2 ~ /^[tT]$$/' > $(BUILD)/syms1.txt
	@nm -n $@.tmp | awk '$$2 ~ /^[tT]$$/' > $(BUILD)/syms2.txt
	@cmp -s $(BUILD)/syms1.txt $(BUILD)/syms2.txt || { echo "ksyms: code moved between links"; exit 1; }
	@mv $@.tmp $@

# ------------------------------------------------------------ loader ----
EFI_INC := /usr/include/efi
LCFLAGS := -std=gnu11 -O2 -ffreestanding -nostdinc -isystem $(GCC_INC) \
           -I$(EFI_INC) -I$(EFI_INC)/x86_64 -Ikernel/libc -Ikernel/port -I$(LIBFDT_DIR) \
           -DGNU_EFI_USE_MS_ABI -fpic -fshort-wchar -mno-red-zone -maccumulate-outgoing-args \
           -mgeneral-regs-only -fno-stack-protector -fcf-protection=none -MMD -MP
LOBJ := $(BUILD)/lobj
# The loader shares the config parser and the formatter with the kernel,
# so both read ftvisor.conf identically.
LOADER_OBJS := $(LOBJ)/boot/loader.o $(LOBJ)/boot/bootinfo.o $(LOBJ)/boot/trampoline.o \
               $(LOBJ)/kernel/config.o $(LOBJ)/kernel/format.o $(LOBJ)/kernel/string.o \
               $(patsubst %,$(LOBJ)/libfdt/%.o,$(LIBFDT_SRCS))

$(LOBJ)/%.o: %.c $(LIBFDT_DIR)/ORIGIN
	@mkdir -p $(dir $@)
	$(CC) $(LCFLAGS) $(KWARN) -c $< -o $@

$(LOBJ)/kernel/string.o: kernel/string.c
	@mkdir -p $(dir $@)
	$(CC) $(LCFLAGS) $(KWARN) -DSTRING_NO_MEMCPY_MEMSET -c $< -o $@

$(LOBJ)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(LCFLAGS) -c $< -o $@

$(LOBJ)/libfdt/%.o: $(LIBFDT_DIR)/ORIGIN
	@mkdir -p $(dir $@)
	$(CC) $(LCFLAGS) -w -c $(LIBFDT_DIR)/$*.c -o $@

$(BUILD)/BOOTX64.so: $(LOADER_OBJS)
	$(LD) -nostdlib -znocombreloc -shared -Bsymbolic --no-undefined -T /usr/lib/elf_x86_64_efi.lds \
	    /usr/lib/crt0-efi-x86_64.o $(LOADER_OBJS) -L/usr/lib -lefi -lgnuefi -o $@

$(BUILD)/BOOTX64.EFI: $(BUILD)/BOOTX64.so
	$(OBJCOPY) -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel -j .rela -j '.rel.*' -j '.rela.*' \
	    -j .reloc --target efi-app-x86_64 --subsystem=10 $< $@

# ------------------------------------------------------- test guests ----
# Flat test-guest images (vmm/loader.h): tests/guests/NAME.c links with the
# guest runtime in tests/guests/rt/ (real -> protected -> long mode, then
# guest_main()); tests/guests/NAME.S stands alone. Both link at 0x8000.
GUEST_CFLAGS := -std=gnu11 -O2 -m64 -ffreestanding -nostdlib -nostdinc -isystem $(GCC_INC) -fno-pic -fno-pie \
                -mno-red-zone -fno-stack-protector -fno-asynchronous-unwind-tables -fcf-protection=none \
                -Itests/guests -Wall -Wextra -Werror -Wno-unused-parameter
GUEST_RT   := $(wildcard tests/guests/rt/*.S tests/guests/rt/*.c)
GUEST_C    := $(wildcard tests/guests/*.c)
GUEST_S    := $(wildcard tests/guests/*.S)
GUESTS     := $(patsubst tests/guests/%.c,$(BUILD)/guests/%.bin,$(GUEST_C)) \
              $(patsubst tests/guests/%.S,$(BUILD)/guests/%.bin,$(GUEST_S))
.PHONY: guests
guests: $(GUESTS)

$(BUILD)/guests/%.bin: tests/guests/%.c $(GUEST_RT) tests/guests/rt/guest.ld $(wildcard tests/guests/rt/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -MMD -MP -MF $(@:.bin=.d) -MT $@ -static -no-pie -Wl,-T,tests/guests/rt/guest.ld -Wl,--build-id=none -o $(@:.bin=.elf) $(GUEST_RT) $<
	$(OBJCOPY) -O binary $(@:.bin=.elf) $@

$(BUILD)/guests/%.bin: tests/guests/%.S tests/guests/flat.h
	@mkdir -p $(dir $@)
	$(CC) -c -Itests/guests -o $(@:.bin=.o) $<
	$(LD) -m elf_x86_64 -Ttext=0x8000 -e _start --oformat binary -o $@ $(@:.bin=.o)

# ------------------------------------------------------- Linux guest ----
# A small Linux kernel from Debian's linux-source-6.1 and a busybox
# initramfs (tools/build-guest-linux; about 4 minutes the first time).
.PHONY: guest-linux
guest-linux: $(BUILD)/guest/bzImage
$(BUILD)/guest/bzImage $(BUILD)/guest/initrd.gz &: tools/build-guest-linux tests/guests/linux/guest.config \
        tests/guests/linux/init | check-deps
	tools/build-guest-linux $(BUILD)/guest

# ------------------------------------------------------------- image ----
image: all
	tools/mkimage --conf $(CONF) --out $(BUILD)/ftvisor.img

# ------------------------------------------------------- unit tests ----
HOSTCC     := gcc
UCFLAGS    := -std=gnu11 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
              -fno-omit-frame-pointer -Wall -Wextra -Werror -Wno-unused-parameter \
              -Ikernel/port -I$(LIBFDT_DIR) -Itests/unit
UNIT_FDT   := $(patsubst %,$(LIBFDT_DIR)/%.c,$(LIBFDT_SRCS))
UNIT_BIN   := $(BUILD)/tests/unit
# Fetched sources exist once their fetch ran (a clean tree has none yet).
$(UNIT_FDT): $(LIBFDT_DIR)/ORIGIN
	@:

# Each test names the project sources it exercises.
UNIT_config_SRCS  := kernel/config.c kernel/format.c
UNIT_format_SRCS  := kernel/format.c kernel/log_format.c
UNIT_bootinfo_SRCS := boot/bootinfo.c kernel/bootinfo.c kernel/format.c $(UNIT_FDT)
UNIT_pmm_SRCS     := kernel/pmm_core.c
UNIT_acpi_SRCS    := kernel/acpi_aml.c
UNIT_decode_SRCS  := vmm/decode.c
UNIT_vuart_SRCS   := vmm/dev/uart.c
UNIT_vpic_SRCS    := vmm/dev/pic.c
UNIT_vpit_SRCS    := vmm/dev/pit.c
UNIT_vrtc_SRCS    := vmm/dev/rtc.c
UNIT_vlapic_SRCS  := vmm/dev/lapic.c
UNIT_vioapic_SRCS := vmm/dev/ioapic.c
UNIT_virtio_SRCS  := vmm/dev/pci.c vmm/dev/virtio.c vmm/dev/virtio_blk.c
UNIT_virtio_net_SRCS := vmm/dev/pci.c vmm/dev/virtio.c vmm/dev/virtio_net.c
# Host tool: the pair's arbiter (first host to ask in an epoch goes live).
FTWITNESS_SRCS := tools/ftwitness.c tools/pair_key.c net/witness.c kernel/sha256.c kernel/config.c kernel/format.c
$(BUILD)/tools/ftwitness: $(FTWITNESS_SRCS) net/witness.h kernel/sha256.h kernel/config.h tools/pair_key.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -o $@ $(FTWITNESS_SRCS)

# Poly1305 with its AVX2 part (an object of its own: only it gets -mavx2).
UNIT_POLY1305     := kernel/poly1305.c kernel/simd_host.c $(UNIT_BIN)/poly1305_avx2.o
$(UNIT_BIN)/poly1305_avx2.o: kernel/poly1305_avx2.c kernel/poly1305.h
	@mkdir -p $(dir $@)
	$(HOSTCC) $(UCFLAGS) $(AVX2_CFLAGS) -c -o $@ $<
UNIT_crypto_SRCS  := kernel/crc32c.c kernel/sha256.c kernel/blake2b.c $(UNIT_POLY1305)
UNIT_witness_SRCS := net/witness.c kernel/sha256.c
UNIT_inet_sum_SRCS := net/inet_sum.c
UNIT_status_hist_SRCS := net/status_hist.c kernel/format.c
UNIT_converge_SRCS := ft/converge.c kernel/format.c
UNIT_migrate_wire_SRCS := ft/migrate_wire.c kernel/format.c
UNIT_vmstate_wire_SRCS := vmm/vmstate_wire.c kernel/crc32c.c kernel/format.c
UNIT_frame_SRCS   := net/frame.c kernel/crc32c.c kernel/sha256.c kernel/blake2b.c $(UNIT_POLY1305)
UNIT_log_SRCS     := ft/log.c kernel/crc32c.c kernel/sha256.c
UNIT_ftlog_SRCS   := tools/ftlog_core.c tools/ftlog_pcap.c ft/log.c net/frame.c kernel/crc32c.c kernel/sha256.c \
                     kernel/blake2b.c $(UNIT_POLY1305)
UNIT_pmu_SRCS     := ft/pmu.c
UNIT_partition_SRCS := drivers/partition.c kernel/format.c
UNIT_blockdev_SRCS := drivers/blockdev.c
# The kernel's string routines under other names (the host's libc keeps its own).
UNIT_string_SRCS := $(BUILD)/tests/unit/kstring.c
$(BUILD)/tests/unit/kstring.c: kernel/string.c
	@mkdir -p $(dir $@)
	sed -E 's/\b(memcpy|memmove|memset|memcmp|memchr|strlen|strnlen|strcmp|strncmp|strchr|strrchr|strtoul|atoi|strstr)\(/k_\1(/g; s@#include <(string|stdlib)\.h>@#include <stddef.h>@' $< > $@
# Every tests/unit/test_NAME.c is a test; UNIT_NAME_SRCS lists what it links.
UNIT_TESTS := $(patsubst tests/unit/test_%.c,%,$(wildcard tests/unit/test_*.c))

unit-tests: $(patsubst %,$(UNIT_BIN)/test_%,$(UNIT_TESTS)) $(UNIT_BIN)/test_status_page_js

# The status page's BLAKE2b under node against Python's hashlib and
# kernel/blake2b.c (a filter built from it): a script that tests/run runs
# like the C tests.
$(UNIT_BIN)/blake2b_cli: tests/unit/blake2b_cli.c kernel/blake2b.c kernel/blake2b.h
	@mkdir -p $(dir $@)
	$(HOSTCC) $(UCFLAGS) -o $@ tests/unit/blake2b_cli.c kernel/blake2b.c
$(UNIT_BIN)/test_status_page_js: tests/unit/status_page_js.py net/status.html $(UNIT_BIN)/blake2b_cli
	printf '#!/bin/sh\nexec python3 %s --page %s --c-blake2b %s\n' $(abspath tests/unit/status_page_js.py) \
	    $(abspath net/status.html) $(abspath $(UNIT_BIN)/blake2b_cli) > $@
	chmod +x $@

.SECONDEXPANSION:
UNIT_HDRS := $(wildcard kernel/*.h vmm/*.h vmm/dev/*.h boot/*.h ft/*.h net/*.h drivers/*.h tools/*.h)
$(UNIT_BIN)/test_%: tests/unit/test_%.c tests/unit/test.h $$(UNIT_$$*_SRCS) $(UNIT_HDRS) $(LIBFDT_DIR)/ORIGIN
	@mkdir -p $(dir $@)
	$(HOSTCC) $(UCFLAGS) -o $@ $< $(UNIT_$*_SRCS)

# ------------------------------------------------------------- fuzzing ----
# libFuzzer targets: tests/fuzz/fuzz_NAME.c with FUZZ_NAME_SRCS; tests/run
# gives each a bounded run (FTVISOR_FUZZ_RUNS, default 200000 inputs).
FUZZCC      := clang
FUZZ_CFLAGS := -std=gnu11 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
               -Ikernel/port -I$(LIBFDT_DIR) -Itests/unit -Wall -Wno-unused-parameter
FUZZ_BIN    := $(BUILD)/tests/fuzz
FUZZ_frame_SRCS := net/frame.c kernel/crc32c.c kernel/sha256.c kernel/blake2b.c kernel/poly1305.c \
                   kernel/simd_host.c $(FUZZ_BIN)/poly1305_avx2.o
FUZZ_log_SRCS   := ft/log.c kernel/crc32c.c kernel/sha256.c
FUZZ_ftlog_SRCS := tools/ftlog_core.c tools/ftlog_pcap.c ft/log.c $(FUZZ_frame_SRCS)
FUZZ_migrate_wire_SRCS := ft/migrate_wire.c kernel/format.c
FUZZ_vmstate_wire_SRCS := vmm/vmstate_wire.c kernel/crc32c.c kernel/format.c
FUZZ_TESTS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
$(FUZZ_BIN)/poly1305_avx2.o: kernel/poly1305_avx2.c kernel/poly1305.h
	@mkdir -p $(dir $@)
	$(FUZZCC) $(FUZZ_CFLAGS) $(AVX2_CFLAGS) -c -o $@ $<
.PHONY: fuzz-tests
fuzz-tests: $(patsubst %,$(FUZZ_BIN)/fuzz_%,$(FUZZ_TESTS))
$(FUZZ_BIN)/fuzz_%: tests/fuzz/fuzz_%.c $$(FUZZ_$$*_SRCS) $(UNIT_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZCC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_$*_SRCS)

# ------------------------------------------------------- run and test ----
# The pair demo (tools/demo): two Bochs hosts on ftlink with a witness, the
# Linux guest under FT, the primary killed; root for ftlink's TAP device.
run: deps all guest-linux $(BUILD)/tools/ftlink $(BUILD)/tools/ftwitness
	tools/demo

test: deps all unit-tests fuzz-tests guests guest-linux $(BUILD)/tools/fbtext $(BUILD)/tools/ftlink $(BUILD)/tools/ftlog-sink \
      $(BUILD)/tools/ftwitness $(BUILD)/tools/ftlog
	tests/run

bench: deps all
	tests/bench

clean:
	rm -rf $(BUILD)/kobj $(BUILD)/lobj $(BUILD)/tests $(BUILD)/gen $(BUILD)/*.elf $(BUILD)/*.EFI $(BUILD)/*.so \
	    $(BUILD)/*.img $(BUILD)/ksyms* $(BUILD)/syms*

-include $(shell find $(BUILD)/kobj $(BUILD)/lobj $(BUILD)/guests -name '*.d' 2>/dev/null)
