//! `uniffi-bindgen`, pinned to the UniFFI version of the bindings, run in library mode:
//! `uniffi-bindgen generate --library libpocketpds_ffi.so --language kotlin --config uniffi.toml --out-dir …`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
