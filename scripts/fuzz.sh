#!/usr/bin/env bash
# scripts/fuzz.sh — run every Go fuzz target of the module, one after another.
#
#   ./scripts/fuzz.sh                       # 5m per target, every package
#   ./scripts/fuzz.sh 30s                   # 30 s per target
#   ./scripts/fuzz.sh 10m ./internal/httpapi/ ./pkg/...   # only these packages
#
# The first argument is the time per target (a Go duration, or NNNx for a
# number of executions); the others name packages (default ./...). `go test
# -fuzz` runs one target per invocation, so each package's test binary is
# built once with fuzzing instrumentation and run once per target it lists
# (-test.list '^Fuzz'). New interesting inputs go to the same cache as
# `go test -fuzz` ($GOCACHE/fuzz), so repeated runs build on each other.
#
# A failing target leaves its input in <package>/testdata/fuzz/<Target>/
# (commit it with the fix: it becomes a regression test that plain `go
# test` runs). The script runs every target and exits 1 if any failed.
#
# Environment: FUZZ_MINIMIZE (default 10s) is -fuzzminimizetime: minimizing
# each new input can otherwise take a minute and eat short budgets.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

die() { printf 'fuzz.sh: %s\n' "$*" >&2; exit 2; }

fuzztime=${1:-5m}
[[ $fuzztime =~ ^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$|^[0-9]+x$ ]] ||
	die "first argument: a duration such as 30s or 5m, or a count such as 1000x (got \"$fuzztime\")"
shift || true
pkgs=("$@")
((${#pkgs[@]} > 0)) || pkgs=(./...)
minimize=${FUZZ_MINIMIZE:-10s}

command -v go >/dev/null 2>&1 || die "go not found in PATH"
cache="$(go env GOCACHE)/fuzz"
tmp=$(mktemp -d /tmp/assent-fuzz.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# Packages with a fuzz target: those whose test files declare one.
mapfile -t dirs < <(go list -e -f '{{.Dir}}' "${pkgs[@]}" | while IFS= read -r d; do
	if grep -lqsE '^func Fuzz[A-Za-z0-9_]*\(' "$d"/*_test.go; then printf '%s\n' "$d"; fi
done)
if ((${#dirs[@]} == 0)); then
	echo "fuzz.sh: no fuzz targets in ${pkgs[*]}"
	exit 0
fi

# run_target DIR BIN TARGET IMPORTPATH: fuzz one target. Go 1.26's fuzzing
# coordinator sometimes fails a target with a bare "context deadline
# exceeded" when -fuzztime ends while a worker is busy (go.dev/issue/75804,
# fixed in Go 1.27): a real finding always writes its input. Such a run
# counts as passed if replaying the target's corpus passes.
run_target() {
	local dir=$1 bin=$2 target=$3 ipath=$4 log="$tmp/run.log" rc
	# Progress lines ("fuzz: elapsed: … execs …") are left out.
	set +e
	(cd "$dir" && "$bin" -test.run '^$' -test.fuzz "^${target}\$" -test.fuzztime "$fuzztime" \
		-test.fuzzminimizetime "$minimize" -test.fuzzcachedir "$cache/$ipath") 2>&1 |
		tee "$log" | grep --line-buffered -vE '^fuzz: elapsed: .*execs'
	rc=${PIPESTATUS[0]}
	set -e
	((rc == 0)) && return 0
	if grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log" &&
		(cd "$dir" && "$bin" -test.run "^${target}\$") >/dev/null 2>&1; then
		echo "fuzz.sh: $target stopped with go.dev/issue/75804 (not a finding); its corpus replays cleanly"
		return 0
	fi
	return 1
}

failed=()
ran=0
for dir in "${dirs[@]}"; do
	ipath=$(cd "$dir" && go list -f '{{.ImportPath}}' .)
	bin="$tmp/$(printf '%s' "$ipath" | tr '/' '_').test"
	# -fuzz at build time only turns on the instrumentation; the pattern
	# does not select anything yet.
	if ! (cd "$dir" && go test -c -fuzz=. -o "$bin" .) >"$tmp/build.log" 2>&1; then
		cat "$tmp/build.log" >&2
		failed+=("$ipath (build)")
		continue
	fi
	mapfile -t targets < <(cd "$dir" && "$bin" -test.list '^Fuzz' | grep -E '^Fuzz')
	for target in "${targets[@]}"; do
		printf '==== %s %s (%s)\n' "$ipath" "$target" "$fuzztime"
		ran=$((ran + 1))
		run_target "$dir" "$bin" "$target" "$ipath" || failed+=("$ipath $target")
	done
done

if ((${#failed[@]} > 0)); then
	printf '\nfuzz.sh: %d of %d targets FAILED:\n' "${#failed[@]}" "$ran" >&2
	printf '  %s\n' "${failed[@]}" >&2
	printf 'failing inputs are in <package>/testdata/fuzz/<Target>/\n' >&2
	exit 1
fi
printf '\nfuzz.sh: %d targets, %s each: no failures\n' "$ran" "$fuzztime"
