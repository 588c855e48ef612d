// The PocketPDS Android library. `assemble` first builds libpocketpds_ffi for arm64-v8a,
// armeabi-v7a and x86_64 with cargo-ndk (profile mobile-release, 16 KB page alignment) into
// src/main/jniLibs, and generates the Kotlin bindings from the host build of the library into
// src/generated/kotlin (neither is committed).
import org.gradle.api.tasks.Exec

plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

val repositoryRoot: File = rootDir.parentFile
val cargoTargetDir: String = System.getenv("CARGO_TARGET_DIR") ?: File(repositoryRoot, "target").path
val jniLibsDir = layout.projectDirectory.dir("src/main/jniLibs")
val generatedDir = layout.projectDirectory.dir("src/generated/kotlin")
val hostLibrary = if (System.getProperty("os.name").startsWith("Mac")) "libpocketpds_ffi.dylib" else "libpocketpds_ffi.so"

android {
    namespace = "dev.pocketpds"
    compileSdk = 35
    ndkVersion = "27.2.12479018"

    defaultConfig {
        minSdk = 24
        consumerProguardFiles("consumer-rules.pro")
        ndk {
            abiFilters += listOf("arm64-v8a", "armeabi-v7a", "x86_64")
        }
    }

    sourceSets {
        getByName("main") {
            kotlin.srcDirs("src/main/kotlin", "src/common/kotlin", "src/generated/kotlin")
            jniLibs.srcDirs("src/main/jniLibs")
        }
    }

    packaging {
        // Stored uncompressed and page-aligned in the APK, loaded in place (16 KB page devices too).
        jniLibs.useLegacyPackaging = false
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    implementation("net.java.dev.jna:jna:5.18.1@aar")
    api("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.10.2")
    implementation("androidx.core:core-ktx:1.15.0")
}

val cargoNdk by tasks.registering(Exec::class) {
    description = "Builds libpocketpds_ffi for the Android ABIs with cargo-ndk (16 KB pages)."
    workingDir = repositoryRoot
    // Panic locations name `tokio-1.x/src/…`, not this machine's cargo home (smaller, and no build
    // machine's paths in the app).
    val cargoHome = System.getenv("CARGO_HOME") ?: "${System.getProperty("user.home")}/.cargo"
    val remap = File(cargoHome, "registry/src").listFiles().orEmpty()
        .joinToString("") { " --remap-path-prefix=${it.path}/=" }
    environment("RUSTFLAGS", "-C link-arg=-Wl,-z,max-page-size=16384$remap")
    // The cdylib alone (with the staticlib and rlib types beside it, the shared LTO unit keeps more
    // code: +2.2 MB) and its relocations packed in Android's format (API 23+, −0.43 MB on arm64):
    // bindings/footprint.sh measures the same link.
    commandLine(
        "cargo", "ndk",
        "-t", "arm64-v8a", "-t", "armeabi-v7a", "-t", "x86_64",
        "--platform", "24",
        "-o", jniLibsDir.asFile.path,
        "rustc", "--locked", "--profile", "mobile-release", "-p", "pocketpds-ffi", "--lib",
        "--crate-type", "cdylib", "--",
        "-C", "link-arg=-Wl,--pack-dyn-relocs=android",
    )
}

val hostBuild by tasks.registering(Exec::class) {
    description = "Builds the host libpocketpds_ffi and uniffi-bindgen (bindings are read from the host library)."
    workingDir = repositoryRoot
    commandLine("cargo", "build", "--locked", "-p", "pocketpds-ffi", "-p", "pocketpds-uniffi-bindgen")
}

val generateBindings by tasks.registering(Exec::class) {
    description = "Generates the Kotlin bindings (package dev.pocketpds) with uniffi-bindgen in library mode."
    dependsOn(hostBuild)
    workingDir = repositoryRoot
    doFirst { generatedDir.asFile.deleteRecursively() }
    commandLine(
        "$cargoTargetDir/debug/uniffi-bindgen", "generate",
        "--library", "$cargoTargetDir/debug/$hostLibrary",
        "--language", "kotlin", "--config", "uniffi.toml", "--no-format",
        "--out-dir", generatedDir.asFile.path,
    )
}

tasks.named("preBuild") {
    dependsOn(cargoNdk, generateBindings)
}
