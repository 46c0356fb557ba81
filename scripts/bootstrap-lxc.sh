#!/usr/bin/env bash
# Creates (or updates) the Debian LXC container pve-runners runs in, on this Proxmox VE node, and
# installs the daemon into it. Idempotent: a second run updates the container's settings and the
# installed release, and keeps the configuration already inside the container.
#
#   1. checks the snippet storage allows `snippets` and lets the container's service user write its directory;
#   2. downloads the newest Debian 13 container template if it is not there yet;
#   3. creates the unprivileged container (nesting on, for the unit's systemd sandboxing) with the
#      node's snippets directory bind-mounted at /mnt/pve-snippets/<node>, or updates an existing one;
#   4. starts it, copies in the release tarball (scripts/package.sh), install.sh, the env file and
#      any credentials, and runs install.sh there, which installs Node.js, the daemon and the unit;
#   5. with --ha, registers the container as a Proxmox HA resource (ha-manager), after checking the
#      cluster is quorate and the container's disk is on storage another node can start it from.
set -euo pipefail

PROG=bootstrap-lxc.sh
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$SCRIPT_DIR/common.sh"

CTID=""
CT_HOSTNAME=pve-runners
TEMPLATE_PREFIX=debian-13-standard
TEMPLATE_STORAGE=local
ROOTFS_STORAGE=local-lvm
DISK_GB=8
MEMORY_MB=1024
CORES=2
BRIDGE=vmbr0
SNIPPET_STORAGE=local
SNIPPETS_DIR=/var/lib/vz/snippets
NODE=""
PACKAGE=""
ENV_FILE=""
CREDENTIALS_DIR=""
POOLS_FILE=""
HA=0
SFTP_PUBKEY=""
# The service user's ids inside the container; on the host they appear shifted by the
# unprivileged container's id map (100000 by default).
SVC_ID=990
ID_SHIFT=100000

usage() {
  cat <<EOF
Usage: $PROG --package pve-runners-VERSION.tar.gz [options]

Creates or updates the pve-runners LXC container on this Proxmox VE node and installs the daemon.

  --package FILE          release tarball built by scripts/package.sh (required)
  --env-file FILE         pve-runners.env to install (mode 0600); without it a skeleton is installed
                          the first time and an existing one is kept
  --credentials DIR       files named proxmox_token_secret, github_token, github_app_private_key,
                          webhook_secret (with WEBHOOK_LISTEN) to
                          install as systemd credentials (/etc/credstore, mode 0600)
  --pools FILE            pools.yaml to install; without it a first one is written unless one exists
  --ctid ID               container id (default: the existing '$CT_HOSTNAME' container, else the next free id)
  --hostname NAME         container host name (default: $CT_HOSTNAME)
  --node NAME             this node's name (default: hostname)
  --snippet-storage ID    storage holding cloud-init snippets (default: $SNIPPET_STORAGE)
  --snippets-dir PATH     its snippets directory on this node (default: $SNIPPETS_DIR)
  --rootfs-storage ID     storage for the container's disk (default: $ROOTFS_STORAGE)
  --template-storage ID   storage for container templates (default: $TEMPLATE_STORAGE)
  --disk GB / --memory MB / --cores N / --bridge NAME   container resources (default: $DISK_GB / $MEMORY_MB / $CORES / $BRIDGE)
  --ha                    make the container a Proxmox HA resource (ha-manager add ct:ID --state started),
                          so another node restarts it when this one fails; needs a quorate cluster and
                          --rootfs-storage on shared storage (Ceph RBD, NFS, ...) or a replicated ZFS pool
  --sftp-nodes PUBKEY     for delivery: sftp, run setup-node-sftp.sh on every node of the cluster
                          (over the cluster's root SSH) with this public key; the host key lines go
                          to the container as /etc/pve-runners/sftp_known_hosts
  --dry-run               print the commands that change something instead of running them
  -h, --help              this text
EOF
}

while (($# > 0)); do
  case $1 in
    --package) PACKAGE=${2:?}; shift 2 ;;
    --env-file) ENV_FILE=${2:?}; shift 2 ;;
    --credentials) CREDENTIALS_DIR=${2:?}; shift 2 ;;
    --pools) POOLS_FILE=${2:?}; shift 2 ;;
    --ctid) CTID=${2:?}; shift 2 ;;
    --hostname) CT_HOSTNAME=${2:?}; shift 2 ;;
    --node) NODE=${2:?}; shift 2 ;;
    --snippet-storage) SNIPPET_STORAGE=${2:?}; shift 2 ;;
    --snippets-dir) SNIPPETS_DIR=${2:?}; shift 2 ;;
    --rootfs-storage) ROOTFS_STORAGE=${2:?}; shift 2 ;;
    --template-storage) TEMPLATE_STORAGE=${2:?}; shift 2 ;;
    --disk) DISK_GB=${2:?}; shift 2 ;;
    --memory) MEMORY_MB=${2:?}; shift 2 ;;
    --cores) CORES=${2:?}; shift 2 ;;
    --bridge) BRIDGE=${2:?}; shift 2 ;;
    --ha) HA=1; shift ;;
    --sftp-nodes) SFTP_PUBKEY=${2:?--sftp-nodes needs a public key file}; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done

