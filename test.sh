#!/usr/bin/env bash
# Runs every test of PocketPDS, installing what the tests need first.
# Build output goes to CARGO_TARGET_DIR (default: a cache folder outside the clone, reused between runs).
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pocketpds/target}"
export CARGO_TERM_COLOR=never

# Installs Debian packages the tests need (as root, or through sudo); fails with the command to run
# when neither is possible.
install_packages() {
  if [ "$(id -u)" = 0 ]; then
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
  elif command -v sudo >/dev/null; then
    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
  else
    echo "missing packages: install them with apt-get install $*" >&2
    return 1
  fi
}

if ! command -v cargo >/dev/null; then
  echo "cargo not found: install Rust with rustup first" >&2
  exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== format"
cargo fmt --all -- --check
echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The reference PDS (@atproto/pds, in the migration test) needs better-sqlite3, compiled from source
# here (its prebuilt binaries are not on the registry): a C++ compiler and make.
if ! command -v g++ >/dev/null || ! command -v make >/dev/null; then
  install_packages g++ make
fi
npm ci --prefix e2e --no-audit --no-fund
# The primary-over-TLS test makes its certificates with the openssl command.
if ! command -v openssl >/dev/null; then
  install_packages openssl
fi
echo "== rust tests"
cargo test --workspace --locked

echo "== Kotlin bindings on the JVM"
# The phone bindings' Kotlin suite (JUnit 5 through JNA against the host libpocketpds_ffi).
if ! command -v mvn >/dev/null || ! command -v javac >/dev/null; then
  install_packages default-jdk-headless maven
fi
android/jvm-test.sh

echo "== end-to-end tests"
# The browser tests drive the system Chromium.
if ! command -v chromium >/dev/null && [ -z "${CHROMIUM_PATH:-}" ]; then
  install_packages chromium
fi
export CHROMIUM_PATH="${CHROMIUM_PATH:-$(command -v chromium)}"
# The cluster tests put a real nginx in front of the nodes.
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ] && [ -z "${NGINX_PATH:-}" ]; then
  install_packages nginx-light || install_packages nginx
fi
# The handle resolution tests run a real DNS server (dnsmasq).
if ! command -v dnsmasq >/dev/null && [ ! -x /usr/sbin/dnsmasq ] && [ -z "${DNSMASQ_PATH:-}" ]; then
  install_packages dnsmasq-base
fi
# The replica link tests cut and slow a node's link to its primary with Toxiproxy (this kernel has
# no netem); its server comes from the Go module proxy.
if [ -z "${TOXIPROXY_BIN:-}" ]; then
  TOXIPROXY_BIN="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin/server"
  if [ ! -x "$TOXIPROXY_BIN" ]; then
    if command -v go >/dev/null; then
      GOBIN="$(dirname "$TOXIPROXY_BIN")" go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.5.0
    else
      echo "go not found: the Toxiproxy server cannot be installed" >&2
    fi
  fi
  export TOXIPROXY_BIN
fi
# The Pi node test runs `pocketpds` cross-built for aarch64 under qemu-aarch64 (user-mode emulation)
# as one node of a replica cluster: Debian's cross gcc (with the aarch64 libc, which qemu loads) and
# qemu-user. A debug build, kept in CARGO_TARGET_DIR between runs. Without the toolchain the test
# prints a SKIP line naming POCKETPDS_AARCH64_BIN (and fails with CI set).
if ! command -v aarch64-linux-gnu-gcc >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
  install_packages gcc-aarch64-linux-gnu qemu-user || true
fi
if rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu; then
  if command -v aarch64-linux-gnu-gcc >/dev/null; then
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar \
      cargo build -p pocketpds --locked --target aarch64-unknown-linux-gnu
    export POCKETPDS_AARCH64_BIN="$CARGO_TARGET_DIR/aarch64-unknown-linux-gnu/debug/pocketpds"
  fi
else
  echo "!!!!! the aarch64-unknown-linux-gnu Rust target could not be added: the Pi node test will not run" >&2
fi
# The mail tests deliver to a real SMTP server (aiosmtpd).
if ! python3 -c 'import aiosmtpd' 2>/dev/null && ! /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then
  install_packages python3-aiosmtpd
fi
cargo build -p pocketpds --locked
# The scope parser as a program, for the differential test against @atproto/oauth-scopes.
cargo build -p pocketpds-core --example scope_verdicts --locked
POCKETPDS_BIN="$CARGO_TARGET_DIR/debug/pocketpds" node --test e2e/tests/*.test.mjs
