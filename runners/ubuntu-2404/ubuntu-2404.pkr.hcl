# Ubuntu 24.04 runner template for pve-runners: unattended install from the live-server ISO,
# build tooling, qemu-guest-agent, cloud-init, the Actions runner (unregistered) and run-once.sh,
# cleaned for cloning. The proxmox-iso builder converts the VM into a template at the end.
#   packer init runners/ubuntu-2404 && packer build runners/ubuntu-2404

packer {
  required_plugins {
    proxmox = {
      version = ">= 1.2.2"
      source  = "github.com/hashicorp/proxmox"
    }
  }
}

locals {
  linux_scripts = "${path.root}/../linux"
}

source "proxmox-iso" "ubuntu-2404" {
  proxmox_url              = var.proxmox_url
  username                 = var.proxmox_username
  token                    = var.proxmox_token
  insecure_skip_tls_verify = var.proxmox_insecure
  node                     = var.proxmox_node

  vm_id                = var.template_vmid
  vm_name              = var.template_name
  template_description = "pve-runners Ubuntu 24.04 runner; actions/runner ${var.runner_version}; built ${timestamp()}"
  tags                 = "pve-runners-template"

  boot_iso {
    type             = "scsi"
    iso_file         = var.iso_file != "" ? var.iso_file : null
    iso_url          = var.iso_file == "" ? var.iso_url : null
    iso_checksum     = var.iso_checksum
    iso_storage_pool = var.iso_storage_pool
    iso_download_pve = true
    unmount          = true
  }

  os              = "l26"
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

  # The drive Proxmox fills with each clone's cicustom user-data, meta-data and network config.
  cloud_init              = true
  cloud_init_storage_pool = var.storage_pool

  # Subiquity autoinstall, served by Packer's HTTP server.
  http_content = {
    "/user-data" = templatefile("${path.root}/autoinstall/user-data.pkrtpl", { ssh_password_hash = var.ssh_password_hash })
    "/meta-data" = ""
  }
  boot_wait = "10s"
  boot_command = [
    "<wait>e<wait>",
    "<down><down><down><end>",
    " autoinstall ds=nocloud-net\\;s=http://{{ .HTTPIP }}:{{ .HTTPPort }}/",
    "<f10>"
  ]

  communicator           = "ssh"
  ssh_username           = "packer"
  ssh_password           = var.ssh_password
  ssh_timeout            = "45m"
  ssh_handshake_attempts = 50
}

build {
  sources = ["source.proxmox-iso.ubuntu-2404"]

  provisioner "shell" {
    execute_command  = "sudo -E bash '{{ .Path }}'"
    environment_vars = ["RUNNER_VERSION=${var.runner_version}", "RUNNER_SHA256=${var.runner_sha256}"]
    scripts          = ["${local.linux_scripts}/install-base.sh", "${local.linux_scripts}/install-runner.sh"]
  }

  provisioner "file" {
    source      = "${local.linux_scripts}/run-once.sh"
    destination = "/tmp/run-once.sh"
  }

  # delivery: guest-agent: a unit that runs run-once.sh --agent when cloud-init ran no runcmd
  provisioner "file" {
    source      = "${local.linux_scripts}/pve-runners-agent.service"
    destination = "/tmp/pve-runners-agent.service"
  }

  provisioner "shell" {
    inline = [
      "sudo install -o root -g root -m 0755 /tmp/run-once.sh /opt/actions-runner/run-once.sh",
      "sudo install -o root -g root -m 0644 /tmp/pve-runners-agent.service /etc/systemd/system/pve-runners-agent.service",
      "sudo systemctl enable pve-runners-agent.service",
    ]
  }

  provisioner "shell" {
    execute_command = "sudo -E bash '{{ .Path }}'"
    script          = "${local.linux_scripts}/cleanup.sh"
  }
}
