#!/usr/bin/env bash
# Creates (or brings up to date) the least-privileged Proxmox VE identity pve-runners needs:
# a role, a user, a privilege-separated API token, the resource pool runner VMs live in, and the
# ACLs that tie them together. Run as root on any node of the cluster. Idempotent: running it again
# fixes drifted privileges and ACLs; an existing token is kept unless --rotate is given (Proxmox
# shows a token's secret only once, at creation).
#
# What is granted where is read from grants.conf next to this script (the one source the simulator
# and `pve-runners check` read too; see README "The Proxmox token's minimal privileges").
set -euo pipefail

PROG=create-proxmox-token.sh
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$SCRIPT_DIR/common.sh"

USER_ID=pve-runners@pve
TOKEN_NAME=daemon
POOL=pve-runners
GRANTS=$SCRIPT_DIR/grants.conf
TEMPLATES=()
VM_STORAGES=()
SNIPPET_STORAGE=local
BRIDGES=()
ROTATE=0
GUEST_AGENT=0

usage() {
  cat <<EOF
Usage: $PROG --template VMID [--template VMID ...] --storage STORAGE [options]

Creates the Proxmox role, user, privilege-separated API token, resource pool and ACLs for
pve-runners, and prints the token secret once.

  --template VMID          runner template the daemon clones (repeat for each pool's template)
  --storage ID             storage the clones' disks go to (repeat if pools use several)
  --snippet-storage ID     storage holding the cloud-init snippets (default: $SNIPPET_STORAGE)
  --bridge NAME            network bridge of the templates, for SDN.Use on PVE 8+ (default: vmbr0; repeatable)
  --pool NAME              Proxmox resource pool for runner VMs (default: $POOL)
  --guest-agent            also grant what delivery: guest-agent needs (agent ping and file-write)
  --user USER@REALM        user to create (default: $USER_ID)
  --token NAME             API token name (default: $TOKEN_NAME)
  --rotate                 delete and recreate an existing token (prints a new secret)
  --dry-run                print the commands that change something instead of running them
  -h, --help               this text
EOF
}

while (($# > 0)); do
  case $1 in
    --template) TEMPLATES+=("${2:?--template needs a VMID}"); shift 2 ;;
    --storage) VM_STORAGES+=("${2:?--storage needs a storage id}"); shift 2 ;;
    --snippet-storage) SNIPPET_STORAGE=${2:?--snippet-storage needs a storage id}; shift 2 ;;
    --bridge) BRIDGES+=("${2:?--bridge needs a bridge name}"); shift 2 ;;
    --pool) POOL=${2:?--pool needs a name}; shift 2 ;;
    --user) USER_ID=${2:?--user needs USER@REALM}; shift 2 ;;
    --token) TOKEN_NAME=${2:?--token needs a name}; shift 2 ;;
    --rotate) ROTATE=1; shift ;;
    --guest-agent) GUEST_AGENT=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done

