#!/usr/bin/env bash
# Packer provisioner (root): the base every Linux runner image has. Build tooling close to what
# GitHub-hosted Ubuntu runners offer, the QEMU guest agent (Proxmox reads the VM's IPs and shuts it
# down cleanly through it) and cloud-init (reads the daemon's snippet at first boot).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

apt-get update -q
apt-get -y -q -o Dpkg::Options::=--force-confold dist-upgrade
apt-get install -y -q --no-install-recommends \
  build-essential cmake pkg-config git git-lfs curl wget ca-certificates gnupg jq unzip zip xz-utils \
  python3 python3-pip python3-venv sudo openssh-server \
  qemu-guest-agent cloud-init cloud-guest-utils

# The guest agent is started by the virtio-serial device; enabling makes it explicit for this image.
systemctl enable qemu-guest-agent  # also the channel of delivery: guest-agent (pve-runners-agent.service)

# The unprivileged user jobs run as. Passwordless sudo, as on GitHub-hosted runners: the VM is
# thrown away after one job, so a job can only harm itself.
if ! id runner >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash --uid 1001 runner
fi
install -m 0440 /dev/stdin /etc/sudoers.d/runner <<<'runner ALL=(ALL) NOPASSWD:ALL'
visudo -cf /etc/sudoers.d/runner
