#!/bin/sh
# Builds (once) a Debian 12 (bookworm) image with kernel 6.1, auditd 3.0.9 and sshd for the
# real-kernel comparison tests, and extracts its kernel and initrd so qemu can boot it with
# -kernel/-initrd (no bootloader). Everything lands in the state dir; a finished build is
# reused (marker file), so only the first run pays for debootstrap. CI starts without a cache,
# so the build is kept short (minutes): Debian's cloud kernel, a two-module initrd, no docs.
# The elapsed seconds of each phase go to stderr and to STATE/build-times.txt.
#   usage: build.sh STATE_DIR
# Needs root (debootstrap, chroot), debootstrap, e2fsprogs (mkfs.ext4 -d: no loop device).
set -eu
STATE=${1:?state dir}
MIRROR=${FM_KERNEL_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$STATE"
if [ -f "$STATE/ready" ]; then exit 0; fi
ROOT="$STATE/rootfs"
rm -rf "$ROOT" "$STATE/disk.img" "$STATE/build-times.txt" "$STATE/debootstrap.log"
command -v debootstrap >/dev/null || { echo "debootstrap missing: apt-get install -y debootstrap qemu-system-x86 qemu-utils" >&2; exit 2; }
T0=$(date +%s)
phase() { echo "build.sh: $(($(date +%s) - T0)) s: $*" | tee -a "$STATE/build-times.txt" >&2; }

# The packages of a stock Debian 12 audit host; minbase keeps the boot short under TCG. The
# network is systemd-networkd (part of systemd): ifupdown + dhclient would hold ssh back until
# the lease. The kernel comes in a second step, once its initramfs settings are in place.
# debootstrap's own messages mark its phases (download, extract, unpack, configure).
phase "debootstrap start"
set -f
{ rc=0; debootstrap --variant=minbase \
    --include=systemd-sysv,udev,openssh-server,auditd,procps,iproute2,kmod \
    bookworm "$ROOT" "$MIRROR" 2>&1 || rc=$?; echo $rc >"$STATE/debootstrap.rc"; } | {
  last=
  while IFS= read -r l; do
    echo "$(($(date +%s) - T0)) $l" >>"$STATE/debootstrap.log"
    set -- $l
    case "$1 ${2:-}" in
      "I: Retrieving" | "I: Validating") c=download ;;
      "I: "*) c=${2:-} ;;
      *) continue ;;
    esac
    if [ "$c" != "$last" ]; then last=$c; phase "debootstrap: $l"; fi
  done
}
set +f
[ "$(cat "$STATE/debootstrap.rc")" = 0 ] || { tail -20 "$STATE/debootstrap.log" >&2; echo "debootstrap failed" >&2; exit 1; }
phase "debootstrap done"

# dpkg leaves out docs, man pages and translations of what is installed from here on.
mkdir -p "$ROOT/etc/dpkg/dpkg.cfg.d"
printf '%s\n' 'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' \
  'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/info/*' 'path-exclude=/usr/share/locale/*' \
  >"$ROOT/etc/dpkg/dpkg.cfg.d/01-fleetmend-nodoc"
# Debian's default MODULES=most packs hundreds of drivers into the initrd (slow to build, slow
# to unpack under TCG); the VM's root only needs virtio-pci + virtio-blk (ext4 is built in).
mkdir -p "$ROOT/etc/initramfs-tools/conf.d" "$ROOT/etc/initramfs-tools/hooks"
echo 'MODULES=list' >"$ROOT/etc/initramfs-tools/conf.d/fleetmend.conf"
cat >"$ROOT/etc/initramfs-tools/hooks/fleetmend" <<'HOOK'
#!/bin/sh
[ "${1:-}" = prereqs ] && exit 0
. /usr/share/initramfs-tools/hook-functions
force_load virtio_pci
force_load virtio_blk
HOOK
chmod 755 "$ROOT/etc/initramfs-tools/hooks/fleetmend"
# Nothing installed into the chroot may start a service on the build host.
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"; chmod 755 "$ROOT/usr/sbin/policy-rc.d"
mount -t proc proc "$ROOT/proc"
trap 'umount "$ROOT/proc" 2>/dev/null || true' EXIT
# Debian's cloud kernel: the same 6.1 (CONFIG_HZ=250, audit, ext4 built in, virtio modules),
# 27 MB to download and 105 MB installed instead of 71 MB and 400 MB for linux-image-amd64.
if ! ls "$ROOT"/var/lib/apt/lists/*_Packages >/dev/null 2>&1; then chroot "$ROOT" apt-get -q update >&2; fi
chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends install linux-image-cloud-amd64 >&2
umount "$ROOT/proc"; trap - EXIT
rm -f "$ROOT/usr/sbin/policy-rc.d"
phase "kernel + initramfs installed"

[ -f "$STATE/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C fleetmend-kernel-test -f "$STATE/id_ed25519"
mkdir -p "$ROOT/root/.ssh"
cp "$STATE/id_ed25519.pub" "$ROOT/root/.ssh/authorized_keys"
chmod 700 "$ROOT/root/.ssh"; chmod 600 "$ROOT/root/.ssh/authorized_keys"

echo fm-kvm >"$ROOT/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 fm-kvm\n' >"$ROOT/etc/hosts"
printf '/dev/vda / ext4 defaults,errors=remount-ro 0 1\n' >"$ROOT/etc/fstab"
# Interface names stay eth0 (net.ifnames=0 on the command line); qemu's slirp serves DHCP.
mkdir -p "$ROOT/etc/systemd/network"
printf '[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n' >"$ROOT/etc/systemd/network/10-eth0.network"
# No DNS inside the VM: a reverse lookup per login would only add noise to the timings.
printf 'UseDNS no\n' >"$ROOT/etc/ssh/sshd_config.d/fleetmend.conf"
# Stock auditd.conf and rules.d are kept as installed (Debian defaults: -b 8192,
# --backlog_wait_time 60000, -f 1): the tests change them at runtime like the transcripts.
chroot "$ROOT" systemctl enable ssh auditd systemd-networkd >/dev/null
chroot "$ROOT" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer >/dev/null 2>&1 || true
chroot "$ROOT" passwd -d root >/dev/null

cp "$ROOT"/boot/vmlinuz-* "$STATE/vmlinuz"
cp "$ROOT"/boot/initrd.img-* "$STATE/initrd.img"
# Docs of the debootstrap packages and apt's caches are not needed in the VM.
rm -rf "$ROOT/var/cache/apt/archives/"*.deb "$ROOT/var/cache/apt/"*.bin "$ROOT/var/lib/apt/lists/"*_Packages \
  "$ROOT/usr/share/man/"* "$ROOT/usr/share/info/"* "$ROOT/usr/share/locale/"*
find "$ROOT/usr/share/doc" -type f ! -name copyright -delete
phase "configured ($(du -sm "$ROOT" | cut -f1) MB rootfs, initrd $(($(stat -c %s "$STATE/initrd.img") / 1024)) KiB)"
truncate -s 2G "$STATE/disk.img"
mkfs.ext4 -q -F -L fmroot -d "$ROOT" "$STATE/disk.img"
phase "mkfs.ext4 -d done"
rm -rf "$ROOT" "$STATE/debootstrap.rc"
date -u +%FT%TZ >"$STATE/ready"
phase "ready"
