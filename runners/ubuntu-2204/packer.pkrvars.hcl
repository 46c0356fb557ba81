# Example values. Copy to packer.auto.pkrvars.hcl (ignored by git) and fill in real ones.
proxmox_url       = "https://pve1.example.org:8006/api2/json"
proxmox_username  = "packer@pve!build"
proxmox_token     = "00000000-0000-0000-0000-000000000000"
proxmox_node      = "pve1"
ssh_password      = "change-me"
ssh_password_hash = "$6$change-me$generate.with.openssl.passwd.-6"

# Optional overrides (defaults shown):
# proxmox_insecure = false
# template_vmid    = 9000
# template_name    = "ubuntu-2204-runner-template"
# iso_file         = "local:iso/ubuntu-22.04.5-live-server-amd64.iso"
# storage_pool     = "local-lvm"
# bridge           = "vmbr0"
# runner_version   = "2.336.0"
# runner_sha256    = ""
