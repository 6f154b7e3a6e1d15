#!/usr/bin/env bash
# scripts/bench-radius.sh — RADIUS throughput of `assent authproxy` beside
# FreeRADIUS, in one run on this machine (docs/benchmarks.md records it).
#
#   ./scripts/bench-radius.sh
#   RADIUS_REQUESTS=50000 RADIUS_PARALLEL=64 ./scripts/bench-radius.sh
#
# Everything on 127.0.0.1, random ports, a temporary directory removed on
# exit:
#   1. build assent; an Auth API integration and a user with an
#      unlimited-use bypass code (`assent user bypass-codes U --count 1
#      --uses 0`); `assent serve` (SQLite, default logging to a file);
#   2. a private FreeRADIUS (`freeradius -f`, multi-threaded) from a
#      minimal configuration written here: one client, the `files` module
#      with the user's Cleartext-Password, PAP; reject_delay 0;
#   3. `assent authproxy` with one [radius_server_duo_only] section (the
#      User-Password is the passcode: preauth + auth against Assent per
#      request), default logging (authproxy.log) and metrics;
#   4. the same radclient load against each, back to back, after a short
#      warm-up: RADIUS_PARALLEL identical Access-Requests (with
#      Message-Authenticator) sent RADIUS_REQUESTS/RADIUS_PARALLEL times
#      each, `radclient -p PARALLEL -c COUNT`, every answer checked
#      (Accepted must equal the number sent);
#   5. print both rates and the ratio (target: ≥ 0.5× FreeRADIUS PAP), and
#      the proxy's duplicate counter (radclient must not resend packets the
#      proxy would answer from its retransmit cache; it must stay 0).
#
# Settings (environment): RADIUS_REQUESTS (20000), RADIUS_PARALLEL (64),
# RADIUS_WARMUP (2000 requests), BENCH_KEEP=1 keeps the work directory.
# Needs freeradius and freeradius-utils (radclient).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

REQUESTS=${RADIUS_REQUESTS:-20000}
PARALLEL=${RADIUS_PARALLEL:-64}
WARMUP=${RADIUS_WARMUP:-2000}

section() { printf '\n==== %s ====\n' "$*" >&2; }
die() { printf 'bench-radius.sh: %s\n' "$*" >&2; exit 1; }

for p in radclient freeradius; do
	command -v "$p" >/dev/null 2>&1 || [[ -x /usr/sbin/$p ]] || die "$p not found (apt-get install freeradius freeradius-utils)"
done
FREERADIUS=$(command -v freeradius || echo /usr/sbin/freeradius)
(( PARALLEL >= 1 && PARALLEL <= 255 )) || die "RADIUS_PARALLEL must be 1…255 (one radclient socket)"
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

section "Assent"
API_PORT=$(free_tcp_port)
HOST=localhost:$API_PORT
ADMIN=("$BIN" --data-dir "$DATA" --public-hostname "$HOST")
"${ADMIN[@]}" integration create --type authapi --name radius-bench --json >"$WORK/integration.json"
IKEY=$(sed -n 's/.*"integration_key": *"\([^"]*\)".*/\1/p' "$WORK/integration.json")
SKEY=$(sed -n 's/.*"secret_key": *"\([^"]*\)".*/\1/p' "$WORK/integration.json")
[[ -n $IKEY && -n $SKEY ]] || die "could not read the integration keys"
USERNAME=bench
"${ADMIN[@]}" user create "$USERNAME" >/dev/null
"${ADMIN[@]}" user bypass-codes "$USERNAME" --count 1 --uses 0 --json >"$WORK/codes.json"
PASSCODE=$(tr -d ' \n' <"$WORK/codes.json" | sed -n 's/.*"codes":\["\([0-9]*\)".*/\1/p')
[[ -n $PASSCODE ]] || die "could not read the bypass code"
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

# packets FILE PASSWORD: PARALLEL identical Access-Requests.
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

# load NAME ADDR FILE COUNT: radclient load; prints "requests seconds".
load() {
	local out start end accepted sent
	sent=$(( PARALLEL * $4 ))
	start=$(date +%s.%N)
	out=$(radclient -s -q -t 20 -r 1 -p "$PARALLEL" -c "$4" -f "$3" "$2" auth "$SECRET" 2>&1) || true
	end=$(date +%s.%N)
	accepted=$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*Accepted[[:space:]]*:[[:space:]]*\([0-9]*\).*/\1/p')
	if [[ $accepted != "$sent" ]]; then
		printf '%s\n' "$out" >&2
		die "$1: $accepted of $sent requests accepted"
	fi
	echo "$sent $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }')"
}

section "warm-up ($WARMUP requests each)"
RES=$(load FreeRADIUS "127.0.0.1:$FR_PORT" "$WORK/fr-packets.txt" "$WARMUP_COUNT")
RES=$(load authproxy "127.0.0.1:$PROXY_PORT" "$WORK/proxy-packets.txt" "$WARMUP_COUNT")

