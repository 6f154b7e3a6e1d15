#!/usr/bin/env bash
# scripts/release.sh — build the files of a release into dist/<version>/.
#
#   git tag -a v1.2.3 -m 'Assent 1.2.3' && ./scripts/release.sh
#   ./scripts/release.sh --out /tmp/rel       # another directory
#   VERSION=v1.2.3-rc.1 ./scripts/release.sh  # a version without its tag
#
# For each of linux/amd64, linux/arm64, darwin/amd64, darwin/arm64 and
# windows/amd64: a static binary built by scripts/build.sh (CGO_ENABLED=0,
# -trimpath, version, commit and commit date by -ldflags) in an archive
# assent_<version>_<os>_<arch>.tar.gz (.zip for Windows) with README.md and
# CHANGELOG.md; the Debian packages for amd64 and arm64
# (scripts/package-deb.sh); and SHA256SUMS over all of them
# (check with: sha256sum -c SHA256SUMS).
#
# A release comes from a clean tree: a version ending in +dirty is refused
# unless ALLOW_DIRTY=1. Builds are reproducible: the same commit gives the
# same files (archive and file times are the commit's).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

die() { printf 'release.sh: %s\n' "$*" >&2; exit 1; }

out=dist
while (($#)); do
	case $1 in
	--out) out=${2:?--out needs a directory}; shift 2 ;;
	-h | --help) sed -n '2,20p' "$0"; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done

VERSION=${VERSION:-$(./scripts/build.sh --print-version)}
export VERSION
if [[ $VERSION == *+dirty && -z ${ALLOW_DIRTY:-} ]]; then
	die "the tree has uncommitted changes ($VERSION); commit them, or set ALLOW_DIRTY=1"
fi
# Fix commit and date once for every build.
COMMIT=${COMMIT:-$(git rev-parse HEAD 2>/dev/null || true)}
DATE=${DATE:-$(TZ=UTC0 git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd HEAD 2>/dev/null || true)}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct HEAD 2>/dev/null || date +%s)}
export COMMIT DATE SOURCE_DATE_EPOCH

dest="$out/$VERSION"
rm -rf "$dest"
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

targets=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64)
for target in "${targets[@]}"; do
	goos=${target%/*} goarch=${target#*/}
	name="assent_${VERSION}_${goos}_${goarch}"
	exe=assent
	[[ $goos == windows ]] && exe=assent.exe
	echo "== $target" >&2
	mkdir -p "$work/$name"
	GOOS=$goos GOARCH=$goarch ./scripts/build.sh "$work/$name/$exe"
	cp README.md CHANGELOG.md "$work/$name/"
	touch -d "@$SOURCE_DATE_EPOCH" "$work/$name" "$work/$name"/*
	if [[ $goos == windows ]]; then
		command -v zip >/dev/null 2>&1 || die "zip not found (apt-get install zip)"
		(cd "$work" && TZ=UTC0 zip -q -X -r "$dest/$name.zip" "$name")
	else
		tar -C "$work" --sort=name --owner=0 --group=0 --numeric-owner \
			--mtime="@$SOURCE_DATE_EPOCH" -cf - "$name" | gzip -n -9 >"$dest/$name.tar.gz"
	fi
	if [[ $goos == linux ]]; then
		./scripts/package-deb.sh --arch "$goarch" --bin "$work/$name/$exe" --out "$dest" >/dev/null
	fi
done

(cd "$dest" && sha256sum -- * >SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
echo "release $VERSION in $dest:" >&2
ls -l "$dest" >&2
