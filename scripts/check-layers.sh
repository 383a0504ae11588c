#!/usr/bin/env bash
# The architecture's crate walls, checked (README.md, "Architecture"): which
# of the project's crates each crate may reach, directly or not. Fails,
# naming the wall, when one is broken. (The wall inside the worker, the MySQL
# client library named only in the ports' adapters, is worker/tests/walls.rs.)
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
broken() {
    echo "layer check: $*" >&2
    status=1
}

# crate -> the project crates it may reach (its normal dependencies, transitively).
declare -A allowed=(
    [dm-proto]=""
    [dm-rules]="dm-proto"
    [dm-master]="dm-proto dm-rules"
    [dm-worker]="dm-proto dm-rules"
    [dm-worker-testkit]="dm-proto dm-rules dm-worker"
    [dm-ctl]="dm-proto"
)
for crate in "${!allowed[@]}"; do
    reached=$(cargo tree -q -p "$crate" -e normal --prefix none \
        | grep -o '^dm-[a-z-]*' | sort -u | grep -vx "$crate" || true)
    for dep in $reached; do
        case " ${allowed[$crate]} " in
            *" $dep "*) ;;
            *) broken "$crate depends on $dep (it may reach only: ${allowed[$crate]:-no project crate})" ;;
        esac
    done
done

if [ "$status" -eq 0 ]; then
    echo "layer check: every wall holds"
fi
exit "$status"
