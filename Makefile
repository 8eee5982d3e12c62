# tollgate — top-level build.  See README.md.
#   make            build everything (-Wall -Wextra -Werror)
#   make run        install deps, build, start redis + daemon with shipped config
#   make test       install deps, build, run the whole suite
#   make asan       build with ASan+UBSan into build-asan/ and run the suite
#   make bench      benchmarks (figures and ratios, never pass/fail)
#   make fuzz       libFuzzer targets, bounded time (FUZZ_SECONDS)
#   make install    PREFIX=/usr/local DESTDIR=

BUILD    ?= build
PREFIX   ?= /usr/local
SYSCONFDIR ?= /etc/tollgate
MANDIR   ?= $(PREFIX)/share/man
UNITDIR  ?= $(PREFIX)/lib/systemd/system
DESTDIR  ?=
SAN      ?=
FUZZ_SECONDS ?= 60
VERSION  := 0.1.0

CC       ?= cc
PKGS     := libpcre2-8 libpcre2-32 libhs
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread \
            -DTG_VERSION='"$(VERSION)"' -DTG_PREFIX='"$(PREFIX)"' \
            -DTG_SYSCONFDIR='"$(SYSCONFDIR)"' -Irules -Istats -Imilter -Itests $(PKG_CFLAGS)
LDFLAGS  += -pthread
ifeq ($(SAN),1)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif

