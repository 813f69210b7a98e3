#!/bin/sh
# Makes the Secrets the manifests mount, from a directory `shoal cert init` wrote:
#   shoal cert init pki --host shoal-coordinator --host shoal-coordinator.NAMESPACE.svc \
#                       --host shoal-coordinator.NAMESPACE.svc.cluster.local
#   deploy/kubernetes/make-secrets.sh pki [NAMESPACE]          # applies them
#   deploy/kubernetes/make-secrets.sh pki [NAMESPACE] --print  # only prints the YAML
# ca.key is not uploaded: it signs certificates and stays off the cluster.
set -eu
PKI=${1:?usage: make-secrets.sh PKI_DIR [NAMESPACE] [--print]}
NS=${2:-default}
MODE=${3:-}
for f in token ca.crt coordinator.crt coordinator.key worker.crt worker.key; do
  [ -f "$PKI/$f" ] || { echo "make-secrets.sh: $PKI/$f is missing: run shoal cert init $PKI first" >&2; exit 2; }
done
secrets() {
  kubectl create secret generic shoal-token -n "$NS" --dry-run=client -o yaml --from-file=token="$PKI/token"
  echo ---
  kubectl create secret generic shoal-coordinator-tls -n "$NS" --dry-run=client -o yaml \
    --from-file=tls.crt="$PKI/coordinator.crt" --from-file=tls.key="$PKI/coordinator.key" --from-file=ca.crt="$PKI/ca.crt"
  echo ---
  kubectl create secret generic shoal-worker-tls -n "$NS" --dry-run=client -o yaml \
    --from-file=tls.crt="$PKI/worker.crt" --from-file=tls.key="$PKI/worker.key" --from-file=ca.crt="$PKI/ca.crt"
}
if [ "$MODE" = --print ]; then secrets; else secrets | kubectl apply -f -; fi
