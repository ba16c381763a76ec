#!/usr/bin/env bash
# Builds a small OCI image from busybox-static, offline, and pushes it to a
# registry. The image runs busybox httpd on port 8080 unless a command is given.
#
# Usage: build-image.sh REGISTRY REPOSITORY:TAG
#   e.g. build-image.sh 127.0.0.1:5000 skiff-examples/web:1
set -euo pipefail

registry=${1:?usage: build-image.sh REGISTRY REPOSITORY:TAG}
reference=${2:?usage: build-image.sh REGISTRY REPOSITORY:TAG}

work=$(mktemp -d /tmp/skiff-image.XXXXXX)
trap 'rm -rf "$work"' EXIT

umoci init --layout "$work/oci"
umoci new --image "$work/oci:image"
umoci unpack --image "$work/oci:image" "$work/bundle" >/dev/null

rootfs="$work/bundle/rootfs"
mkdir -p "$rootfs"/{bin,sbin,etc,tmp,srv/www,proc,sys,dev,root}
chmod 1777 "$rootfs/tmp"
cp /bin/busybox "$rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [[ "$applet" == busybox ]] || ln -sf busybox "$rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
echo '<html><body>skiff example image</body></html>' >"$rootfs/srv/www/index.html"

umoci repack --image "$work/oci:image" "$work/bundle" >/dev/null
umoci config --image "$work/oci:image" \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.workingdir / \
  --config.exposedports 8080/tcp \
  --config.entrypoint '' \
  --config.cmd /bin/httpd --config.cmd -f --config.cmd -p --config.cmd 8080 \
  --config.cmd -h --config.cmd /srv/www \
  --architecture amd64 --os linux

skopeo copy --quiet --dest-tls-verify=false \
  "oci:$work/oci:image" "docker://$registry/$reference"
echo "pushed $registry/$reference"
