#!/usr/bin/env bash
# Installs the Debian packages skiff needs to build, run and test, skipping
# those already present. Safe to run repeatedly.
set -euo pipefail

# Each entry: a file the package provides, then the package name.
required=(
  /usr/bin/protoc protobuf-compiler
  /usr/sbin/runc runc
  /usr/lib/cni/bridge containernetworking-plugins
  /usr/bin/docker-registry docker-registry
  /usr/bin/skopeo skopeo
  /usr/bin/umoci umoci
  /bin/busybox busybox-static
  /usr/bin/etcd etcd-server
  /usr/bin/containerd containerd
  /usr/sbin/iptables iptables
  /usr/bin/ip iproute2
  /usr/bin/curl curl
)

missing=()
for ((i = 0; i < ${#required[@]}; i += 2)); do
  if [[ ! -e "${required[i]}" ]]; then
    missing+=("${required[i + 1]}")
  fi
done

# busybox-static and the dynamic busybox package both provide /bin/busybox;
# the test images need the static one.
if ! file -L /bin/busybox 2>/dev/null | grep -q 'statically linked'; then
  if ! dpkg -s busybox-static >/dev/null 2>&1; then
    missing+=(busybox-static)
  fi
fi

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "missing packages: ${missing[*]}; run as root or install them with apt-get" >&2
  exit 1
fi

echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
