#!/usr/bin/env bash
# scripts/bench-radius.sh — RADIUS throughput of `assent authproxy` beside
# the Auth API alone and FreeRADIUS, in one run on this machine
# (docs/benchmarks.md records it).
#
#   ./scripts/bench-radius.sh
#   RADIUS_REQUESTS=50000 RADIUS_PARALLEL=64 ./scripts/bench-radius.sh
#
# Everything on 127.0.0.1, random ports, a temporary directory removed on
# exit:
#   1. build assent; an Auth API integration and a user with an
#      unlimited-use bypass code (`assent user bypass-codes U --count 1
#      --uses 0`); `assent serve` (SQLite, default logging to a file; the
#      passcode rate limits and the per-address connection cap lifted, as
#      one user logs in from 64 connections on 127.0.0.1);
#   2. a private FreeRADIUS (`freeradius -f`, multi-threaded) from a
#      minimal configuration written here: one client, the `files` module
#      with the user's Cleartext-Password, PAP; reject_delay 0;
#   3. `assent authproxy` with one [radius_server_duo_only] section (the
#      User-Password is the passcode: preauth + auth against Assent per
#      request), default logging (authproxy.log) and metrics;
#   4. after a warm-up of each, the same logins three ways, back to back:
#        a. FreeRADIUS PAP: RADIUS_REQUESTS Access-Requests with
#           Message-Authenticator from RADIUS_PARALLEL NASes (sockets),
#           each sending one request at a time, every answer checked (all
#           must be valid Access-Accepts). The load generator is Go
#           (the radload mode of the internal/authproxy test binary:
#           blocking reads, ~20 µs of CPU per request); radclient
#           (RADIUS_CLIENT=radclient, `radclient -p PARALLEL -c COUNT`)
#           polls its socket in a loop while answers are outstanding
#           (~50 select() calls per request), so against a server that
#           answers in milliseconds it takes half a CPU from it;
#        b. the Auth API alone: `assent bench auth` with RADIUS_PARALLEL
#           connections for 5 s, each login a signed preauth and an auth
#           with the passcode sent straight to Assent — the ceiling behind
#           the proxy;
#        c. the proxy: the RADIUS load of a. with the bypass code as the
#           password, so each Access-Request is the same preauth + auth,
#           sent by the proxy to the same Assent;
#   5. print the three side by side — requests/s and the CPU time each
#      process spent per request (from /proc, and the shell's child times
#      for the load generators) — with both ratios against their
#      targets (the proxy ≥ 90 % of the Auth API alone and ≥ 0.25×
#      FreeRADIUS PAP), the proxy's per-stage latency, and its counters:
#      duplicates must stay 0 (every repetition is a new request, so no
#      answer may come from the retransmit cache), as must
#      fail-opens and packets dropped as overloaded.
#
# Every process shares the machine's CPUs, the load generators (radload or
# radclient, `assent bench`) included, so the figures depend on what else
# runs: the script prints the load average before and after; run it on an
# otherwise idle machine.
#
# Settings (environment): RADIUS_REQUESTS (20000), RADIUS_PARALLEL (64),
# RADIUS_WARMUP (2000 requests), RADIUS_CLIENT (go or radclient),
# BENCH_KEEP=1 keeps the work directory. Needs freeradius and
# freeradius-utils (radclient, also used to check both servers answer).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

REQUESTS=${RADIUS_REQUESTS:-20000}
PARALLEL=${RADIUS_PARALLEL:-64}
CLIENT=${RADIUS_CLIENT:-go}
WARMUP=${RADIUS_WARMUP:-2000}

section() { printf '\n==== %s ====\n' "$*" >&2; }
die() { printf 'bench-radius.sh: %s\n' "$*" >&2; exit 1; }

for p in radclient freeradius; do
	command -v "$p" >/dev/null 2>&1 || [[ -x /usr/sbin/$p ]] || die "$p not found (apt-get install freeradius freeradius-utils)"
