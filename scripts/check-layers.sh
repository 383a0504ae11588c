#!/usr/bin/env bash
# The architecture's walls, checked (README.md, "Architecture"):
# - which of the project's crates each crate may reach, directly or not;
# - the worker's sync and copy see the databases only through the upstream
#   and downstream ports: no MySQL driver type in them.
# Fails, naming the wall, when one is broken.
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

# The sync and the copy speak the ports' vocabulary, not the driver's.
for dir in worker/src/sync worker/src/copy; do
    if hits=$(grep -rlE '\bmysql_(async|common)\b' "$dir"); then
        for f in $hits; do
            broken "$f names the MySQL driver; use the upstream/downstream ports (worker/src/upstream, worker/src/downstream)"
        done
    fi
done

if [ "$status" -eq 0 ]; then
    echo "layer check: every wall holds"
fi
exit "$status"