((${#TEMPLATES[@]} > 0)) || die "give at least one --template VMID (the runner template(s) to clone)"
((${#VM_STORAGES[@]} > 0)) || die "give at least one --storage ID (where clones' disks go)"
((${#BRIDGES[@]} > 0)) || BRIDGES=(vmbr0)
for vmid in "${TEMPLATES[@]}"; do [[ $vmid =~ ^[1-9][0-9]{2,8}$ ]] || die "--template '$vmid' is not a VMID"; done
[[ $USER_ID =~ ^[A-Za-z0-9._-]+@[A-Za-z0-9._-]+$ ]] || die "--user '$USER_ID' is not USER@REALM"
[[ $TOKEN_NAME =~ ^[A-Za-z][A-Za-z0-9._-]*$ ]] || die "--token '$TOKEN_NAME' is not a valid token name"
[[ $POOL =~ ^[A-Za-z0-9_.-]+$ ]] || die "--pool '$POOL' is not a valid pool name"

[[ -r $GRANTS ]] || die "cannot read $GRANTS (it ships next to this script)"
require_proxmox_host pveum pvesh

TOKEN_ID="$USER_ID!$TOKEN_NAME"

exists() { pvesh get "$1" --output-format json >/dev/null 2>&1; }

ensure_role() {
  local role=$1 privs=$2
  if exists "/access/roles/$role"; then
    run pveum role modify "$role" --privs "$privs"
  else
    run pveum role add "$role" --privs "$privs"
  fi
}

# Grants to both the user and its token: a privilege-separated token only has what both hold.
grant() {
  local path=$1 role=$2
  run pveum acl modify "$path" --roles "$role" --users "$USER_ID" --tokens "$TOKEN_ID" --propagate 1
}

# grants.conf lines without their comments: `role NAME PRIV...` and `acl PATH ROLE [COND...]`.
grant_lines() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$GRANTS"; }

# Whether every condition of an acl line holds: pve>=N, pve<N, guest-agent.
acl_applies() {
  local cond
  for cond in "$@"; do
    if [[ $cond =~ ^pve\>=([0-9]+)$ ]]; then
      ((PVE_MAJOR >= BASH_REMATCH[1])) || return 1
    elif [[ $cond =~ ^pve\<([0-9]+)$ ]]; then
      ((PVE_MAJOR < BASH_REMATCH[1])) || return 1
    elif [[ $cond == guest-agent ]]; then
      ((GUEST_AGENT)) || return 1
    else
      die "$GRANTS: unknown condition '$cond'"
    fi
  done
}

# The acl lines that apply here, as `PATH ROLE`; a role is created only if one of them names it
# (another PVE version's role may name privileges this one does not know).
APPLYING_ACLS=()
declare -A USED_ROLES=()
while read -r kind path role conds; do
  [[ $kind == acl ]] || continue
  # shellcheck disable=SC2086 # conditions are whitespace-separated words
  acl_applies $conds || continue
  APPLYING_ACLS+=("$path $role")
  USED_ROLES[$role]=1
done < <(grant_lines)

while read -r kind name privs; do
  [[ $kind == role ]] || continue
  [[ -n $privs ]] || die "$GRANTS: role $name has no privileges"
  [[ -v "USED_ROLES[$name]" ]] || continue
  ensure_role "$name" "$privs"
done < <(grant_lines)

if ! exists "/access/users/$USER_ID"; then
  run pveum user add "$USER_ID" --comment "pve-runners daemon (API token only, no password)"
fi
if ! exists "/pools/$POOL"; then
  run pveum pool add "$POOL" --comment "pve-runners: ephemeral GitHub Actions runner VMs"
fi

token_exists=0
exists "/access/users/$USER_ID/token/$TOKEN_NAME" && token_exists=1
if ((token_exists && ROTATE)); then
  run pveum user token remove "$USER_ID" "$TOKEN_NAME"
  token_exists=0
fi
secret=""
if ((!token_exists)); then
  if [[ $DRY_RUN == 1 ]]; then
    run pveum user token add "$USER_ID" "$TOKEN_NAME" --privsep 1 --comment "pve-runners daemon" --output-format json
  else
    created=$(pveum user token add "$USER_ID" "$TOKEN_NAME" --privsep 1 --comment "pve-runners daemon" --output-format json)
    secret=$(sed -n 's/.*"value" *: *"\([0-9a-f-]*\)".*/\1/p' <<<"$created")
    [[ -n $secret ]] || die "pveum did not return the new token's secret"
  fi
fi

# Grants ROLE on PATH once per value of the placeholder PATH holds (at most one per line).
grant_expanded() {
  local path=$1 role=$2 value placeholder
  local -a values
  case $path in
    *'{template}'*) values=("${TEMPLATES[@]}"); placeholder='{template}' ;;
    *'{storage}'*) values=("${VM_STORAGES[@]}"); placeholder='{storage}' ;;
    *'{bridge}'*) values=("${BRIDGES[@]}"); placeholder='{bridge}' ;;
    *) values=(""); placeholder='' ;;
  esac
  for value in "${values[@]}"; do
    local p=$path
    [[ -z $placeholder ]] || p=${p//"$placeholder"/$value}
    p=${p//'{pool}'/$POOL}
    p=${p//'{snippet_storage}'/$SNIPPET_STORAGE}
    [[ $p != *'{'* ]] || die "$GRANTS: unknown placeholder in '$path'"
    grant "$p" "$role"
  done
}

for line in "${APPLYING_ACLS[@]}"; do
  grant_expanded "${line% *}" "${line##* }"
done

if [[ $DRY_RUN == 1 ]]; then
  info "dry run: nothing was changed"
elif [[ -n $secret ]]; then
  # The only time the secret is shown: it goes to stdout for the operator, never to a log.
  cat <<EOF
Created API token $TOKEN_ID. Proxmox will not show this secret again.

  In /etc/pve-runners/pve-runners.env:   PROXMOX_TOKEN_ID=$TOKEN_ID
  Secret (store as /etc/credstore/proxmox_token_secret, mode 0600):
$secret

Clone runner VMs into pool '$POOL'; pve-runners only acts on VMs it tagged itself.
EOF
else
  info "token $TOKEN_ID already exists; privileges and ACLs are up to date (use --rotate for a new secret)"
fi
