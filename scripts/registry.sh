#!/usr/bin/env bash
# Starts Debian's docker-registry on 127.0.0.1:PORT with its storage under DIR,
# unless a registry already answers there. Prints the registry's PID file.
#
# Usage: registry.sh DIR [PORT]
set -euo pipefail

dir=${1:?usage: registry.sh DIR [PORT]}
port=${2:-5000}

if curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1; then
  echo "a registry already answers on 127.0.0.1:$port"
  exit 0
fi

mkdir -p "$dir/storage"
cat >"$dir/config.yml" <<CONFIG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
CONFIG

nohup docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
echo $! >"$dir/registry.pid"
for _ in $(seq 50); do
  if curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1; then
    echo "registry listening on 127.0.0.1:$port (pid $(cat "$dir/registry.pid"))"
    exit 0
  fi
  sleep 0.2
done
echo "the registry did not start; see $dir/registry.log" >&2
exit 1
