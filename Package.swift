// swift-tools-version:6.0
import PackageDescription

// The module graph is the request path's layering (README "Architecture"): an arrow may only point
// down this list, and scripts/check-layers.sh refuses any import outside it.
//
//   ultragate (executable: CLI) ──► UltraGate, UltraGateBench
//   UltraGate (gateway: endpoints, validation, orchestration, metrics, config)
//       ──► UltraGateProviders, UltraGateCache, UltraGateUpstream, UltraGateHTTP, UltraGateJSON, UltraGateSupport
//   UltraGateProviders (adapters, translators, SSE, mock) ──► UltraGateUpstream, UltraGateHTTP, UltraGateJSON
//   UltraGateUpstream (libcurl transport) ──► UltraGateHTTP
//   UltraGateCache (SHA-256, LMDB, response cache) ──► UltraGateJSON
//   UltraGateHTTP (HTTP/1.1 syntax, epoll server and event loop) ──► UltraGateSupport
//   UltraGateJSON (JSON value, parser, writers) ──► UltraGateSupport
//   UltraGateSupport (clock, queues, chunk streams)
//   UltraGateBench (load generator) ──► UltraGateJSON

// Release builds of the library modules (Benchmarks/README.md, "Module split"):
// - `-cross-module-optimization`: hot calls cross module boundaries (the JSON parser, chunk
//   streams, queues, header lookups), so each module exports its bodies for specialization and
//   inlining in the others; without it generic code ran unspecialized (runtime metadata lookups).
// - `-enforce-exclusivity=unchecked`: `package` stored properties of classes can no longer be
//   proven free of overlapping access inside one module, so every access paid a runtime check
//   (~2k instructions per cache hit). Debug and test builds keep the checks.
// SwiftPM takes unsafe flags from a root package only: a package that depends on UltraGate by URL
// would have to drop them (or depend on a tagged build without them).
let releaseSettings: [SwiftSetting] = [
    .unsafeFlags(["-cross-module-optimization", "-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

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
        // Our own C shims: epoll, eventfd, accept4 (not in Swift's Glibc module), SHA-NI.
        .target(name: "CUltraGateShims", path: "Sources/CUltraGateShims"),

        .target(name: "UltraGateSupport", path: "Sources/UltraGateSupport", swiftSettings: releaseSettings),
        .target(name: "UltraGateJSON", dependencies: ["UltraGateSupport"], path: "Sources/UltraGateJSON", swiftSettings: releaseSettings),
        .target(name: "UltraGateHTTP", dependencies: ["UltraGateSupport", "CUltraGateShims"],
                path: "Sources/UltraGateHTTP", swiftSettings: releaseSettings),
        .target(name: "UltraGateCache", dependencies: ["UltraGateJSON", "UltraGateSupport", "CLMDB", "CUltraGateShims"],
                path: "Sources/UltraGateCache", swiftSettings: releaseSettings),
        .target(name: "UltraGateUpstream", dependencies: ["UltraGateHTTP", "UltraGateSupport", "CCurl", "CUltraGateShims"],
                path: "Sources/UltraGateUpstream", swiftSettings: releaseSettings),
        .target(name: "UltraGateProviders", dependencies: ["UltraGateUpstream", "UltraGateHTTP", "UltraGateJSON", "UltraGateSupport"],
                path: "Sources/UltraGateProviders", swiftSettings: releaseSettings),
        .target(
            name: "UltraGate",
            dependencies: ["UltraGateProviders", "UltraGateCache", "UltraGateUpstream", "UltraGateHTTP", "UltraGateJSON",
                           "UltraGateSupport"],
            path: "Sources/UltraGate",
            swiftSettings: releaseSettings,
            linkerSettings: [.linkedLibrary("m")]),
        .target(name: "UltraGateBench", dependencies: ["UltraGateJSON", "UltraGateSupport", "CUltraGateShims"],
                path: "Sources/UltraGateBench", swiftSettings: releaseSettings),
        .executableTarget(name: "ultragate", dependencies: ["UltraGate", "UltraGateBench"], path: "Sources/ultragate"),
        .executableTarget(
            name: "ultragate-microbench", dependencies: ["UltraGate", "UltraGateProviders", "UltraGateCache", "UltraGateUpstream", "UltraGateHTTP", "UltraGateJSON", "UltraGateSupport"], path: "Benchmarks/Micro"),
        // What the test targets share: fake upstreams and providers, the gateway harness, contract checks.
        .target(name: "UltraGateTesting", dependencies: ["UltraGate", "UltraGateBench", "UltraGateProviders", "UltraGateCache", "UltraGateUpstream", "UltraGateHTTP", "UltraGateJSON", "UltraGateSupport"], path: "Tests/UltraGateTesting"),
        // One test target per module, each testing its module through its own API.
        .testTarget(name: "UltraGateSupportTests", dependencies: ["UltraGateSupport", "UltraGateTesting"], path: "Tests/UltraGateSupportTests"),
        .testTarget(name: "UltraGateJSONTests", dependencies: ["UltraGateJSON", "UltraGateTesting"], path: "Tests/UltraGateJSONTests"),
        .testTarget(name: "UltraGateHTTPTests", dependencies: ["UltraGateHTTP", "UltraGateTesting"], path: "Tests/UltraGateHTTPTests"),
        .testTarget(name: "UltraGateCacheTests", dependencies: ["UltraGateCache", "UltraGateTesting"], path: "Tests/UltraGateCacheTests"),
        .testTarget(name: "UltraGateUpstreamTests", dependencies: ["UltraGateUpstream", "UltraGateTesting"], path: "Tests/UltraGateUpstreamTests"),
        .testTarget(name: "UltraGateProvidersTests", dependencies: ["UltraGateProviders", "UltraGateTesting"], path: "Tests/UltraGateProvidersTests"),
        .testTarget(name: "UltraGateTests", dependencies: ["UltraGate", "UltraGateTesting"], path: "Tests/UltraGateTests"),
        .testTarget(name: "UltraGateBenchTests", dependencies: ["UltraGateBench", "UltraGateTesting"], path: "Tests/UltraGateBenchTests"),
        .testTarget(name: "ultragateTests", dependencies: ["ultragate", "UltraGateTesting"], path: "Tests/ultragateTests"),
    ],
    swiftLanguageModes: [.v6]
)
