#!/usr/bin/env bash
# Benchmarks (release build): prints measured figures and exits non-zero when
# a target is missed. Usage: scripts/bench.sh [master-failover|worker-failover
# [--rounds N] | full-copy [--rows N] [--threads N] | sync [--transactions N]
# [--compare-row-metadata NO_LOG]]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cargo build --release --workspace --bins
if [ $# -eq 0 ]; then
    set -- master-failover --rounds 10
fi
cargo run --release -q -p dm-tests --bin bench -- "$@"
