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

echo "== Kotlin bindings on the JVM"
# The phone bindings' Kotlin suite (JUnit 5 through JNA against the host libpocketpds_ffi). It needs a
# JDK and Maven; install them when missing (as root, or through sudo).
if ! command -v mvn >/dev/null || ! command -v javac >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y default-jdk-headless maven
  elif command -v sudo >/dev/null; then
    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y default-jdk-headless maven
  else
    echo "a JDK and Maven are needed: apt-get install default-jdk-headless maven" >&2
    exit 1
  fi
fi
android/jvm-test.sh

echo "== end-to-end tests"
# The browser test drives the system Chromium; install it when missing (as root, or through sudo).
if ! command -v chromium >/dev/null && [ -z "${CHROMIUM_PATH:-}" ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
  elif command -v sudo >/dev/null; then
    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
  else
    echo "chromium not found: install it (apt-get install chromium) or set CHROMIUM_PATH" >&2
    exit 1
  fi
fi
export CHROMIUM_PATH="${CHROMIUM_PATH:-$(command -v chromium)}"
# The OAuth cluster test puts a real nginx in front of two nodes; install it when missing.
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ] && [ -z "${NGINX_PATH:-}" ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nginx-light || \
      DEBIAN_FRONTEND=noninteractive apt-get install -y nginx
  elif command -v sudo >/dev/null; then
    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y nginx-light || \
      sudo DEBIAN_FRONTEND=noninteractive apt-get install -y nginx
  else
    echo "nginx not found: install it (apt-get install nginx-light) or set NGINX_PATH" >&2
    exit 1
  fi
fi
# The handle resolution test runs a real DNS server (dnsmasq); install it when missing.
if ! command -v dnsmasq >/dev/null && [ ! -x /usr/sbin/dnsmasq ] && [ -z "${DNSMASQ_PATH:-}" ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y dnsmasq-base
  elif command -v sudo >/dev/null; then
    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y dnsmasq-base
  else
    echo "dnsmasq not found: install it (apt-get install dnsmasq-base) or set DNSMASQ_PATH" >&2
    exit 1
  fi
fi
cargo build -p pocketpds --locked
POCKETPDS_BIN="$CARGO_TARGET_DIR/debug/pocketpds" node --test e2e/tests/*.test.mjs
