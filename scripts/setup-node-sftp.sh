#!/usr/bin/env bash
# Sets up one Proxmox VE node for pve-runners' `delivery: sftp`: a dedicated account that can do
# nothing but SFTP into the snippets directory of one storage (sshd Match block: ForceCommand
# internal-sftp, chrooted at the storage's path, no shell, no TTY, no forwarding), the daemon's
# public key as its only way in, and the node's host key lines to pin in SFTP_KNOWN_HOSTS_FILE.
# Run as root on every node whose VMs the pools place (bootstrap-lxc.sh --sftp-nodes does it over
# ssh). Idempotent: running it again rewrites the key file and the Match block, nothing else.
#
# Why the chroot is the storage path and not snippets/: sshd requires the chroot directory and
# every directory above it to be root-owned and writable by no one else, so the account writes in
# the `snippets/` subdirectory (group-writable for it, sticky so it can rename or delete only its
# own files, never a hook script someone else put there). Uploads are 0600 and owned by the
# account; Proxmox reads them as root when it builds a VM's cloud-init drive.
set -euo pipefail

PROG=setup-node-sftp.sh
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$SCRIPT_DIR/common.sh"

SFTP_USER=pve-runners
STORAGE=local
STORAGE_PATH=
PUBLIC_KEY=
SSHD_CONFIG=/etc/ssh/sshd_config
KEYS_DIR=/etc/ssh/pve-runners
HOST_KEY_DIR=/etc/ssh
ADDRESS=
PORT=22
PRINT_BLOCK=0
PRINT_HOST_KEYS=0
RELOAD=1
BEGIN_MARK='# BEGIN pve-runners sftp (scripts/setup-node-sftp.sh; edits here are overwritten)'
END_MARK='# END pve-runners sftp'

usage() {
  cat <<EOF
Usage: $PROG --public-key FILE [options]

Creates the SFTP-only account pve-runners uploads snippets with, installs the daemon's public
key, and prints this node's host key lines for SFTP_KNOWN_HOSTS_FILE.

  --public-key FILE       the daemon's public key (the .pub of SFTP_PRIVATE_KEY)
  --user NAME             account to create or use (default: $SFTP_USER; SFTP_USER on the daemon)
  --storage ID            snippet storage (PROXMOX_STORAGE; default: $STORAGE); its path is read
                          from /etc/pve/storage.cfg
  --storage-path DIR      the storage's path, instead of reading storage.cfg (chroot directory)
  --address HOST          how the daemon reaches this node, for the printed lines
                          (default: this node's name; SFTP_HOSTS on the daemon maps others)
  --port N                sshd's port, for the printed lines (default: $PORT)
  --sshd-config FILE      sshd configuration to add the Match block to (default: $SSHD_CONFIG)
  --keys-dir DIR          where the account's authorized_keys goes (default: $KEYS_DIR)
  --host-key-dir DIR      where sshd's host keys are (default: $HOST_KEY_DIR)
  --no-reload             do not reload ssh.service after the change
  --print-sshd-config     print the Match block this node would get, and change nothing
  --print-host-keys       print the host key lines to pin, and change nothing
  --dry-run               print the commands that change something instead of running them
  -h, --help              this text
EOF
}

while (($# > 0)); do
  case $1 in
    --public-key) PUBLIC_KEY=${2:?--public-key needs a file}; shift 2 ;;
    --user) SFTP_USER=${2:?--user needs a name}; shift 2 ;;
    --storage) STORAGE=${2:?--storage needs a storage id}; shift 2 ;;
    --storage-path) STORAGE_PATH=${2:?--storage-path needs a directory}; shift 2 ;;
    --address) ADDRESS=${2:?--address needs a host}; shift 2 ;;
    --port) PORT=${2:?--port needs a number}; shift 2 ;;
    --sshd-config) SSHD_CONFIG=${2:?--sshd-config needs a file}; shift 2 ;;
    --keys-dir) KEYS_DIR=${2:?--keys-dir needs a directory}; shift 2 ;;
    --host-key-dir) HOST_KEY_DIR=${2:?--host-key-dir needs a directory}; shift 2 ;;
    --no-reload) RELOAD=0; shift ;;
    --print-sshd-config) PRINT_BLOCK=1; shift ;;
    --print-host-keys) PRINT_HOST_KEYS=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done

[[ $SFTP_USER =~ ^[a-z_][a-z0-9_-]*$ ]] || die "--user '$SFTP_USER' is not a user name"
if ! [[ $PORT =~ ^[0-9]+$ ]] || ((PORT < 1 || PORT > 65535)); then die "--port '$PORT' is not a TCP port"; fi

# known_hosts lines for this node's host keys, as the daemon will look them up.
host_key_lines() {
  local name=${ADDRESS:-$(hostname -s 2>/dev/null || hostname)} pub found=0
  [[ $PORT == 22 ]] || name="[$name]:$PORT"
  for pub in "$HOST_KEY_DIR"/ssh_host_*_key.pub; do
    [[ -r $pub ]] || continue
    found=1
    awk -v n="$name" '{ print n " " $1 " " $2 }' "$pub"
  done
  ((found)) || die "no host keys in $HOST_KEY_DIR (ssh_host_*_key.pub)"
}

if ((PRINT_HOST_KEYS)); then
  host_key_lines
  exit 0
fi

