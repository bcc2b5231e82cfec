# gigunion: the two commands a newcomer needs are `make run` and `make test`.
# Everything is built by cargo from crates.io; SQLite is compiled in, nothing else to install.

CARGO ?= cargo
TEST_PG_URL ?= postgres://postgres@127.0.0.1:5432/postgres
TEST_REDIS ?= redis://127.0.0.1:6379/

.PHONY: run test test-services fmt lint openapi migrate seed clean bench release drill-build drill-scale drill-crash drill-notify

## Start the server on an embedded SQLite database (data/) with demo data.
run:
	$(CARGO) run --release --bin gigunion -- serve --demo

## The whole test suite on SQLite with the in-process coordination store.
test:
	$(CARGO) test --workspace

## The same suite against PostgreSQL and Redis (TEST_PG_URL, TEST_REDIS).
test-services:
	TEST_DATABASE_URL=$(TEST_PG_URL) TEST_REDIS_URL=$(TEST_REDIS) $(CARGO) test --workspace

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Performance scenarios against a release build, as ratios to /healthz of the same server in
## the same run (never part of CI): all of them, or `make bench SCENARIO=stations`.
## Figures are printed and kept in bench/results.json.
## Scenarios that take a database also run on PostgreSQL + Redis when the local ones answer
## (or when BENCH_PG_URL / BENCH_REDIS_URL name others).
BENCH_PG_URL ?= $(shell pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && echo postgres://postgres@127.0.0.1:5432/postgres)
BENCH_REDIS_URL ?= $(shell redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG && echo redis://127.0.0.1:6379/)

bench: release
	BENCH_PG_URL=$(BENCH_PG_URL) BENCH_REDIS_URL=$(BENCH_REDIS_URL) \
		$(CARGO) run --release --quiet -p gigunion-bench -- $(SCENARIO)

## The release server and load generator that `bench` and the drills run.
release:
	$(CARGO) build --release -p gigunion-server -p gigunion-bench

## Drills against release servers on PostgreSQL + Redis (DRILL_PG_URL, DRILL_REDIS_URL);
## `make drill-scale DRILL_ARGS=--short` for the CI form. CI runs them on the debug build the
## tests already made (`DRILL_PROFILE=dev`): a drill checks what holds under kill -9 and across
## two instances, not speed, and a second, optimised build of everything would cost CI minutes.
DRILL_PG_URL ?= postgres://postgres@127.0.0.1:5432/postgres
DRILL_REDIS_URL ?= redis://127.0.0.1:6379/
DRILL_PROFILE ?= release
DRILL_ENV = DRILL_PG_URL=$(DRILL_PG_URL) DRILL_REDIS_URL=$(DRILL_REDIS_URL)
DRILL_FLAGS = $(if $(filter release,$(DRILL_PROFILE)),--release,)
DRILL_RUN = $(DRILL_ENV) $(CARGO) run $(DRILL_FLAGS) --quiet -p gigunion-bench --

## The server and the drill runner of DRILL_PROFILE.
drill-build:
	$(CARGO) build $(DRILL_FLAGS) -p gigunion-server -p gigunion-bench

## Two instances on one PostgreSQL + Redis: no oversell, shared rate limits, station
## freshness, refresh-token reuse across instances.
drill-scale: drill-build
	$(DRILL_RUN) drill-scale $(DRILL_ARGS)

## kill -9 under claims, bookings and joins, restart, check every acknowledged write (SQLite
## and PostgreSQL).
drill-crash: drill-build
	$(DRILL_RUN) drill-crash $(DRILL_ARGS)

## kill -9 while 10,000 SMS are being sent, restart, every one in the file exactly once (SQLite
## and PostgreSQL); two instances send one backlog without a duplicate (PostgreSQL).
drill-notify: drill-build
	$(DRILL_RUN) drill-notify $(DRILL_ARGS)

## Rewrite openapi/openapi.json from the code.
openapi:
	$(CARGO) run --quiet --bin gigunion -- openapi > openapi/openapi.json.tmp
	mv openapi/openapi.json.tmp openapi/openapi.json

migrate:
	$(CARGO) run --release --bin gigunion -- migrate

seed:
	$(CARGO) run --release --bin gigunion -- seed

clean:
	rm -rf data
