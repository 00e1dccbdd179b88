# mod_userbulk: build, install, run and test.
#
#   make            build .build/mod_userbulk.so and the unit tests
#   make deps       install the Debian packages that are missing (says which)
#   make run        sandbox on https://localhost:8080 with demo data and a token
#   make test       unit tests, a short fuzz run, Apache::Test suite on a private PostgreSQL
#   make test-tools the tests' npm project (SCIMMY, for tests/tools/scim-validate.mjs)
#   make fuzz       the libFuzzer targets of the core, FUZZ_SECONDS (60) each
#   make test-asan  the whole suite with the module and core built with ASan+UBSan
#   make token      print a demo token: make token ACCOUNT=acme ROLES=userbulk.admin SUB=alice
#   make seed       add N generated users per demo account to the sandbox DB
#   make bench      throughput/latency of both endpoints vs PostgreSQL's floor (tests/bench/)
#   make install    module, .load/.conf, SQL and OpenAPI document (DESTDIR honoured)
#   make uninstall  removes what make install put (and the enabled symlinks)
#   make deb        .build/deb/libapache2-mod-userbulk_<version>_<arch>.deb (debian/), lintian-checked
#   make db         create or upgrade the schema: make db DB='host=... dbname=... user=...' [API_ROLE=userbulk_api]
#   make test-ha    only the failover tests: t/ha.t (promotion by the test), t/ha_auto.t
#                   (pg_auto_failover; make test runs both too)
#   make clean
#
# Build outputs live in .build/, run-time state (PostgreSQL clusters, logs,
# certificates) in .run/; both are ignored by git.

APXS      ?= apxs
CC        := $(shell $(APXS) -q CC 2>/dev/null || echo cc)
B         := .build
RUN       := .run

APR_INC   := $(shell $(APXS) -q APR_INCLUDEDIR 2>/dev/null)
APU_INC   := $(shell apu-1-config --includes 2>/dev/null)
# The platform's defines as httpd was built with them (-DLINUX -D_REENTRANT
# -D_GNU_SOURCE on Debian), so that the core sees APR's types as the module does.
APR_CPPFLAGS := $(shell $(APXS) -q EXTRA_CPPFLAGS 2>/dev/null)
# libpq (libpq-dev): the store asks it for the SQLSTATE of a failure.
PQ_INC    := $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
MODDIR    := $(shell $(APXS) -q LIBEXECDIR 2>/dev/null)
HTTPD_ETC := $(shell $(APXS) -q SYSCONFDIR 2>/dev/null)

# Where make install puts things. Debian's layout by default: the module in
# apxs' LIBEXECDIR, userbulk.load where a2enmod finds it, userbulk.conf where
# a2enconf finds it, the SQL, migrate.sh and the OpenAPI document under
# SHAREDIR. Each can be overridden (make install MODS_AVAILABLE=...).
PREFIX          ?= /usr
SHAREDIR        ?= $(PREFIX)/share/userbulk
MODS_AVAILABLE  ?= $(HTTPD_ETC)/mods-available
CONF_AVAILABLE  ?= $(HTTPD_ETC)/conf-available
MODS_ENABLED    ?= $(HTTPD_ETC)/mods-enabled
CONF_ENABLED    ?= $(HTTPD_ETC)/conf-enabled

WARN      := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS    ?= -O2 -g
CPPFLAGS  += $(APR_CPPFLAGS) -I$(APR_INC) $(APU_INC) $(PQ_INC) -Isrc
CORE_LIBS := -laprutil-1 -lapr-1 -ljansson -lpq

