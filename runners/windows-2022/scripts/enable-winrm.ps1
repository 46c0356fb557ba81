# Runs at the end of the unattended install (FirstLogonCommands): opens WinRM over HTTP on the build
# network so Packer can provision. cleanup.ps1 closes it again before the image is generalised.
$ErrorActionPreference = 'Stop'
Get-NetConnectionProfile | Set-NetConnectionProfile -NetworkCategory Private
winrm quickconfig -quiet -force
winrm set winrm/config/service/auth '@{Basic="true"}'
winrm set winrm/config/service '@{AllowUnencrypted="true"}'
New-NetFirewallRule -DisplayName 'WinRM HTTP (Packer)' -Direction Inbound -Protocol TCP -LocalPort 5985 -Action Allow | Out-Null
