# Shared settings and helpers of the VM lab (sourced, not run).
# shellcheck shell=bash

VM_LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_REPO_DIR=$(cd "$VM_LAB_DIR/../.." && pwd)
# Everything built or run lives outside the repository.
VM_CACHE=${SPARKS_VM_CACHE:-$HOME/.cache/stacked-sparks/vm}
VM_RUN=$VM_CACHE/run            # pid files, overlays, consoles, registry data of the running lab
VM_SSH_KEY=$VM_CACHE/ssh/id_ed25519
VM_USER=spark

# The bridge and its network. Nothing else is on it: the VMs have no default route and the host forwards
# nothing between the bridge and any other interface.
VM_BRIDGE=${SPARKS_VM_BRIDGE:-sparksvm0}
VM_NET_PREFIX=10.231.0
VM_NETWORK=$VM_NET_PREFIX.0/24
VM_HOST_IP=$VM_NET_PREFIX.1
VM_MTU=9000   # the taps': jumbo frames pass between the VMs, as on two Sparks' cable (net-up)
VM_REGISTRY=$VM_HOST_IP:5000
VM_IMAGE_REF=$VM_REGISTRY/stacked-sparks/tiny:1

# The VMs: name and last octet of the address (also the tap's and the MAC's suffix).
VM_NAMES=(vm-head vm-worker-1 vm-worker-2)
declare -A VM_OCTET=([vm-head]=11 [vm-worker-1]=12 [vm-worker-2]=13)
VM_MEMORY=${SPARKS_VM_MEMORY:-1024}   # MiB per VM; QEMU adds its own (translation cache capped at 256 MiB)

vm_ip() { echo "$VM_NET_PREFIX.${VM_OCTET[$1]}"; }
vm_tap() { echo "sparksvm-t${VM_OCTET[$1]}"; }
vm_mac() { echo "52:54:00:e7:00:${VM_OCTET[$1]}"; }

log() { printf '[%s vm-lab] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need_root() { [ "$(id -u)" -eq 0 ] || die "run as root (bridge, taps, iptables, debootstrap)"; }

# The Debian packages of the whole VM lab (QEMU, the disk's build, the registry, the host's network tools).
VM_PACKAGES=(qemu-system-x86 qemu-utils debootstrap e2fsprogs docker-registry curl openssh-client iptables iproute2
             util-linux)

# Install the Debian packages given when any is missing.
need_packages() {
    "$VM_REPO_DIR/scripts/system-packages" "$@"
}

# The Debian mirror this machine uses (the first URIs: line), for debootstrap.
debian_mirror() {
    local uri
    uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$uri" ] || uri=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

# A process started by the lab, from its pid file: alive, and still the one we started (its command line
# names a file of the lab's run directory), so a recycled pid is never signalled.
pid_alive() {
    local pidfile=$1 pid
    [ -f "$pidfile" ] || return 1
    pid=$(cat "$pidfile" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$VM_RUN/"
}

# Stop the process of a pid file: TERM, up to WAIT seconds, then KILL. Only that pid.
stop_pidfile() {
    local pidfile=$1 wait=${2:-20} pid i
    if pid_alive "$pidfile"; then
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null || true
        for ((i = 0; i < wait * 5; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$pidfile"
}
