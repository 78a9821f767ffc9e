#!/usr/bin/env bash
# Checks that no module imports one above it in the layering (README "Architecture"). SwiftPM
# already refuses an import of a module a target does not depend on; this also catches an import
# of a transitive dependency that skips a layer's intent, and C modules used outside their owner.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A allowed=(
  [UltraGateSupport]="Synchronization"
  [UltraGateJSON]="UltraGateSupport"
  [UltraGateHTTP]="UltraGateSupport CUltraGateShims"
  [UltraGateCache]="UltraGateJSON UltraGateSupport CLMDB CUltraGateShims"
  [UltraGateUpstream]="UltraGateHTTP UltraGateJSON UltraGateSupport CCurl CUltraGateShims"
  [UltraGateProviders]="UltraGateUpstream UltraGateHTTP UltraGateJSON UltraGateSupport"
  [UltraGate]="UltraGateProviders UltraGateCache UltraGateUpstream UltraGateHTTP UltraGateJSON UltraGateSupport Synchronization"
  [UltraGateBench]="UltraGateJSON UltraGateSupport CUltraGateShims"
  [ultragate]="UltraGate UltraGateBench UltraGateProviders UltraGateCache UltraGateUpstream UltraGateHTTP UltraGateJSON UltraGateSupport"
)
system="Foundation Glibc Darwin Dispatch FoundationEssentials Synchronization"
bad=0
for module in "${!allowed[@]}"; do
  while IFS=: read -r file _ line; do
    imported=$(sed -E 's/^(@testable |@_implementationOnly |internal |private |package |public )?import (struct |enum |class |func )?([A-Za-z_]+).*/\3/' <<<"$line")
    case " ${allowed[$module]} $system " in
      *" $imported "*) ;;
      *) echo "layering: $file imports $imported, which $module may not use" >&2; bad=1 ;;
    esac
  done < <(grep -rnE '^(@testable |@_implementationOnly |internal |private |package |public )?import ' "Sources/$module" --include='*.swift' || true)
done
[ "$bad" -eq 0 ] && echo "layering: every import follows the module graph"
exit "$bad"