# The path of a dir-type storage in storage.cfg ("dir: local" then an indented "path /var/lib/vz").
storage_path() {
  local cfg=/etc/pve/storage.cfg
  [[ -r $cfg ]] || die "cannot read $cfg; run on a Proxmox VE node, or give --storage-path"
  awk -v id="$STORAGE" '
    /^[a-z]+:[ \t]/ { type = $1; sub(/:$/, "", type); cur = $2; next }
    cur == id && $1 == "path" { print type " " $2; exit }
  ' "$cfg"
}

if [[ -z $STORAGE_PATH ]]; then
  found=$(storage_path)
  [[ -n $found ]] || { [[ $STORAGE == local ]] && found="dir /var/lib/vz"; }
  [[ -n $found ]] || die "storage '$STORAGE' has no path in /etc/pve/storage.cfg (SFTP delivery needs a file-based storage such as dir, nfs or cifs); give --storage-path"
  STORAGE_PATH=${found#* }
fi
STORAGE_PATH=${STORAGE_PATH%/}
[[ $STORAGE_PATH == /* ]] || die "--storage-path '$STORAGE_PATH' is not absolute"

# The block sshd gets: the tests start a real sshd with exactly this text.
sshd_block() {
  cat <<EOF
$BEGIN_MARK
Match User $SFTP_USER
	AuthorizedKeysFile $KEYS_DIR/authorized_keys
	AuthenticationMethods publickey
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	PubkeyAuthentication yes
	ChrootDirectory $STORAGE_PATH
	ForceCommand internal-sftp -u 0077
	PermitTTY no
	PermitTunnel no
	PermitUserRC no
	AllowTcpForwarding no
	AllowAgentForwarding no
	AllowStreamLocalForwarding no
	X11Forwarding no
	GatewayPorts no
Match all
$END_MARK
EOF
}

if ((PRINT_BLOCK)); then
  sshd_block
  exit 0
fi

[[ -n $PUBLIC_KEY ]] || { usage >&2; die "--public-key is required"; }
[[ -r $PUBLIC_KEY ]] || die "cannot read $PUBLIC_KEY"
key_line=$(grep -m1 -E '^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+=* ?' "$PUBLIC_KEY") ||
  die "$PUBLIC_KEY holds no SSH public key (ssh-keygen -y -f SFTP_PRIVATE_KEY prints one)"
if [[ $DRY_RUN != 1 && $(id -u) -ne 0 ]]; then die "run as root (or with --dry-run to see what it would do)"; fi
command -v sshd >/dev/null 2>&1 || [[ -x /usr/sbin/sshd ]] || die "sshd not found; is openssh-server installed?"
SSHD=$(command -v sshd || echo /usr/sbin/sshd)

# sshd refuses a chroot any component of which is not root-owned or is writable by others.
dir=$STORAGE_PATH
while :; do
  [[ -d $dir ]] || die "$dir does not exist"
  read -r owner mode < <(stat -c '%u %a' "$dir")
  ((owner == 0)) || die "$dir is not owned by root, so sshd would refuse it as (part of) ChrootDirectory; chown root $dir"
  (((8#$mode & 8#022) == 0)) || die "$dir is writable by group or others (mode $mode), so sshd would refuse it as (part of) ChrootDirectory; chmod go-w $dir"
  [[ $dir == / ]] && break
  dir=$(dirname "$dir")
done

if id -u "$SFTP_USER" >/dev/null 2>&1; then
  info "account $SFTP_USER exists; kept"
else
  run useradd --system --user-group --no-create-home --home-dir / --shell /usr/sbin/nologin --comment 'pve-runners snippet upload (SFTP only)' "$SFTP_USER"
fi
group=$(id -gn "$SFTP_USER" 2>/dev/null || echo "$SFTP_USER")

snippets=$STORAGE_PATH/snippets
[[ -d $snippets ]] || run install -d -o root -g root -m 0755 "$snippets"
run chgrp "$group" "$snippets"
# group-writable for the account; sticky: it can rename and delete only the files it owns
run chmod 1775 "$snippets"

run install -d -o root -g root -m 0755 "$KEYS_DIR"
# restrict: no forwarding, PTY or rc even if sshd's block were edited away
if [[ $DRY_RUN == 1 ]]; then
  printf '+ write %q: restrict %s\n' "$KEYS_DIR/authorized_keys" "$key_line"
else
  tmp=$(mktemp "$KEYS_DIR/.authorized_keys.XXXXXX")
  printf 'restrict %s\n' "$key_line" >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$KEYS_DIR/authorized_keys"
fi

# The block replaces the one an earlier run wrote, at the end of the file (Match lasts until the next Match).
if [[ $DRY_RUN == 1 ]]; then
  printf '+ append to %q (replacing an earlier pve-runners block):\n' "$SSHD_CONFIG"
  sshd_block
else
  [[ -f $SSHD_CONFIG ]] || die "$SSHD_CONFIG does not exist"
  new=$(mktemp "$SSHD_CONFIG.pve-runners.XXXXXX")
  awk -v b="$BEGIN_MARK" -v e="$END_MARK" '$0 == b { skip = 1 } !skip { print } $0 == e { skip = 0 }' "$SSHD_CONFIG" >"$new"
  sshd_block >>"$new"
  chmod --reference="$SSHD_CONFIG" "$new"
  if ! out=$("$SSHD" -t -f "$new" 2>&1); then
    rm -f "$new"
    die "sshd rejects the new configuration, so $SSHD_CONFIG is left as it was: $out"
  fi
  mv -f "$new" "$SSHD_CONFIG"
fi
if ((RELOAD)); then run systemctl reload ssh; fi

info "done; on the daemon set SFTP_USER=$SFTP_USER and add these lines to SFTP_KNOWN_HOSTS_FILE:"
host_key_lines
