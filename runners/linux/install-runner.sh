#!/usr/bin/env bash
# Packer provisioner (root): installs the GitHub Actions runner RUNNER_VERSION in /opt/actions-runner,
# verified against RUNNER_SHA256 or, when that is empty, the SHA-256 GitHub publishes in the
# release notes. The runner is NOT configured here: each VM registers itself once, at boot,
# through run-once.sh. Runners update themselves never (--disableupdate, and JIT runners cannot):
# rebuild the image within 30 days of a runner release (runners/README.md).
set -euo pipefail

: "${RUNNER_VERSION:?RUNNER_VERSION is not set}"
[[ $RUNNER_VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "RUNNER_VERSION '$RUNNER_VERSION' is not X.Y.Z" >&2; exit 1; }
arch=$(dpkg --print-architecture)
case $arch in amd64) rarch=x64 ;; arm64) rarch=arm64 ;; *) echo "unsupported architecture $arch" >&2; exit 1 ;; esac
tarball=actions-runner-linux-$rarch-$RUNNER_VERSION.tar.gz
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

curl -fsSL --retry 5 -o "$tmp/$tarball" "https://github.com/actions/runner/releases/download/v$RUNNER_VERSION/$tarball"

expected=${RUNNER_SHA256:-}
if [[ -z $expected ]]; then
  # Release notes carry lines like <!-- BEGIN SHA linux-x64 -->HEX<!-- END SHA linux-x64 -->.
  curl -fsSL --retry 5 -o "$tmp/release.json" "https://api.github.com/repos/actions/runner/releases/tags/v$RUNNER_VERSION"
  expected=$(jq -r .body "$tmp/release.json" | sed -n "s/.*<!-- BEGIN SHA linux-$rarch -->\([0-9a-f]\{64\}\)<!-- END SHA linux-$rarch -->.*/\1/p" | head -n 1)
  [[ -n $expected ]] || { echo "no SHA-256 for linux-$rarch in the v$RUNNER_VERSION release notes; set runner_sha256" >&2; exit 1; }
fi
echo "$expected  $tmp/$tarball" | sha256sum -c -

install -d -o runner -g runner -m 0755 /opt/actions-runner
tar -xzf "$tmp/$tarball" -C /opt/actions-runner
chown -R runner:runner /opt/actions-runner
/opt/actions-runner/bin/installdependencies.sh

# The contract between image and daemon: run-once.sh is installed by the template, runner.env's
# directory exists and is root-only, and no registration is baked in.
install -d -o root -g root -m 0700 /etc/pve-runners
if [[ -e /opt/actions-runner/.runner || -e /opt/actions-runner/.credentials ]]; then
  echo "the image must not contain a runner registration" >&2
  exit 1
fi
echo "actions/runner $RUNNER_VERSION installed in /opt/actions-runner"
