#!/usr/bin/env bash
# scripts/bench.sh — measure Assent against its performance targets on this
# machine and print a summary (docs/benchmarks.md records the figures).
#
#   ./scripts/bench.sh
#   BENCH_DURATION=30s BENCH_CONNS=64 ./scripts/bench.sh
#
# Steps, all on 127.0.0.1 with a temporary data directory removed on exit:
#   1. build assent; create an Auth API integration and a user with an
#      unlimited-use bypass code (`assent integration create`, `assent user
#      bypass-codes U --count 1 --uses 0 --json`);
#   2. start `assent serve` on a random loopback port (SQLite, default
#      logging to a file, push_timeout 300 s so held pushes do not expire,
#      the per-user rate limits off since one user gets every request,
#      no per-address connection cap and max_held_requests above
#      BENCH_PUSHES, since all load comes from one address);
#      give the user a device: /auth/v2/enroll, then `assent device
#      activate` (or, without that command, `assent bench setup-device`);
#   3. back to back at the same concurrency and duration: `assent bench
#      hello` (the bare Go TLS ceiling), `assent bench auth --passcode-only`,
#      both again paced at half that auth throughput (latency below
#      saturation), and `assent bench auth` (preauth + auth);
#   4. `assent bench approve`: approve → waiting /auth latency, with a
#      device approving over HTTPS (`assent device activate`), then again
#      in-process through the core's Answer;
#   5. on a freshly restarted server each: 10,000 synchronous pushes held
#      open, then 10,000 async pushes left pending, with the server's
#      VmRSS/VmHWM from /proc;
#   6. on a freshly restarted server each, with rate_limit_bad_signatures
#      off (the worst case: an attacker with many addresses): `assent bench
#      flood` of the device API (known device ID, garbage signatures) and
#      of /auth/v2/auth with a Web SDK key, 128 connections from 127.0.0.2,
#      timing signed preauth + device requests meanwhile, with the server's
#      peak memory; then the device flood again with the default limit;
#   7. `assent bench summary` of all results, with the targets.
#
# Settings (environment): BENCH_CONNS (64), BENCH_DURATION (10s),
# BENCH_WARMUP (2s), BENCH_PUSHES (10000), BENCH_APPROVE_SAMPLES (300),
# BENCH_FLOOD_CONNS (128), BENCH_FLOOD_DURATION (10s),
# BENCH_KEEP=1 keeps the work directory (results, server logs),
# BENCH_RESULTS=DIR copies the JSON results there.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

CONNS=${BENCH_CONNS:-64}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}
PUSHES=${BENCH_PUSHES:-10000}
APPROVE_SAMPLES=${BENCH_APPROVE_SAMPLES:-300}
FLOOD_CONNS=${BENCH_FLOOD_CONNS:-128}
FLOOD_DURATION=${BENCH_FLOOD_DURATION:-10s}

