// swift-tools-version:5.9
// PocketPDS for iOS (and macOS, where `swift test` runs): the Swift facade over the generated
// bindings, and the Rust library as a binary target — PocketPDSFFI.xcframework, built by
// ./build-xcframework.sh (which also writes Sources/PocketPDS/Generated/pocketpds.swift).
import PackageDescription

let package = Package(
    name: "PocketPDS",
    platforms: [.iOS(.v16), .macOS(.v13)],
    products: [
        .library(name: "PocketPDS", targets: ["PocketPDS"]),
    ],
    targets: [
        .binaryTarget(name: "PocketPDSFFI", path: "PocketPDSFFI.xcframework"),
        .target(
            name: "PocketPDS",
            dependencies: ["PocketPDSFFI"],
            path: "Sources/PocketPDS",
            linkerSettings: [.linkedFramework("Security"), .linkedFramework("SystemConfiguration")]
        ),
        .testTarget(
            name: "PocketPDSTests",
            dependencies: ["PocketPDS"],
            path: "Tests/PocketPDSTests"
        ),
    ]
)