RULES_LIB_SRC := $(filter-out rules/tollgate-rules.c,$(wildcard rules/*.c))
RULES_LIB_OBJ := $(RULES_LIB_SRC:%.c=$(BUILD)/%.o)
RULES_LIB     := $(BUILD)/librules.a
RULES_TOOL    := $(BUILD)/tollgate-rules

STATS_LIB_SRC := $(filter-out stats/tollgate-stats.c,$(wildcard stats/*.c))
STATS_LIB_OBJ := $(STATS_LIB_SRC:%.c=$(BUILD)/%.o)
STATS_LIB     := $(BUILD)/libstats.a

MILTER_SRC := $(wildcard milter/*.c)
MILTER_LIB_OBJ := $(filter-out $(BUILD)/milter/main.o,$(MILTER_SRC:%.c=$(BUILD)/%.o))
MILTER_LIB := $(BUILD)/libmilterglue.a
DAEMON     := $(BUILD)/tollgate
DAEMON_LIBS := -lmilter -lspf2 -lhiredis $(PKG_LIBS) -lm

TEST_SRC  := $(wildcard tests/check_*.c)
TEST_OBJ  := $(TEST_SRC:%.c=$(BUILD)/%.o)
TEST_BIN  := $(BUILD)/tests/check_tollgate

BENCH_BIN := $(BUILD)/rules_bench
DIFFTEST  := $(BUILD)/difftest
MILTERLOAD := $(BUILD)/milterload

STATS_TOOL := $(BUILD)/tollgate-stats
STATSGEN   := $(BUILD)/statsgen

BINS := $(RULES_TOOL) $(DAEMON) $(STATS_TOOL)

.PHONY: all deps run test test-only asan bench fuzz install clean check-build costtab
all: $(BINS)

deps:
	@sh deploy/install-deps.sh all

# The paths compiled in (TG_PREFIX, TG_SYSCONFDIR): objects are rebuilt when
# they change, so that "make install PREFIX=/usr" after "make" does not
# install binaries that look for their files under /usr/local.
$(BUILD)/paths.stamp: FORCE
	@mkdir -p $(BUILD)
	@echo '$(PREFIX) $(SYSCONFDIR)' | cmp -s - $@ || echo '$(PREFIX) $(SYSCONFDIR)' > $@
.PHONY: FORCE
FORCE:

$(BUILD)/%.o: %.c $(BUILD)/paths.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(RULES_LIB): $(RULES_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(STATS_LIB): $(STATS_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(MILTER_LIB): $(MILTER_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# sigwait is exported so that it interposes libmilter's (see milter/main.c).
$(DAEMON): $(BUILD)/milter/main.o $(MILTER_LIB) $(STATS_LIB) $(RULES_LIB)
	$(CC) $(LDFLAGS) -Wl,--export-dynamic-symbol=sigwait -o $@ $^ $(DAEMON_LIBS)

$(STATS_TOOL): $(BUILD)/stats/tollgate-stats.o $(STATS_LIB) $(RULES_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lhiredis $(PKG_LIBS) -lm

$(STATSGEN): $(BUILD)/tests/statsgen.o $(STATS_LIB) $(RULES_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lhiredis $(PKG_LIBS) -lm

$(RULES_TOOL): $(BUILD)/rules/tollgate-rules.o $(RULES_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# suites.inc lists every "Suite *NAME_suite(void)" found in tests/check_*.c.
$(BUILD)/tests/suites.inc: $(TEST_SRC)
	@mkdir -p $(dir $@)
	@sed -n 's/^Suite \*\([a-z_0-9]*\)_suite(void)$$/SUITE(\1)/p' $(TEST_SRC) > $@.tmp
	@mv $@.tmp $@

$(BUILD)/tests/check_main.o: $(BUILD)/tests/suites.inc
$(BUILD)/tests/check_main.o: CFLAGS += -I$(BUILD)/tests

$(TEST_BIN): $(TEST_OBJ) $(MILTER_LIB) $(STATS_LIB) $(RULES_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(DAEMON_LIBS) $(CHECK_LIBS)

$(BENCH_BIN): $(BUILD)/tests/bench/rules_bench.o $(BUILD)/tests/corpus.o $(RULES_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# the differential test of the fast matcher against the oracle (issue 3)
$(DIFFTEST): $(BUILD)/tests/difftest.o $(BUILD)/tests/corpus.o $(RULES_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# what each expression of a class's database costs (TG_FAST_DUMP, issue 3)
$(BUILD)/dbcost: $(BUILD)/tests/bench/dbcost.o $(BUILD)/tests/corpus.o $(RULES_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# measures compile costs for rules/fastcost.inc (see rules/fastcost.h)
$(BUILD)/costtab: $(BUILD)/tests/bench/costtab.o $(RULES_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/nullfilter: $(BUILD)/tests/bench/nullfilter.o $(MILTER_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lmilter

$(BUILD)/stats_bench: $(BUILD)/tests/bench/stats_bench.o $(STATS_LIB) $(RULES_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lhiredis -lm

$(MILTERLOAD): $(BUILD)/tests/bench/milterload.o
	$(CC) $(LDFLAGS) -o $@ $^ -lm

check-build: $(BINS) $(TEST_BIN) $(MILTERLOAD) $(STATSGEN) $(DIFFTEST)

run: deps all
	@sh deploy/run.sh $(BUILD)

test: deps
	@$(MAKE) --no-print-directory test-only

# The suite without the dependency step (used by asan and by developers).
test-only: check-build
	@BUILD=$(BUILD) sh tests/run-all.sh

# ASan keeps up to 256 MB of freed memory in quarantine by default; the
# Vectorscan compiler churns through that much, which the daemon memory-bound
# test would count. A 32 MB quarantine keeps it meaningful.
asan:
	@ASAN_OPTIONS=$${ASAN_OPTIONS:-quarantine_size_mb=32} $(MAKE) --no-print-directory BUILD=build-asan SAN=1 test-only

bench: all $(BENCH_BIN) $(MILTERLOAD) $(BUILD)/nullfilter $(BUILD)/stats_bench $(BUILD)/dbcost
	@BUILD=$(BUILD) sh tests/bench/run.sh

# Regenerates rules/fastcost.inc (compile costs routing reads, see
# rules/fastcost.h) after a change of routing, of the stock rules or of
# Vectorscan: two cold compiles log what they compile alone (one with the
# current table, one timing every compile), then costtab measures each
# expression. About 15 minutes; run it on an otherwise idle machine.
COSTTAB_RULES := --rules /usr/share/spamassassin --rules deploy/rules
costtab: $(RULES_TOOL) $(BUILD)/costtab
	@rm -f $(BUILD)/costlog
	TG_FAST_COSTLOG=$(BUILD)/costlog $(RULES_TOOL) test --cache '' $(COSTTAB_RULES) \
		tests/fixtures/mime/single.eml > /dev/null
	TG_FAST_COSTLOG=$(BUILD)/costlog TG_FAST_NOCOSTTAB=1 $(RULES_TOOL) test --cache '' \
		$(COSTTAB_RULES) tests/fixtures/mime/single.eml > /dev/null
	$(BUILD)/costtab $(BUILD)/costlog > rules/fastcost.inc.tmp
	mv rules/fastcost.inc.tmp rules/fastcost.inc

fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/tollgate/rules
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(RULES_TOOL) $(STATS_TOOL) $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 $(DAEMON) $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 deploy/rules/*.cf $(DESTDIR)$(PREFIX)/share/tollgate/rules/
	install -d $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(PREFIX)/share/tollgate/postfix $(DESTDIR)$(PREFIX)/share/tollgate/sendmail \
	    $(DESTDIR)$(SYSCONFDIR)
	sed 's|/usr/local|$(PREFIX)|g' deploy/man/tollgate.8 > $(DESTDIR)$(MANDIR)/man8/tollgate.8
	sed 's|/usr/local|$(PREFIX)|g' deploy/man/tollgate.conf.5 > $(DESTDIR)$(MANDIR)/man5/tollgate.conf.5
	sed 's|/usr/local|$(PREFIX)|g' deploy/tollgate.service > $(DESTDIR)$(UNITDIR)/tollgate.service
	chmod 0644 $(DESTDIR)$(MANDIR)/man8/tollgate.8 $(DESTDIR)$(MANDIR)/man5/tollgate.conf.5 \
	    $(DESTDIR)$(UNITDIR)/tollgate.service
	install -m 0644 deploy/postfix/main.cf.snippet $(DESTDIR)$(PREFIX)/share/tollgate/postfix/
	install -m 0644 deploy/sendmail/tollgate.mc $(DESTDIR)$(PREFIX)/share/tollgate/sendmail/
	sed 's|/usr/local|$(PREFIX)|g' deploy/tollgate.conf > $(DESTDIR)$(PREFIX)/share/tollgate/tollgate.conf.example
	test -e $(DESTDIR)$(SYSCONFDIR)/tollgate.conf || \
	    install -m 0644 $(DESTDIR)$(PREFIX)/share/tollgate/tollgate.conf.example $(DESTDIR)$(SYSCONFDIR)/tollgate.conf

clean:
	rm -rf build build-asan build-fuzz

-include $(wildcard $(BUILD)/*/*.d $(BUILD)/*/*/*.d)
