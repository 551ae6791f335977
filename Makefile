# rowversion — PGXS build.  `make`, `make install`, `make installcheck`.

EXTENSION = rowversion
EXTVERSION = $(shell sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" $(EXTENSION).control)

MODULE_big = rowversion
OBJS = src/rowversion.o src/trigger.o src/manage.o src/options.o src/conditional.o src/conditionalwrite.o src/plancache.o src/jsoninput.o src/precondition.o src/watermark.o src/clock.o src/citus.o src/propagate.o src/etag.o src/conflicts.o
RV_HEADERS = src/rowversion.h src/compat.h src/modes.h src/etag.h src/conditional.h src/clock.h

DATA = $(wildcard sql/$(EXTENSION)--*.sql)

# pg_regress inputs live in test/sql, isolation specs in test/specs, and
# both suites share the top-level expected/ (see README "Development").
# "setup" creates the extension and the tests' helpers; the rest follow
# in name order.
REGRESS = setup $(sort $(filter-out setup,$(patsubst test/sql/%.sql,%,$(wildcard test/sql/*.sql))))
REGRESS_OPTS = --inputdir=test
ISOLATION = $(sort $(patsubst test/specs/%.spec,%,$(wildcard test/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test --outputdir=.

PG_CFLAGS += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers

EXTRA_CLEAN = results output_iso regression.diffs regression.out regress.diffs isolation.diffs

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(OBJS): $(RV_HEADERS)
