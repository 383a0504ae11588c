#!/usr/bin/env bash
# The main job: the DM tutorial (seed-tutorial.md) on a local cluster, on the
# tutorial's own ports (3307-3309, 4000, 8261-8264) with the files in dm-cnf/.
# Pass --free-ports to run beside servers that already use those ports.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cargo build --workspace --bins
cargo run -q -p dm-tests --bin seed-tutorial -- "$@"
