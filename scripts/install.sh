#!/usr/bin/env bash
# Installs a pve-runners release inside its (Debian) host, normally the LXC container made by
# bootstrap-lxc.sh, which copies the files into a stage directory and runs this there:
#
#   STAGE/pve-runners.tar.gz   release from scripts/package.sh: the built daemon and exactly its
#                              production dependencies (npm ci --omit=dev against package-lock.json)
#   STAGE/pve-runners.env      settings for /etc/pve-runners/pve-runners.env (installed 0600)
#   STAGE/pools.yaml           pools for /etc/pve-runners/pools.yaml
#   STAGE/pve-root-ca.pem      the cluster CA, for PROXMOX_CA_FILE (optional)
#   STAGE/credstore/NAME       secrets for /etc/credstore/NAME (0600), passed in by systemd LoadCredential=
#
# Releases go to /opt/pve-runners/releases/VERSION with /opt/pve-runners/current pointing at the
# active one (the unit's ExecStart uses it), so an update is one symlink switch and a restart.
# --root DIR installs under DIR instead of / (tests); tools are taken from PATH.
set -euo pipefail

PROG=install.sh
STAGE=""
SVC_ID=990
SVC_USER=pve-runners
SNIPPETS_MOUNT=/mnt/pve-snippets
KEEP_ENV=1
KEEP_POOLS=1
ROOT=""
KEEP_RELEASES=3

die() {
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit 1
}
info() { printf '%s: %s\n' "$PROG" "$*" >&2; }

while (($# > 0)); do
  case $1 in
    --stage) STAGE=${2:?}; shift 2 ;;
    --service-id) SVC_ID=${2:?}; shift 2 ;;
    --snippets-mount) SNIPPETS_MOUNT=${2:?}; shift 2 ;;
    --keep-env) KEEP_ENV=1; shift ;;
    --replace-env) KEEP_ENV=0; shift ;;
    --keep-pools) KEEP_POOLS=1; shift ;;
    --replace-pools) KEEP_POOLS=0; shift ;;
    --root) ROOT=${2:?}; shift 2 ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    *) die "unknown argument '$1'" ;;
  esac
done
[[ -n $STAGE && -f $STAGE/pve-runners.tar.gz ]] || die "--stage DIR must hold pve-runners.tar.gz"
[[ $SVC_ID =~ ^[1-9][0-9]*$ ]] || die "--service-id must be a number"
[[ -n $ROOT || $(id -u) -eq 0 ]] || die "must run as root"

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# --- Node.js (Debian 13 ships 20.x) ---------------------------------------------------------------
if (($(node_major) < 20)); then
  info "installing Node.js from the distribution"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs
  (($(node_major) >= 20)) || die "Node.js $(node -v 2>/dev/null || echo none) is too old: pve-runners needs 20 or newer (use a Debian 13 container)"
fi

# --- service user: fixed ids, because the host grants the snippets directory to their shifted gid ---
if getent group "$SVC_USER" >/dev/null; then
  [[ $(getent group "$SVC_USER" | cut -d: -f3) == "$SVC_ID" ]] || die "group $SVC_USER exists with a gid other than $SVC_ID"
else
  groupadd --system --gid "$SVC_ID" "$SVC_USER"
fi
if getent passwd "$SVC_USER" >/dev/null; then
  [[ $(getent passwd "$SVC_USER" | cut -d: -f3) == "$SVC_ID" ]] || die "user $SVC_USER exists with a uid other than $SVC_ID"
else
  useradd --system --uid "$SVC_ID" --gid "$SVC_ID" --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin "$SVC_USER"
fi

# --- the release ------------------------------------------------------------------------------------
base=$ROOT/opt/pve-runners
install -d -m 0755 "$base/releases"
unpack=$(mktemp -d "$base/releases/.unpack.XXXXXX")
trap 'rm -rf "$unpack"' EXIT
tar -xzf "$STAGE/pve-runners.tar.gz" -C "$unpack" --no-same-owner
[[ -f $unpack/pve-runners/package.json && -f $unpack/pve-runners/dist/cli.js && -d $unpack/pve-runners/node_modules ]] ||
  die "pve-runners.tar.gz is not a release from scripts/package.sh (no pve-runners/{package.json,dist/cli.js,node_modules})"
version=$(node -p 'require(process.argv[1]).version' "$unpack/pve-runners/package.json")
[[ $version =~ ^[0-9A-Za-z.+-]+$ ]] || die "odd version '$version' in package.json"
chmod -R u+rwX,go+rX,go-w "$unpack/pve-runners"
rm -rf "$base/releases/$version"
mv "$unpack/pve-runners" "$base/releases/$version"
ln -sfn "releases/$version" "$base/current.new"
mv -T "$base/current.new" "$base/current"
info "installed release $version"
# Keep a few previous releases for a quick rollback (ln -sfn releases/OLD current).
find "$base/releases" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%T@ %f\n' | sort -rn |
  tail -n +$((KEEP_RELEASES + 1)) | while read -r _ old; do
  [[ $old != "$version" ]] && rm -rf "${base:?}/releases/$old"
done

# --- unit, configuration, credentials -----------------------------------------------------------------
install -d -m 0755 "$ROOT/etc/systemd/system" "$ROOT/etc/pve-runners"
install -m 0644 "$base/current/systemd/pve-runners.service" "$ROOT/etc/systemd/system/pve-runners.service"
install -d -m 0755 "$ROOT$SNIPPETS_MOUNT"

env_file=$ROOT/etc/pve-runners/pve-runners.env
# The installation's id goes into the description of every VM it makes, so it must outlive
# reinstalls and move with the container (HA): written once, kept when the file is replaced.
old_id=""
[[ -f $env_file ]] && old_id=$(sed -n 's/^INSTANCE_ID=//p' "$env_file" | tail -n 1)
if [[ -f $STAGE/pve-runners.env ]] && { [[ $KEEP_ENV == 0 ]] || [[ ! -e $env_file ]]; }; then
  install -m 0600 "$STAGE/pve-runners.env" "$env_file"
fi
if [[ -f $env_file ]] && ! grep -q '^INSTANCE_ID=' "$env_file"; then
  id=${old_id:-pvr-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')}
  printf '# this installation, in every VM it makes; keep it (README: High availability)\nINSTANCE_ID=%s\n' "$id" >>"$env_file"
  info "instance id $id written to /etc/pve-runners/pve-runners.env"
fi
if [[ -f $STAGE/pools.yaml ]] && { [[ $KEEP_POOLS == 0 ]] || [[ ! -e $ROOT/etc/pve-runners/pools.yaml ]]; }; then
  install -m 0644 "$STAGE/pools.yaml" "$ROOT/etc/pve-runners/pools.yaml"
fi
install -d -m 0700 "$ROOT/etc/credstore"
if [[ -f $STAGE/pve-root-ca.pem ]]; then
  install -m 0644 "$STAGE/pve-root-ca.pem" "$ROOT/etc/pve-runners/pve-root-ca.pem"
fi
if [[ -d $STAGE/credstore ]]; then
  for cred in "$STAGE"/credstore/*; do
    [[ -f $cred ]] && install -m 0600 "$cred" "$ROOT/etc/credstore/$(basename "$cred")"
  done
fi
# The stage held secrets; nothing of it stays behind.
rm -rf "$STAGE"

systemctl daemon-reload
systemctl enable pve-runners.service
systemctl restart pve-runners.service
info "pve-runners $version enabled and (re)started"
