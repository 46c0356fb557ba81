# Inputs of the Ubuntu runner template build. Real values go in an ignored *.auto.pkrvars.hcl
# (copy packer.pkrvars.hcl); secrets can also come from PKR_VAR_<name> environment variables.

variable "proxmox_url" {
  type        = string
  description = "Proxmox API URL, e.g. https://pve1.example.org:8006/api2/json"
}

variable "proxmox_username" {
  type        = string
  description = "API token id for Packer, e.g. packer@pve!build (needs to create VMs and templates)"
}

variable "proxmox_token" {
  type        = string
  sensitive   = true
  description = "Secret of that API token"
}

variable "proxmox_node" {
  type        = string
  description = "Node the template is built on"
}

variable "proxmox_insecure" {
  type        = bool
  default     = false
  description = "Skip TLS verification (only for a self-signed certificate you cannot pin)"
}

variable "template_vmid" {
  type        = number
  default     = 9000
  description = "VMID of the resulting template"
}

variable "template_name" {
  type        = string
  default     = "ubuntu-2204-runner-template"
  description = "Template name; pools.yaml refers to it"
}

variable "iso_file" {
  type        = string
  default     = ""
  description = "ISO already on Proxmox storage, e.g. local:iso/ubuntu-22.04.5-live-server-amd64.iso; empty to download iso_url"
}

variable "iso_url" {
  type        = string
  default     = "https://releases.ubuntu.com/22.04.5/ubuntu-22.04.5-live-server-amd64.iso"
  description = "Where Proxmox downloads the installer ISO from when iso_file is empty"
}

variable "iso_checksum" {
  type        = string
  default     = "file:https://releases.ubuntu.com/22.04.5/SHA256SUMS"
  description = "Checksum of the ISO (sha256:..., or file:URL of a SHA256SUMS)"
}

variable "iso_storage_pool" {
  type        = string
  default     = "local"
  description = "Storage for a downloaded ISO"
}

variable "storage_pool" {
  type        = string
  default     = "local-lvm"
  description = "Storage for the template's disk and cloud-init drive (linked clones stay on it)"
}

variable "bridge" {
  type        = string
  default     = "vmbr0"
  description = "Network bridge of the template (and so of every runner VM)"
}

variable "cores" {
  type        = number
  default     = 2
  description = "Build-time CPU cores (each pool sets its runners' own)"
}

variable "memory" {
  type        = number
  default     = 4096
  description = "Build-time memory in MiB (each pool sets its runners' own)"
}

variable "disk_size" {
  type        = string
  default     = "40G"
  description = "Template disk size"
}

variable "ssh_password" {
  type        = string
  sensitive   = true
  description = "Password of the temporary build user 'packer' (locked before templating)"
}

variable "ssh_password_hash" {
  type        = string
  sensitive   = true
  description = "SHA-512 crypt of ssh_password for the installer: openssl passwd -6"
}

variable "runner_version" {
  type        = string
  default     = "2.336.0"
  description = "actions/runner release baked in; GitHub refuses runners more than 30 days behind the latest"
}

variable "runner_sha256" {
  type        = string
  default     = ""
  description = "SHA-256 of actions-runner-linux-x64-<version>.tar.gz; empty takes it from the release notes"
}
