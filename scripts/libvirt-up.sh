#!/usr/bin/env bash
# Bring up libvirtd (qemu:///system) on a machine without systemd (see DESIGN.md, "Real guest").
#
#   bash scripts/libvirt-up.sh
#
# Idempotent: installs only missing packages, edits qemu.conf only when needed, starts
# virtlogd / libvirtd only when they are not running, then waits until
# `virsh -c qemu:///system list` answers. A second run is a no-op that takes well under 1 s.
set -euo pipefail

PKGS=(
    libvirt-daemon              # libvirtd, virtlogd
    libvirt-daemon-driver-qemu  # qemu connection driver
    libvirt-clients             # virsh
    qemu-system-x86
    busybox-static              # guest initramfs (scripts/build-guest-image.sh)
    cpio
    libvirt-dev
    pkg-config
)
QEMU_CONF=/etc/libvirt/qemu.conf
URI=qemu:///system
WAIT_S=${LIBVIRT_UP_WAIT_S:-30}
LOG_DIR=/var/log/libvirt

say() { echo "libvirt-up: $*"; }
die() { echo "libvirt-up: FAILED: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (fix: sudo bash scripts/libvirt-up.sh)"

# --- 1. packages --------------------------------------------------------------------------
missing=()
for p in "${PKGS[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [[ $st == installed ]] || missing+=("$p")
done
if ((${#missing[@]})); then
    say "installing: ${missing[*]}"
    # If a postinst starts libvirtd before qemu.conf is right, step 4 restarts it.
    export DEBIAN_FRONTEND=noninteractive
    apt_install() { apt-get install -y -q --no-install-recommends "${missing[@]}"; }
    if ! apt_install >/tmp/libvirt-up-apt.log 2>&1; then
        apt-get update -q >>/tmp/libvirt-up-apt.log 2>&1 \
            || die "apt-get update failed, see /tmp/libvirt-up-apt.log (fix: check the Debian mirror in /etc/apt/sources.list*)"
        apt_install >>/tmp/libvirt-up-apt.log 2>&1 \
            || die "apt-get install ${missing[*]} failed, see /tmp/libvirt-up-apt.log"
    fi
fi

# --- 2. qemu.conf: run guests as root ---------------------------------------------------------
# Without this libvirt sees /dev/kvm while probing as root but not as the qemu user, throws
# its capability cache away and re-probes on every domain start (~44 s each).
conf_changed=0
mkdir -p /etc/libvirt
if ! { [[ -f $QEMU_CONF ]] && grep -qE '^\s*user\s*=\s*"root"\s*$' "$QEMU_CONF" \
        && grep -qE '^\s*group\s*=\s*"root"\s*$' "$QEMU_CONF"; }; then
    touch "$QEMU_CONF"
    # drop any other active user=/group= settings, then append ours
    sed -i -E '/^\s*(user|group)\s*=/d' "$QEMU_CONF"
    printf '%s\n' '# bootflow (scripts/libvirt-up.sh): run qemu as root, see DESIGN.md "Real guest"' \
        'user = "root"' 'group = "root"' >>"$QEMU_CONF"
    conf_changed=1
    say "set user/group = \"root\" in $QEMU_CONF"
fi

# --- 3. users and folders ---------------------------------------------------------------------
getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
if ! id -u libvirt-qemu >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin \
        --gid libvirt-qemu libvirt-qemu
    say "created user libvirt-qemu"
fi
mkdir -p /run/libvirt /run/libvirt/qemu "$LOG_DIR" "$LOG_DIR/qemu" \
    /var/lib/libvirt/qemu /var/lib/libvirt/images /var/cache/libvirt/qemu

# --- 4. daemons -------------------------------------------------------------------------------
running() {  # running NAME  -> 0 when a process with exactly that name exists
    local pidf=/run/$1.pid pid
    if [[ -s $pidf ]]; then
        pid=$(<"$pidf")
        if kill -0 "$pid" 2>/dev/null && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]]; then
            return 0
        fi
    fi
    pgrep -x "$1" >/dev/null 2>&1
}

if ! running virtlogd; then
    say "starting virtlogd"
    virtlogd -d || die "virtlogd -d failed (fix: look at $LOG_DIR, remove a stale /run/virtlogd.pid)"
fi

if [[ $conf_changed == 1 ]] && running libvirtd; then
    # a libvirtd started before the qemu.conf fix must be restarted to pick it up
    pid=$(cat /run/libvirtd.pid 2>/dev/null || true)
    if [[ -n $pid ]] && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == libvirtd ]]; then
        say "restarting libvirtd (pid $pid) to apply $QEMU_CONF"
        kill "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    else
        say "WARNING: libvirtd runs without /run/libvirtd.pid; restart it yourself to apply $QEMU_CONF"
    fi
fi

if ! running libvirtd; then
    say "starting libvirtd (log: $LOG_DIR/libvirtd.log)"
    LIBVIRT_LOG_OUTPUTS="3:file:$LOG_DIR/libvirtd.log" libvirtd -d \
        || die "libvirtd -d failed (fix: see $LOG_DIR/libvirtd.log, remove a stale /run/libvirtd.pid)"
fi

# --- 5. wait until it answers -----------------------------------------------------------------
deadline=$((SECONDS + WAIT_S))
until virsh -q -c "$URI" list >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
        err=$(virsh -q -c "$URI" list 2>&1 | tail -1 || true)
        die "virsh -c $URI list still fails after ${WAIT_S}s: ${err} (fix: see $LOG_DIR/libvirtd.log, then rerun bash scripts/libvirt-up.sh)"
    fi
    sleep 0.2
done
say "ok: $URI answers (libvirtd pid $(cat /run/libvirtd.pid 2>/dev/null || pgrep -x libvirtd | head -1))"
