#!/usr/bin/env bash
# Builds the release tarball that install.sh installs: pve-runners-VERSION.tar.gz with one top
# directory pve-runners/ holding what `npm pack` ships (package.json "files": dist, schemas,
# cloud-init, systemd, ...) plus node_modules with exactly the production dependencies installed
# from package-lock.json. No dev dependencies, no sources, no tests.
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
# The production dependencies are taken from the tree `npm ci` installed from package-lock.json
# (CI and developers have it), minus everything only development needs: no network, same versions.
[[ -d node_modules ]] || { echo "package.sh: run npm ci first" >&2; exit 1; }
cp -a node_modules "$tmp/package/"
(cd "$tmp/package" && npm prune --omit=dev --ignore-scripts --offline --no-audit --no-fund --loglevel=error)
[[ -f $tmp/package/dist/cli.js ]] || { echo "package.sh: dist/cli.js missing after build" >&2; exit 1; }

version=$(node -p 'require("./package.json").version')
mv "$tmp/package" "$tmp/pve-runners"
tar -czf "$out/pve-runners-$version.tar.gz" -C "$tmp" --owner=0 --group=0 --sort=name pve-runners
echo "$out/pve-runners-$version.tar.gz"
