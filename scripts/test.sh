#!/usr/bin/env bash
# scripts/test.sh — the one command that runs Assent's whole test suite, on a
# fresh Debian 12 machine with Go installed, or on a developer machine.
#
#   ./scripts/test.sh                                # everything: ./...
#   ./scripts/test.sh -run TestSeal ./internal/secrets/...
#   ./scripts/test.sh -run TestSeal                  # ./... is added
#
# Arguments are passed to `go test` (after -race -count=1 -timeout 25m). If
# none of them names a package (an argument starting with ./ or ../, "." or
# github.com/assent-auth/assent), ./... is added. `gofmt -l` and `go vet`
# check the same packages as `go test` (everything when none is named).
#
# Steps:
#   1. install missing Debian packages the tests use (apt-get; sudo if not
#      root; `apt-get update` only when something must be installed);
#      set ASSENT_TEST_NO_INSTALL=1 to skip this step;
#   2. `npm ci` in tests/partners/node when it has a package-lock.json
#      (skipped when node_modules already matches the lock file);
#   3. start a private PostgreSQL on 127.0.0.1 (random port, temporary
#      directory, removed on exit) and export ASSENT_TEST_POSTGRES_DSN;
#   4. gofmt -l, go vet, staticcheck (pinned below, through the Go module
#      proxy; //lint:ignore with a reason where a finding is intended),
#      go test -race;
#   5. every fuzz target of the same packages for ASSENT_TEST_FUZZTIME each
#      (default 2s; 0 skips it), through scripts/fuzz.sh. Skipped when an
#      argument such as -run selects tests. A failing target fails the run.
#
# Tests that need an external program skip when it is missing, unless CI is
# set in the environment: then they fail (internal/testutil.Require).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# Debian packages the tests need.
APT_PACKAGES=(
	gcc libc6-dev # cgo, for go test -race
	sip-tester # SIPp as the phone of phone-callback calls (internal/telephony/sipcall)
	sox # writes the WAV files LoadPrompt reads (internal/telephony/sipcall/sox_test.go)
	postgresql
	python3-duo-client python3-six python3-requests
	libnet-duo-perl liblwp-protocol-https-perl # Perl Net::Duo (internal/e2e/perl_test.go)
	openssl
	login-duo libpam-duo pamtester oathtool
	slapd ldap-utils freeradius freeradius-utils # authentication proxy: LDAP and RADIUS partners
	chromium # browser tests (internal/e2e/browser_*_test.go, driven by npm playwright-core)
	age # the backup format checked against the reference age command (internal/backup)
	systemd # systemd-analyze verify on the Debian package's units (packaging/deb_test.go)
	kannel kannel-extras # SMS gateway: bearerbox, smsbox and the test SMSC fakesmsc (internal/telephony, internal/e2e/sms_test.go)
)

