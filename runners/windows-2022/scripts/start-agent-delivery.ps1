# pve-runners: the Windows image's unit for delivery: guest-agent, run at startup as SYSTEM by the
# pve-runners-agent scheduled task (install-runner.ps1). With dir or sftp delivery, cloudbase-init
# runs run-once.ps1 from the user-data on Proxmox's config drive, and this task stays out of the way;
# without such user-data (no cicustom: the daemon writes runner.env through the QEMU guest agent) it
# starts run-once.ps1 -Agent, which waits for the complete file.
$ErrorActionPreference = 'Stop'
$drive = Get-Volume | Where-Object { $_.FileSystemLabel -eq 'config-2' } | Select-Object -First 1
if ($drive -and $drive.DriveLetter) {
    $userData = "$($drive.DriveLetter):\openstack\latest\user_data"
    if ((Test-Path -LiteralPath $userData) -and (Select-String -LiteralPath $userData -SimpleMatch 'run-once.ps1' -Quiet)) { exit 0 }
}
& 'C:\actions-runner\run-once.ps1' -Agent
