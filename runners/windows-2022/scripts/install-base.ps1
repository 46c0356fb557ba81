# Packer provisioner: base tooling for Windows runners (Git, 7-Zip, Python, CMake, Visual Studio
# Build Tools) through Chocolatey, and the VirtIO guest agent from the driver ISO.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12

Set-ExecutionPolicy Bypass -Scope Process -Force
Invoke-Expression ((New-Object System.Net.WebClient).DownloadString('https://community.chocolatey.org/install.ps1'))
choco install -y --no-progress git 7zip python cmake
choco install -y --no-progress visualstudio2022buildtools --package-parameters "--add Microsoft.VisualStudio.Workload.VCTools --includeRecommended"

# QEMU guest agent, from the virtio-win ISO Packer attached (lets Proxmox shut the VM down cleanly).
$agent = Get-PSDrive -PSProvider FileSystem | ForEach-Object { Join-Path $_.Root 'guest-agent\qemu-ga-x86_64.msi' } | Where-Object { Test-Path $_ } | Select-Object -First 1
if (-not $agent) { throw 'qemu-ga-x86_64.msi not found on any drive: attach the virtio-win ISO' }
Start-Process msiexec.exe -Wait -ArgumentList '/i', $agent, '/qn', '/norestart'

# runner.env's directory: Administrators and SYSTEM only.
$dir = 'C:\ProgramData\pve-runners'
New-Item -ItemType Directory -Force -Path $dir | Out-Null
icacls $dir /inheritance:r /grant:r 'SYSTEM:(OI)(CI)F' 'Administrators:(OI)(CI)F' | Out-Null