done
FREERADIUS=$(command -v freeradius || echo /usr/sbin/freeradius)
(( PARALLEL >= 1 && PARALLEL <= 255 )) || die "RADIUS_PARALLEL must be 1…255 (one radclient socket)"
[[ $CLIENT == go || $CLIENT == radclient ]] || die "RADIUS_CLIENT must be go or radclient"
COUNT=$(( (REQUESTS + PARALLEL - 1) / PARALLEL ))
WARMUP_COUNT=$(( (WARMUP + PARALLEL - 1) / PARALLEL ))

WORK=$(mktemp -d "${TMPDIR:-/tmp}/assent-bench-radius.XXXXXX")
DATA=$WORK/data
PIDS=()

stop_all() {
	local pid
	for pid in "${PIDS[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
		fi
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	PIDS=()
}

cleanup() {
	local rc=$?
	stop_all
	if [[ ${BENCH_KEEP:-} == 1 ]]; then
		printf 'bench-radius.sh: kept %s\n' "$WORK" >&2
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_tcp_port / free_udp_port print a port nobody uses on 127.0.0.1.
free_tcp_port() {
	local port
	for _ in $(seq 1 50); do
		port=$(( 20000 + RANDOM % 30000 ))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
	die "no free TCP port found"
}
free_udp_port() {
	local port
	for _ in $(seq 1 50); do
		port=$(( 20000 + RANDOM % 30000 ))
		if ! grep -qi ":$(printf '%04X' "$port") " /proc/net/udp /proc/net/udp6 2>/dev/null; then
			echo "$port"
			return
		fi
	done
	die "no free UDP port found"
}

section "machine"
printf 'nproc %s, %s, load average %s\n' "$(nproc)" \
	"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" "$(cut -d' ' -f1-3 /proc/loadavg)" >&2
printf '%s; %s\n' "$(go version)" "$("$FREERADIUS" -v 2>/dev/null | head -n1)" >&2

section "build"
go build -o "$WORK/assent" ./cmd/assent
BIN=$WORK/assent
# The Go RADIUS load generator (the radload mode of the test binary).
go test -c -o "$WORK/radload" ./internal/authproxy/

section "Assent"
API_PORT=$(free_tcp_port)
HOST=localhost:$API_PORT
ADMIN=("$BIN" --data-dir "$DATA" --public-hostname "$HOST")
"${ADMIN[@]}" init >/dev/null
"${ADMIN[@]}" integration create --type authapi --name radius-bench --json >"$WORK/integration.json"
IKEY=$(sed -n 's/.*"integration_key": *"\([^"]*\)".*/\1/p' "$WORK/integration.json")
SKEY=$(sed -n 's/.*"secret_key": *"\([^"]*\)".*/\1/p' "$WORK/integration.json")
[[ -n $IKEY && -n $SKEY ]] || die "could not read the integration keys"
USERNAME=bench
"${ADMIN[@]}" user create "$USERNAME" >/dev/null
"${ADMIN[@]}" user bypass-codes "$USERNAME" --count 1 --uses 0 --json >"$WORK/codes.json"
PASSCODE=$(tr -d ' \n' <"$WORK/codes.json" | sed -n 's/.*"codes":\["\([0-9]*\)".*/\1/p')
[[ -n $PASSCODE ]] || die "could not read the bypass code"
# One user has its passcode checked from 64 connections at once, all from
# 127.0.0.1: the per-user and per-address passcode limits (which also cap
# the checks of one user in progress at once) and the per-address
# connection cap are lifted for the measurement, as in scripts/bench.sh.
# metrics_listen off: its default port may be another server's.
env ASSENT_METRICS_LISTEN= ASSENT_RATE_LIMIT_PASSCODE_FAILURES_PER_USER=off ASSENT_RATE_LIMIT_PASSCODE_FAILURES_PER_IP=off \
	ASSENT_MAX_CONNECTIONS_PER_IP=0 \
	"${ADMIN[@]}" serve --listen "127.0.0.1:$API_PORT" 2>"$WORK/assent-serve.log" &
SERVE_PID=$!
PIDS+=("$SERVE_PID")
for _ in $(seq 1 200); do
	if DUO_SKEY=$SKEY "$BIN" api --host "$HOST" --ca "$DATA/tls/ca.pem" --ikey "$IKEY" GET /auth/v2/check >/dev/null 2>&1; then
		break
	fi
	sleep 0.1
done
DUO_SKEY=$SKEY "$BIN" api --host "$HOST" --ca "$DATA/tls/ca.pem" --ikey "$IKEY" GET /auth/v2/check >/dev/null ||
	{ cat "$WORK/assent-serve.log" >&2; die "assent serve did not become ready"; }
printf 'assent serve on https://%s; user %s with an unlimited-use bypass code\n' "$HOST" "$USERNAME" >&2

SECRET=bench-$RANDOM$RANDOM
FR_PASSWORD=frpw-$RANDOM

section "FreeRADIUS"
FR=$WORK/freeradius
mkdir -p "$FR/log" "$FR/run" "$FR/mods-config/files"
: >"$FR/dictionary" # the local dictionary; the system one is loaded anyway
printf '%s Cleartext-Password := "%s"\n' "$USERNAME" "$FR_PASSWORD" >"$FR/mods-config/files/authorize"
FR_PORT=$(free_udp_port)
cat >"$FR/radiusd.conf" <<EOF
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
raddbdir = $FR
confdir = \${raddbdir}
modconfdir = \${confdir}/mods-config
logdir = \${raddbdir}/log
run_dir = \${raddbdir}/run
libdir = /usr/lib/freeradius
pidfile = \${run_dir}/radiusd.pid
name = freeradius
max_request_time = 30
cleanup_delay = 5
max_requests = 65536
hostname_lookups = no
log {
	destination = files
	file = \${logdir}/radius.log
	auth = no
}
security {
	reject_delay = 0
	status_server = yes
	allow_vulnerable_openssl = yes
}
thread pool {
	start_servers = 5
	max_servers = 32
	min_spare_servers = 3
	max_spare_servers = 10
	max_requests_per_server = 0
}
client bench {
	ipaddr = 127.0.0.1
	secret = $SECRET
	require_message_authenticator = yes
}
modules {
	files {
		filename = \${modconfdir}/files/authorize
	}
	pap {
	}
}
server default {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = $FR_PORT
	}
	authorize {
		files
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
	}
}
EOF
"$FREERADIUS" -f -d "$FR" -l "$FR/log/radius.log" &
FR_PID=$!
PIDS+=("$FR_PID")

