# fusebpf: a plain Makefile.  Everything is built into build/ (build/asan/
# for the sanitizer run).  V=1 shows the commands.
#
#   make          the daemon (build/fsd), the policies (build/bpf/*.bpf.o),
#                 the fusebpf tool, the test binary and the test JPEG
#                 generator (build/jpeggen)
#   make test     installs what it needs, then runs the test suite
#   make asan     the test suite under AddressSanitizer + UBSan
#   make fuzz     fuzzes the request decoder and dispatcher, then the location
#                 redaction of the media overlay (libFuzzer, clang), each for
#                 FUZZ_SECONDS (default 60) from its corpus in selftests/fuzz/;
#                 FUZZ_TARGETS=location runs one
#   make demo     the media storage overlay, as two apps and a privileged uid
#   make bench    mount vs native benchmark table
#   make vmtest   the test suite in a QEMU guest per kernel (Debian 6.1, 6.12,
#                 and 6.12 with fusebpf.ko), one table; KERNEL=bzImage
#                 [MODULES=lib/modules/VER] for your own, VMTEST_KERNELS="6.12"
#                 a subset, VMTEST_FILTER='files/*' a Criterion --filter,
#                 VMTEST_JOBS=2 guests at once (docs/vmtest.md)
#   make kmod     the FUSE-BPF kernel module for Debian's 6.12,
#                 build/kernel/fusebpf.ko (docs/kernel.md)
#   make vmbench  native, fsd on the stock fuse, fsd on fusebpf.ko (no policy
#                 and trace) and kernel overlayfs side by side in one 6.12
#                 guest (docs/benchmarks.md)
#   make deps     installs the Debian packages the build and tests need
#   make install  fsd, fusebpf, the mount(8) helper, the man pages, the policy
#                 headers and fusebpf.pc under $(DESTDIR)$(PREFIX) (default
#                 /usr/local); make uninstall removes them (docs/operations.md)
#   make clean

BUILD ?= build
CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
CFLAGS ?= -O2 -g
SAN ?=
override CFLAGS += -std=gnu11 -Wall -Wextra -Wno-missing-field-initializers \
	-Iinclude -I. -pthread -D_FILE_OFFSET_BITS=64 -MMD -MP $(SAN)
LDFLAGS += -pthread $(SAN)
LDLIBS_BPF := -lbpf -lelf -lz
LDLIBS_FSD := $(LDLIBS_BPF) -lsqlite3 -lexif -lm
LDLIBS_TEST := -lcriterion $(LDLIBS_BPF) -lsqlite3 -lexif -ljpeg -lm
# Policies: BPF objects, freestanding (no libc headers), with BTF.  BPF_FLAGS
# are also those of `fusebpf build` and fusebpf.pc, with the installed headers.
BPF_FLAGS := -g -O2 -target bpf -ffreestanding -Wall -I/usr/include/$(shell uname -m)-linux-gnu
BPF_CFLAGS := -Iinclude $(BPF_FLAGS)

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-6s %s\n' $(1) $(2)
endif

