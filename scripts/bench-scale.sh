#!/usr/bin/env bash
# scripts/bench-scale.sh — does Assent keep its latency with a million users,
# and do two nodes on one PostgreSQL serve more than one? Prints a summary
# (docs/benchmarks.md, "Scale", records the figures). Long: about 15 minutes
# on 2 cores, most of it seeding; not part of the test suite.
#
#   ./scripts/bench-scale.sh
#   SCALE_ENGINES=sqlite SCALE_LARGE=200000 ./scripts/bench-scale.sh
#
# Steps, on 127.0.0.1 with temporary data directories (and a private
# PostgreSQL, started like scripts/test.sh's) removed on exit:
#   1. for each engine (SQLite, PostgreSQL) and each population (SCALE_SMALL
#      and SCALE_LARGE users), in a fresh installation: `assent bench seed
#      --users N` (users bench-0 … with a device and an unlimited-use bypass
#      code each, written in bulk, then ANALYZE / VACUUM ANALYZE), an Auth
#      API integration, `assent serve` (rate limits and the per-address
#      connection cap off, as in scripts/bench.sh);
#      `assent bench auth --users-file …` (preauth + passcode auth, each
#      request for a random seeded user), closed loop at BENCH_CONNS
#      connections, then paced at half the closed-loop throughput of the
#      small population on that engine (the same rate for both populations);
#      on PostgreSQL, the sequential and index scans each table saw during
#      the runs (pg_stat_user_tables): a login must scan no table;
#   2. on the large PostgreSQL installation: one node, then two nodes (the
#      second with its own data directory and port, the same database and
#      master key), the load generator spreading its requests over the
#      nodes; each run reports the CPU seconds used by the generator, each
#      node and PostgreSQL (/proc/PID/stat, children included) during the
#      measured time;
#   3. `assent bench scale-summary` of all results, with the targets.
#
# Settings (environment): SCALE_ENGINES ("sqlite postgres"), SCALE_SMALL
# (1000), SCALE_LARGE (1000000), BENCH_CONNS (64), BENCH_DURATION (10s),
# BENCH_WARMUP (2s), SCALE_PG_SHARED_BUFFERS (1GB), SCALE_KEEP=1 keeps the
# work directory, BENCH_RESULTS=DIR copies the JSON results there.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

ENGINES=${SCALE_ENGINES:-sqlite postgres}
SMALL=${SCALE_SMALL:-1000}
LARGE=${SCALE_LARGE:-1000000}
CONNS=${BENCH_CONNS:-64}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}
PG_SHARED_BUFFERS=${SCALE_PG_SHARED_BUFFERS:-1GB}

