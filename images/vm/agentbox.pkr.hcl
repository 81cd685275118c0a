# The agentbox VM image: a Hetzner Cloud snapshot and an EC2 AMI made from
# Debian 12 with everything a workspace VM needs baked in — the packages of
# packages.txt (Docker, Xvfb, noVNC, ...), agentbox's .deb with its units
# enabled, and the workspace image already pulled — so that a VM booted
# from it with INSTALL=baked user-data installs nothing and needs no
# package mirror. See images/vm/README.md.
#
#   packer build -var deb=build/agentbox_0.1.0_amd64.deb \
#     -var workspace_image=ghcr.io/you/agent:1 -only=hcloud.debian12 images/vm
#
# Written for Packer 1.6.6 (Debian 12's packer, whose hcloud and amazon-ebs
# builders are built in); newer Packer needs the hcloud and amazon plugins
# ("packer plugins install github.com/hetznercloud/hcloud" and
# "github.com/hashicorp/amazon").

variable "deb" {
  type        = string
  description = "Path of agentbox_<version>_amd64.deb (make deb)."
}

variable "workspace_image" {
  type        = string
  description = "The workspace container's image, pulled into the VM image (WORKSPACE_IMAGE of the env file)."
}

variable "workspace_user" {
  type    = string
  default = "agent"
}

variable "workspace_uid" {
  type        = number
  default     = 1000
  description = "The workspace user's uid: the one the workspace image's user has (WORKSPACE_UID)."
}

variable "registry_username" {
  type        = string
  default     = ""
  description = "For a private workspace image: registry user; the login is removed before the snapshot."
}

variable "registry_password" {
  type      = string
  default   = env("AGENTBOX_REGISTRY_PASSWORD")
  sensitive = true
}

variable "hcloud_token" {
  type      = string
  default   = env("HCLOUD_TOKEN")
  sensitive = true
}

variable "hcloud_location" {
  type    = string
  default = "fsn1"
}

variable "hcloud_server_type" {
  type    = string
  default = "cx22"
}

variable "aws_region" {
  type    = string
  default = "eu-central-1"
}

variable "aws_instance_type" {
  type    = string
  default = "t3.medium"
}

locals {
  stamp = formatdate("YYYYMMDD-hhmmss", timestamp())
}

source "hcloud" "debian12" {
  token         = var.hcloud_token
  image         = "debian-12"
  location      = var.hcloud_location
  server_type   = var.hcloud_server_type
  ssh_username  = "root"
  snapshot_name = "agentbox-${local.stamp}"
  snapshot_labels = {
    agentbox = "vm-image"
  }
}

source "amazon-ebs" "debian12" {
  region        = var.aws_region
  instance_type = var.aws_instance_type
  ssh_username  = "admin"
  ami_name      = "agentbox-${local.stamp}"
  source_ami_filter {
    # Debian's own account publishes the official Debian 12 AMIs.
    owners      = ["136693071363"]
    most_recent = true
    filters = {
      name                = "debian-12-amd64-*"
      architecture        = "x86_64"
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
  }
  # IMDSv2-only with hop limit 1 is set where the workspace VMs are
  # launched (docs/quickstart.md): Packer 1.6.6's amazon-ebs has neither
  # metadata_options nor imds_support.
  tags = {
    agentbox = "vm-image"
  }
}

build {
  sources = ["source.hcloud.debian12", "source.amazon-ebs.debian12"]

  provisioner "file" {
    source      = "${path.root}/packages.txt"
    destination = "/tmp/agentbox-packages.txt"
  }

  provisioner "file" {
    source      = var.deb
    destination = "/tmp/agentbox.deb"
  }

  provisioner "shell" {
    # root on Hetzner, "admin" with sudo on EC2. The variables go through
    # a file, not the command line: the registry password is one of them.
    use_env_var_file = true
    execute_command  = "chmod +x {{ .Path }}; sudo sh -c '. {{ .EnvVarFile }} && rm -f {{ .EnvVarFile }} && exec {{ .Path }}'"
    script          = "${path.root}/provision.sh"
    environment_vars = [
      "WORKSPACE_IMAGE=${var.workspace_image}",
      "WORKSPACE_USER=${var.workspace_user}",
      "WORKSPACE_UID=${var.workspace_uid}",
      "REGISTRY_USERNAME=${var.registry_username}",
      "REGISTRY_PASSWORD=${var.registry_password}",
    ]
  }
}