# The daemon (fsd/ less main.c) names no userspace module; the media overlay
# (media/) is one, built on the daemon, and fsd's main.c lists the modules the
# program is built with.  The CLI uses media/'s index.
FSD_SRCS := $(wildcard fsd/*.c)
FSD_LIB_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out fsd/main.c,$(FSD_SRCS)))
MEDIA_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard media/*.c))
LOADER_LIB_OBJS := $(BUILD)/obj/loader/policy.o
TEST_SRCS := $(wildcard selftests/unit/*.c) $(wildcard selftests/integration/*.c) \
	$(wildcard selftests/wire/*.c) selftests/media/location_oracle.c
TEST_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(TEST_SRCS))
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.skel.h,$(BPF_SRCS))
# Objects the tests load that must fail: verifier refusals and bad names.
BPF_TEST_SRCS := $(wildcard selftests/bpf/*.bpf.c)
BPF_TEST_OBJS := $(patsubst selftests/bpf/%.bpf.c,$(BUILD)/bpf/test/%.bpf.o,$(BPF_TEST_SRCS))
# Kernel mode (fusebpf.ko): each policy again, in kernel/ beside its daemon-mode object.
BPF_KERNEL_OBJS := $(patsubst $(BUILD)/bpf/%,$(BUILD)/bpf/kernel/%,$(BPF_OBJS)) \
	$(patsubst $(BUILD)/bpf/test/%,$(BUILD)/bpf/test/kernel/%,$(BPF_TEST_OBJS))
BPF_KERNEL_SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/kernel/%.skel.h,$(BPF_SRCS))

# make install: PREFIX/sbin (fsd and fusebpf are root's tools), the headers,
# the man pages, fusebpf.pc; the helper goes where mount(8) (util-linux 2.38)
# looks for one, /sbin, /sbin/fs.d or /sbin/fs, whatever PREFIX is.
PREFIX ?= /usr/local
MOUNT_HELPER := /sbin/mount.fuse.fsd
MAN_PAGES := $(BUILD)/man/fsd.8 $(BUILD)/man/fusebpf.8
HEADERS := $(wildcard include/fusebpf/*.h)
VERSION := $(shell sed -n 's/^\#define FSD_VERSION "\(.*\)"$$/\1/p' fsd/fsd.h)

.DELETE_ON_ERROR:
.PHONY: all test asan fuzz demo bench deps vmtest vmbench kmod install uninstall clean

all: $(BUILD)/fsd $(BUILD)/fusebpf $(BPF_OBJS) $(BPF_TEST_OBJS) $(BPF_KERNEL_OBJS) $(BUILD)/fsd-tests \
	$(BUILD)/metabench $(BUILD)/floor $(BUILD)/jpeggen $(MAN_PAGES)

$(BUILD)/obj/%.o: %.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c
	$(call msg,BPF,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/bpf/test/%.bpf.o: selftests/bpf/%.bpf.c
	$(call msg,BPF,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -Wno-error -MMD -MP -c $< -o $@

# Kernel mode (docs/abi.md): a file that includes the policy and defines a
# struct_ops member for each opcode its daemon-mode object has filters of,
# written by loader/kernel_source.c, as `fusebpf build` writes it.
$(BUILD)/kernel-source: $(BUILD)/obj/loader/kernel_source_main.o $(BUILD)/obj/loader/kernel_source.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -lelf -o $@

$(BUILD)/bpf/kernel/%.kern.c: bpf/%.bpf.c $(BUILD)/bpf/%.bpf.o $(BUILD)/kernel-source
	$(call msg,GEN,$@)
	@mkdir -p $(@D)
	$(Q)$(BUILD)/kernel-source $< $(BUILD)/bpf/$*.bpf.o > $@

$(BUILD)/bpf/test/kernel/%.kern.c: selftests/bpf/%.bpf.c $(BUILD)/bpf/test/%.bpf.o \
		$(BUILD)/kernel-source
	$(call msg,GEN,$@)
	@mkdir -p $(@D)
	$(Q)$(BUILD)/kernel-source $< $(BUILD)/bpf/test/$*.bpf.o > $@

.PRECIOUS: $(BUILD)/bpf/kernel/%.kern.c $(BUILD)/bpf/test/kernel/%.kern.c

$(BUILD)/bpf/kernel/%.bpf.o: $(BUILD)/bpf/kernel/%.kern.c
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -DFUSEBPF_FLAVOR_KERNEL -iquote . -MMD -MP -c $< -o $@

$(BUILD)/bpf/test/kernel/%.bpf.o: $(BUILD)/bpf/test/kernel/%.kern.c
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -DFUSEBPF_FLAVOR_KERNEL -iquote . -Wno-error -MMD -MP -c $< -o $@

# libbpf notes the .fusebpf section it does not know; that is expected.
$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@ 2> $@.log || { cat $@.log >&2; exit 1; }
	$(Q)grep -v 'skipping unrecognized data section.*\.fusebpf' $@.log >&2 || true
	@rm -f $@.log

# The tool uses only their bytes.  bpftool 7.5 (libbpf 1.5's) sets a member of
# the skeleton's struct_ops map that libbpf 1.4 (bookworm-backports) lacks.
$(BUILD)/bpf/kernel/%.skel.h: $(BUILD)/bpf/kernel/%.bpf.o
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_kbpf 2> $@.log | sed '/map->link = /d' > $@ && \
		[ -s $@ ] || { cat $@.log >&2; exit 1; }
	$(Q)grep -v 'skipping .*\.\(fusebpf\|struct_ops\.link\)' $@.log >&2 || true
	@rm -f $@.log

# The tool embeds the skeletons of bpf/: `fusebpf load hide` needs no file.
$(BUILD)/obj/loader/fusebpf.o: override CFLAGS += -I$(BUILD)/bpf
$(BUILD)/obj/loader/fusebpf.o: $(BPF_SKELS) $(BPF_KERNEL_SKELS)
# `fusebpf build` compiles with bpf/'s flags (and the installed headers).
$(BUILD)/obj/loader/fusebpf.o: override CFLAGS += -DFUSEBPF_BPF_FLAGS='"$(BPF_FLAGS)"'

$(BUILD)/fsd: $(BUILD)/obj/fsd/main.o $(FSD_LIB_OBJS) $(MEDIA_OBJS) $(LOADER_LIB_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS_FSD) -o $@

# `fusebpf media query|rescan` use the media index (free of fsd globals).
$(BUILD)/fusebpf: $(BUILD)/obj/loader/fusebpf.o $(LOADER_LIB_OBJS) $(BUILD)/obj/loader/kernel_source.o \
		$(BUILD)/obj/media/media_index.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS_BPF) -lsqlite3 -o $@

# One binary, unit and integration tests, so one Criterion summary line.
# The media tests run jpeggen, found beside the binary.
$(BUILD)/fsd-tests: $(TEST_OBJS) $(FSD_LIB_OBJS) $(MEDIA_OBJS) $(LOADER_LIB_OBJS) | $(BUILD)/jpeggen
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS_TEST) -o $@

# The libFuzzer targets, built only by make fuzz (into build/fuzz/).
$(BUILD)/fuzz_request: $(BUILD)/obj/selftests/fuzz/fuzz_request.o $(FSD_LIB_OBJS) $(LOADER_LIB_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer $^ $(LDLIBS_FSD) -o $@

$(BUILD)/fuzz_location: $(BUILD)/obj/selftests/fuzz/fuzz_location.o \
		$(BUILD)/obj/selftests/media/location_oracle.o $(BUILD)/obj/media/media_location.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer $^ -lexif -o $@

# The metadata workload of the benchmark, and the do-nothing FUSE server it is also run on.
$(BUILD)/metabench: $(BUILD)/obj/selftests/bench/metabench.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@

$(BUILD)/floor: $(BUILD)/obj/selftests/bench/floor.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@

# Test JPEGs with EXIF for the media overlay's tests and demo.
$(BUILD)/jpeggen: $(BUILD)/obj/selftests/media/jpeggen.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -lexif -ljpeg -lm -o $@

# The man pages are the programs' --help texts, so that they cannot drift apart.
$(BUILD)/man/%.8: $(BUILD)/% scripts/man.sh
	$(call msg,MAN,$@)
	@mkdir -p $(@D)
	$(Q)scripts/man.sh $< "$(VERSION)" > $@

deps:
	$(Q)scripts/deps.sh

# Installs what make built into $(BUILD).
install: $(BUILD)/fsd $(BUILD)/fusebpf $(MAN_PAGES)
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/include/fusebpf \
		$(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(dir $(MOUNT_HELPER))
	$(Q)install -m 755 $(BUILD)/fsd $(BUILD)/fusebpf $(DESTDIR)$(PREFIX)/sbin/
	$(Q)ln -sfn $(PREFIX)/sbin/fsd $(DESTDIR)$(MOUNT_HELPER)
	$(Q)install -m 644 $(HEADERS) $(DESTDIR)$(PREFIX)/include/fusebpf/
	$(Q)install -m 644 $(MAN_PAGES) $(DESTDIR)$(PREFIX)/share/man/man8/
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
		-e 's|@BPF_FLAGS@|$(BPF_FLAGS)|' loader/fusebpf.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/fusebpf.pc

# Removes exactly what install put there; the helper only if it is this PREFIX's.
uninstall:
	$(Q)rm -f $(DESTDIR)$(PREFIX)/sbin/fsd $(DESTDIR)$(PREFIX)/sbin/fusebpf \
		$(addprefix $(DESTDIR)$(PREFIX)/include/fusebpf/,$(notdir $(HEADERS))) \
		$(addprefix $(DESTDIR)$(PREFIX)/share/man/man8/,$(notdir $(MAN_PAGES))) \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig/fusebpf.pc
	$(Q)rmdir $(DESTDIR)$(PREFIX)/include/fusebpf 2>/dev/null || true
	$(Q)if [ "$$(readlink $(DESTDIR)$(MOUNT_HELPER))" = $(PREFIX)/sbin/fsd ]; then \
		rm -f $(DESTDIR)$(MOUNT_HELPER); fi

test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/run-tests.sh $(BUILD)

asan: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan CFLAGS="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" all
	$(Q)scripts/run-tests.sh build/asan

FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= request location
fuzz:
	$(Q)$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang CFLAGS="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
		$(patsubst %,build/fuzz/fuzz_%,$(FUZZ_TARGETS))
	$(Q)for t in $(FUZZ_TARGETS); do scripts/fuzz.sh build/fuzz $$t $(FUZZ_SECONDS) || exit 1; done

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh $(BUILD)

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/bench-peers.sh --prepare $(BUILD)
	$(Q)BENCH_CHART=$(BUILD)/bench.png scripts/bench.sh $(BUILD)
	$(Q)scripts/bench-policy.sh $(BUILD)
	$(Q)scripts/bench-floor.sh $(BUILD)
	$(Q)scripts/bench-peers.sh $(BUILD)

# Its own deps step: make test must not download kernel images.
vmtest: deps
	$(Q)scripts/vmtest-deps.sh $(if $(KERNEL),--no-kernels)
	$(Q)$(MAKE) --no-print-directory all
	$(if $(KERNEL),,$(Q)scripts/kmod.sh $(BUILD))
	$(Q)KERNEL="$(KERNEL)" MODULES="$(MODULES)" VMTEST_KERNELS="$(VMTEST_KERNELS)" \
		VMTEST_FILTER="$(VMTEST_FILTER)" VMTEST_JOBS="$(VMTEST_JOBS)" scripts/vmtest.sh $(BUILD)

kmod:
	$(Q)scripts/vmtest-deps.sh
	$(Q)scripts/kmod.sh $(BUILD)

vmbench: deps
	$(Q)scripts/vmtest-deps.sh
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/kmod.sh $(BUILD)
	$(Q)VMTEST_KERNELS=fusebpf VMTEST_RUN='scripts/vmbench.sh $(BUILD)' \
		VMTEST_OUT=$(BUILD)/vmbench scripts/vmtest.sh $(BUILD) > /dev/null; \
		status=$$?; cat $(BUILD)/vmbench/*/tests.log; exit $$status

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
