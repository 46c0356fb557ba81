# Packer provisioner, last step: generalise the image so every clone gets its own SID, host name and
# a first boot in which cloudbase-init runs the rendered user-data. sysprep uses cloudbase-init's own
# Unattend.xml; Packer then shuts the VM down and converts it to a template.
$ErrorActionPreference = 'Stop'
if (-not (Test-Path 'C:\actions-runner\run-once.ps1')) { throw 'C:\actions-runner\run-once.ps1 missing' }
if (Test-Path 'C:\actions-runner\.runner') { throw 'runner is registered in the image: refusing to template it' }
Remove-Item -Force -ErrorAction SilentlyContinue 'C:\ProgramData\pve-runners\runner.env'
# Clones are reached by nobody: close what enable-winrm.ps1 opened for the build (this session survives).
Remove-NetFirewallRule -DisplayName 'WinRM HTTP (Packer)' -ErrorAction SilentlyContinue
winrm set winrm/config/service '@{AllowUnencrypted="false"}'
winrm set winrm/config/service/auth '@{Basic="false"}'
& "$env:SystemRoot\System32\Sysprep\sysprep.exe" /generalize /oobe /quit /mode:vm `
    "/unattend:C:\Program Files\Cloudbase Solutions\Cloudbase-Init\conf\Unattend.xml"
if ($LASTEXITCODE -ne 0) { throw "sysprep failed with exit code $LASTEXITCODE" }
