#!/usr/bin/env bash
# `make run`: a local registry with an example image, a `skiff server` with
# one node, and the manifests/ examples applied and shown serving HTTP.
set -euo pipefail
cd "$(dirname "$0")/.."

data_dir=${SKIFF_DATA_DIR:-/var/lib/skiff}
registry_port=${SKIFF_REGISTRY_PORT:-5000}
skiff=${SKIFF_BIN:-target/debug/skiff}
export KUBECONFIG="$data_dir/kubeconfig"

mkdir -p "$data_dir"
./scripts/registry.sh "$data_dir/registry" "$registry_port"
./scripts/build-image.sh "127.0.0.1:$registry_port" skiff-examples/web:1
sed "s|127.0.0.1:5000/|127.0.0.1:$registry_port/|" manifests/web.yaml >"$data_dir/web.yaml"

if [[ -f "$data_dir/server.pid" ]] && kill -0 "$(cat "$data_dir/server.pid")" 2>/dev/null; then
  echo "skiff server already running (pid $(cat "$data_dir/server.pid"))"
else
  nohup "$skiff" server --data-dir "$data_dir" >"$data_dir/server.log" 2>&1 &
  echo $! >"$data_dir/server.pid"
  echo "started skiff server (pid $!), log in $data_dir/server.log"
fi

for _ in $(seq 100); do
  if [[ -f "$KUBECONFIG" ]] && kubectl get --raw /readyz >/dev/null 2>&1; then
    break
  fi
  sleep 0.3
done
kubectl get --raw /readyz >/dev/null

for _ in $(seq 100); do
  if kubectl get nodes 2>/dev/null | grep -q ' Ready'; then
    break
  fi
  sleep 0.3
done

kubectl apply -f "$data_dir/web.yaml"
kubectl rollout status deployment/web --timeout=180s
kubectl get deploy,rs,pods -o wide

pod_ip=$(kubectl get pods -l app=web -o jsonpath='{.items[0].status.podIP}')
echo
echo "GET http://$pod_ip:8080/info.txt"
curl -fsS "http://$pod_ip:8080/info.txt"
echo
echo "kubectl works with: export KUBECONFIG=$KUBECONFIG"
echo "stop the server with: kill $(cat "$data_dir/server.pid")"
