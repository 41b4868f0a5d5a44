#!/bin/bash
# Runs a command chrooted into ROOT, a temporary directory laid out like the
# admin container's file system (the Dockerfile at the series' base: the
# scripts in /usr/sbin, sshd_config in /etc/ssh, the ec2-instance-connect
# package in /opt/aws/bin), so the start script runs byte-identical to the
# patched tree, absolute paths and all.
#
#   unshare --mount --propagation private -- bash enter-sandbox.sh ROOT CMD [ARG...]
#
# The host's programs and libraries (/usr/bin, /usr/lib, ...) are bind-mounted
# read-only into ROOT; ROOT's own /usr/sbin, /usr/local/bin, /etc, /opt, /home,
# /run and /.bottlerocket belong to the test. The mounts live in the private
# mount namespace only and vanish with it.
set -euo pipefail

root="${1:?usage: enter-sandbox.sh ROOT CMD [ARG...]}"
shift

# Never mount in the host's namespace: unshare(1) must have made a new one.
if [ "$(readlink /proc/self/ns/mnt)" = "$(readlink /proc/1/ns/mnt)" ]; then
  echo "enter-sandbox.sh: run me under unshare --mount --propagation private" >&2
  exit 125
fi

for dir in bin sbin lib lib32 lib64 libx32 usr/bin usr/lib usr/lib32 usr/lib64 usr/libx32 usr/libexec usr/share; do
  if [ -L "/${dir}" ]; then
    [ -e "${root}/${dir}" ] || ln -s "$(readlink "/${dir}")" "${root}/${dir}"
  elif [ -d "/${dir}" ]; then
    mkdir -p "${root}/${dir}"
    mount --bind "/${dir}" "${root}/${dir}"
    mount -o remount,bind,ro "${root}/${dir}"
  fi
done
mkdir -p "${root}/dev"
mount --bind /dev "${root}/dev"

# The environment of a container started from the image: Docker's default PATH.
exec chroot "${root}" /usr/bin/env -i \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  HOME=/root LC_ALL=C \
  "$@"
