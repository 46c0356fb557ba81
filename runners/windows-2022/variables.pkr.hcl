# Inputs of the Windows Server 2022 runner template build. Real values go in an ignored
# *.auto.pkrvars.hcl (copy packer.pkrvars.hcl); secrets can also come from PKR_VAR_<name>.

variable "proxmox_url" {
  type        = string
  description = "Proxmox API URL, e.g. https://pve1.example.org:8006/api2/json"
}

variable "proxmox_username" {
  type        = string
  description = "API token id for Packer, e.g. packer@pve!build"
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
  default     = 9100
  description = "VMID of the resulting template"
}

variable "template_name" {
  type        = string
  default     = "windows-2022-runner-template"
  description = "Template name; pools.yaml refers to it"
}

variable "iso_file" {
  type        = string
  description = "Windows Server 2022 ISO on Proxmox storage, e.g. local:iso/SERVER_EVAL_x64FRE_en-us.iso"
}

variable "virtio_iso_file" {
  type        = string
  description = "virtio-win driver ISO on Proxmox storage, e.g. local:iso/virtio-win.iso"
}

variable "image_name" {
  type        = string
  default     = "Windows Server 2022 SERVERSTANDARD"
  description = "Edition to install (the /IMAGE/NAME in install.wim)"
}

variable "iso_storage_pool" {
  type        = string
  default     = "local"
  description = "Storage for the generated answer-file ISO"
}

variable "storage_pool" {
  type        = string
  default     = "local-lvm"
  description = "Storage for the template's disk and cloud-init drive"
}

variable "bridge" {
  type        = string
  default     = "vmbr0"
  description = "Network bridge of the template (and so of every runner VM)"
}

variable "cores" {
  type        = number
  default     = 4
  description = "Build-time CPU cores"
}

variable "memory" {
  type        = number
  default     = 8192
  description = "Build-time memory in MiB"
}

variable "disk_size" {
  type        = string
  default     = "100G"
  description = "Template disk size"
}

variable "winrm_password" {
  type        = string
  sensitive   = true
  description = "Administrator password during the build (sysprep discards it)"
}

variable "runner_version" {
  type        = string
  default     = "2.336.0"
  description = "actions/runner release baked in; GitHub refuses runners more than 30 days behind the latest"
}

variable "runner_sha256" {
  type        = string
  default     = ""
  description = "SHA-256 of actions-runner-win-x64-<version>.zip; empty takes it from the release notes"
}

variable "cloudbase_init_msi_url" {
  type        = string
  default     = "https://www.cloudbase.it/downloads/CloudbaseInitSetup_Stable_x64.msi"
  description = "cloudbase-init installer"
}
