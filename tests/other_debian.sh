#!/usr/bin/env bash
# Run `./dev test` on the other Debian release (13 "trixie" from 12, 12
# "bookworm" from 13) in a chroot made with debootstrap: its HDF5 (1.14 or
# 1.10), its compilers and its Python, with the Python packages from PyPI.
#
#   bash tests/other_debian.sh [ROOT] [pytest args...]
#
# ROOT (default data/other-debian) holds the chroot (about 1.5 GB once set
# up; made once, reused). Needs root (debootstrap, chroot, mount) and
# deb.debian.org. The working tree is copied in with `git clone` of HEAD,
# so commit first.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
suite=trixie
case "$(cut -d. -f1 /etc/debian_version 2>/dev/null)" in
    13|trixie*) suite=bookworm ;;
esac
ROOT=$(realpath -m "${1:-data/other-debian}")/$suite
shift || true

if [ ! -x "$ROOT/bin/bash" ]; then
    command -v debootstrap >/dev/null || {
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
    echo "== debootstrap $suite into $ROOT"
    mkdir -p "$ROOT"
    debootstrap --variant=minbase "$suite" "$ROOT" http://deb.debian.org/debian >/dev/null
fi
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# This machine's certificate bundle and pip settings (a proxy may need them).
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/root/host-ca.crt"
mounts=()
for m in proc dev dev/pts; do
    mkdir -p "$ROOT/$m"
    if ! mountpoint -q "$ROOT/$m"; then
        case $m in
            proc) mount -t proc proc "$ROOT/proc" ;;
            dev) mount --bind /dev "$ROOT/dev" ;;
            dev/pts) mount -t devpts devpts "$ROOT/dev/pts" ;;
        esac
        mounts=("$ROOT/$m" "${mounts[@]}")
    fi
done
cleanup() { for m in "${mounts[@]}"; do umount "$m" || true; done; }
trap cleanup EXIT

rm -rf "$ROOT/root/chunkwise"
git clone -q "$REPO" "$ROOT/root/chunkwise"
chroot "$ROOT" env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive PIP_CERT=/root/host-ca.crt \
    SSL_CERT_FILE=/root/host-ca.crt PIP_DEFAULT_TIMEOUT=180 \
    bash -c "set -e
             apt-get update -qq
             apt-get install -y -qq python3 python3-venv python3-dev git ca-certificates >/dev/null
             cat /etc/debian_version; python3 --version
             cd /root/chunkwise && ./dev test $*"