GLUE_SRC  := $(sort $(wildcard mod_userbulk*.c))
CORE_SRC  := $(wildcard src/*.c)
CORE_OBJ  := $(CORE_SRC:src/%.c=$(B)/core/%.o)
UNIT_SRC  := $(wildcard tests/unit/*.c)
UNIT_BIN  := $(B)/unit_tests

.PHONY: all deps run test test-tools test-ha unit token seed db bench install uninstall deb clean \
        fuzz fuzz-build fuzz-coverage test-asan asan-build

all: $(B)/mod_userbulk.so $(UNIT_BIN)

# The core is compiled once, position independent, into one archive that both
# the module and the unit tests link.
$(B)/core/%.o: src/%.c src/*.h | $(B)/core
	$(CC) $(CFLAGS) $(WARN) -fPIC $(CPPFLAGS) -c -o $@ $<

$(B)/libuserbulk.a: $(CORE_OBJ)
	rm -f $@ && ar rcs $@ $^

# apxs writes its objects beside the source: it compiles a link to the
# source inside $(B) so that nothing lands in the tree.
$(B)/mod_userbulk.so: $(GLUE_SRC) mod_userbulk.h src/*.h $(B)/libuserbulk.a
	mkdir -p $(B)/glue && for f in $(GLUE_SRC); do ln -sf ../../$$f $(B)/glue/$$f; done
	$(APXS) -c -Wc,"$(WARN)" -I. -Isrc -o $(B)/glue/mod_userbulk.la $(GLUE_SRC:%=$(B)/glue/%) \
	  $(B)/libuserbulk.a -ljansson -lpq >$(B)/apxs.log 2>&1 || { cat $(B)/apxs.log; exit 1; }
	@! grep -E 'warning:|error:' $(B)/apxs.log
	@# a new file renamed over the old one: an httpd running the old one
	@# keeps its mapping (cp over it in place crashes that httpd)
	cp $(B)/glue/.libs/mod_userbulk.so $@.tmp && mv -f $@.tmp $@

$(UNIT_BIN): $(UNIT_SRC) tests/unit/*.h $(B)/libuserbulk.a
	$(CC) $(CFLAGS) $(WARN) $(CPPFLAGS) -Itests/unit -o $@ $(UNIT_SRC) $(B)/libuserbulk.a \
	  $(CORE_LIBS) $(shell pkg-config --cflags --libs check 2>/dev/null || echo -lcheck)

$(B)/core:
	mkdir -p $@

# ---- fuzzing: the core with libFuzzer, ASan and UBSan (clang) ---------------
# No httpd and no database: each target calls src/ as the glue does.
FUZZ_CC      ?= clang
FUZZ_FLAGS   := -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all
FUZZ_TARGETS := fuzz_put_batch fuzz_account_request fuzz_headers fuzz_jdoc fuzz_scim_filter
FUZZ_SECONDS ?= 60

$(B)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_common.h $(CORE_SRC) src/*.h
	@mkdir -p $(B)/fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) $(WARN) $(CPPFLAGS) -o $@ $< $(CORE_SRC) $(CORE_LIBS)

$(B)/fuzz/%-cov: tests/fuzz/%.c tests/fuzz/fuzz_common.h $(CORE_SRC) src/*.h
	@mkdir -p $(B)/fuzz
	$(FUZZ_CC) -g -O0 -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping \
	  -DFUZZ_COVERAGE_ONLY $(CPPFLAGS) -o $@ $< $(CORE_SRC) $(CORE_LIBS)

fuzz-build: $(FUZZ_TARGETS:%=$(B)/fuzz/%)

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@tests/tools/fuzz.sh $(FUZZ_SECONDS)

# Line coverage of src/ by the seed corpora and what fuzzing found.
fuzz-coverage: $(FUZZ_TARGETS:%=$(B)/fuzz/%-cov)
	@tests/tools/fuzz.sh --coverage

# ---- the module and the core with AddressSanitizer and UBSan (gcc) --------
# A build of its own in $(A): the module links its own copy of the core.
# httpd is not instrumented, so tests/tools/asan-httpd preloads libasan
# into it; tests/tools/run-tests.sh --asan runs the whole suite that way.
A          := .build-asan
ASAN_FLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
ASAN_CORE_OBJ := $(CORE_SRC:src/%.c=$(A)/core/%.o)

$(A)/core/%.o: src/%.c src/*.h
	@mkdir -p $(A)/core
	$(CC) $(ASAN_FLAGS) $(WARN) -fPIC $(CPPFLAGS) -c -o $@ $<

$(A)/mod_userbulk.so: $(GLUE_SRC) mod_userbulk.h src/*.h $(ASAN_CORE_OBJ)
	mkdir -p $(A)/glue && for f in $(GLUE_SRC); do ln -sf ../../$$f $(A)/glue/$$f; done
	$(APXS) -c -Wc,"$(WARN) $(ASAN_FLAGS)" -Wl,"-fsanitize=address,undefined" -I. -Isrc \
	  -o $(A)/glue/mod_userbulk.la $(GLUE_SRC:%=$(A)/glue/%) \
	  $(ASAN_CORE_OBJ) -ljansson -lpq >$(A)/apxs.log 2>&1 || { cat $(A)/apxs.log; exit 1; }
	cp $(A)/glue/.libs/mod_userbulk.so $@.tmp && mv -f $@.tmp $@

asan-build: $(A)/mod_userbulk.so

test-asan: deps
	@$(MAKE) --no-print-directory asan-build
	@tests/tools/run-tests.sh --asan $(T)

deps:
	@tools/deps.sh

unit: $(UNIT_BIN)
	$(UNIT_BIN)

run: deps
	@$(MAKE) --no-print-directory $(B)/mod_userbulk.so
	@tools/sandbox.sh

test: deps
	@$(MAKE) --no-print-directory all test-tools
	@if [ -z "$(T)" ]; then $(MAKE) --no-print-directory fuzz-build; fi
	@tests/tools/run-tests.sh $(T)

# The tests' npm project (tests/package.json, pinned by tests/package-lock.json):
# SCIMMY, which t/scim_schema.t and the other SCIM tests validate answers
# with. Installed once, again only when the lock changes; from npm's cache
# when it has the package (offline then).
NODE_STAMP := tests/node_modules/.package-lock.json

$(NODE_STAMP): tests/package.json tests/package-lock.json
	@command -v npm >/dev/null || { echo "test-tools: no npm (make deps installs it)" >&2; exit 1; }
	cd tests && npm ci --prefer-offline --no-audit --no-fund --loglevel=error
	@touch $@

test-tools: $(NODE_STAMP)

test-ha: deps
	@$(MAKE) --no-print-directory all
	@tests/tools/run-tests.sh t/ha.t t/ha_auto.t

token:
	@perl tools/token.pl --account "$(or $(ACCOUNT),acme)" --roles "$(or $(ROLES),userbulk.admin)" --sub "$(or $(SUB),alice)"

seed:
	@tools/sandbox.sh seed "$(or $(USERS),1000)"

# DB (and ADMIN) are read from the environment (make exports command-line
# variables), so that a conninfo with quotes or spaces reaches migrate.sh
# intact. API_ROLE: the role httpd connects as (default userbulk_api).
# ADMIN: a superuser's conninfo, to create the roles when missing (the
# owner named by OWNER, default userbulk, and API_ROLE).
db:
	@test -n "$$DB" || { echo "usage: make db DB='host=/var/run/postgresql dbname=userbulk user=userbulk' [API_ROLE=userbulk_api] [ADMIN='host=/var/run/postgresql dbname=postgres user=postgres' [OWNER=userbulk]]" >&2; exit 2; }
	src/sql/migrate.sh --api-role "$${API_ROLE:-userbulk_api}" \
	  $${ADMIN:+--admin "$$ADMIN" --owner "$${OWNER:-userbulk}"} "$$DB"

# The load client of the benchmark: no library but pthreads.
$(B)/bench-client: tests/bench/client.c | $(B)/core
	$(CC) -O2 -g -Wall -Wextra -pthread -o $@ $<

bench: deps
	@$(MAKE) --no-print-directory $(B)/mod_userbulk.so $(B)/bench-client
	@tests/bench/bench.sh

# userbulk.conf is the admin's to edit: an edited copy is never overwritten;
# the shipped one then goes beside it as userbulk.conf.dist.
install: $(B)/mod_userbulk.so
	@test -n "$(MODDIR)" -a -n "$(HTTPD_ETC)" || { echo "install: apxs not found (apt-get install apache2-dev, or make install APXS=/path/to/apxs)" >&2; exit 1; }
	install -d $(DESTDIR)$(MODDIR) $(DESTDIR)$(MODS_AVAILABLE) $(DESTDIR)$(CONF_AVAILABLE) \
	  $(DESTDIR)$(SHAREDIR)/sql/migrations $(DESTDIR)$(SHAREDIR)/sql/functions
	install -m 644 $(B)/mod_userbulk.so $(DESTDIR)$(MODDIR)/mod_userbulk.so
	sed 's|^LoadModule userbulk_module .*|LoadModule userbulk_module $(MODDIR)/mod_userbulk.so|' \
	  conf/userbulk.load >$(B)/userbulk.load
	install -m 644 $(B)/userbulk.load $(DESTDIR)$(MODS_AVAILABLE)/userbulk.load
	@dst=$(DESTDIR)$(CONF_AVAILABLE)/userbulk.conf; \
	if [ -e "$$dst" ] && ! cmp -s conf/userbulk.conf "$$dst"; then \
	  echo "install -m 644 conf/userbulk.conf $$dst.dist"; \
	  install -m 644 conf/userbulk.conf "$$dst.dist"; \
	  echo "install: $$dst was edited: kept it; the shipped one is $$dst.dist"; \
	else \
	  echo "install -m 644 conf/userbulk.conf $$dst"; \
	  install -m 644 conf/userbulk.conf "$$dst"; \
	fi
	install -m 644 src/sql/*.sql $(DESTDIR)$(SHAREDIR)/sql/
	install -m 644 src/sql/migrations/*.sql $(DESTDIR)$(SHAREDIR)/sql/migrations/
	install -m 644 src/sql/functions/*.sql $(DESTDIR)$(SHAREDIR)/sql/functions/
	install -m 755 src/sql/migrate.sh $(DESTDIR)$(SHAREDIR)/sql/migrate.sh
	install -m 644 conf/openapi.json $(DESTDIR)$(SHAREDIR)/openapi.json
	@echo "installed. Next: $(SHAREDIR)/sql/migrate.sh 'CONNINFO'; a2enmod userbulk; a2enconf userbulk (edit it first); apache2ctl configtest"

# Also removes the symlinks a2enmod/a2enconf made, so that the remaining
# configuration still loads; an edited userbulk.conf is kept.
uninstall:
	@for l in $(DESTDIR)$(MODS_ENABLED)/userbulk.load $(DESTDIR)$(CONF_ENABLED)/userbulk.conf; do \
	  if [ -L "$$l" ]; then echo "rm -f $$l"; rm -f "$$l"; fi; \
	done
	rm -f $(DESTDIR)$(MODDIR)/mod_userbulk.so
	rm -f $(DESTDIR)$(MODS_AVAILABLE)/userbulk.load $(DESTDIR)$(CONF_AVAILABLE)/userbulk.conf.dist
	@dst=$(DESTDIR)$(CONF_AVAILABLE)/userbulk.conf; \
	if [ -e "$$dst" ] && ! cmp -s conf/userbulk.conf "$$dst"; then \
	  echo "uninstall: kept the edited $$dst"; \
	else \
	  echo "rm -f $$dst"; rm -f "$$dst"; \
	fi
	rm -rf $(DESTDIR)$(SHAREDIR)
	@echo "uninstalled. Reload httpd (systemctl reload apache2) if it had mod_userbulk loaded."

# In a copy of the tree under $(B)/deb/ (tools/deb.sh); VERSION= builds
# as a newer version than debian/changelog's.
deb: deps
	@tools/deb.sh $(VERSION)

clean:
	rm -rf $(B) $(A)
