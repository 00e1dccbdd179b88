# mod_userbulk: build, install, run and test.
#
#   make            build .build/mod_userbulk.so and the unit tests
#   make deps       install the Debian packages that are missing (says which)
#   make run        sandbox on https://localhost:8080 with demo data and a token
#   make test       unit tests + Apache::Test suite on a private PostgreSQL
#   make token      print a demo token: make token ACCOUNT=acme ROLES=userbulk.admin SUB=alice
#   make seed       add N generated users per demo account to the sandbox DB
#   make bench      throughput/latency of both endpoints vs PostgreSQL's floor (tests/bench/)
#   make install    module, .load/.conf and SQL under $(DESTDIR)
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
HTTPD_INC := $(shell $(APXS) -q INCLUDEDIR 2>/dev/null)
MODDIR    := $(shell $(APXS) -q LIBEXECDIR 2>/dev/null)
HTTPD_ETC := $(shell $(APXS) -q SYSCONFDIR 2>/dev/null)
SHAREDIR  ?= /usr/share/userbulk

WARN      := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS    ?= -O2 -g
CPPFLAGS  += -DLINUX -D_REENTRANT -D_GNU_SOURCE -I$(APR_INC) $(APU_INC) -Isrc
CORE_LIBS := -laprutil-1 -lapr-1 -ljansson

CORE_SRC  := $(wildcard src/*.c)
CORE_OBJ  := $(CORE_SRC:src/%.c=$(B)/core/%.o)
UNIT_SRC  := $(wildcard tests/unit/*.c)
UNIT_BIN  := $(B)/unit_tests

.PHONY: all deps run test unit itest token seed bench install uninstall clean check-build

all: $(B)/mod_userbulk.so $(UNIT_BIN)

# The core is compiled once, position independent, into one archive that both
# the module and the unit tests link.
$(B)/core/%.o: src/%.c src/*.h | $(B)/core
	$(CC) $(CFLAGS) $(WARN) -fPIC $(CPPFLAGS) -c -o $@ $<

$(B)/libuserbulk.a: $(CORE_OBJ)
	rm -f $@ && ar rcs $@ $^

# apxs writes its objects beside the source: it compiles a link to the
# source inside $(B) so that nothing lands in the tree.
$(B)/mod_userbulk.so: mod_userbulk.c mod_userbulk.h src/*.h $(B)/libuserbulk.a
	mkdir -p $(B)/glue && ln -sf ../../mod_userbulk.c $(B)/glue/mod_userbulk.c
	$(APXS) -c -Wc,"$(WARN)" -I. -Isrc -o $(B)/glue/mod_userbulk.la $(B)/glue/mod_userbulk.c \
	  $(B)/libuserbulk.a -ljansson >$(B)/apxs.log 2>&1 || { cat $(B)/apxs.log; exit 1; }
	@! grep -E 'warning:|error:' $(B)/apxs.log
	cp $(B)/glue/.libs/mod_userbulk.so $@

$(UNIT_BIN): $(UNIT_SRC) tests/unit/*.h $(B)/libuserbulk.a
	$(CC) $(CFLAGS) $(WARN) $(CPPFLAGS) -Itests/unit -o $@ $(UNIT_SRC) $(B)/libuserbulk.a \
	  $(CORE_LIBS) $(shell pkg-config --cflags --libs check 2>/dev/null || echo -lcheck)

$(B)/core:
	mkdir -p $@

deps:
	@tests/tools/deps.sh

unit: $(UNIT_BIN)
	$(UNIT_BIN)

run: deps
	@$(MAKE) --no-print-directory $(B)/mod_userbulk.so
	@tests/tools/sandbox.sh

test: deps
	@$(MAKE) --no-print-directory all
	@tests/tools/run-tests.sh $(T)

token:
	@perl tests/tools/token.pl --account "$(or $(ACCOUNT),acme)" --roles "$(or $(ROLES),userbulk.admin)" --sub "$(or $(SUB),alice)"

seed:
	@tests/tools/sandbox.sh seed "$(or $(USERS),1000)"

# The load client of the benchmark: plain gcc, no library but pthreads.
$(B)/bench-client: tests/bench/client.c | $(B)/core
	gcc -O2 -g -Wall -Wextra -pthread -o $@ $<

bench: deps
	@$(MAKE) --no-print-directory $(B)/mod_userbulk.so $(B)/bench-client
	@tests/bench/bench.sh

install: $(B)/mod_userbulk.so
	install -D -m 644 $(B)/mod_userbulk.so $(DESTDIR)$(MODDIR)/mod_userbulk.so
	install -D -m 644 conf/userbulk.load $(DESTDIR)$(HTTPD_ETC)/mods-available/userbulk.load
	install -D -m 644 conf/userbulk.conf $(DESTDIR)$(HTTPD_ETC)/conf-available/userbulk.conf
	install -d $(DESTDIR)$(SHAREDIR)/sql/migrations
	install -m 644 src/sql/*.sql $(DESTDIR)$(SHAREDIR)/sql/
	install -m 644 src/sql/migrations/*.sql $(DESTDIR)$(SHAREDIR)/sql/migrations/
	install -m 755 src/sql/migrate.sh $(DESTDIR)$(SHAREDIR)/sql/migrate.sh

uninstall:
	rm -f $(DESTDIR)$(MODDIR)/mod_userbulk.so
	rm -f $(DESTDIR)$(HTTPD_ETC)/mods-available/userbulk.load $(DESTDIR)$(HTTPD_ETC)/conf-available/userbulk.conf
	rm -rf $(DESTDIR)$(SHAREDIR)

clean:
	rm -rf $(B)
