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
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.25.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.3"),
    ],
    targets: [
        .target(
            name: "PipetopCore",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                // The SQLite C API, for the write path's hot statements (see RawStatement).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "DequeModule", package: "swift-collections"),
                // Latency percentiles per queue (LatencyBuckets: the store keeps its buckets).
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                "CSQLiteConfig",
                // The PostgreSQL store (several runtime nodes on one database).
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Process-wide SQLite settings that only C can make (see its header).
        .target(name: "CSQLiteConfig", linkerSettings: [.linkedLibrary("sqlite3")]),
        // The car-marketplace workload of `pipetop demo`: also used by tests and the benchmark.
        .target(name: "PipetopDemo", dependencies: ["PipetopCore"]),
        .executableTarget(
            name: "pipetop",
            dependencies: [
                "PipetopCore", "PipetopDemo", "PipetopUI", "PipetopTerminal",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The dashboard as pure code (state, update, views, widgets, cell grid, themes): no ncurses.
        .target(
            name: "PipetopUI",
            dependencies: [
                "PipetopCore", "PipetopThemes",
                .product(name: "Yams", package: "Yams"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        // The theme files shipped with the product, as SwiftPM resources (found next to the binary).
        .target(
            name: "PipetopThemes",
            path: "themes",
            resources: [
                .copy("default.yaml"), .copy("light.yaml"), .copy("high-contrast.yaml"),
                .copy("monochrome.yaml"), .copy("dracula.yaml"), .copy("nord.yaml"),
            ]
        ),
        .systemLibrary(name: "CNcursesw", providers: [.apt(["libncurses-dev"])]),
        // The only code that imports ncurses: flush grids, read keys, resize, restore.
        .target(name: "PipetopTerminal", dependencies: ["CNcursesw", "PipetopUI"]),
        .testTarget(
            name: "PipetopUITests",
            dependencies: ["PipetopUI", "PipetopThemes", "PipetopCore", "PipetopDemo", "PipetopTestSupport", "pipetop"],
            exclude: ["Goldens"]
        ),
        // `swift run -c release pipetop-bench`: the figures each issue promises, measured.
        .executableTarget(
            name: "pipetop-bench",
            dependencies: [
                // The live-dashboard figures run the real loop and ncurses backend against the demo.
                "PipetopCore", "PipetopUI", "PipetopTerminal", "PipetopDemo",
                // The SQLite C API: the machine line reads the library version without a connection.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Spawning the real binaries (and tmux) for the end-to-end tests of both test targets.
        .target(name: "PipetopTestSupport", path: "Tests/PipetopTestSupport"),
        .testTarget(
            name: "PipetopCoreTests",
            dependencies: [
                "PipetopCore", "PipetopDemo", "PipetopTestSupport", "pipetop", "pipetop-bench",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]),
    ]
)
