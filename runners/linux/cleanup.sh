#!/usr/bin/env bash
# Packer provisioner (root), last step: makes the image safe to clone. Every clone must get its own
# machine-id (DHCP leases and journald key on it), its own SSH host keys and a cloud-init that runs
# again as on a first boot; the build user must not be able to log in to any clone.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

[[ ! -e /opt/actions-runner/.runner ]] || { echo "runner is registered in the image: refusing to template it" >&2; exit 1; }
[[ -x /opt/actions-runner/run-once.sh ]] || { echo "/opt/actions-runner/run-once.sh missing" >&2; exit 1; }

apt-get -y -q autoremove --purge
apt-get -y -q clean
rm -rf /var/lib/apt/lists/*

# The installer's cloud-init settings would stop Proxmox's network config and datasource from applying.
rm -f /etc/cloud/cloud.cfg.d/99-installer.cfg /etc/cloud/cloud.cfg.d/subiquity-disable-cloudinit-networking.cfg \
  /etc/cloud/cloud.cfg.d/90-installer-network.cfg /etc/netplan/00-installer-config.yaml
cat >/etc/cloud/cloud.cfg.d/99-pve-runners.cfg <<'CFG'
# Proxmox VE serves user-data, meta-data and network-config on its cloud-init drive.
datasource_list: [NoCloud, ConfigDrive, None]
CFG

# The build user (SSH for Packer only) is locked and loses sudo.
rm -f /etc/sudoers.d/packer /etc/sudoers.d/90-installer-user
if id packer >/dev/null 2>&1; then
  passwd --lock packer
  usermod --expiredate 1 packer
  rm -rf /home/packer/.ssh
fi

cloud-init clean --logs --seed
rm -f /etc/ssh/ssh_host_*
truncate -s 0 /etc/machine-id
rm -f /var/lib/dbus/machine-id
ln -s /etc/machine-id /var/lib/dbus/machine-id
rm -rf /tmp/* /var/tmp/* /root/.bash_history /home/*/.bash_history
journalctl --rotate >/dev/null 2>&1 || true
journalctl --vacuum-time=1s >/dev/null 2>&1 || true
sync
