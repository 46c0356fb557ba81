# shellcheck shell=bash
# Helpers shared by the host-side scripts (sourced, not run). Callers set PROG before sourcing.

DRY_RUN=${DRY_RUN:-0}
# shellcheck disable=SC2034 # read by the scripts that source this file
PVE_MAJOR=0

die() {
  printf '%s: error: %s\n' "${PROG:-pve-runners}" "$*" >&2
  exit 1
}

info() { printf '%s: %s\n' "${PROG:-pve-runners}" "$*" >&2; }

# Runs a command that changes something, or with --dry-run prints it (shell-quoted) instead.
# Read-only queries are called directly, so a dry run prints exactly what a real run would do.
run() {
  if [[ $DRY_RUN == 1 ]]; then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

# Refuses to go on unless this is a Proxmox VE node with the given tools (and root, unless dry-run).
require_proxmox_host() {
  local missing=() tool version
  for tool in pveversion "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if ((${#missing[@]} > 0)); then
    die "this is not a Proxmox VE host (${missing[*]} not found); run it as root on a Proxmox VE node"
  fi
  version=$(pveversion 2>/dev/null) || die "pveversion failed; is this a Proxmox VE node?"
  [[ $version =~ ^pve-manager/([0-9]+)\. ]] || die "pveversion printed '$version', not pve-manager/X.Y; is this a Proxmox VE node?"
  # shellcheck disable=SC2034
  PVE_MAJOR=${BASH_REMATCH[1]}
  if [[ $DRY_RUN != 1 && $(id -u) -ne 0 ]]; then
    die "must run as root (or with --dry-run to see what it would do)"
  fi
}
