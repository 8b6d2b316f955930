#!/bin/sh
# Builds (once) a Debian 12 (bookworm) image with kernel 6.1, auditd 3.0.9 and sshd for the
# real-kernel comparison tests, and extracts its kernel and initrd so qemu can boot it with
# -kernel/-initrd (no bootloader). Everything lands in the state dir; a finished build is
# reused (marker file), so only the first run pays for debootstrap.
#   usage: build.sh STATE_DIR
# Needs root (debootstrap, chroot), debootstrap, e2fsprogs (mkfs.ext4 -d: no loop device).
set -eu
STATE=${1:?state dir}
MIRROR=${FM_KERNEL_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$STATE"
if [ -f "$STATE/ready" ]; then exit 0; fi
ROOT="$STATE/rootfs"
rm -rf "$ROOT" "$STATE/disk.img"
command -v debootstrap >/dev/null || { echo "debootstrap missing: apt-get install -y debootstrap qemu-system-x86 qemu-utils" >&2; exit 2; }

# The packages of a stock Debian 12 audit host; minbase keeps the boot short under TCG.
debootstrap --variant=minbase \
  --include=linux-image-amd64,systemd-sysv,udev,openssh-server,auditd,procps,iproute2,kmod,ifupdown,isc-dhcp-client,psmisc \
  bookworm "$ROOT" "$MIRROR"

[ -f "$STATE/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C fleetmend-kernel-test -f "$STATE/id_ed25519"
mkdir -p "$ROOT/root/.ssh"
cp "$STATE/id_ed25519.pub" "$ROOT/root/.ssh/authorized_keys"
chmod 700 "$ROOT/root/.ssh"; chmod 600 "$ROOT/root/.ssh/authorized_keys"

echo fm-kvm >"$ROOT/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 fm-kvm\n' >"$ROOT/etc/hosts"
printf '/dev/vda / ext4 defaults,errors=remount-ro 0 1\n' >"$ROOT/etc/fstab"
# Interface names stay eth0 (net.ifnames=0 on the command line); qemu's slirp serves DHCP.
printf 'auto lo\niface lo inet loopback\nauto eth0\niface eth0 inet dhcp\n' >"$ROOT/etc/network/interfaces"
# No DNS inside the VM: a reverse lookup per login would only add noise to the timings.
printf 'UseDNS no\n' >"$ROOT/etc/ssh/sshd_config.d/fleetmend.conf"
# Stock auditd.conf and rules.d are kept as installed (Debian defaults: -b 8192,
# --backlog_wait_time 60000, -f 1): the tests change them at runtime like the transcripts.
chroot "$ROOT" systemctl enable ssh auditd networking >/dev/null 2>&1 || true
chroot "$ROOT" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer >/dev/null 2>&1 || true
chroot "$ROOT" passwd -d root >/dev/null

cp "$ROOT"/boot/vmlinuz-* "$STATE/vmlinuz"
cp "$ROOT"/boot/initrd.img-* "$STATE/initrd.img"
rm -rf "$ROOT/var/cache/apt/archives/"*.deb
truncate -s 3G "$STATE/disk.img"
mkfs.ext4 -q -F -L fmroot -d "$ROOT" "$STATE/disk.img"
rm -rf "$ROOT"
ls "$STATE"/boot* >/dev/null 2>&1 || true
date -u +%FT%TZ >"$STATE/ready"
