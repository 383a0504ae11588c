#!/usr/bin/env bash
# The real-process fault runner (release build): the binaries and MariaDB on
# loopback, faults at random from a seed, then a row-for-row verdict.
# Usage: scripts/chaos-run.sh [--duration 10m] [--seed N] [--workers N]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cargo build --release --workspace --bins
exec cargo run --release -q -p chaos --bin chaos-run -- "$@"