section "assent authproxy"
PROXY_PORT=$(free_udp_port)
METRICS=127.0.0.1:$(free_tcp_port)
cat >"$WORK/authproxy.cfg" <<EOF
[main]
log_dir = $WORK/authproxy-log
metrics_listen = $METRICS

[radius_server_duo_only]
ikey = $IKEY
skey = $SKEY
api_host = $HOST
http_ca_certs_file = $DATA/tls/ca.pem
radius_ip_1 = 127.0.0.1
radius_secret_1 = $SECRET
require_message_authenticator = true
interface = 127.0.0.1
port = $PROXY_PORT
EOF
chmod 600 "$WORK/authproxy.cfg"
"$BIN" authproxy --config "$WORK/authproxy.cfg" 2>"$WORK/authproxy.stderr" &
PROXY_PID=$!
PIDS+=("$PROXY_PID")

# cpu_s PID: CPU seconds (user + system) the process has used.
TCK=$(getconf CLK_TCK)
cpu_s() { awk -v t="$TCK" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$1/stat"; }
# children_s: sets CHILD_S to the CPU seconds (user + system) of this
# shell's finished children (the load generators run as such).
# `times` must run in this shell, not in a $(…) subshell, whose own
# children it would count.
children_s() {
	times >"$WORK/times.txt"
	CHILD_S=$(awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] } printf "%.2f", s }' "$WORK/times.txt")
}
# delta A B: B - A.
delta() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
# per_req SECONDS N: microseconds per request.
per_req() { awk -v s="$1" -v n="$2" 'BEGIN { printf "%.0f", (n > 0) ? 1e6 * s / n : 0 }'; }

