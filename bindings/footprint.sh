#!/usr/bin/env bash
# Prints the footprint of the phone library (goals, never asserted):
#  - size of the stripped libpocketpds_ffi.so, profile mobile-release, for x86_64-linux and for
#    aarch64-linux (cross-built with Debian's gcc-aarch64-linux-gnu: apt-get install gcc-aarch64-linux-gnu;
#    rustup target add aarch64-unknown-linux-gnu) — goal ≤ 8 MB each;
#  - from Kotlin on the JVM, against the mobile-release library: node start → first served request
#    (goal ≤ 100 ms), CPU used by an idle node over 10 s (goal ≤ 5 ms), RSS growth of a started node
#    (goal ≤ 15 MB).
# Release builds with LTO take a while on a small machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pocketpds/target}"

size_of() { awk -v name="$1" -v bytes="$(wc -c < "$2")" 'BEGIN { printf "%s: %d bytes (%.2f MB)\n", name, bytes, bytes / 1e6 }'; }

# The library is linked as the phone builds link it (android/pocketpds/build.gradle.kts):
#  - as a cdylib alone (`cargo rustc --crate-type cdylib`): built together with the `staticlib` and `lib`
#    crate types, one rustc invocation keeps more code alive in the shared LTO unit (+2.2 MB);
#  - by LLVM's linker (rust-lld, shipped with the Rust toolchain, as the NDK's clang uses lld) with its
#    relative relocations packed: RELR here (glibc 2.36+), Android's packed format in the NDK build
#    (`--pack-dyn-relocs=android`, API 23+).
lld_dir="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/gcc-ld"
#  - with the paths of the crates' sources shortened (`--remap-path-prefix`): panic locations name
#    `tokio-1.x/src/…`, not the builder's cargo home (−60 KB, and no build machine's paths in the app).
link_args=(-C link-arg=-fuse-ld=lld -C "link-arg=-B$lld_dir" -C link-arg=-Wl,-z,pack-relative-relocs)
remap=""
for sources in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do remap+=" --remap-path-prefix=$sources="; done
phone_lib() {
  RUSTFLAGS="$remap" cargo rustc --locked --profile mobile-release -p pocketpds-ffi --lib --crate-type cdylib "$@" \
    -- "${link_args[@]}"
}

phone_lib
size_of "x86_64-linux libpocketpds_ffi.so (stripped)" "$CARGO_TARGET_DIR/mobile-release/libpocketpds_ffi.so"

if command -v aarch64-linux-gnu-gcc >/dev/null && rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
  CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar \
    phone_lib --target aarch64-unknown-linux-gnu
  size_of "aarch64-linux libpocketpds_ffi.so (stripped)" \
    "$CARGO_TARGET_DIR/aarch64-unknown-linux-gnu/mobile-release/libpocketpds_ffi.so"
else
  echo "aarch64-linux: skipped (needs gcc-aarch64-linux-gnu and the aarch64-unknown-linux-gnu Rust target)"
fi

POCKETPDS_PROFILE=mobile-release POCKETPDS_LIBRARY_BUILT=1 android/jvm-test.sh -Dstyle.color=never -Dgroups=footprint -DexcludedGroups=none \
  | grep -o 'footprint:.*'
