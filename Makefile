# ecoroll: one non-recursive Makefile.
#
#   make                 build every program into build/
#   make run             install what is missing, build, start the sample city, print a report
#   make run-cluster     the same as three district nodes and a city node (README "Three tiers")
#   make test            unit + integration tests, then the unit tests under ASan/UBSan and
#                        the stress tests under TSan; ends with "N passed, N failed"
#   make test T=codec    one test program (tests/test_codec.c)
#   make test FAST=1     skip the sanitizer passes
#   make bench           Google Benchmark micro-benchmarks (bench/micro_*.cc)
#   make SANITIZE=address|undefined|thread ...   the same under a sanitizer, in build-<name>/
#   make clean
#
# Under CI (CI=true) warnings are errors.

SANITIZE ?=
B := build$(if $(SANITIZE),-$(SANITIZE))
CC ?= cc
CXX ?= c++
OPT ?= -O2

PKGS := libzmq lmdb libprotobuf-c libxxhash libmicrohttpd inih ck
# Recursive (=) so pkg-config runs after scripts/deps.sh has installed them.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ifeq ($(CI),true)
WARN += -Werror
endif
SAN_FLAGS :=
ifeq ($(SANITIZE),address)
SAN_FLAGS := -fsanitize=address -fno-omit-frame-pointer
else ifeq ($(SANITIZE),undefined)
SAN_FLAGS := -fsanitize=undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
else ifeq ($(SANITIZE),thread)
SAN_FLAGS := -fsanitize=thread
else ifneq ($(SANITIZE),)
$(error SANITIZE must be address, undefined or thread)
endif

INC := -I$(B)/proto -Iproto -Inode -Iingest -Iaggregate -Istore -Iapi -Icli
CPPFLAGS_ALL = -D_GNU_SOURCE $(INC) $(PKG_CFLAGS)
CFLAGS_ALL = -std=c11 $(OPT) -g $(WARN) $(SAN_FLAGS) -MMD -MP
CXXFLAGS_ALL = -std=c++17 $(OPT) -g -Wall -Wextra $(SAN_FLAGS) -MMD -MP
LDFLAGS_ALL = $(SAN_FLAGS)
LIBS = $(PKG_LIBS) -lpthread -lm

DEPS_STAMP := $(B)/.deps-installed

# ---- sources ----
PROTO_GEN := $(B)/proto/ecoroll.pb-c.c
LIB_SRC := proto/codec.c node/er.c node/config.c \
	aggregate/registry.c aggregate/delta.c aggregate/meter.c aggregate/energy.c aggregate/airstat.c aggregate/aqi.c aggregate/budget.c \
	store/store.c store/batch.c store/econ.c store/budgets.c store/outbox.c \
	ingest/gateway.c ingest/worker.c ingest/client.c ingest/owners.c \
	node/node.c node/flusher.c node/control.c node/report.c node/air.c node/warn.c node/tiers.c node/uplink.c node/status.c \
	api/http.c
LIB_OBJ := $(PROTO_GEN:.c=.o) $(patsubst %.c,$(B)/%.o,$(LIB_SRC))
LIB := $(B)/libecoroll.a

