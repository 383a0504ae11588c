#!/usr/bin/env bash
# Runs every test: installs MariaDB if missing, checks the crate walls,
# builds the binaries the integration tests spawn, then `cargo test` over
# the whole workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/check-layers.sh
cargo build --workspace --bins
cargo test --workspace "$@"