section "load: $(( PARALLEL * COUNT )) requests each, radclient -p $PARALLEL -c $COUNT"
FR_CPU0=$(cpu_s "$FR_PID")
RES=$(load FreeRADIUS "127.0.0.1:$FR_PORT" "$WORK/fr-packets.txt" "$COUNT")
FR_CPU=$(awk -v a="$FR_CPU0" -v b="$(cpu_s "$FR_PID")" 'BEGIN { printf "%.2f", b - a }')
read -r FR_N FR_S <<<"$RES"
printf 'FreeRADIUS PAP (users file):  %d requests in %s s\n' "$FR_N" "$FR_S" >&2
PX_CPU0=$(cpu_s "$PROXY_PID")
SV_CPU0=$(cpu_s "$SERVE_PID")
RES=$(load authproxy "127.0.0.1:$PROXY_PORT" "$WORK/proxy-packets.txt" "$COUNT")
PX_CPU=$(awk -v a="$PX_CPU0" -v b="$(cpu_s "$PROXY_PID")" 'BEGIN { printf "%.2f", b - a }')
SV_CPU=$(awk -v a="$SV_CPU0" -v b="$(cpu_s "$SERVE_PID")" 'BEGIN { printf "%.2f", b - a }')
read -r PX_N PX_S <<<"$RES"
printf 'assent authproxy duo_only:    %d requests in %s s\n' "$PX_N" "$PX_S" >&2

section "the Auth API alone: assent bench auth (preauth + auth), $PARALLEL connections, 5 s"
# The ceiling behind the proxy: the same logins sent straight to Assent.
DUO_SKEY=$SKEY "$BIN" bench auth --host "$HOST" --ca "$DATA/tls/ca.pem" --ikey "$IKEY" --username "$USERNAME" \
	--passcode "$PASSCODE" -c "$PARALLEL" -d 5s --warmup 1s --json >"$WORK/bench-auth.json"
# Logins/s = the rate of the auth step (each login is one preauth + one auth).
API_RATE=$(awk '/"name": *"auth"/ { a = 1 } a && /"rps":/ { gsub(/[^0-9.]/, "", $2); printf "%.0f", $2; exit }' "$WORK/bench-auth.json")
printf 'Auth API alone: %s logins/s\n' "${API_RATE:-?}" >&2

# http_get HOST:PORT PATH: a plain HTTP/1.0 GET with bash alone.
http_get() {
	exec 3<>"/dev/tcp/${1%:*}/${1#*:}" || return 1
	printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$2" "$1" >&3
	cat <&3
	exec 3<&-
}
METRICS_TEXT=$(http_get "$METRICS" /metrics) || METRICS_TEXT=""
DUPLICATES=$(printf '%s\n' "$METRICS_TEXT" | awk '/^assent_authproxy_duplicate_requests_total/ { s += $2 } END { printf "%d", s }')
FAILOPEN=$(printf '%s\n' "$METRICS_TEXT" | awk '/^assent_authproxy_fail_open_total/ { s += $2 } END { printf "%d", s }')
LAT=$(printf '%s\n' "$METRICS_TEXT" | awk '
	/^assent_authproxy_stage_duration_seconds_sum\{.*stage="(preauth|auth|total)"/ { match($0, /stage="[a-z]+"/); st = substr($0, RSTART + 7, RLENGTH - 8); sum[st] = $2 }
	/^assent_authproxy_stage_duration_seconds_count\{.*stage="(preauth|auth|total)"/ { match($0, /stage="[a-z]+"/); st = substr($0, RSTART + 7, RLENGTH - 8); cnt[st] = $2 }
	END { for (s in cnt) if (cnt[s] > 0) printf "%s %.2f ms  ", s, 1000 * sum[s] / cnt[s] }')

section "summary"
FR_RATE=$(awk -v n="$FR_N" -v s="$FR_S" 'BEGIN { printf "%.0f", n / s }')
PX_RATE=$(awk -v n="$PX_N" -v s="$PX_S" 'BEGIN { printf "%.0f", n / s }')
RATIO=$(awk -v a="$PX_RATE" -v b="$FR_RATE" 'BEGIN { printf "%.2f", a / b }')
VERDICT=$(awk -v r="$RATIO" 'BEGIN { print (r >= 0.5) ? "met" : "NOT met" }')
cat <<EOF
RADIUS load, radclient -p $PARALLEL, $FR_N requests each, Message-Authenticator on every request
  FreeRADIUS $("$FREERADIUS" -v 2>/dev/null | head -n1 | sed -n 's/.*Version \([^ ,]*\).*/\1/p'), PAP from the users file:  $FR_RATE requests/s
  assent authproxy, duo_only + bypass code (preauth + auth per request): $PX_RATE requests/s
  ratio authproxy / FreeRADIUS: $RATIO (target ≥ 0.5: $VERDICT)
  the Auth API alone (assent bench auth, preauth + auth, $PARALLEL connections): ${API_RATE:-?} logins/s$(
	[[ -n ${API_RATE:-} && $API_RATE != 0 ]] && awk -v a="$PX_RATE" -v b="$API_RATE" 'BEGIN { printf "; authproxy reaches %.0f %% of it", 100 * a / b }')
  CPU seconds during the load: FreeRADIUS $FR_CPU; authproxy $PX_CPU and assent serve $SV_CPU (of $PX_S s × $(nproc) CPUs)
  proxy mean latency per stage: ${LAT:-n/a}
  proxy duplicates answered from cache: ${DUPLICATES:-?} (must be 0), fail-opens: ${FAILOPEN:-?} (must be 0)
EOF