section() { printf '\n==== %s ====\n' "$*" >&2; }
die() { printf 'bench-scale.sh: %s\n' "$*" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/assent-scale.XXXXXX")
RESULTS=$WORK/results
mkdir -p "$RESULTS"
SERVER_PIDS=()
HOSTS=() CAS=()
PG_TMP=""
PG_BIN=""

as_pg() {
	if ((EUID == 0)); then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

stop_servers() {
	local pid
	for pid in "${SERVER_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${SERVER_PIDS[@]}"; do
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	SERVER_PIDS=() HOSTS=() CAS=()
}

cleanup() {
	local rc=$?
	stop_servers
	if [[ -n $PG_TMP && -f $PG_TMP/data/postmaster.pid ]]; then
		as_pg "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	if [[ ${SCALE_KEEP:-} == 1 ]]; then
		printf 'bench-scale.sh: kept %s\n' "$WORK" >&2
	else
		rm -rf "$WORK"
		[[ -z $PG_TMP ]] || rm -rf "$PG_TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

section "machine"
{
	printf 'nproc:        %s\n' "$(nproc)"
	printf 'cpu:          %s\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	printf 'memory:       %s\n' "$(grep -m1 MemTotal /proc/meminfo | awk '{printf "%.1f GiB", $2/1048576}')"
	printf 'go:           %s\n' "$(go version)"
	printf 'kernel:       %s\n' "$(uname -sr)"
	printf 'load average: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf 'settings:     engines %s; %s and %s users; %s connections, %s measured + %s warm-up\n' \
		"$ENGINES" "$SMALL" "$LARGE" "$CONNS" "$DURATION" "$WARMUP"
} | tee "$RESULTS/machine.txt" >&2

section "build"
go build -o "$WORK/assent" ./cmd/assent
BIN=$WORK/assent

free_port() {
	local port
	for _ in $(seq 1 50); do
		port=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
	die "no free port found"
}

newest_pg_bin() {
	local d best=""
	for d in /usr/lib/postgresql/*/bin; do
		[[ -x $d/initdb && -x $d/pg_ctl ]] && best+="$d"$'\n'
	done
	[[ -n $best ]] || return 1
	printf '%s' "$best" | sort -V | tail -n 1
}

# start_postgres: a private server like scripts/test.sh's, but durable
# (fsync and synchronous commits on, as in production) and with
# SCALE_PG_SHARED_BUFFERS of shared buffers.
PG_PORT=""
start_postgres() {
	section "PostgreSQL"
	PG_BIN=$(newest_pg_bin) || die "no PostgreSQL server in /usr/lib/postgresql/*/bin (apt-get install postgresql)"
	PG_TMP=$(mktemp -d /tmp/assent-scale-pg.XXXXXX)
	if ((EUID == 0)); then
		chown postgres: "$PG_TMP"
	fi
	as_pg "$PG_BIN/initdb" -D "$PG_TMP/data" -U postgres -A trust -E UTF8 --no-locale >"$PG_TMP/initdb.log" 2>&1 ||
		{ cat "$PG_TMP/initdb.log" >&2; die "initdb failed"; }
	local attempt
	for attempt in 1 2 3 4 5; do
		PG_PORT=$(free_port)
		if as_pg "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/postgres.log" -w -t 60 \
			-o "-p $PG_PORT -k $PG_TMP -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=$PG_SHARED_BUFFERS" \
			start >/dev/null; then
			echo "$("$PG_BIN/postgres" --version) on 127.0.0.1:$PG_PORT, shared_buffers $PG_SHARED_BUFFERS" | tee -a "$RESULTS/machine.txt" >&2
			return
		fi
		echo "attempt $attempt: PostgreSQL did not start on port $PG_PORT" >&2
	done
	die "could not start PostgreSQL (log: $PG_TMP/postgres.log)"
}

psql_q() { "$PG_BIN/psql" -X -q -A -t -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"; }
pg_pid() { head -n 1 "$PG_TMP/data/postmaster.pid"; }

# pg_scans DB: "table seq_scan idx_scan" for the tables a login reads.
pg_scans() {
	psql_q -d "$1" -F ' ' -c "SELECT relname, seq_scan, COALESCE(idx_scan, 0) FROM pg_stat_user_tables
		WHERE relname IN ('users', 'devices', 'bypass_codes', 'auth_log', 'integrations') ORDER BY relname"
}

# An installation: data directory, database URL (empty: SQLite), seed file.
DATA="" DBURL="" SEEDFILE="" IKEY="" SKEY=""

# install ENGINE USERS: a fresh installation with USERS seeded users.
install() {
	local engine=$1 users=$2
	DATA=$WORK/$engine-$users
	DBURL=""
	if [[ $engine == postgres ]]; then
		local db=assent_scale_$users
		psql_q -d postgres -c "CREATE DATABASE $db"
		DBURL="postgres://postgres@127.0.0.1:$PG_PORT/$db?sslmode=disable"
	fi
	local admin=("$BIN" --data-dir "$DATA")
	[[ -z $DBURL ]] || admin+=(--database-url "$DBURL")
	section "$engine: seeding $users users"
	"${admin[@]}" init >/dev/null
	"${admin[@]}" bench seed --users "$users" --json >"$WORK/seed-$engine-$users.json"
	SEEDFILE=$(sed -n 's/.*"file": *"\([^"]*\)".*/\1/p' "$WORK/seed-$engine-$users.json")
	printf '%s, %s users: seeded in %.1f s (load average %s)\n' "$engine" "$users" \
		"$(sed -n 's/.*"seconds": *\([0-9.]*\).*/\1/p' "$WORK/seed-$engine-$users.json")" "$(cut -d' ' -f1 /proc/loadavg)" |
		tee -a "$RESULTS/seeding.txt" >&2
	if [[ $engine == sqlite ]]; then
		printf '  database file %s MB\n' "$(($(stat -c %s "$DATA/assent.db") >> 20))" | tee -a "$RESULTS/seeding.txt" >&2
	else
		printf '  database size %s\n' "$(psql_q -d postgres -c "SELECT pg_size_pretty(pg_database_size('assent_scale_$users'))")" |
			tee -a "$RESULTS/seeding.txt" >&2
	fi
	"${admin[@]}" integration create --type authapi --name bench --json >"$WORK/integration.json"
	IKEY=$(sed -n 's/.*"integration_key": *"\([^"]*\)".*/\1/p' "$WORK/integration.json")
	SKEY=$(sed -n 's/.*"secret_key": *"\([^"]*\)".*/\1/p' "$WORK/integration.json")
	[[ -n $IKEY && -n $SKEY ]] || die "could not read the integration keys"
}

# start_node NAME [ARGS…]: `assent serve` on a new port of the current
# installation; extra arguments (e.g. another --data-dir) go to serve.
start_node() {
	local name=$1
	shift
	local port host
	port=$(free_port)
	host=127.0.0.1:$port
	local args=(--data-dir "$DATA" "$@" --public-hostname "$host")
	[[ -z $DBURL ]] || args+=(--database-url "$DBURL")
	# metrics_listen off: the nodes would all claim its default port.
	env ASSENT_METRICS_LISTEN= ASSENT_RATE_LIMIT_PUSHES_PER_USER=off ASSENT_PUSH_COOLDOWN_AFTER=0 ASSENT_RATE_LIMIT_PASSCODE_FAILURES_PER_USER=off \
		ASSENT_RATE_LIMIT_PASSCODE_FAILURES_PER_IP=off ASSENT_MAX_CONNECTIONS_PER_IP=0 \
		"$BIN" "${args[@]}" serve --listen "$host" 2>"$WORK/server-$name.log" &
	local pid=$!
	SERVER_PIDS+=("$pid")
	local dd=$DATA i
	for ((i = 0; i < $#; i++)); do
		local a=("$@")
		[[ ${a[i]} != --data-dir ]] || dd=${a[i + 1]}
	done
	for _ in $(seq 1 300); do
		if [[ -f $dd/tls/ca.pem ]] && DUO_SKEY=$SKEY "$BIN" api --host "$host" --ca "$dd/tls/ca.pem" --ikey "$IKEY" GET /auth/v2/check >/dev/null 2>&1; then
			printf 'assent serve %s (pid %s) on https://%s\n' "$name" "$pid" "$host" >&2
			HOSTS+=("$host")
			CAS+=("$dd/tls/ca.pem")
			eval "PID_$name=$pid"
			return
		fi
		kill -0 "$pid" 2>/dev/null || { cat "$WORK/server-$name.log" >&2; die "assent serve exited"; }
		sleep 0.1
	done
	die "assent serve $name did not become ready"
}

# load NAME [ARGS…]: bench auth against HOSTS with the seeded users.
load() {
	local name=$1
	shift
	local ca=$WORK/ca-bundle.pem hosts
	cat "${CAS[@]}" >"$ca"
	hosts=$(IFS=,; echo "${HOSTS[*]}")
	DUO_SKEY=$SKEY "$BIN" bench auth --host "$hosts" --ca "$ca" --ikey "$IKEY" --users-file "$SEEDFILE" \
		-c "$CONNS" -d "$DURATION" --warmup "$WARMUP" --label "load=$(cut -d' ' -f1 /proc/loadavg)" --json "$@" >"$RESULTS/$name.json"
	"$BIN" bench scale-summary "$RESULTS/$name.json" | sed -n '/^ENGINE/,/^$/p' >&2
}

declare -A RATE
for engine in $ENGINES; do
	if [[ $engine == postgres && -z $PG_TMP ]]; then
		start_postgres
	fi
	for users in "$SMALL" "$LARGE"; do
		install "$engine" "$users"
		start_node main
		cpu=(--cpu "assent=$PID_main")
		[[ $engine != postgres ]] || cpu+=(--cpu "postgres=$(pg_pid)")
		[[ $engine != postgres ]] || pg_scans "assent_scale_$users" >"$WORK/scans-before"
		section "$engine, $users users: preauth + auth, closed loop"
		load "$engine-$users" --label "engine=$engine" --label phase=users "${cpu[@]}"
		if [[ -z ${RATE[$engine]:-} ]]; then
			rps=$(grep -m1 '"rps"' "$RESULTS/$engine-$users.json" | tr -dc '0-9.')
			RATE[$engine]=$(awk -v r="$rps" 'BEGIN { printf "%d", r / 2 }')
		fi
		section "$engine, $users users: paced at ${RATE[$engine]} requests/s"
		load "$engine-$users-paced" --label "engine=$engine" --label phase=users --rate "${RATE[$engine]}" "${cpu[@]}"
		if [[ $engine == postgres ]]; then
			pg_scans "assent_scale_$users" >"$WORK/scans-after"
			{
				printf '%s users, scans during the runs (table, sequential, index):\n' "$users"
				join "$WORK/scans-before" "$WORK/scans-after" | awk '{ printf "  %-14s %8d %10d\n", $1, $4 - $2, $5 - $3 }'
			} | tee -a "$RESULTS/pg-scans.txt" >&2
			# With a few hundred users PostgreSQL rightly prefers reading a
			# table whole; with the large population no login may.
			if [[ $users == "$LARGE" ]] && join "$WORK/scans-before" "$WORK/scans-after" |
				awk '$1 != "integrations" && $4 > $2 { bad = 1 } END { exit !bad }'; then
				printf 'bench-scale.sh: WARNING: a login scanned a whole table (see above)\n' | tee -a "$RESULTS/pg-scans.txt" >&2
			fi
		fi
		stop_servers
	done
done

if [[ " $ENGINES " == *" postgres "* ]]; then
	# The large PostgreSQL installation is still the current one.
	section "PostgreSQL, $LARGE users: one node"
	start_node n1
	pgcpu=(--cpu "postgres=$(pg_pid)")
	load nodes-1 --label engine=postgres --label phase=nodes --cpu "assent-1=$PID_n1" "${pgcpu[@]}"
	section "PostgreSQL, $LARGE users: two nodes"
	start_node n2 --data-dir "$WORK/node2" --master-key-file "$DATA/master.key"
	load nodes-2 --label engine=postgres --label phase=nodes --cpu "assent-1=$PID_n1" --cpu "assent-2=$PID_n2" "${pgcpu[@]}"
	stop_servers
fi

section "summary"
cat "$RESULTS/machine.txt"
echo
cat "$RESULTS/seeding.txt"
[[ ! -f $RESULTS/pg-scans.txt ]] || { echo; cat "$RESULTS/pg-scans.txt"; }
echo
"$BIN" bench scale-summary $(ls "$RESULTS"/*.json)
if [[ -n ${BENCH_RESULTS:-} ]]; then
	mkdir -p "$BENCH_RESULTS"
	cp "$RESULTS"/* "$BENCH_RESULTS"/
	printf '\nbench-scale.sh: results copied to %s\n' "$BENCH_RESULTS" >&2
fi
