import Foundation
import Pipeline
import TestSupport
import Testing

/// Results must not depend on the BLAS kernel OpenBLAS picks for the processor: the pipeline's
/// BLAS stage (embed-neighbours, with and without PCA) run under every kernel this machine can
/// execute gives the same artifact ids. The embeddings are built to make kernels disagree: many
/// exact duplicates (ties) and rows one ulp apart (near-ties), in a width that leaves edge tiles.
@Suite struct BLASKernelTests {
  /// OpenBLAS core types this processor can run, from its /proc/cpuinfo flags.
  static func supportedKernels() -> [String] {
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let flags = Set(cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ").map(String.init) ?? [])
    var kernels = ["Prescott"]
    if flags.contains("avx") { kernels.append("Sandybridge") }
    if flags.isSuperset(of: ["avx2", "fma"]) { kernels.append("Haswell") }
    if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"]) { kernels.append("SkylakeX") }
    return kernels
  }

  /// A .npy file's bytes: format 1.0, little-endian, C order.
  static func npy(descr: String, shape: [Int], body: [UInt8]) -> [UInt8] {
    let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
    var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(dims)), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    let length = UInt16(header.utf8.count)
    return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xff), UInt8(length >> 8)] + Array(header.utf8) + body
  }

  static func bytes<T>(_ values: [T]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

  /// Embeddings for the real slice's articles: 40 base vectors; a third of the rows copy one
  /// exactly, a third copy one with a single component moved by an ulp, the rest add noise.
  static func writeEmbeddings(in dir: TemporaryDirectory, articles: String) throws {
    let ids = try String(contentsOfFile: articles, encoding: .utf8).split(separator: "\n").dropFirst()
      .map { Int64($0.prefix { $0 != "," })! }
    let dims = 37
    var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next() -> Float {
      seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Float(Int64(bitPattern: seed >> 11) % 2001 - 1000) / 1000
    }
    let base = (0..<(40 * dims)).map { _ in next() }
    var rows: [Float] = []
    for r in 0..<ids.count {
      var row = Array(base[(r % 40) * dims..<(r % 40 + 1) * dims])
      switch r % 3 {
      case 0: break
      case 1: row[r % dims] = row[r % dims].nextUp
      default: for d in 0..<dims { row[d] += next() * 0.05 }
      }
      rows += row
    }
    try FileSystem.writeAtomically(npy(descr: "<f4", shape: [ids.count, dims], body: bytes(rows)), to: dir.path + "/emb.npy")
    try FileSystem.writeAtomically(npy(descr: "<i8", shape: [ids.count], body: bytes(ids)), to: dir.path + "/ids.npy")
  }

  @Test func neighboursAreIdenticalUnderEveryKernel() throws {
    let slice = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("StagesTests/Fixtures/hm-real-slice").path
    let dir = TemporaryDirectory()
    try Self.writeEmbeddings(in: dir, articles: slice + "/articles.csv")
    let images = #""embeddings": "file:emb.npy", "embedding_ids": "file:ids.npy""#
    dir.write(
      "p.json",
      """
      {"stages": [
        {"name": "ingest", "kind": "ingest", "inputs": {"articles": "file:\(slice)/articles.csv",
          "customers": "file:\(slice)/customers.csv", "transactions": "file:\(slice)/transactions_train.csv"}},
        {"name": "knn", "kind": "embed-neighbours", "params": {"k": 12}, "inputs": {"articles": "ingest.articles", \(images)}},
        {"name": "knn_pca", "kind": "embed-neighbours", "params": {"k": 12, "pca_dims": 9}, "inputs": {"articles": "ingest.articles", \(images)}}
      ]}
      """)
    let kernels = Self.supportedKernels()
    var ids: [String: [String]] = [:]
    for kernel in kernels {
      // A store per kernel: every stage computes in that kernel's process.
      let run = try CLITests.hmpipe(
        ["run", "p.json", "--json", "--store", "store-\(kernel)"], in: dir.path,
        environment: ["OPENBLAS_CORETYPE": kernel])
      #expect(run.status == 0, "\(kernel): \(run.stderr)")
      let stages = CLITests.stages(try CLITests.json(run.stdout))
      ids[kernel] = stages.filter { ($0["name"] as? String)?.hasPrefix("knn") == true }
        .map { (($0["outputs"] as? [String: String]) ?? [:])["neighbours"] ?? "missing" }
    }
    #expect(kernels.count >= 2, "this machine runs only \(kernels)")
    for kernel in kernels.dropFirst() {
      #expect(ids[kernel] == ids[kernels[0]], "\(kernel) vs \(kernels[0])")
    }
  }
}
