// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "pipetop",
    platforms: [.macOS(.v14)],
    products: [
        // The runtime and its store, for Swift services that run their own handlers on pipetop.
        .library(name: "PipetopCore", targets: ["PipetopCore"]),
        .executable(name: "pipetop", targets: ["pipetop"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
    ],
    targets: [
        .target(
            name: "PipetopCore",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        // The car-marketplace workload of `pipetop demo`: also used by tests and the benchmark.
        .target(name: "PipetopDemo", dependencies: ["PipetopCore"]),
        .executableTarget(
            name: "pipetop",
            dependencies: [
                "PipetopCore", "PipetopDemo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "PipetopCoreTests", dependencies: ["PipetopCore", "PipetopDemo", "pipetop"]),
    ]
)
