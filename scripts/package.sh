#!/usr/bin/env bash
# Builds the release tarball that install.sh installs: pve-runners-VERSION.tar.gz with one top
# directory pve-runners/ holding what `npm pack` ships (package.json "files": dist, schemas,
# cloud-init, systemd, ...) plus node_modules with exactly the production dependencies of
# package-lock.json. No dev dependencies, no sources, no tests.
#
# Usage: scripts/package.sh [OUTPUT_DIR]     (default: the repository root)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(cd "${1:-$repo}" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cd "$repo"
npm run -s build
tarball=$(npm pack --silent --pack-destination "$tmp")
tar -xzf "$tmp/$tarball" -C "$tmp"
cp package-lock.json "$tmp/package/"
(cd "$tmp/package" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error)
[[ -f $tmp/package/dist/cli.js ]] || { echo "package.sh: dist/cli.js missing after build" >&2; exit 1; }

version=$(node -p 'require("./package.json").version')
mv "$tmp/package" "$tmp/pve-runners"
tar -czf "$out/pve-runners-$version.tar.gz" -C "$tmp" --owner=0 --group=0 --sort=name pve-runners
echo "$out/pve-runners-$version.tar.gz"
