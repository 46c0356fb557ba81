# pve-runners: run exactly one GitHub Actions job in this VM, then shut it down.
#
# Installed by Packer as C:\actions-runner\run-once.ps1 and started by cloudbase-init's runcmd.
# Reads C:\ProgramData\pve-runners\runner.env (format: src/cloudinit/runner-env.ts, KEY="VALUE" with
# only \\ and \xHH escapes), parses it as data, deletes it, and hands secrets to the runner through
# ACTIONS_RUNNER_INPUT_* environment variables so they never appear on a command line.
# -Agent (the pve-runners-agent scheduled task, delivery: guest-agent): first wait until the daemon's
# agent file-write has put the whole file there (its last line is RUNNER_ENV_COMPLETE="1"; a write
# that failed leaves a prefix without it, which is never read).
param([switch]$Agent, [int]$WaitSeconds = 3600)
$ErrorActionPreference = 'Stop'
$EnvFile = 'C:\ProgramData\pve-runners\runner.env'
$RunnerDir = 'C:\actions-runner'
$exitCode = 1

function Read-RunnerEnv([string]$Path) {
    $values = @{}
    $lineNo = 0
    $pattern = '^([A-Z_][A-Z0-9_]*)="((?:[^"\\\x00-\x1f\x7f]|\\\\|\\x[0-7][0-9A-Fa-f])*)"$'
    foreach ($raw in [System.IO.File]::ReadAllLines($Path, [System.Text.Encoding]::UTF8)) {
        $lineNo++
        $line = $raw.TrimEnd("`r")
        if ($line -match '^\s*(#.*)?$') { continue }
        $m = [regex]::Match($line, $pattern)
        if (-not $m.Success) { throw "runner.env line $lineNo is not KEY=""VALUE""" }
        $key = $m.Groups[1].Value
        if ($values.ContainsKey($key)) { throw "runner.env line ${lineNo}: $key is set twice" }
        $values[$key] = [regex]::Replace($m.Groups[2].Value, '\\(\\|x([0-7][0-9A-Fa-f]))', {
                param($e)
                if ($e.Groups[2].Success) { [string][char][Convert]::ToInt32($e.Groups[2].Value, 16) } else { '\' }
            })
    }
    return $values
}

function Wait-CompleteFile([string]$Path, [int]$Seconds) {
    for ($waited = 0; ; $waited++) {
        if (Test-Path -LiteralPath $Path) {
            $text = [System.IO.File]::ReadAllText($Path, [System.Text.Encoding]::UTF8)
            if ($text.EndsWith("RUNNER_ENV_COMPLETE=""1""`n")) { return }
        }
        if ($waited -ge $Seconds) { throw "$Path not complete after ${Seconds}s; nothing to run" }
        Start-Sleep -Seconds 1
    }
}

try {
    if ($Agent) { Wait-CompleteFile $EnvFile $WaitSeconds }
    $envValues = Read-RunnerEnv $EnvFile
    Remove-Item -Force $EnvFile
    Set-Location $RunnerDir
    if ($envValues.ContainsKey('RUNNER_JITCONFIG')) {
        Write-Host "pve-runners run-once: starting JIT runner $($envValues['RUNNER_NAME'])"
        $env:ACTIONS_RUNNER_INPUT_JITCONFIG = $envValues['RUNNER_JITCONFIG']
        & "$RunnerDir\run.cmd"
        $exitCode = $LASTEXITCODE
    }
    else {
        foreach ($k in 'RUNNER_URL', 'RUNNER_TOKEN', 'RUNNER_NAME', 'RUNNER_LABELS') {
            if (-not $envValues[$k]) { throw "runner.env has neither RUNNER_JITCONFIG nor $k" }
        }
        $env:ACTIONS_RUNNER_INPUT_TOKEN = $envValues['RUNNER_TOKEN']
        # an organisation runner joins its runner group at registration (RUNNER_GROUP, org scopes only)
        $groupArgs = @()
        if ($envValues['RUNNER_GROUP']) { $groupArgs = @('--runnergroup', $envValues['RUNNER_GROUP']) }
        & "$RunnerDir\config.cmd" --unattended --ephemeral --replace --disableupdate --no-default-labels `
            --url $envValues['RUNNER_URL'] --name $envValues['RUNNER_NAME'] --labels $envValues['RUNNER_LABELS'] @groupArgs --work _work
        if ($LASTEXITCODE -ne 0) { throw "config.cmd failed with exit code $LASTEXITCODE" }
        Remove-Item Env:\ACTIONS_RUNNER_INPUT_TOKEN
        & "$RunnerDir\run.cmd"
        $exitCode = $LASTEXITCODE
    }
}
catch {
    Write-Host "pve-runners run-once: $($_.Exception.Message)"
}
finally {
    # Whatever happened, the VM goes down: a running VM holds pool capacity until the daemon reaps it.
    Write-Host "pve-runners run-once: runner exited with $exitCode; shutting down"
    Stop-Computer -Force
}
exit $exitCode
