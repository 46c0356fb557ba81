# Packer provisioner: cloudbase-init, set to read Proxmox's config drive (citype configdrive2) and
# run the cloud-config user-data pve-runners renders (write_files + runcmd) on each clone's first boot.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12

$msi = Join-Path $env:TEMP 'CloudbaseInitSetup.msi'
Invoke-WebRequest -UseBasicParsing -Uri $env:CLOUDBASE_INIT_MSI_URL -OutFile $msi
Start-Process msiexec.exe -Wait -ArgumentList '/i', $msi, '/qn', '/norestart', 'RUN_SERVICE_AS_LOCAL_SYSTEM=1'
Remove-Item $msi

$conf = @'
[DEFAULT]
username=Admin
groups=Administrators
inject_user_password=false
first_logon_behaviour=no
bsdtar_path=C:\Program Files\Cloudbase Solutions\Cloudbase-Init\bin\bsdtar.exe
mtools_path=C:\Program Files\Cloudbase Solutions\Cloudbase-Init\bin\
verbose=true
logdir=C:\Program Files\Cloudbase Solutions\Cloudbase-Init\log\
logfile=cloudbase-init.log
default_log_levels=comtypes=INFO,suds=INFO,iso8601=WARN,requests=WARN
local_scripts_path=C:\Program Files\Cloudbase Solutions\Cloudbase-Init\LocalScripts\
metadata_services=cloudbaseinit.metadata.services.configdrive.ConfigDriveService
plugins=cloudbaseinit.plugins.common.mtu.MTUPlugin,cloudbaseinit.plugins.common.sethostname.SetHostNamePlugin,cloudbaseinit.plugins.common.networkconfig.NetworkConfigPlugin,cloudbaseinit.plugins.common.userdata.UserDataPlugin
allow_reboot=false
stop_service_on_exit=false
check_latest_version=false
'@
foreach ($name in 'cloudbase-init.conf', 'cloudbase-init-unattend.conf') {
    Set-Content -Encoding ASCII -Path "C:\Program Files\Cloudbase Solutions\Cloudbase-Init\conf\$name" -Value $conf
}
