#!/usr/bin/env bash
# Fetches Fashion-MNIST (Debian package dataset-fashion-mnist, MIT) into DIR without a system
# install: apt-get download + dpkg -x. Usage: scripts/fetch_fashion_mnist.sh DIR
set -euo pipefail
dir=${1:?usage: fetch_fashion_mnist.sh DIR}
mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! apt-get download dataset-fashion-mnist >/dev/null 2>&1; then
  echo "apt-get download failed; running apt-get update once and retrying" >&2
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get download dataset-fashion-mnist
fi
dpkg -x dataset-fashion-mnist_*.deb extract
cp extract/usr/share/datasets/fashion-mnist/*.gz "$dir"/
echo "Fashion-MNIST fetched into $dir"
