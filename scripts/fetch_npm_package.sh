#!/usr/bin/env bash
# Fetches an npm package into DIR without installing it: `npm pack NAME@VERSION` downloads the
# tarball (npm checks its integrity), `tar xzf` unpacks it; the files land in DIR/package/.
# Usage: scripts/fetch_npm_package.sh NAME@VERSION DIR
set -euo pipefail
spec=${1:?usage: fetch_npm_package.sh NAME@VERSION DIR}
dir=${2:?usage: fetch_npm_package.sh NAME@VERSION DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
tgz=$(npm pack --silent "$spec" | tail -n 1)
[ -f "$tgz" ] || { echo "npm pack $spec did not produce a tarball" >&2; exit 1; }
tar xzf "$tgz"
rm -rf "$dir/package"
mv package "$dir/package"
echo "$spec: unpacked into $dir/package"
