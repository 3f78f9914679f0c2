# fusebpf: a plain Makefile.  Everything is built into build/ (build/asan/
# for the sanitizer run).  V=1 shows the commands.
#
#   make          the daemon (build/fsd) and the test binary
#   make test     installs what it needs, then runs the test suite
#   make asan     the test suite under AddressSanitizer + UBSan
#   make fuzz     fuzzes the request decoder and dispatcher (libFuzzer, clang)
#                 for FUZZ_SECONDS (default 60) from selftests/fuzz/corpus
#   make demo     mounts a built-in example and shows it working
#   make bench    mount vs native benchmark table
#   make deps     installs the Debian packages the build and tests need
#   make clean

BUILD ?= build
CC ?= cc
CFLAGS ?= -O2 -g
SAN ?=
override CFLAGS += -std=gnu11 -Wall -Wextra -Wno-missing-field-initializers \
	-Iinclude -pthread -D_FILE_OFFSET_BITS=64 -MMD -MP $(SAN)
LDFLAGS += -pthread $(SAN)
LDLIBS_FSD := -lm
LDLIBS_TEST := -lcriterion -lm

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-6s %s\n' $(1) $(2)
endif

FSD_SRCS := $(wildcard fsd/*.c)
FSD_LIB_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out fsd/main.c,$(FSD_SRCS)))
TEST_SRCS := $(wildcard selftests/unit/*.c) $(wildcard selftests/integration/*.c) \
	$(wildcard selftests/wire/*.c)
TEST_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(TEST_SRCS))

.DELETE_ON_ERROR:
.PHONY: all test asan fuzz demo bench deps clean

all: $(BUILD)/fsd $(BUILD)/fsd-tests $(BUILD)/metabench

$(BUILD)/obj/%.o: %.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/fsd: $(BUILD)/obj/fsd/main.o $(FSD_LIB_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS_FSD) -o $@

# One binary, unit and integration tests, so one Criterion summary line.
$(BUILD)/fsd-tests: $(TEST_OBJS) $(FSD_LIB_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS_TEST) -o $@

# The libFuzzer target, built only by make fuzz (into build/fuzz/).
$(BUILD)/fuzz_request: $(BUILD)/obj/selftests/fuzz/fuzz_request.o $(FSD_LIB_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer $^ $(LDLIBS_FSD) -o $@

# The metadata workload of the benchmark.
$(BUILD)/metabench: $(BUILD)/obj/selftests/bench/metabench.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@

deps:
	$(Q)scripts/deps.sh

test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/run-tests.sh $(BUILD)

asan: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan CFLAGS="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" all
	$(Q)scripts/run-tests.sh build/asan

FUZZ_SECONDS ?= 60
fuzz:
	$(Q)$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang CFLAGS="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
		build/fuzz/fuzz_request
	$(Q)scripts/fuzz.sh build/fuzz $(FUZZ_SECONDS)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh $(BUILD)

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/bench.sh $(BUILD)

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
