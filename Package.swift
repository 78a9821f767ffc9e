// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "UltraGate",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ultragate", targets: ["ultragate"]),
        .library(name: "UltraGate", targets: ["UltraGate"]),
    ],
    targets: [
        // System libraries, reached through pkg-config.
        .systemLibrary(
            name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(
            name: "CLMDB", path: "Sources/CLMDB", pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]),
        // Our own C shims: epoll, eventfd, accept4 (not in Swift's Glibc module).
        .target(name: "CUltraGateShims", path: "Sources/CUltraGateShims"),
        // All the logic lives here, so tests and benchmarks call the same code.
        .target(
            name: "UltraGate",
            dependencies: ["CCurl", "CLMDB", "CUltraGateShims"],
            path: "Sources/UltraGate",
            linkerSettings: [.linkedLibrary("m")]),
        .executableTarget(name: "ultragate", dependencies: ["UltraGate"], path: "Sources/ultragate"),
        .executableTarget(
            name: "ultragate-microbench", dependencies: ["UltraGate"], path: "Benchmarks/Micro"),
        .testTarget(name: "UltraGateTests", dependencies: ["UltraGate"], path: "Tests/UltraGateTests"),
    ],
    swiftLanguageModes: [.v6]
)
