#!/usr/bin/env bash
# Builds PocketPDSFFI.xcframework (static libpocketpds_ffi, profile mobile-release) for iOS devices
# (aarch64-apple-ios), the iOS simulator (aarch64-apple-ios-sim + x86_64-apple-ios, merged with lipo)
# and macOS (aarch64-apple-darwin + x86_64-apple-darwin, for `swift test`), and generates the Swift
# bindings (module PocketPDS, C module PocketPDSFFI) into Sources/PocketPDS/Generated.
# Runs on macOS with Xcode and rustup:  ios/build-xcframework.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
profile=mobile-release
targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios aarch64-apple-darwin x86_64-apple-darwin)

rustup target add "${targets[@]}"
for target in "${targets[@]}"; do
  # The static library alone: built beside the cdylib and rlib types, the shared LTO unit keeps more code.
  cargo rustc --locked --profile "$profile" --target "$target" -p pocketpds-ffi --lib --crate-type staticlib
done

# The bindings come from the host build of the library (library mode reads its metadata).
cargo build --locked -p pocketpds-ffi -p pocketpds-uniffi-bindgen
work="$root/ios/build"
rm -rf "$work" "$root/ios/Sources/PocketPDS/Generated" "$root/ios/PocketPDSFFI.xcframework"
mkdir -p "$work/bindings" "$work/headers" "$work/ios-sim" "$work/macos" "$root/ios/Sources/PocketPDS/Generated"
"$CARGO_TARGET_DIR/debug/uniffi-bindgen" generate --library "$CARGO_TARGET_DIR/debug/libpocketpds_ffi.dylib" \
  --language swift --config uniffi.toml --out-dir "$work/bindings"
cp "$work/bindings/pocketpds.swift" "$root/ios/Sources/PocketPDS/Generated/"
cp "$work/bindings/PocketPDSFFI.h" "$work/headers/"
cp "$work/bindings/PocketPDSFFI.modulemap" "$work/headers/module.modulemap"

lib() { echo "$CARGO_TARGET_DIR/$1/$profile/libpocketpds_ffi.a"; }
lipo -create "$(lib aarch64-apple-ios-sim)" "$(lib x86_64-apple-ios)" -output "$work/ios-sim/libpocketpds_ffi.a"
lipo -create "$(lib aarch64-apple-darwin)" "$(lib x86_64-apple-darwin)" -output "$work/macos/libpocketpds_ffi.a"

xcodebuild -create-xcframework \
  -library "$(lib aarch64-apple-ios)" -headers "$work/headers" \
  -library "$work/ios-sim/libpocketpds_ffi.a" -headers "$work/headers" \
  -library "$work/macos/libpocketpds_ffi.a" -headers "$work/headers" \
  -output "$root/ios/PocketPDSFFI.xcframework"
echo "built ios/PocketPDSFFI.xcframework and ios/Sources/PocketPDS/Generated/pocketpds.swift"