[[ -n $PACKAGE ]] || die "--package is required (build it with scripts/package.sh)"
[[ -f $PACKAGE ]] || die "--package $PACKAGE: no such file"
[[ -z $ENV_FILE || -f $ENV_FILE ]] || die "--env-file $ENV_FILE: no such file"
[[ -z $POOLS_FILE || -f $POOLS_FILE ]] || die "--pools $POOLS_FILE: no such file"
[[ -z $CREDENTIALS_DIR || -d $CREDENTIALS_DIR ]] || die "--credentials $CREDENTIALS_DIR: no such directory"
[[ -z $SFTP_PUBKEY || -f $SFTP_PUBKEY ]] || die "--sftp-nodes $SFTP_PUBKEY: no such file"
for n in "$DISK_GB" "$MEMORY_MB" "$CORES"; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "'$n' is not a positive number"; done

require_proxmox_host pct pveam pvesm pvesh
NODE=${NODE:-$(hostname)}
[[ $NODE =~ ^[A-Za-z0-9-]+$ ]] || die "node name '$NODE' is not a host name; pass --node"
MOUNT_POINT=/mnt/pve-snippets/$NODE
SNIPPETS_ENV='/mnt/pve-snippets/{node}'
MP0_SHARED=""

# "<type> <1 if every node sees the same contents, else 0>" of a storage. These types are shared by
# nature (PVE's storage plugins mark them so), whatever storage.cfg says; others when it says shared 1.
storage_kind() {
  local json type shared
  json=$(pvesh get "/storage/$1" --output-format json) || die "storage '$1' not found (pvesm status lists them)"
  type=$(sed -n 's/.*"type" *: *"\([^"]*\)".*/\1/p' <<<"$json")
  shared=$(sed -n 's/.*"shared" *: *\([01]\).*/\1/p' <<<"$json")
  case $type in nfs | cifs | glusterfs | cephfs | rbd | iscsi | iscsidirect | zfs | pbs) shared=1 ;; esac
  printf '%s %s\n' "${type:-unknown}" "${shared:-0}"
}

