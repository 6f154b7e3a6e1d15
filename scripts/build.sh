#!/usr/bin/env bash
# scripts/build.sh — build one static, reproducible assent binary the way
# releases, the Debian package and the container image do.
#
#   ./scripts/build.sh OUT               # for this machine's GOOS/GOARCH
#   GOOS=darwin GOARCH=arm64 ./scripts/build.sh dist/assent
#   ./scripts/build.sh --print-version   # the version a build would get
#
# CGO_ENABLED=0 (a static binary: no libc needed, runs in a scratch
# container), -trimpath (no build paths inside), and the version, commit and
# commit date given to internal/buildinfo by -ldflags -X, so `assent version`
# tells them even where the go command cannot stamp them (no .git in a
# container build).
#
# Environment (each optional):
#   VERSION  the version; default from git: the tag vX.Y.Z at HEAD, else
#            `git describe` (vX.Y.Z-N-g<commit>), else a Go pseudo-version
#            v0.0.0-<commit time>-<12 hex of commit>; "+dirty" is added
#            when the tree has uncommitted changes; "dev" without git
#   COMMIT   the full commit hash; default: git rev-parse HEAD
#   DATE     the commit's time (RFC 3339, UTC); default from git. Not the
#            time of the build, so that two builds of a commit are identical
#   GOOS, GOARCH, GOFLAGS  passed to go build as usual
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }

in_git() { git rev-parse --is-inside-work-tree >/dev/null 2>&1; }

# git_version prints the version described above from git.
git_version() {
	local v
	if v=$(git describe --tags --exact-match --match 'v[0-9]*' HEAD 2>/dev/null); then
		:
	elif v=$(git describe --tags --match 'v[0-9]*' --abbrev=12 HEAD 2>/dev/null); then
		:
	else
		v="v0.0.0-$(TZ=UTC0 git log -1 --date=format-local:%Y%m%d%H%M%S --format=%cd HEAD)-$(git rev-parse --short=12 HEAD)"
	fi
	if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
		v+="+dirty"
	fi
	printf '%s\n' "$v"
}

if [[ -z ${VERSION:-} ]]; then
	if in_git; then VERSION=$(git_version); else VERSION=dev; fi
fi
if [[ -z ${COMMIT:-} ]] && in_git; then
	COMMIT=$(git rev-parse HEAD)
fi
if [[ -z ${DATE:-} ]] && in_git; then
	DATE=$(TZ=UTC0 git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd HEAD)
fi

if [[ ${1:-} == --print-version ]]; then
	printf '%s\n' "$VERSION"
	exit 0
fi
(($# == 1)) || die "usage: scripts/build.sh OUT | --print-version"
out=$1

pkg=github.com/assent-auth/assent/internal/buildinfo
ldflags="-s -w -X $pkg.version=$VERSION -X $pkg.commit=${COMMIT:-} -X $pkg.date=${DATE:-}"
# -buildvcs=false: the version information comes from the flags above, the
# same with or without a .git directory.
CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$out" ./cmd/assent
