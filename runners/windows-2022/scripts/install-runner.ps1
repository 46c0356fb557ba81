# Packer provisioner: the GitHub Actions runner $env:RUNNER_VERSION in C:\actions-runner, verified
# against $env:RUNNER_SHA256 or the SHA-256 in the release notes. Not configured: each VM registers
# itself at boot through run-once.ps1.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12

$version = $env:RUNNER_VERSION
if ($version -notmatch '^\d+\.\d+\.\d+$') { throw "RUNNER_VERSION '$version' is not X.Y.Z" }
$zip = "actions-runner-win-x64-$version.zip"
$tmp = Join-Path $env:TEMP $zip
Invoke-WebRequest -UseBasicParsing -Uri "https://github.com/actions/runner/releases/download/v$version/$zip" -OutFile $tmp

$expected = $env:RUNNER_SHA256
if (-not $expected) {
    $release = Invoke-RestMethod -UseBasicParsing -Uri "https://api.github.com/repos/actions/runner/releases/tags/v$version"
    $m = [regex]::Match($release.body, '<!-- BEGIN SHA win-x64 -->([0-9a-f]{64})<!-- END SHA win-x64 -->')
    if (-not $m.Success) { throw "no SHA-256 for win-x64 in the v$version release notes; set runner_sha256" }
    $expected = $m.Groups[1].Value
}
$actual = (Get-FileHash -Algorithm SHA256 $tmp).Hash.ToLowerInvariant()
if ($actual -ne $expected.ToLowerInvariant()) { throw "checksum mismatch for ${zip}: $actual" }

New-Item -ItemType Directory -Force -Path 'C:\actions-runner' | Out-Null
Expand-Archive -Path $tmp -DestinationPath 'C:\actions-runner' -Force
Remove-Item $tmp
if ((Test-Path 'C:\actions-runner\.runner') -or (Test-Path 'C:\actions-runner\.credentials')) { throw 'the image must not contain a runner registration' }

# delivery: guest-agent: at startup, start-agent-delivery.ps1 runs run-once.ps1 -Agent unless the
# config drive's user-data runs run-once.ps1 itself (dir/sftp delivery).
$action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument '-NoProfile -ExecutionPolicy Bypass -File C:\actions-runner\start-agent-delivery.ps1'
$trigger = New-ScheduledTaskTrigger -AtStartup
Register-ScheduledTask -TaskName 'pve-runners-agent' -Action $action -Trigger $trigger -User 'SYSTEM' -RunLevel Highest -Force | Out-Null
