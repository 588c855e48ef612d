#!/usr/bin/env bash
# Builds the host libpocketpds_ffi and uniffi-bindgen, generates the Kotlin bindings from the library
# (UniFFI library mode, configured by uniffi.toml), and runs the Kotlin JUnit 5 suite of android/jvm
# on the desktop JVM through JNA. Needs: cargo, a JDK (17+), Maven, Node.js (the tests start the
# local PLC directory of e2e/; its npm packages are installed when missing).
#   android/jvm-test.sh [extra Maven arguments, e.g. -Dtest=NodeLifecycleTest]
#   POCKETPDS_PROFILE=mobile-release android/jvm-test.sh   (against the size-optimised library)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pocketpds/target}"
profile="${POCKETPDS_PROFILE:-debug}"

for tool in cargo java mvn node; do
  if ! command -v "$tool" >/dev/null; then
    echo "jvm-test: $tool not found (install it first)" >&2
    exit 1
  fi
done

# The bindings are generated from the debug library (its metadata symbols are never stripped); the
# tests load the library of $POCKETPDS_PROFILE (debug by default, mobile-release for footprints).
cargo build --locked -p pocketpds-ffi -p pocketpds-uniffi-bindgen
# A caller that linked the library itself (bindings/footprint.sh, as the phone builds link it) says
# so with POCKETPDS_LIBRARY_BUILT=1.
if [ "$profile" != debug ] && [ -z "${POCKETPDS_LIBRARY_BUILT:-}" ]; then
  cargo build --locked --profile "$profile" -p pocketpds-ffi
fi
case "$(uname -s)" in
  Darwin) lib_name=libpocketpds_ffi.dylib ;;
  *) lib_name=libpocketpds_ffi.so ;;
esac
lib_dir="$CARGO_TARGET_DIR/$profile"
generated="$root/android/jvm/target/generated/uniffi"
rm -rf "$generated"
"$CARGO_TARGET_DIR/debug/uniffi-bindgen" generate --library "$CARGO_TARGET_DIR/debug/$lib_name" \
  --language kotlin --config "$root/uniffi.toml" --out-dir "$generated" --no-format

if [ ! -f e2e/node_modules/@did-plc/server/package.json ]; then
  npm ci --prefix e2e --no-audit --no-fund
fi

mvn -q -B -f android/jvm/pom.xml test \
  -Dpocketpds.lib.dir="$lib_dir" \
  -Dpocketpds.generated.dir="$generated" \
  -Dpocketpds.root="$root" \
  "$@"
echo "jvm-test: Kotlin suite passed against $lib_dir/$lib_name"