PROGS := $(B)/ecorolld $(B)/ecoroll $(B)/ecoroll-bench
ECOROLLD_OBJ := $(B)/node/ecorolld.o
ECOROLL_OBJ := $(patsubst %.c,$(B)/%.o,$(filter-out cli/bench.c,$(wildcard cli/*.c)))

TEST_SRC := $(wildcard tests/test_*.c)
STRESS_SRC := $(wildcard tests/stress_*.c)
TESTS := $(patsubst tests/%.c,$(B)/tests/%,$(TEST_SRC))
STRESS := $(patsubst tests/%.c,$(B)/tests/%,$(STRESS_SRC))
TEST_COMMON := $(B)/tests/tutil.o $(B)/tests/itutil.o

BENCH_SRC := $(wildcard bench/micro_*.cc)
BENCHES := $(patsubst bench/%.cc,$(B)/bench/%,$(BENCH_SRC))

.PHONY: all deps run test bench clean run-stop run-cluster run-cluster-stop
all: $(PROGS)

deps: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/deps.sh
	@sh scripts/deps.sh
	@mkdir -p $(@D) && touch $@

# ---- code generation: protoc-c at build time, never committed ----
$(B)/proto/ecoroll.pb-c.c $(B)/proto/ecoroll.pb-c.h: proto/ecoroll.proto | $(DEPS_STAMP)
	@mkdir -p $(B)/proto
	protoc-c --proto_path=proto --c_out=$(B)/proto proto/ecoroll.proto

$(B)/proto/ecoroll.pb-c.o: $(B)/proto/ecoroll.pb-c.c
	$(CC) $(CPPFLAGS_ALL) -std=c11 $(OPT) -g $(SAN_FLAGS) -MMD -MP -c $< -o $@

$(B)/proto/codec.o: $(B)/proto/ecoroll.pb-c.h

$(B)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -c $< -o $@

$(B)/%.o: %.cc | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS_ALL) $(CXXFLAGS_ALL) -c $< -o $@

$(LIB): $(LIB_OBJ) Makefile
	@rm -f $@
	ar rcs $@ $(LIB_OBJ)

$(B)/ecorolld: $(ECOROLLD_OBJ) $(LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

$(B)/ecoroll: $(ECOROLL_OBJ) $(LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

$(B)/ecoroll-bench: $(B)/cli/bench.o $(LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

$(B)/tests/%: $(B)/tests/%.o $(TEST_COMMON) $(LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS) -lcmocka

$(B)/bench/%: $(B)/bench/%.o $(LIB)
	$(CXX) $(LDFLAGS_ALL) -o $@ $^ $(LIBS) -lbenchmark -lpthread

# ---- run: the sample city ----
run: $(PROGS)
	@sh scripts/run.sh $(B)

run-stop:
	@sh scripts/run.sh --stop

# ---- run-cluster: a city node and three district nodes (README "Three tiers") ----
run-cluster: $(PROGS)
	@sh scripts/cluster.sh $(B)

run-cluster-stop:
	@sh scripts/cluster.sh --stop

# ---- tests ----
# T=name runs tests/test_name (or stress_name) alone.
ifdef T
TEST_SEL := $(filter %/test_$(T) %/stress_$(T),$(TESTS) $(STRESS))
else
TEST_SEL := $(TESTS) $(STRESS)
endif

test: $(PROGS) $(TEST_SEL)
ifdef T
	@sh tests/run.sh --bin $(B) $(TEST_SEL)
else ifdef FAST
	@sh tests/run.sh --bin $(B) $(TEST_SEL)
else
	@rm -f build-address/tests.log build-undefined/tests.log build-thread/tests.log
	@$(MAKE) --no-print-directory SANITIZE=address sanitized-pass
	@$(MAKE) --no-print-directory SANITIZE=undefined sanitized-pass
	@$(MAKE) --no-print-directory SANITIZE=thread sanitized-pass
	@sh tests/run.sh --bin $(B) --also build-address/tests.log --also build-undefined/tests.log \
		--also build-thread/tests.log $(TEST_SEL)
endif

# The sanitizer passes: results go to a log that the final run adds to its
# count. AddressSanitizer runs every test, the integration tests with real
# daemons built with ASan (crashes included); UBSan the unit tests; TSan
# the stress tests and four integration tests (three tiers among them) against a TSan daemon
# (tests/tsan.supp silences only the uninstrumented libzmq and protobuf-c;
# a race in our code stops the daemon and fails its test).
UNIT_TESTS := $(filter-out $(B)/tests/test_it_%,$(TESTS))
ifeq ($(SANITIZE),address)
SAN_SEL := $(TESTS)
else ifeq ($(SANITIZE),thread)
SAN_SEL := $(STRESS) $(filter %/test_it_protocol %/test_it_events %/test_it_crash %/test_it_tiers,$(TESTS))
else
SAN_SEL := $(UNIT_TESTS)
endif
.PHONY: sanitized-pass
sanitized-pass: $(PROGS) $(SAN_SEL)
	@sh tests/run.sh --bin $(B) --log $(B)/tests.log --label $(SANITIZE) $(SAN_SEL)

# ---- benchmarks ----
bench: $(BENCHES) $(PROGS)
	@for b in $(BENCHES); do echo "== $$b"; $$b --benchmark_counters_tabular=true || exit 1; done

clean:
	rm -rf build build-address build-undefined build-thread

-include $(shell find $(B) -name '*.d' 2>/dev/null)
.SECONDARY:
