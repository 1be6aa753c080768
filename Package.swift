// swift-tools-version:6.0
import PackageDescription

/// hmpipe: a staged, resumable data-pipeline framework (`Pipeline`) and the H&M recommendation
/// pipeline built on it (`Stages`), driven by the `hmpipe` command. Imports point one way:
/// hmpipe → Stages, S3Remote → Pipeline → CZstd, CSpawn (a command stage's process supervisor), CWriteback; Stages → COpenBLAS, CXGBoost (gradient-boosted ranking),
/// CIntrinsics (a header: prefetch, the target's vector register count and an 8-float FMA, which Swift lacks). Linux only: the system layer calls Glibc.
let package = Package(
  name: "hmpipe",
  products: [
    .executable(name: "hmpipe", targets: ["hmpipe"]),
    .library(name: "Pipeline", targets: ["Pipeline"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
    .package(url: "https://github.com/swift-server/async-http-client", from: "1.20.0"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.60.0"),
  ],
  targets: [
    .systemLibrary(
      name: "CZstd",
      pkgConfig: "libzstd",
      providers: [.apt(["libzstd-dev"])]
    ),
    .systemLibrary(
      name: "COpenBLAS",
      pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev"])]
    ),
    // fork/exec of a command stage's program under a supervisor: what must run between fork and
    // exec cannot be written in Swift.
    .target(name: "CSpawn"),
    .target(
      name: "Pipeline",
      dependencies: ["CZstd", "CSpawn", "CWriteback", .product(name: "Crypto", package: "swift-crypto")]
    ),
    // The team cache on any S3-compatible service: the S3 API, SigV4 signing, transfers.
    .target(
      name: "S3Remote",
      dependencies: [
        "Pipeline", .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "Crypto", package: "swift-crypto"),
      ]
    ),
    .systemLibrary(name: "CIntrinsics"),
    // A header: Linux's sync_file_range, to start an artifact's writeback as its frames are written.
    .systemLibrary(name: "CWriteback"),
    .systemLibrary(name: "CXGBoost", providers: [.apt(["libxgboost-dev"])]),
    .target(name: "Stages", dependencies: ["Pipeline", "COpenBLAS", "CIntrinsics", "CXGBoost"]),
    .executableTarget(
      name: "hmpipe",
      dependencies: ["Stages", "Pipeline", "S3Remote", .product(name: "ArgumentParser", package: "swift-argument-parser")]
    ),
    // A tiny driver with toy stages: proves Pipeline knows nothing about H&M, and gives the
    // crash, lock and concurrency tests a process they can kill.
    .executableTarget(name: "pipeline-toy", dependencies: ["Pipeline"], path: "Tests/PipelineToy"),
    .executableTarget(name: "artifact-bench", dependencies: ["Pipeline", "Stages"], path: "bench/ArtifactBench"),
    // The artifact reader as a libFuzzer target (bench/fuzz.sh); a plain build replays a corpus.
    .executableTarget(name: "artifact-fuzz", dependencies: ["Pipeline"], path: "bench/ArtifactFuzz"),
    .target(name: "TestSupport", dependencies: ["Pipeline"], path: "Tests/TestSupport"),
    .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "pipeline-toy", "TestSupport"]),
    .testTarget(name: "StagesTests", dependencies: ["Stages", "Pipeline", "TestSupport"], exclude: ["Fixtures"]),
    .testTarget(name: "hmpipeTests", dependencies: ["hmpipe", "Pipeline", "S3Remote", "TestSupport"]),
  ],
  swiftLanguageModes: [.v6]
)
