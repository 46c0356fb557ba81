# Example values. Copy to packer.auto.pkrvars.hcl (ignored by git) and fill in real ones.
proxmox_url      = "https://pve1.example.org:8006/api2/json"
proxmox_username = "packer@pve!build"
proxmox_token    = "00000000-0000-0000-0000-000000000000"
proxmox_node     = "pve1"
iso_file         = "local:iso/SERVER_EVAL_x64FRE_en-us.iso"
virtio_iso_file  = "local:iso/virtio-win.iso"
winrm_password   = "change-me-Str0ng!"

# Optional overrides (defaults shown):
# proxmox_insecure       = false
# template_vmid          = 9100
# template_name          = "windows-2022-runner-template"
# image_name             = "Windows Server 2022 SERVERSTANDARD"
# storage_pool           = "local-lvm"
# bridge                 = "vmbr0"
# runner_version         = "2.336.0"
# runner_sha256          = ""
# cloudbase_init_msi_url = "https://www.cloudbase.it/downloads/CloudbaseInitSetup_Stable_x64.msi"
