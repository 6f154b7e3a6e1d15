#!/usr/bin/env bash
# scripts/package-deb.sh — build the assent Debian package with nfpm.
#
#   ./scripts/package-deb.sh                      # dist/assent_<version>-1_amd64.deb
#   ./scripts/package-deb.sh --arch arm64 --out /tmp/debs
#   ./scripts/package-deb.sh --bin /path/to/assent   # package a binary built before
#
# The binary comes from scripts/build.sh (static, version from git or
# $VERSION) unless --bin names one; it must be a linux binary for --arch.
# The package's layout, units and maintainer scripts are in packaging/
# (nfpm.yaml); docs/install-debian.md describes what it installs. nfpm runs
# through the Go module proxy at the version pinned below, like staticcheck
# in scripts/test.sh: nothing to install beforehand. The package is
# reproducible: file times are the commit's (SOURCE_DATE_EPOCH).
#
# Prints the path of the .deb on the last line.
set -euo pipefail

NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

die() { printf 'package-deb.sh: %s\n' "$*" >&2; exit 1; }

arch=amd64 out=dist bin=""
while (($#)); do
	case $1 in
	--arch) arch=${2:?--arch needs amd64 or arm64}; shift 2 ;;
	--out) out=${2:?--out needs a directory}; shift 2 ;;
	--bin) bin=${2:?--bin needs a file}; shift 2 ;;
	-h | --help) sed -n '2,16p' "$0"; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
case $arch in
amd64 | arm64) ;;
*) die "--arch $arch: only amd64 and arm64 are built" ;;
esac

# deb_version turns a Go-style version into a Debian one: v1.2.3 → 1.2.3,
# v1.2.3-rc.1 → 1.2.3~rc.1 (before 1.2.3), v1.2.3-5-g<hex> (5 commits after
# the tag) → 1.2.3+git5.g<hex>, v0.0.0-<time>-<hex> → 0.0.0~git<time>.<hex>,
# dev → 0.0.0~dev; "+dirty" stays a "+dirty" suffix.
deb_version() {
	local v=${1#v} suffix=""
	if [[ $v == *+dirty ]]; then
		v=${v%+dirty}
		suffix="+dirty"
	fi
	if [[ $v =~ ^([0-9]+\.[0-9]+\.[0-9]+)-([0-9]+)-g([0-9a-f]+)$ ]]; then
		v="${BASH_REMATCH[1]}+git${BASH_REMATCH[2]}.g${BASH_REMATCH[3]}"
	elif [[ $v =~ ^([0-9]+\.[0-9]+\.[0-9]+)-([0-9]{14})-([0-9a-f]{12})$ ]]; then
		v="${BASH_REMATCH[1]}~git${BASH_REMATCH[2]}.${BASH_REMATCH[3]}"
	elif [[ $v =~ ^([0-9]+\.[0-9]+\.[0-9]+)-([0-9A-Za-z.]+)$ ]]; then
		v="${BASH_REMATCH[1]}~${BASH_REMATCH[2]}"
	elif [[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
		:
	elif [[ $v == dev ]]; then
		v=0.0.0~dev
	else
		die "version $1 cannot be turned into a Debian version (want vX.Y.Z[-pre])"
	fi
	printf '%s%s\n' "$v" "$suffix"
}

VERSION=${VERSION:-$(./scripts/build.sh --print-version)}
export VERSION
debver=$(deb_version "$VERSION")

if [[ -z ${SOURCE_DATE_EPOCH:-} ]] && git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct HEAD)
	export SOURCE_DATE_EPOCH
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [[ -z $bin ]]; then
	bin=$tmp/assent
	GOOS=linux GOARCH=$arch ./scripts/build.sh "$bin"
fi
[[ -x $bin ]] || die "$bin is not an executable file"

mkdir -p "$out"
deb="$out/assent_${debver}-1_${arch}.deb"
ASSENT_BIN=$(realpath "$bin") ASSENT_DEB_ARCH=$arch ASSENT_DEB_VERSION=$debver \
	go run "$NFPM" package --config packaging/nfpm.yaml --packager deb --target "$deb" >&2
printf '%s\n' "$deb"