# packets FILE PASSWORD: PARALLEL identical Access-Requests (radclient).
packets() {
	local i
	for (( i = 0; i < PARALLEL; i++ )); do
		printf 'User-Name = "%s"\nUser-Password = "%s"\nMessage-Authenticator = 0x00\n\n' "$USERNAME" "$2"
	done >"$1"
}
packets "$WORK/fr-packets.txt" "$FR_PASSWORD"
packets "$WORK/proxy-packets.txt" "$PASSCODE"

# wait_accept ADDR PASSWORD NAME: one Access-Accept, within 20 s.
wait_accept() {
	for _ in $(seq 1 100); do
		if printf 'User-Name = "%s"\nUser-Password = "%s"\nMessage-Authenticator = 0x00\n' "$USERNAME" "$2" |
			radclient -q -t 1 -r 1 "$1" auth "$SECRET" >/dev/null 2>&1; then
			printf '%s answers on %s\n' "$3" "$1" >&2
			return
		fi
		sleep 0.2
	done
	cat "$FR/log/radius.log" "$WORK/authproxy.stderr" "$WORK/authproxy-log/authproxy.log" 2>/dev/null | tail -n 30 >&2 || true
	die "$3 did not accept $USERNAME on $1"
}
wait_accept "127.0.0.1:$FR_PORT" "$FR_PASSWORD" FreeRADIUS
wait_accept "127.0.0.1:$PROXY_PORT" "$PASSCODE" "assent authproxy"

# load NAME ADDR PASSWORD FILE COUNT: COUNT × PARALLEL Access-Requests
# from PARALLEL NASes (radload, or radclient with FILE); sets LOAD_N and
# LOAD_S (requests, seconds). Run from this shell, not a subshell, so that
# the load generator's CPU time lands in its child times.
load() {
	local start end accepted
	LOAD_N=$(( PARALLEL * $5 ))
	if [[ $CLIENT == go ]]; then
		ASSENT_RADLOAD="$2 $LOAD_N $PARALLEL $USERNAME" ASSENT_RADLOAD_SECRET=$SECRET ASSENT_RADLOAD_PASSWORD=$3 \
			"$WORK/radload" >"$WORK/load.out" 2>&1 || true
		read -r accepted LOAD_S < <(sed -n 's/^accepted \([0-9]*\) of [0-9]* in \([0-9.]*\) s$/\1 \2/p' "$WORK/load.out")
	else
		start=$(date +%s.%N)
		radclient -s -q -t 20 -r 1 -p "$PARALLEL" -c "$5" -f "$4" "$2" auth "$SECRET" >"$WORK/load.out" 2>&1 || true
		end=$(date +%s.%N)
		accepted=$(sed -n 's/^[[:space:]]*Accepted[[:space:]]*:[[:space:]]*\([0-9]*\).*/\1/p' "$WORK/load.out")
		LOAD_S=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }')
	fi
	if [[ ${accepted:-} != "$LOAD_N" ]]; then
		cat "$WORK/load.out" >&2
		die "$1: ${accepted:-?} of $LOAD_N requests accepted"
	fi
}

# api_bench DURATION WARMUP: `assent bench auth` against Assent, PARALLEL
# connections, each login a signed preauth and an auth with the passcode;
# writes $WORK/bench-auth.json.
api_bench() {
	DUO_SKEY=$SKEY "$BIN" bench auth --host "$HOST" --ca "$DATA/tls/ca.pem" --ikey "$IKEY" --username "$USERNAME" \
		--passcode "$PASSCODE" -c "$PARALLEL" -d "$1" --warmup "$2" --json >"$WORK/bench-auth.json"
}

