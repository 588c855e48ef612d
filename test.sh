#!/usr/bin/env bash
# Runs every test of PocketPDS, installing what the tests need first.
# Build output goes to CARGO_TARGET_DIR (default: a cache folder outside the clone, reused between runs).
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pocketpds/target}"
export CARGO_TERM_COLOR=never

if ! command -v cargo >/dev/null; then
  echo "cargo not found: install Rust with rustup first" >&2
  exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== format"
cargo fmt --all -- --check
echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
npm ci --prefix e2e --no-audit --no-fund
echo "== rust tests"
cargo test --workspace --locked
