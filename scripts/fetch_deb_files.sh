#!/usr/bin/env bash
# Fetches files out of a Debian package into DIR without a system install: apt-get download, then
# `dpkg --fsys-tarfile | tar x` of just the listed paths (kept at their path inside the package,
# e.g. DIR/usr/share/doc/smalt/test/data/hs37chrXtrunc.fa.gz).
# Usage: scripts/fetch_deb_files.sh PACKAGE DIR ./path/in/package [./another/path ...]
set -euo pipefail
pkg=${1:?usage: fetch_deb_files.sh PACKAGE DIR ./path [./path ...]}
dir=${2:?usage: fetch_deb_files.sh PACKAGE DIR ./path [./path ...]}
shift 2
[ $# -gt 0 ] || { echo "fetch_deb_files.sh: no paths given" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"  # apt-get downloads as the _apt user when it can
cd "$work"
if ! apt-get download "$pkg" >/dev/null 2>&1; then
  echo "apt-get download $pkg failed; running apt-get update once and retrying" >&2
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get download "$pkg"
fi
# Extract into a scratch folder first so an interrupted run never leaves a half-written file in DIR.
mkdir extract
dpkg --fsys-tarfile "$pkg"_*.deb | tar x -C extract "$@"
for path in "$@"; do
  rel=${path#./}
  mkdir -p "$dir/$(dirname "$rel")"
  mv -f "extract/$rel" "$dir/$rel"
done
echo "$pkg: fetched $# file(s) into $dir"
