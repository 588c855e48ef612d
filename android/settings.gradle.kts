// The Android side of PocketPDS: the library (AAR with the native libpocketpds_ffi for each ABI,
// the generated Kotlin bindings, the facade, a foreground Service and a Keystore SecretStore) and a
// sample app. Build with Gradle 8.14+ and an Android SDK + NDK r27+: `gradle -p android assemble`.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "pocketpds-android"
include(":pocketpds", ":sample")
