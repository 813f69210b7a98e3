#!/usr/bin/env bash
# The layers' arrows point only downward (docs/architecture.md): each folder may include
# shoal headers of the areas listed for it, and no others. Prints every include that
# points up and fails if there is one.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
core="aio|compose|core|detail|exec|queue|sync|thread|shoal\.hpp"
declare -A allowed=(
  [runtime/errors]="core/error\.hpp"
  [proto]="proto|core/error\.hpp"
  [runtime/include]="$core"
  [runtime/src]="$core"
  [runtime/codec]="$core|codec"
  [runtime/link]="$core|codec|proto|link"
  [runtime/remote]="$core|codec|proto|link|remote"
  [coordinator]="$core|codec|proto|link|coordinator"
  [worker]="$core|codec|proto|link|remote|worker"
  [cluster]="$core|codec|proto|link|remote|worker|coordinator|cluster"
)
bad=0
for dir in "${!allowed[@]}"; do
  while IFS= read -r line; do
    file="${line%%:*}"
    inc="$(sed -E 's/.*#include [<"]shoal\/([^">]*)[">].*/\1/' <<<"$line")"
    if ! grep -Eq "^(${allowed[$dir]})(/|\.hpp$|$)" <<<"$inc"; then
      echo "up a layer: ${file#$root/} includes shoal/$inc"
      bad=1
    fi
  done < <(grep -rHE '#include [<"]shoal/' "$root/$dir" --include='*.hpp' --include='*.cpp' --include='*.h' || true)
done
if [ "$bad" -ne 0 ]; then exit 1; fi
echo "every include points down a layer"
