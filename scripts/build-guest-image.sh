#!/usr/bin/env bash
# Build the bootflow test guest (see DESIGN.md, "Real guest"):
#   build/guest/vmlinuz     Debian cloud kernel (apt-get download + dpkg -x)
#   build/guest/initrd.img  busybox-static initramfs whose /init prints
#                           "bootflow-guest: booted" on the serial console and idles
# Boot with kernel cmdline "console=ttyS0 quiet" (build/guest/cmdline).
# Only the Debian package registry is used. Cached: does nothing when both files exist
# (delete build/guest/ to rebuild).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${GUEST_OUT:-$ROOT/build/guest}
CMDLINE="console=ttyS0 quiet"
BOOT_LINE="bootflow-guest: booted"

say() { echo "guest-image: $*"; }
die() { echo "guest-image: FAILED: $*" >&2; exit 1; }

if [[ -s $OUT/vmlinuz && -s $OUT/initrd.img ]]; then
    say "up to date: $OUT/vmlinuz $OUT/initrd.img"
    exit 0
fi

for tool in apt-get apt-cache dpkg gzip find; do
    command -v "$tool" >/dev/null || die "$tool not found (this script needs Debian's apt/dpkg)"
done
if [[ $(dpkg-query -W -f='${db:Status-Status}' busybox-static 2>/dev/null || true) != installed ]]; then
    [[ $(id -u) -eq 0 ]] || die "busybox-static missing (fix: sudo bash scripts/libvirt-up.sh)"
    say "installing busybox-static"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends busybox-static \
        >/dev/null || die "apt-get install busybox-static failed (fix: apt-get update, retry)"
fi
BUSYBOX=/bin/busybox
[[ -x $BUSYBOX ]] || die "$BUSYBOX missing (fix: apt-get install --reinstall busybox-static)"
cpio_help=$("$BUSYBOX" cpio --help 2>&1 || true)
if [[ $cpio_help != *"-o"* ]]; then
    die "$BUSYBOX has no 'cpio -o' (fix: apt-get install --reinstall busybox-static)"
fi

mkdir -p "$OUT"
WORK=$(mktemp -d "$OUT/.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --- kernel -----------------------------------------------------------------------------------
if [[ -s $OUT/vmlinuz ]]; then
    say "kernel: keeping $OUT/vmlinuz"
else
    kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null \
        | awk '$1 == "Depends:" && $2 ~ /^linux-image-.*-cloud-amd64$/ {print $2; exit}')
    [[ -n $kpkg ]] || die "cannot resolve linux-image-cloud-amd64 (fix: apt-get update)"
    say "kernel: downloading $kpkg"
    # apt-get download writes into the current directory; run it as _apt-readable dir
    chmod 0777 "$WORK"
    (cd "$WORK" && apt-get download -q "$kpkg" >/dev/null 2>"$WORK/download.err") \
        || die "apt-get download $kpkg failed: $(tail -1 "$WORK/download.err") (fix: apt-get update)"
    deb=$(ls "$WORK"/"$kpkg"_*.deb)
    dpkg -x "$deb" "$WORK/kernel"
    vmlinuz=$(ls "$WORK"/kernel/boot/vmlinuz-* | head -1)
    [[ -s $vmlinuz ]] || die "no boot/vmlinuz-* in $deb"
    cp "$vmlinuz" "$OUT/vmlinuz.tmp"
    echo "${kpkg} $(basename "$deb")" >"$OUT/kernel-package"
    mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
    say "kernel: $(basename "$vmlinuz") -> $OUT/vmlinuz"
fi

# --- initramfs --------------------------------------------------------------------------------
R=$WORK/rootfs
mkdir -p "$R"/{bin,sbin,dev,proc,sys,tmp,run,etc}
cp "$BUSYBOX" "$R/bin/busybox"
ln -s busybox "$R/bin/sh"
# /dev/console must exist in the archive so the kernel can give /init a stdin/stdout
# before devtmpfs is mounted.
mknod -m 600 "$R/dev/console" c 5 1
mknod -m 666 "$R/dev/null" c 1 3

cat >"$R/init" <<EOF
#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# console=ttyS0: /dev/console is the first serial port, which libvirt writes to a file
if [ -c /dev/ttyS0 ]; then out=/dev/ttyS0; else out=/dev/console; fi
echo "$BOOT_LINE" >"\$out"
while true; do sleep 3600; done
EOF
chmod 0755 "$R/init"

(cd "$R" && find . | "$BUSYBOX" cpio -H newc -o 2>/dev/null) | gzip -9 >"$OUT/initrd.img.tmp"
[[ -s $OUT/initrd.img.tmp ]] || die "empty initramfs archive"
mv "$OUT/initrd.img.tmp" "$OUT/initrd.img"
echo "$CMDLINE" >"$OUT/cmdline"
say "initramfs: $OUT/initrd.img ($(du -h "$OUT/initrd.img" | cut -f1))"
say "done; kernel cmdline: $CMDLINE"
