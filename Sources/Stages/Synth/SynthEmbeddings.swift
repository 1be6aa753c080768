import Pipeline

/// Image embeddings as an external image model would deliver them: a float32 matrix, one row per
/// article that has an image file, plus the article ids in row order. Rows lie close for the same
/// product, then for the same type, colour and style; about 0.4% of articles have no image (a zero
/// row, as the seed's ResNet features had).
enum SynthEmbeddings {
  static func write(_ catalog: SynthCatalog, dims: Int, seed: UInt64, matrix: String, ids: String) throws {
    let n = catalog.articleCount
    let chunk = 1024
    let parts = Parallel.map(chunks: (n + chunk - 1) / chunk) { c in
      var rows = [Float](repeating: 0, count: min(chunk, n - c * chunk) * dims)
      var component = [Float](repeating: 0, count: dims)
      for a in (c * chunk)..<min(n, (c + 1) * chunk) where catalog.hasImage[a] {
        let p = Int(catalog.productOf[a])
        let base = (a - c * chunk) * dims
        let parts: [(UInt64, UInt64, Float)] = [
          (50, UInt64(catalog.productCodes[p]), 1.0), (51, UInt64(catalog.productType[p]), 0.7),
          (52, UInt64(catalog.colour[a]), 0.5), (53, UInt64(catalog.productStyle[p]), 0.6), (54, UInt64(a), 0.35),
        ]
        for (stream, key, weight) in parts {
          gaussian(seed: seed, stream: stream, key: key, into: &component)
          for d in 0..<dims { rows[base + d] += weight * component[d] }
        }
      }
      return rows
    }
    var header = NumpyFormat.header(descr: "<f4", shape: [n, dims])
    try SynthFiles.write([header] + parts.map { floats in floats.withUnsafeBytes { Array($0) } }, to: matrix)
    header = NumpyFormat.header(descr: "<i8", shape: [n])
    try SynthFiles.write([header, catalog.articleNumbers.withUnsafeBytes { Array($0) }], to: ids)
  }

  /// A fixed random unit-variance vector for (stream, key), scaled to unit length.
  static func gaussian(seed: UInt64, stream: UInt64, key: UInt64, into out: inout [Float]) {
    var rng = CounterRandom(seed: seed, stream: stream, index: key)
    var norm: Float = 0
    for d in out.indices {
      out[d] = Float(rng.normal())
      norm += out[d] * out[d]
    }
    let scale = 1 / max(norm.squareRoot(), 1e-12)
    for d in out.indices { out[d] *= scale }
  }
}