section() { printf '\n==== %s ====\n' "$*"; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

# newest_pg_bin prints the newest /usr/lib/postgresql/*/bin holding initdb.
newest_pg_bin() {
	local d best=""
	for d in /usr/lib/postgresql/*/bin; do
		[[ -x $d/initdb && -x $d/pg_ctl ]] && best+="$d"$'\n'
	done
	[[ -n $best ]] || return 1
	printf '%s' "$best" | sort -V | tail -n 1
}

# pkg_missing PKG: succeeds if PKG must be installed.
pkg_missing() {
	case $1 in
	postgresql) ! newest_pg_bin >/dev/null ;;
	gcc) ! command -v gcc >/dev/null 2>&1 ;;
	*) [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) != installed ]] ;;
	esac
}

install_packages() {
	section "Debian packages"
	if [[ -n ${ASSENT_TEST_NO_INSTALL:-} ]]; then
		echo "ASSENT_TEST_NO_INSTALL is set: not installing anything"
		return
	fi
	if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
		echo "warning: no apt-get/dpkg here; install the equivalents of: ${APT_PACKAGES[*]} nodejs npm" >&2
		return
	fi
	local wanted=("${APT_PACKAGES[@]}") missing=() p
	command -v node >/dev/null 2>&1 || wanted+=(nodejs npm)
	for p in "${wanted[@]}"; do
		if pkg_missing "$p"; then missing+=("$p"); fi
	done
	if ((${#missing[@]} == 0)); then
		echo "all installed"
		return
	fi
	local sudo=()
	if ((EUID != 0)); then
		command -v sudo >/dev/null 2>&1 ||
			die "missing packages (${missing[*]}) and not root, no sudo: install them, or set ASSENT_TEST_NO_INSTALL=1"
		sudo=(sudo)
	fi
	echo "installing: ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${missing[@]}"
}

npm_install() {
	local dir=tests/partners/node
	[[ -f $dir/package-lock.json ]] || return 0
	section "npm ci ($dir)"
	command -v npm >/dev/null 2>&1 || die "npm not found (install nodejs and npm)"
	local sum stamp=$dir/node_modules/.assent-lock-sha256
	sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
	if [[ -f $stamp && $(<"$stamp") == "$sum" ]]; then
		echo "node_modules matches package-lock.json"
		return
	fi
	(cd "$dir" && npm ci --no-audit --no-fund)
	printf '%s\n' "$sum" >"$stamp"
}

PG_TMP=""
PG_BIN=""
# as_pg CMD...: run a PostgreSQL program as the postgres user when root.
as_pg() {
	if ((EUID == 0)); then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

cleanup() {
	local rc=$?
	if [[ -n $PG_TMP && -d $PG_TMP ]]; then
		if [[ -f $PG_TMP/data/postmaster.pid ]]; then
			as_pg "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate -w stop >/dev/null 2>&1 || true
		fi
		rm -rf "$PG_TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_postgres() {
	section "PostgreSQL"
	PG_BIN=$(newest_pg_bin) || die "no PostgreSQL server in /usr/lib/postgresql/*/bin (apt-get install postgresql)"
	PG_TMP=$(mktemp -d /tmp/assent-pg.XXXXXX)
	if ((EUID == 0)); then
		id postgres >/dev/null 2>&1 || die "user postgres does not exist (reinstall postgresql)"
		chown postgres: "$PG_TMP"
	fi
	as_pg "$PG_BIN/initdb" -D "$PG_TMP/data" -U postgres -A trust -E UTF8 --no-locale --no-sync >"$PG_TMP/initdb.log" 2>&1 ||
		{ cat "$PG_TMP/initdb.log" >&2; die "initdb failed"; }
	local attempt port
	for attempt in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 40000))
		# Skip ports something already answers on.
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
		if as_pg "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/postgres.log" -w -t 60 \
			-o "-p $port -k $PG_TMP -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
			start >/dev/null; then
			export ASSENT_TEST_POSTGRES_DSN="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
			echo "$("$PG_BIN/postgres" --version) on 127.0.0.1:$port (data in $PG_TMP)"
			echo "ASSENT_TEST_POSTGRES_DSN=$ASSENT_TEST_POSTGRES_DSN"
			return
		fi
		echo "attempt $attempt: PostgreSQL did not start on port $port" >&2
		tail -n 5 "$PG_TMP/postgres.log" >&2 || true
	done
	die "could not start PostgreSQL (log: $PG_TMP/postgres.log)"
}

# Split the arguments: does any of them name a package?
have_pkg=false
pkgs=()
for a in "$@"; do
	case $a in
	. | ./* | ../* | github.com/assent-auth/assent | github.com/assent-auth/assent/*)
		have_pkg=true
		pkgs+=("$a")
		;;
	esac
done
test_args=("$@")
# A -run, -bench or -fuzz argument selects tests: then no fuzzing step.
selected=false
for a in "$@"; do
	case $a in
	-run | -run=* | -test.run* | -bench* | -test.bench* | -fuzz*) selected=true ;;
	esac
done
if ! $have_pkg; then
	pkgs=(./...)
	test_args+=(./...)
fi

command -v go >/dev/null 2>&1 || die "go not found in PATH"

install_packages
npm_install
start_postgres

# go_files prints, NUL-separated, the Go files gofmt checks: the whole tree,
# or only the directories of the named packages.
go_files() {
	if $have_pkg; then
		go list -e -f '{{.Dir}}' "${pkgs[@]}" | sort -u | while IFS= read -r d; do
			find "$d" -maxdepth 1 -type f -name '*.go' -print0
		done
	else
		find . \( -name .git -o -name node_modules -o -name testdata -o -name vendor \) -prune \
			-o -type f -name '*.go' -print0
	fi
}

section "gofmt -l"
unformatted=$(go_files | xargs -0 -r gofmt -l)
if [[ -n $unformatted ]]; then
	printf '%s\n' "$unformatted"
	die "files above need gofmt -w"
fi
echo "ok"

section "go vet ${pkgs[*]}"
go vet "${pkgs[@]}"
echo "ok"

STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2
section "staticcheck ${pkgs[*]} ($STATICCHECK)"
go run "$STATICCHECK" "${pkgs[@]}"
echo "ok"

section "go test -race -count=1 -timeout 25m ${test_args[*]}"
go test -race -count=1 -timeout 25m "${test_args[@]}"

fuzztime=${ASSENT_TEST_FUZZTIME:-2s}
if [[ $fuzztime == 0 ]] || $selected; then
	section "fuzz targets: skipped"
else
	section "fuzz targets, $fuzztime each (scripts/fuzz.sh)"
	"$ROOT/scripts/fuzz.sh" "$fuzztime" "${pkgs[@]}"
fi

section "all tests passed"