section() { printf '\n==== %s ====\n' "$*" >&2; }
die() { printf 'bench.sh: %s\n' "$*" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/assent-bench.XXXXXX")
DATA=$WORK/data
RESULTS=$WORK/results
mkdir -p "$RESULTS"
SERVER_PID=""

stop_server() {
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$SERVER_PID" 2>/dev/null; then
			kill -KILL "$SERVER_PID" 2>/dev/null || true
		fi
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	SERVER_PID=""
}

cleanup() {
	local rc=$?
	stop_server
	if [[ ${BENCH_KEEP:-} == 1 ]]; then
		printf 'bench.sh: kept %s\n' "$WORK" >&2
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The sync-pushes phase holds PUSHES connections open in the bench process
# and in the server; raise the open-files limit as far as allowed.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (( $(ulimit -n) < PUSHES + 256 )); then
	PUSHES=$(( $(ulimit -n) - 256 ))
	printf 'bench.sh: open-files limit %s: holding only %d pushes\n' "$(ulimit -n)" "$PUSHES" >&2
fi

section "machine"
{
	printf 'nproc:        %s\n' "$(nproc)"
	printf 'cpu:          %s\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	printf 'memory:       %s\n' "$(grep -m1 MemTotal /proc/meminfo | awk '{printf "%.1f GiB", $2/1048576}')"
	printf 'go:           %s\n' "$(go version)"
	printf 'kernel:       %s\n' "$(uname -sr)"
	printf 'load average: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf 'settings:     %s connections, %s measured + %s warm-up, %s pushes, %s approve samples\n' \
		"$CONNS" "$DURATION" "$WARMUP" "$PUSHES" "$APPROVE_SAMPLES"
} | tee "$RESULTS/machine.txt" >&2

section "build"
go build -o "$WORK/assent" ./cmd/assent
BIN=$WORK/assent

# free_port prints a TCP port nobody listens on at 127.0.0.1.
free_port() {
	local port
	for _ in $(seq 1 50); do
		port=$(( 20000 + RANDOM % 30000 ))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
	die "no free port found"
}
PORT=$(free_port)
HOST=127.0.0.1:$PORT
CA=$DATA/tls/ca.pem
ADMIN=("$BIN" --data-dir "$DATA" --public-hostname "$HOST")

section "fixtures"
"${ADMIN[@]}" init >/dev/null
"${ADMIN[@]}" integration create --type authapi --name bench --json >"$WORK/integration.json"
IKEY=$(sed -n 's/.*"integration_key": *"\([^"]*\)".*/\1/p' "$WORK/integration.json")
SKEY=$(sed -n 's/.*"secret_key": *"\([^"]*\)".*/\1/p' "$WORK/integration.json")
[[ -n $IKEY && -n $SKEY ]] || die "could not read the integration keys"
USERNAME=bench
"${ADMIN[@]}" user create "$USERNAME" >/dev/null
"${ADMIN[@]}" user bypass-codes "$USERNAME" --count 1 --uses 0 --json >"$WORK/codes.json"
PASSCODE=$(tr -d ' \n' <"$WORK/codes.json" | sed -n 's/.*"codes":\["\([0-9]*\)".*/\1/p')
[[ -n $PASSCODE ]] || die "could not read the bypass code"
printf 'integration %s, user %s with an unlimited-use bypass code\n' "$IKEY" "$USERNAME" >&2

# start_server NAME [VAR=VALUE…] starts a server with extra settings.
start_server() {
	local log=$WORK/server-$1.log
	shift
	# One user gets every push and has its passcode checked from many
	# connections at once, all from 127.0.0.1, and the sync phase holds
	# PUSHES requests: the per-user rate limits and push cool-down, the per-address connection
	# cap and the held-requests cap are lifted for the measurement.
	# metrics_listen off: its default port may be another server's.
	env ASSENT_METRICS_LISTEN= ASSENT_PUSH_TIMEOUT=300s ASSENT_RATE_LIMIT_PUSHES_PER_USER=off ASSENT_PUSH_COOLDOWN_AFTER=0 \
		ASSENT_RATE_LIMIT_PASSCODE_FAILURES_PER_USER=off ASSENT_RATE_LIMIT_PASSCODE_FAILURES_PER_IP=off \
		ASSENT_MAX_CONNECTIONS_PER_IP=0 ASSENT_MAX_HELD_REQUESTS=$(( PUSHES + 64 )) \
		"$@" "${ADMIN[@]}" serve --listen "$HOST" 2>"$log" &
	SERVER_PID=$!
	for _ in $(seq 1 200); do
		if DUO_SKEY=$SKEY "$BIN" api --host "$HOST" --ca "$CA" --ikey "$IKEY" GET /auth/v2/check >/dev/null 2>&1; then
			printf 'assent serve (pid %s) on https://%s, log %s\n' "$SERVER_PID" "$HOST" "$log" >&2
			return
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; die "assent serve exited"; }
		sleep 0.1
	done
	cat "$log" >&2
	die "assent serve did not become ready"
}

TARGET=(--host "$HOST" --ca "$CA" --ikey "$IKEY")
export DUO_SKEY=$SKEY # not on the command line
LOAD=(-c "$CONNS" -d "$DURATION" --warmup "$WARMUP")

section "server"
start_server main

section "device"
# Like a phone: an activation code from /auth/v2/enroll, activated through
# the device API by `assent device activate`. Without that command, the
# device is activated directly in the installation.
DEVICE_FILE=$WORK/device.json
HAVE_DEVICE=0
CODE=$("$BIN" api "${TARGET[@]}" POST /auth/v2/enroll username="$USERNAME" 2>/dev/null |
	sed -n 's/.*"activation_code": *"\([^"]*\)".*/\1/p') || true
if [[ -n $CODE ]] && "$BIN" device activate "$CODE" --ca "$CA" --file "$DEVICE_FILE" >"$WORK/device.out" 2>&1; then
	HAVE_DEVICE=1
	printf 'activated a device over HTTPS (assent device activate), saved in %s\n' "$DEVICE_FILE" >&2
else
	rm -f "$DEVICE_FILE"
	if "${ADMIN[@]}" bench setup-device --username "$USERNAME" >"$WORK/device.out" 2>&1; then
		HAVE_DEVICE=1
		printf 'activated a device in the installation (assent bench setup-device)\n' >&2
	else
		printf 'bench.sh: no device, pushes are skipped: %s\n' "$(cat "$WORK/device.out")" >&2
	fi
fi

section "hello: bare Go TLS handler (ceiling), in the bench process"
"$BIN" bench hello "${LOAD[@]}" --json >"$RESULTS/hello.json"
"$BIN" bench summary "$RESULTS/hello.json" | sed -n '/^SCENARIO/,/^$/p' >&2

section "auth only: signed POST /auth/v2/auth factor=passcode"
"$BIN" bench auth "${TARGET[@]}" "${LOAD[@]}" --username "$USERNAME" --passcode "$PASSCODE" --passcode-only --json >"$RESULTS/passcode.json"
"$BIN" bench summary "$RESULTS/passcode.json" | sed -n '/^SCENARIO/,/^$/p' >&2

# Latency below saturation: the same 64 connections paced at half the
# throughput just measured, for auth and for hello.
RPS=$(grep -m1 '"rps"' "$RESULTS/passcode.json" | tr -dc '0-9.')
RATE=$(awk -v r="${RPS:-0}" 'BEGIN { printf "%d", r / 2 }')
if (( RATE > 0 )); then
	section "auth only, paced at $RATE requests/s (half its throughput)"
	"$BIN" bench auth "${TARGET[@]}" "${LOAD[@]}" --username "$USERNAME" --passcode "$PASSCODE" --passcode-only --rate "$RATE" --json >"$RESULTS/passcode-paced.json"
	"$BIN" bench summary "$RESULTS/passcode-paced.json" | sed -n '/^SCENARIO/,/^$/p' >&2
	section "hello, paced at $RATE requests/s"
	"$BIN" bench hello "${LOAD[@]}" --rate "$RATE" --json >"$RESULTS/hello-paced.json"
	"$BIN" bench summary "$RESULTS/hello-paced.json" | sed -n '/^SCENARIO/,/^$/p' >&2
fi

section "preauth + auth"
"$BIN" bench auth "${TARGET[@]}" "${LOAD[@]}" --username "$USERNAME" --passcode "$PASSCODE" --json >"$RESULTS/auth.json"
"$BIN" bench summary "$RESULTS/auth.json" | sed -n '/^SCENARIO/,/^$/p' >&2

section "approve → waiting auth: device API over HTTPS"
APPROVE=("$BIN" bench approve "${TARGET[@]}" --username "$USERNAME" -n "$APPROVE_SAMPLES" --json)
if [[ -f $DEVICE_FILE ]]; then
	APPROVE+=(--device-file "$DEVICE_FILE")
fi
"${APPROVE[@]}" >"$RESULTS/approve-device.json"
stop_server

section "approve → waiting auth: core Answer, in-process server"
"$BIN" bench approve --in-process --via core -n "$APPROVE_SAMPLES" --json >"$RESULTS/approve-core.json"

if [[ $HAVE_DEVICE == 1 ]]; then
	section "$PUSHES synchronous pushes held open (fresh server)"
	start_server sync
	"$BIN" bench pushes "${TARGET[@]}" --username "$USERNAME" --mode sync --count "$PUSHES" --pid "$SERVER_PID" --json >"$RESULTS/pushes-sync.json"
	stop_server

	section "$PUSHES async pushes left pending (fresh server)"
	start_server async
	"$BIN" bench pushes "${TARGET[@]}" --username "$USERNAME" --mode async --count "$PUSHES" --pid "$SERVER_PID" --json >"$RESULTS/pushes-async.json"
	stop_server
fi

# Unauthenticated floods: only what anyone can learn (a device ID from
# preauth, a Web SDK key from a prompt URL) and garbage signatures, from
# 127.0.0.2, while legitimate signed requests come from 127.0.0.1.
FLOOD=("$BIN" bench flood "${TARGET[@]}" --username "$USERNAME" -c "$FLOOD_CONNS" -d "$FLOOD_DURATION" --source-ip 127.0.0.2 --json)
if [[ -f $DEVICE_FILE ]]; then
	FLOOD+=(--device-file "$DEVICE_FILE")
	DEVICE_ID=$(sed -n 's/.*"pkey": *"\([^"]*\)".*/\1/p' "$DEVICE_FILE")
	section "device API flood, failed-signature limit off (fresh server)"
	start_server flood-device ASSENT_RATE_LIMIT_BAD_SIGNATURES=off
	"${FLOOD[@]}" --kind device --name "device, limit off" --key "$DEVICE_ID" --pid "$SERVER_PID" >"$RESULTS/flood-device.json"
	stop_server
	section "device API flood, default failed-signature limit (fresh server)"
	start_server flood-device-limited
	"${FLOOD[@]}" --kind device --name "device, default limit" --key "$DEVICE_ID" --pid "$SERVER_PID" >"$RESULTS/flood-device-limited.json"
	stop_server
fi
"${ADMIN[@]}" integration create --type websdk --name bench-web --json >"$WORK/websdk.json"
WEB_IKEY=$(sed -n 's/.*"integration_key": *"\([^"]*\)".*/\1/p' "$WORK/websdk.json")
section "Web SDK key flood on /auth/v2/auth, failed-signature limit off (fresh server)"
start_server flood-websdk ASSENT_RATE_LIMIT_BAD_SIGNATURES=off
"${FLOOD[@]}" --kind websdk --name "websdk, limit off" --key "$WEB_IKEY" --pid "$SERVER_PID" >"$RESULTS/flood-websdk.json"
stop_server

section "summary"
cat "$RESULTS/machine.txt"
echo
"$BIN" bench summary "$RESULTS"/*.json
if [[ -n ${BENCH_RESULTS:-} ]]; then
	mkdir -p "$BENCH_RESULTS"
	cp "$RESULTS"/* "$BENCH_RESULTS"/
	printf '\nbench.sh: results copied to %s\n' "$BENCH_RESULTS" >&2
fi