# --- 0. high availability prerequisites (--ha), checked before anything changes -------------------
if [[ $HA == 1 ]]; then
  command -v ha-manager >/dev/null 2>&1 || die "--ha needs ha-manager (Proxmox VE's pve-ha-manager), which is not found"
  cluster=$(pvesh get /cluster/status --output-format json) || die "--ha: cannot read the cluster status (pvesh get /cluster/status)"
  [[ $cluster =~ \"type\"\ *:\ *\"cluster\" ]] || die "--ha needs a cluster: this node is standalone, so there is no other node to restart the container on (pvecm create / pvecm add)"
  [[ $cluster =~ \"quorate\"\ *:\ *1 ]] || die "--ha: the cluster is not quorate now; HA acts only with quorum (a majority of votes; two nodes need a QDevice)"
  kind=$(storage_kind "$ROOTFS_STORAGE") || exit 1
  read -r rootfs_type rootfs_shared <<<"$kind"
  if [[ $rootfs_shared == 1 ]]; then
    info "--ha: the container's disk goes on shared storage $ROOTFS_STORAGE ($rootfs_type)"
  elif [[ $rootfs_type == zfspool ]]; then
    info "warning: --ha with the disk on ZFS pool $ROOTFS_STORAGE: it is local, so HA can only start the container elsewhere from a replica; add a replication job (pvesr create-local-job <ctid>-0 <other node> --schedule '*/5') — a failover loses what changed since its last run"
  else
    die "--ha: --rootfs-storage $ROOTFS_STORAGE ($rootfs_type) is local to $NODE, so no other node could start the container after a failure; pass --rootfs-storage with shared storage (Ceph RBD, NFS, ...) or a ZFS pool you replicate with pvesr"
  fi
  kind=$(storage_kind "$SNIPPET_STORAGE") || exit 1
  read -r snippets_type snippets_shared <<<"$kind"
  if [[ $snippets_shared == 1 ]]; then
    # The same directory on every node: one mount, marked shared so HA may migrate the container.
    MOUNT_POINT=/mnt/pve-snippets/shared
    SNIPPETS_ENV=$MOUNT_POINT
    MP0_SHARED=,shared=1
  else
    info "warning: --ha with snippet storage $SNIPPET_STORAGE ($snippets_type) local to $NODE: on another node the container's bind mount shows that node's $SNIPPETS_DIR, so snippets for VMs on other nodes go astray, and Proxmox refuses to migrate a container with a local bind mount (recovery after a failure still starts it); use a shared snippet storage, or pools with delivery: sftp or guest-agent"
  fi
fi

# --- 1. snippet storage -------------------------------------------------------------------------
storage_json=$(pvesh get "/storage/$SNIPPET_STORAGE" --output-format json) || die "storage '$SNIPPET_STORAGE' not found (pvesm status lists them)"
content=$(sed -n 's/.*"content" *: *"\([^"]*\)".*/\1/p' <<<"$storage_json")
if [[ ,$content, != *,snippets,* ]]; then
  info "enabling 'snippets' content on storage $SNIPPET_STORAGE (now: ${content:-none})"
  run pvesm set "$SNIPPET_STORAGE" --content "${content:+$content,}snippets"
fi
# The daemon runs as uid/gid $SVC_ID in the container = $((ID_SHIFT + SVC_ID)) here. Proxmox reads
# snippets as root, so group write (setgid, so new files stay in the group) is all that is needed.
run mkdir -p "$SNIPPETS_DIR"
run chgrp "$((ID_SHIFT + SVC_ID))" "$SNIPPETS_DIR"
run chmod 2770 "$SNIPPETS_DIR"

# --- 2. container template ----------------------------------------------------------------------
run pveam update
template=$(pveam available --section system | awk -v p="$TEMPLATE_PREFIX" '$2 ~ "^"p"_" {print $2}' | sort -V | tail -n 1)
[[ -n $template ]] || die "no $TEMPLATE_PREFIX template in 'pveam available'; run 'pveam update' and check the node's network"
if ! pveam list "$TEMPLATE_STORAGE" | grep "vztmpl/$template" >/dev/null; then
  run pveam download "$TEMPLATE_STORAGE" "$template"
fi

# --- 3. the container ---------------------------------------------------------------------------
if [[ -z $CTID ]]; then
  CTID=$(pct list 2>/dev/null | awk -v h="$CT_HOSTNAME" 'NR > 1 && $NF == h {print $1; exit}')
  [[ -n $CTID ]] || CTID=$(pvesh get /cluster/nextid)
fi
[[ $CTID =~ ^[1-9][0-9]{2,8}$ ]] || die "container id '$CTID' is not a valid id"

settings=(
  --hostname "$CT_HOSTNAME"
  --cores "$CORES" --memory "$MEMORY_MB" --swap 512
  --net0 "name=eth0,bridge=$BRIDGE,ip=dhcp,ip6=auto"
  --mp0 "$SNIPPETS_DIR,mp=$MOUNT_POINT,backup=0$MP0_SHARED"
  --features nesting=1
  --onboot 1
  --tags pve-runners
  --description "pve-runners daemon (managed by scripts/bootstrap-lxc.sh)"
)
if status=$(pct status "$CTID" 2>/dev/null); then
  config=$(pct config "$CTID")
  grep -qx "hostname: $CT_HOSTNAME" <<<"$config" || die "container $CTID exists but is not '$CT_HOSTNAME'; pass --ctid of the right one"
  info "updating container $CTID"
  old_mp0=$(sed -n 's/^mp0: //p' <<<"$config")
  run pct set "$CTID" "${settings[@]}"
  # Mount points and features apply at the next container start.
  if [[ $status == "status: running" && $old_mp0 != "$SNIPPETS_DIR,mp=$MOUNT_POINT,backup=0$MP0_SHARED" ]]; then
    run pct reboot "$CTID"
  elif [[ $status != "status: running" ]]; then
    run pct start "$CTID"
  fi
else
  info "creating container $CTID from $template"
  run pct create "$CTID" "$TEMPLATE_STORAGE:vztmpl/$template" \
    --unprivileged 1 --rootfs "$ROOTFS_STORAGE:$DISK_GB" --ostype debian "${settings[@]}"
  run pct start "$CTID"
fi

# --- 4. install the daemon ----------------------------------------------------------------------
STAGE=/root/pve-runners-install
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The node certificates are signed by the cluster's own CA: the daemon trusts exactly that one.
PVE_ROOT_CA=${PVE_ROOT_CA:-/etc/pve/pve-root-ca.pem}
ca_line="# PROXMOX_CA_FILE=/etc/pve-runners/pve-root-ca.pem  (no $PVE_ROOT_CA found on this host)"
[[ -f $PVE_ROOT_CA ]] && ca_line="PROXMOX_CA_FILE=/etc/pve-runners/pve-root-ca.pem"
if [[ -z $ENV_FILE ]]; then
  ENV_FILE=$tmp/pve-runners.env
  cat >"$ENV_FILE" <<EOF
# pve-runners settings (non-secret). Secrets go in /etc/credstore/<NAME>, mode 0600:
# proxmox_token_secret, and github_token or github_app_private_key.
PROXMOX_URL=https://$(hostname -f 2>/dev/null || hostname):8006/api2/json
PROXMOX_NODE=$NODE
PROXMOX_TOKEN_ID=pve-runners@pve!daemon
$ca_line
# the resource pool create-proxmox-token.sh made; the token's ACLs are on it
PROXMOX_POOL=pve-runners
PROXMOX_STORAGE=$SNIPPET_STORAGE
SNIPPETS_DIR=$SNIPPETS_ENV
RUNNER_POOLS_CONFIG=/etc/pve-runners/pools.yaml
# journalctl -u pve-runners shows plain lines with syslog priorities; LOG_FORMAT=json for a log shipper
#LOG_FORMAT=json
EOF
  env_mode=--keep-env
else
  env_mode=--replace-env
fi
if [[ -z $POOLS_FILE ]]; then
  POOLS_FILE=$tmp/pools.yaml
  cat >"$POOLS_FILE" <<EOF
# First pools.yaml written by bootstrap-lxc.sh: one Ubuntu 24.04 pool on $NODE.
# Set github.repos (or github.orgs), then: systemctl restart pve-runners
github:
  repos: []
  orgs: []
max_total_runners: 4
defaults:
  node: $NODE
  registration: jit
  clone: linked
pools:
  - name: ubuntu-2404
    template: ubuntu-2404-runner-template
    labels: [self-hosted, linux, x64, ubuntu-24.04]
    vmid_range: [200, 229]
    max_runners: 4
    user_data: /opt/pve-runners/current/cloud-init/ubuntu-2404.yaml
    cores: 4
    memory: 8192
EOF
  pools_mode=--keep-pools
else
  pools_mode=--replace-pools
fi

run pct exec "$CTID" -- systemctl is-system-running --wait || true
run pct exec "$CTID" -- install -d -m 0700 "$STAGE" "$STAGE/credstore"
run pct push "$CTID" "$PACKAGE" "$STAGE/pve-runners.tar.gz" --perms 0600
run pct push "$CTID" "$SCRIPT_DIR/install.sh" "$STAGE/install.sh" --perms 0700
run pct push "$CTID" "$ENV_FILE" "$STAGE/pve-runners.env" --perms 0600
run pct push "$CTID" "$POOLS_FILE" "$STAGE/pools.yaml" --perms 0600
if [[ -f $PVE_ROOT_CA ]]; then
  run pct push "$CTID" "$PVE_ROOT_CA" "$STAGE/pve-root-ca.pem" --perms 0644
fi
if [[ -n $CREDENTIALS_DIR ]]; then
  for name in proxmox_token_secret github_token github_app_private_key webhook_secret sftp_private_key; do
    if [[ -f $CREDENTIALS_DIR/$name ]]; then
      run pct push "$CTID" "$CREDENTIALS_DIR/$name" "$STAGE/credstore/$name" --perms 0600
    fi
  done
fi
run pct exec "$CTID" -- "$STAGE/install.sh" --stage "$STAGE" --service-id "$SVC_ID" \
  --snippets-mount /mnt/pve-snippets "$env_mode" "$pools_mode"

# --- 5. SFTP delivery: every node gets the upload account ---------------------------------------
if [[ -n $SFTP_PUBKEY ]]; then
  known_hosts=$(mktemp)
  trap 'rm -f "$known_hosts"' EXIT
  # /etc/pve/nodes has a directory per cluster node; nodes reach each other as root over SSH
  for dir in /etc/pve/nodes/*/; do
    peer=$(basename "$dir")
    remote=/tmp/pve-runners-sftp-setup
    run ssh -o BatchMode=yes "root@$peer" mkdir -p "$remote"
    run scp -q -o BatchMode=yes "$SCRIPT_DIR/common.sh" "$SCRIPT_DIR/setup-node-sftp.sh" "$SFTP_PUBKEY" "root@$peer:$remote/"
    if [[ $DRY_RUN == 1 ]]; then
      run ssh -o BatchMode=yes "root@$peer" bash "$remote/setup-node-sftp.sh" --public-key "$remote/$(basename "$SFTP_PUBKEY")" --storage "$SNIPPET_STORAGE" --address "$peer" --dry-run
    else
      ssh -o BatchMode=yes "root@$peer" bash "$remote/setup-node-sftp.sh" --public-key "$remote/$(basename "$SFTP_PUBKEY")" --storage "$SNIPPET_STORAGE" --address "$peer" >>"$known_hosts"
    fi
    run ssh -o BatchMode=yes "root@$peer" rm -rf "$remote"
  done
  run pct push "$CTID" "$known_hosts" /etc/pve-runners/sftp_known_hosts --perms 0644
  info "SFTP delivery: set SFTP_KNOWN_HOSTS_FILE=/etc/pve-runners/sftp_known_hosts and SFTP_PRIVATE_KEY_FILE (or the sftp_private_key credential) in the container"
fi

# --- 6. high availability ------------------------------------------------------------------------
if [[ $HA == 1 ]]; then
  # The daemon keeps no state: a failover is a restart on another node. Its instance id (in the env
  # file, on the container's disk) moves with it, so the VMs it made stay its own.
  # grep reads to the end: with -q it may exit first, and pipefail then takes the SIGPIPE for "no"
  if ha-manager config 2>/dev/null | grep -x "ct:$CTID" >/dev/null; then
    run ha-manager set "ct:$CTID" --state started
  else
    run ha-manager add "ct:$CTID" --state started --max_restart 2 --max_relocate 2 --comment "pve-runners daemon (scripts/bootstrap-lxc.sh --ha)"
  fi
  info "HA: ct:$CTID is managed by ha-manager; a node that fails is fenced (watchdog) before the container starts elsewhere, so two never run at once"
fi

if [[ $DRY_RUN == 1 ]]; then
  info "dry run: nothing was changed"
else
  info "done: container $CTID runs pve-runners; logs: pct exec $CTID -- journalctl -u pve-runners -f"
fi