section "warm-up: $WARMUP requests to each RADIUS server, 2 s of the Auth API"
load FreeRADIUS "127.0.0.1:$FR_PORT" "$FR_PASSWORD" "$WORK/fr-packets.txt" "$WARMUP_COUNT"
load authproxy "127.0.0.1:$PROXY_PORT" "$PASSCODE" "$WORK/proxy-packets.txt" "$WARMUP_COUNT"
api_bench 2s 0s

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

section "a. FreeRADIUS PAP: $(( PARALLEL * COUNT )) requests from $PARALLEL NASes ($CLIENT)"
children_s
FR_CPU0=$(cpu_s "$FR_PID") RC0=$CHILD_S
load FreeRADIUS "127.0.0.1:$FR_PORT" "$FR_PASSWORD" "$WORK/fr-packets.txt" "$COUNT"
children_s
FR_CPU=$(delta "$FR_CPU0" "$(cpu_s "$FR_PID")") FR_RC_CPU=$(delta "$RC0" "$CHILD_S")
FR_N=$LOAD_N FR_S=$LOAD_S
printf 'FreeRADIUS PAP (users file): %d requests in %s s\n' "$FR_N" "$FR_S" >&2

section "b. the Auth API alone: assent bench auth (preauth + auth), $PARALLEL connections, 5 s"
children_s
SV_CPU0=$(cpu_s "$SERVE_PID") BC0=$CHILD_S
api_bench 5s 1s
children_s
API_SV_CPU=$(delta "$SV_CPU0" "$(cpu_s "$SERVE_PID")") API_BC_CPU=$(delta "$BC0" "$CHILD_S")
# Logins/s = the auth step's rate (each login is one preauth + one auth).
read -r API_RATE API_N API_ERR <<<"$(awk '
	/"endpoints"/ { e = 1 }
	!e && /"errors":/ && te == "" { gsub(/[^0-9]/, "", $2); te = $2 }
	e && /"name": *"auth"/ { a = 1 }
	a && /"requests":/ && an == "" { gsub(/[^0-9]/, "", $2); an = $2 }
	a && /"rps":/ && ar == "" { gsub(/[^0-9.]/, "", $2); ar = $2 }
	END { printf "%.0f %d %s\n", ar, an, (te == "") ? "?" : te }' "$WORK/bench-auth.json")"
[[ $API_ERR == 0 && $API_N -gt 0 ]] || { cat "$WORK/bench-auth.json" >&2; die "assent bench auth: $API_ERR errors, $API_N logins"; }
# The CPU times cover the 1 s warm-up too: per login over 6 s of logins at
# the measured rate.
API_LOGINS_ALL=$(awk -v r="$API_RATE" 'BEGIN { printf "%.0f", r * 6 }')
printf 'Auth API alone: %s logins/s\n' "$API_RATE" >&2

