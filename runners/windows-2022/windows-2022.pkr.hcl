# Windows Server 2022 runner template for pve-runners: unattended install (Autounattend.xml on a
# generated CD with the VirtIO drivers from the virtio-win ISO), build tooling, QEMU guest agent,
# cloudbase-init, the Actions runner (unregistered) and run-once.ps1, then sysprep.
#   packer init runners/windows-2022 && packer build runners/windows-2022

packer {
  required_plugins {
    proxmox = {
      version = ">= 1.2.2"
      source  = "github.com/hashicorp/proxmox"
    }
  }
}

source "proxmox-iso" "windows-2022" {
  proxmox_url              = var.proxmox_url
  username                 = var.proxmox_username
  token                    = var.proxmox_token
  insecure_skip_tls_verify = var.proxmox_insecure
  node                     = var.proxmox_node

  vm_id                = var.template_vmid
  vm_name              = var.template_name
  template_description = "pve-runners Windows Server 2022 runner; actions/runner ${var.runner_version}; built ${timestamp()}"
  tags                 = "pve-runners-template"

  boot_iso {
    type     = "ide"
    index    = 0
    iso_file = var.iso_file
    unmount  = true
  }

  additional_iso_files {
    type     = "ide"
    index    = 1
    iso_file = var.virtio_iso_file
    unmount  = true
  }

  additional_iso_files {
    type             = "ide"
    index            = 3
    iso_storage_pool = var.iso_storage_pool
    cd_label         = "UNATTEND"
    cd_content = {
      "Autounattend.xml" = templatefile("${path.root}/Autounattend.xml.pkrtpl", {
        # The password lands in XML: escape what would end an element or start an entity.
        password   = replace(replace(replace(var.winrm_password, "&", "&amp;"), "<", "&lt;"), ">", "&gt;")
        image_name = var.image_name
      })
    }
    cd_files = ["${path.root}/scripts/enable-winrm.ps1"]
    unmount  = true
  }

  os              = "win11"
  cpu_type        = "host"
  cores           = var.cores
  memory          = var.memory
  scsi_controller = "virtio-scsi-single"
  qemu_agent      = true

  disks {
    type         = "scsi"
    disk_size    = var.disk_size
    storage_pool = var.storage_pool
    io_thread    = true
    discard      = true
  }

  network_adapters {
    model    = "virtio"
    bridge   = var.bridge
    firewall = false
  }

  # cloudbase-init reads this drive as a config drive (Proxmox uses configdrive2 for Windows guests).
  cloud_init              = true
  cloud_init_storage_pool = var.storage_pool

  communicator   = "winrm"
  winrm_username = "Administrator"
  winrm_password = var.winrm_password
  winrm_timeout  = "2h"
  winrm_use_ssl  = false
}

build {
  sources = ["source.proxmox-iso.windows-2022"]

  provisioner "powershell" {
    scripts = ["${path.root}/scripts/install-base.ps1"]
  }

  provisioner "windows-restart" {
    restart_timeout = "30m"
  }

  provisioner "powershell" {
    environment_vars = [
      "RUNNER_VERSION=${var.runner_version}",
      "RUNNER_SHA256=${var.runner_sha256}",
      "CLOUDBASE_INIT_MSI_URL=${var.cloudbase_init_msi_url}",
    ]
    scripts = ["${path.root}/scripts/install-runner.ps1", "${path.root}/scripts/install-cloudbase-init.ps1"]
  }

  provisioner "file" {
    source      = "${path.root}/scripts/run-once.ps1"
    destination = "C:/actions-runner/run-once.ps1"
  }

  # delivery: guest-agent: the pve-runners-agent scheduled task (install-runner.ps1) runs this at startup
  provisioner "file" {
    source      = "${path.root}/scripts/start-agent-delivery.ps1"
    destination = "C:/actions-runner/start-agent-delivery.ps1"
  }

  provisioner "powershell" {
    scripts = ["${path.root}/scripts/cleanup.ps1"]
  }
}
