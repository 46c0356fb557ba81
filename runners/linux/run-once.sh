#!/usr/bin/env bash
# pve-runners: run exactly one GitHub Actions job in this VM, then power it off.
#
# Installed by Packer as /opt/actions-runner/run-once.sh and started by cloud-init's runcmd. Reads
# /etc/pve-runners/runner.env, written by cloud-init from the snippet the daemon rendered. With
# --agent (pve-runners-agent.service, pools with delivery: guest-agent) it first waits for the daemon
# to write that file through the QEMU guest agent, and reads it only once it is complete. The file is
# parsed as data (format: src/cloudinit/runner-env.ts), never sourced, and deleted before the job starts.
# Secrets reach the runner through ACTIONS_RUNNER_INPUT_* environment variables, never argv, so no
# other process (the job included) can read them from the process list.
#
# Overridable for tests only: RUNNER_ENV_FILE, RUNNER_USER, RUNNER_POWEROFF (the power-off command),
# RUNNER_ENV_WAIT (seconds --agent waits for a complete file, default 3600).
set -uo pipefail

RUNNER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ENV_FILE=${RUNNER_ENV_FILE:-/etc/pve-runners/runner.env}
RUN_AS=${RUNNER_USER:-runner}
POWEROFF=${RUNNER_POWEROFF:-poweroff}
ENV_WAIT=${RUNNER_ENV_WAIT:-3600}
AGENT_MODE=0
[[ ${1:-} == --agent ]] && AGENT_MODE=1

log() { printf 'pve-runners run-once: %s\n' "$*" >&2; }

# Whatever happens from here on, the VM goes down: a VM left running would hold pool capacity
# until the daemon's timeouts reap it.
power_off() {
  local rc=$?
  trap - EXIT
  log "runner exited with status $rc; powering off"
  sync || true
  # shellcheck disable=SC2086 # RUNNER_POWEROFF may carry arguments, e.g. "systemctl poweroff"
  $POWEROFF
  exit "$rc"
}
trap power_off EXIT
trap 'exit 143' TERM INT

declare -A ENV=()

# Same grammar as parseRunnerEnv: KEY="VALUE" where VALUE has only \\ and \xHH (HH < 0x80) escapes.
read_runner_env() {
  local file=$1 line n=0 key raw value
  local re='^([A-Z_][A-Z0-9_]*)="(([^"\\[:cntrl:]]|\\\\|\\x[0-7][0-9A-Fa-f])*)"$'
  [[ -f $file ]] || { log "$file is missing: nothing to run"; return 1; }
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    line=${line%$'\r'}
    [[ $line =~ ^[[:space:]]*(#.*)?$ ]] && continue
    if [[ ! $line =~ $re ]]; then
      log "$file line $n is not KEY=\"VALUE\"; refusing to guess"
      return 1
    fi
    key=${BASH_REMATCH[1]} raw=${BASH_REMATCH[2]}
    [[ -v "ENV[$key]" ]] && { log "$file line $n: $key is set twice"; return 1; }
    # printf %b turns \\ and \xHH back into bytes; the value never reaches a shell parser.
    printf -v value '%b' "$raw"
    ENV[$key]=$value
  done <"$file"
}

# Runs a command as the unprivileged runner user (the runner refuses root), keeping the environment.
as_runner() {
  if [[ $(id -u) -eq 0 && $RUN_AS != root ]]; then
    runuser -u "$RUN_AS" -- "$@"
  else
    "$@"
  fi
}

# PVE's agent file-write opens the file truncating, writes, closes: until it is done the file may be
# empty or half there, and a write that failed leaves a prefix. The daemon ends the content with this
# line, which a prefix never holds (src/daemon/agent-delivery.ts); nothing is read before it is there.
COMPLETE_LINE='RUNNER_ENV_COMPLETE="1"'
wait_for_complete_file() {
  local file=$1 waited=0
  # the last 24 bytes are the line and its newline ($(...) drops the newline)
  until [[ -f $file && $(tail -c 24 -- "$file" 2>/dev/null) == "$COMPLETE_LINE" ]]; do
    if ((waited >= ENV_WAIT)); then
      log "$file not complete after ${ENV_WAIT}s; nothing to run"
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

if ((AGENT_MODE)); then
  wait_for_complete_file "$ENV_FILE" || exit 1
fi
read_runner_env "$ENV_FILE" || exit 1
rm -f -- "$ENV_FILE" || log "could not delete $ENV_FILE"

cd "$RUNNER_DIR" || exit 1

if [[ -n ${ENV[RUNNER_JITCONFIG]:-} ]]; then
  log "starting JIT runner ${ENV[RUNNER_NAME]:-}"
  ACTIONS_RUNNER_INPUT_JITCONFIG=${ENV[RUNNER_JITCONFIG]} as_runner ./run.sh
  exit $?
fi

for key in RUNNER_URL RUNNER_TOKEN RUNNER_NAME RUNNER_LABELS; do
  [[ -n ${ENV[$key]:-} ]] || { log "runner.env has neither RUNNER_JITCONFIG nor $key"; exit 1; }
done

# an organisation runner joins its runner group at registration (RUNNER_GROUP, org scopes only)
group_args=()
[[ -n ${ENV[RUNNER_GROUP]:-} ]] && group_args=(--runnergroup "${ENV[RUNNER_GROUP]}")

log "registering ephemeral runner ${ENV[RUNNER_NAME]}"
ACTIONS_RUNNER_INPUT_TOKEN=${ENV[RUNNER_TOKEN]} as_runner ./config.sh \
  --unattended --ephemeral --replace --disableupdate --no-default-labels \
  --url "${ENV[RUNNER_URL]}" \
  --name "${ENV[RUNNER_NAME]}" \
  --labels "${ENV[RUNNER_LABELS]}" \
  "${group_args[@]}" \
  --work _work || exit $?

as_runner ./run.sh