section "c. assent authproxy duo_only: $(( PARALLEL * COUNT )) requests from $PARALLEL NASes ($CLIENT)"
children_s
PX_CPU0=$(cpu_s "$PROXY_PID") SV_CPU0=$(cpu_s "$SERVE_PID") RC0=$CHILD_S
load authproxy "127.0.0.1:$PROXY_PORT" "$PASSCODE" "$WORK/proxy-packets.txt" "$COUNT"
PX_CPU=$(delta "$PX_CPU0" "$(cpu_s "$PROXY_PID")") PX_SV_CPU=$(delta "$SV_CPU0" "$(cpu_s "$SERVE_PID")")
children_s
PX_RC_CPU=$(delta "$RC0" "$CHILD_S")
PX_N=$LOAD_N PX_S=$LOAD_S
printf 'assent authproxy duo_only: %d requests in %s s\n' "$PX_N" "$PX_S" >&2

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# http_get HOST:PORT PATH: a plain HTTP/1.0 GET with bash alone.
http_get() {
	exec 3<>"/dev/tcp/${1%:*}/${1#*:}" || return 1
	printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$2" "$1" >&3
	cat <&3
	exec 3<&-
}
METRICS_TEXT=$(http_get "$METRICS" /metrics) || METRICS_TEXT=""
metric_sum() { printf '%s\n' "$METRICS_TEXT" | awk -v re="$1" '$0 ~ re { s += $2 } END { printf "%d", s }'; }
DUPLICATES=$(metric_sum '^assent_authproxy_duplicate_requests_total')
FAILOPEN=$(metric_sum '^assent_authproxy_fail_open_total')
OVERLOADED=$(metric_sum '^assent_authproxy_dropped_packets_total[{]reason="overloaded"[}]')
LAT=$(printf '%s\n' "$METRICS_TEXT" | awk '
	/^assent_authproxy_stage_duration_seconds_sum\{.*stage="(preauth|auth|total)"/ { match($0, /stage="[a-z]+"/); st = substr($0, RSTART + 7, RLENGTH - 8); sum[st] = $2 }
	/^assent_authproxy_stage_duration_seconds_count\{.*stage="(preauth|auth|total)"/ { match($0, /stage="[a-z]+"/); st = substr($0, RSTART + 7, RLENGTH - 8); cnt[st] = $2 }
	END { for (s in cnt) if (cnt[s] > 0) printf "%s %.2f ms  ", s, 1000 * sum[s] / cnt[s] }')

section "summary"
FR_RATE=$(awk -v n="$FR_N" -v s="$FR_S" 'BEGIN { printf "%.0f", n / s }')
PX_RATE=$(awk -v n="$PX_N" -v s="$PX_S" 'BEGIN { printf "%.0f", n / s }')
VS_FR=$(awk -v a="$PX_RATE" -v b="$FR_RATE" 'BEGIN { printf "%.2f", a / b }')
VS_API=$(awk -v a="$PX_RATE" -v b="$API_RATE" 'BEGIN { printf "%.0f", (b > 0) ? 100 * a / b : 0 }')
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v >= t) ? "met" : "NOT met" }'; }
FRV=$("$FREERADIUS" -v 2>/dev/null | sed -n '1s/.*Version \([^ ,]*\).*/\1/p' || true)
cat <<EOF
The same logins three ways, back to back; $(nproc) CPUs shared by every process below
(load average $LOAD_BEFORE before a., $LOAD_AFTER after c.):

                                               requests/s   CPU µs per request, by process
  a. FreeRADIUS ${FRV:-?} PAP, users file        $(printf '%8s' "$FR_RATE")     freeradius $(per_req "$FR_CPU" "$FR_N"), $CLIENT $(per_req "$FR_RC_CPU" "$FR_N")
  b. the Auth API alone, preauth + auth        $(printf '%8s' "$API_RATE")     assent serve $(per_req "$API_SV_CPU" "$API_LOGINS_ALL"), assent bench $(per_req "$API_BC_CPU" "$API_LOGINS_ALL")
  c. assent authproxy duo_only, passcode       $(printf '%8s' "$PX_RATE")     authproxy $(per_req "$PX_CPU" "$PX_N"), assent serve $(per_req "$PX_SV_CPU" "$PX_N"), $CLIENT $(per_req "$PX_RC_CPU" "$PX_N")

  c / b = $VS_API % of the Auth API alone (target ≥ 90 %: $(verdict "$VS_API" 90))
  c / a = $VS_FR × FreeRADIUS PAP (target ≥ 0.25: $(verdict "$VS_FR" 0.25))
  a, c: $FR_N requests each from $PARALLEL NASes, one at a time each ($CLIENT), Message-Authenticator on every request;
  b: assent bench auth -c $PARALLEL, $API_N logins in 5 s after a 1 s warm-up
  proxy mean latency per stage: ${LAT:-n/a}
  proxy duplicates answered from cache: ${DUPLICATES:-?} (must be 0), fail-opens: ${FAILOPEN:-?} (must be 0),
  dropped as overloaded: ${OVERLOADED:-?}
EOF
