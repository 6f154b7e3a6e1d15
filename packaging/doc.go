// Package packaging holds no code: its directory has the files that build
// Assent's Debian package (nfpm.yaml, the systemd units, the maintainer
// scripts, the configuration file /etc/assent/assent.toml) and container
// image (Containerfile), and its tests check them: every configuration key
// is in assent.toml, the .deb installs, runs and purges cleanly in a
// throw-away root, the units pass systemd-analyze verify, and the release
// targets cross-compile. scripts/build.sh, scripts/package-deb.sh and
// scripts/release.sh drive the builds.
package packaging
