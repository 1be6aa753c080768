import Pipeline

/// A dense factor matrix, each row padded to a whole number of `SIMD8<Float>` lanes with zeros (the
/// padding stays zero through training, so it never changes a dot product).
public struct FactorMatrix: Sendable {
  public let rows: Int
  public let factors: Int
  public let lanes: Int
  public internal(set) var storage: [SIMD8<Float>]

  public init(rows: Int, factors: Int) {
    self.rows = rows
    self.factors = factors
    lanes = (factors + 7) / 8
    storage = [SIMD8<Float>](repeating: .zero, count: rows * lanes)
  }

  /// Rows of `factors` floats, unpadded, as a flat array (what the artifacts store).
  public init(rows: Int, factors: Int, flat: some Collection<Float>) {
    self.init(rows: rows, factors: factors)
    for (i, value) in flat.enumerated() { self[i / factors, i % factors] = value }
  }

  /// Uniform in [0, 0.01) from a counter-based stream, as `implicit` starts: the same for every
  /// thread count.
  public static func random(rows: Int, factors: Int, seed: UInt64, stream: UInt64) -> FactorMatrix {
    var m = FactorMatrix(rows: rows, factors: factors)
    for r in 0..<rows {
      var random = CounterRandom(seed: seed, stream: stream, index: UInt64(r))
      for f in 0..<factors { m[r, f] = Float(random.uniform() * 0.01) }
    }
    return m
  }

  public subscript(row: Int, factor: Int) -> Float {
    get { storage[row * lanes + factor / 8][factor % 8] }
    set { storage[row * lanes + factor / 8][factor % 8] = newValue }
  }

  public var flat: [Float] {
    var out = [Float]()
    out.reserveCapacity(rows * factors)
    for r in 0..<rows { for f in 0..<factors { out.append(self[r, f]) } }
    return out
  }
}

/// A sparse matrix by rows (CSR) of confidences: the user × item matrix, or its transpose.
public struct ConfidenceMatrix: Sendable {
  public var offsets: [Int]
  public var columns: [UInt32]
  public var confidence: [Float]
  public var rowCount: Int { offsets.count - 1 }

  public init(offsets: [Int], columns: [UInt32], confidence: [Float]) {
    self.offsets = offsets
    self.columns = columns
    self.confidence = confidence
  }

  /// The transpose, with columns ascending in every row.
  public func transposed(columnCount: Int) -> ConfidenceMatrix {
    var offsets = [Int](repeating: 0, count: columnCount + 1)
    for c in columns { offsets[Int(c) + 1] += 1 }
    for c in 0..<columnCount { offsets[c + 1] += offsets[c] }
    var next = offsets
    var rows = [UInt32](repeating: 0, count: columns.count), values = [Float](repeating: 0, count: columns.count)
    for r in 0..<rowCount {
      for i in self.offsets[r]..<self.offsets[r + 1] {
        let c = Int(columns[i])
        rows[next[c]] = UInt32(r)
        values[next[c]] = confidence[i]
        next[c] += 1
      }
    }
    return ConfidenceMatrix(offsets: offsets, columns: rows, confidence: values)
  }
}

/// Implicit-feedback ALS (Hu, Koren & Volinsky 2008), each half-step solved by a few conjugate-
/// gradient steps per row warm-started from the previous factors (Takács et al. 2011), as the
/// `implicit` package does. A cell's confidence `c` weighs the error of predicting 1; every other
/// cell predicts 0 with weight 1. Every row is solved alone in a fixed order of operations, so the
/// result is the same whatever the thread count.
public enum ImplicitALS {
  static let rowsPerChunk = 512

  /// Gᵀ = YᵀY (+ `regularization` on the diagonal), as `factors` rows of `lanes` vectors. Partial
  /// sums over fixed item ranges, added in order: deterministic.
  public static func gram(_ y: FactorMatrix, regularization: Float = 0) -> [SIMD8<Float>] {
    let lanes = y.lanes, f = y.factors
    let chunks = max(1, min(64, y.rows / 1024))
    let partials = y.storage.withUnsafeBufferPointer { storage in
      let ys = UnsafeTransfer(storage)
      return Parallel.map(chunks: chunks) { chunk in
        var g = [SIMD8<Float>](repeating: .zero, count: f * lanes)
        for r in Parallel.range(chunk, of: chunks, count: y.rows) {
          let row = UnsafeBufferPointer(rebasing: ys.wrapped[r * lanes..<(r + 1) * lanes])
          for j in 0..<f {
            let s = row[j / 8][j % 8]
            if s == 0 { continue }
            for l in 0..<lanes { g[j * lanes + l] += row[l] * s }
          }
        }
        return g
      }
    }
    var g = partials[0]
    for p in partials.dropFirst() { for i in g.indices { g[i] += p[i] } }
    for j in 0..<f { g[j * lanes + j / 8][j % 8] += regularization }
    return g
  }

  /// Re-solves every row of `x` against the fixed `y`, given the rows' confidences.
  public static func solve(
    _ x: inout FactorMatrix, fixed y: FactorMatrix, confidences: ConfidenceMatrix, regularization: Float, cgSteps: Int
  ) {
    precondition(confidences.rowCount == x.rows && x.lanes == y.lanes)
    let gram = gram(y, regularization: regularization)
    let lanes = x.lanes, rows = x.rows
    let chunks = max(1, (rows + rowsPerChunk - 1) / rowsPerChunk)
    x.storage.withUnsafeMutableBufferPointer { xs in
      y.storage.withUnsafeBufferPointer { ys in
        gram.withUnsafeBufferPointer { g in
          let shared = UnsafeTransfer((xs, ys, g))
          Parallel.forEach(chunks: chunks, makeState: { _ in CGScratch(lanes: lanes) }) { scratch, chunk in
            let (xs, ys, g) = shared.wrapped
            for r in Parallel.range(chunk, of: chunks, count: rows) {
              let cells = confidences.offsets[r]..<confidences.offsets[r + 1]
              let row = UnsafeMutableBufferPointer(rebasing: xs[r * lanes..<(r + 1) * lanes])
              conjugateGradient(row, cells: cells, confidences, ys, gram: g, lanes: lanes, steps: cgSteps, scratch)
            }
          }
        }
      }
    }
  }

  /// Working vectors of one worker.
  final class CGScratch {
    let r, p, ap: UnsafeMutableBufferPointer<SIMD8<Float>>
    init(lanes: Int) {
      r = .allocate(capacity: lanes)
      p = .allocate(capacity: lanes)
      ap = .allocate(capacity: lanes)
    }
    deinit {
      r.deallocate()
      p.deallocate()
      ap.deallocate()
    }
  }

  /// Minimises ‖the row's weighted error‖ + λ‖x‖² in `steps` CG steps from the current `x`.
  /// A = G + λI + Σ (c − 1) y yᵀ and b = Σ c y over the row's cells.
  @inline(__always)
  static func conjugateGradient(
    _ x: UnsafeMutableBufferPointer<SIMD8<Float>>, cells: Range<Int>, _ m: ConfidenceMatrix,
    _ ys: UnsafeBufferPointer<SIMD8<Float>>, gram: UnsafeBufferPointer<SIMD8<Float>>, lanes: Int, steps: Int,
    _ s: CGScratch
  ) {
    let r = s.r, p = s.p, ap = s.ap
    // r = b − A x
    multiply(gram, x, into: r, lanes: lanes)
    for l in 0..<lanes { r[l] = -r[l] }
    for i in cells {
      let y = item(ys, m.columns[i], lanes), c = m.confidence[i]
      let weight = c - (c - 1) * dot(y, UnsafeBufferPointer(x), lanes)
      for l in 0..<lanes { r[l] += y[l] * weight }
    }
    for l in 0..<lanes { p[l] = r[l] }
    var rsOld = dot(UnsafeBufferPointer(r), UnsafeBufferPointer(r), lanes)
    if rsOld < 1e-20 { return }
    for _ in 0..<steps {
      multiply(gram, p, into: ap, lanes: lanes)
      for i in cells {
        let y = item(ys, m.columns[i], lanes), c = m.confidence[i]
        let weight = (c - 1) * dot(y, UnsafeBufferPointer(p), lanes)
        for l in 0..<lanes { ap[l] += y[l] * weight }
      }
      let alpha = rsOld / dot(UnsafeBufferPointer(p), UnsafeBufferPointer(ap), lanes)
      for l in 0..<lanes {
        x[l] += p[l] * alpha
        r[l] -= ap[l] * alpha
      }
      let rsNew = dot(UnsafeBufferPointer(r), UnsafeBufferPointer(r), lanes)
      if rsNew < 1e-20 { break }
      let beta = rsNew / rsOld
      for l in 0..<lanes { p[l] = r[l] + p[l] * beta }
      rsOld = rsNew
    }
  }

  @inline(__always)
  static func item(_ ys: UnsafeBufferPointer<SIMD8<Float>>, _ i: UInt32, _ lanes: Int) -> UnsafeBufferPointer<SIMD8<Float>> {
    UnsafeBufferPointer(rebasing: ys[Int(i) * lanes..<(Int(i) + 1) * lanes])
  }

  @inline(__always)
  static func dot(_ a: UnsafeBufferPointer<SIMD8<Float>>, _ b: UnsafeBufferPointer<SIMD8<Float>>, _ lanes: Int) -> Float {
    var sum = SIMD8<Float>.zero
    for l in 0..<lanes { sum += a[l] * b[l] }
    return sum.sum()
  }

  /// out = G v, G symmetric (row j of G is column j).
  @inline(__always)
  static func multiply(
    _ g: UnsafeBufferPointer<SIMD8<Float>>, _ v: UnsafeMutableBufferPointer<SIMD8<Float>>,
    into out: UnsafeMutableBufferPointer<SIMD8<Float>>, lanes: Int
  ) {
    for l in 0..<lanes { out[l] = .zero }
    for lane in 0..<lanes {
      let vs = v[lane]
      for k in 0..<8 {
        let s = vs[k]
        let row = (lane * 8 + k) * lanes
        if row >= g.count { break }
        for l in 0..<lanes { out[l] += g[row + l] * s }
      }
    }
  }

  /// The training loss as `implicit` reports it: Σ over all cells of weight × (preference −
  /// prediction)² plus λ(‖X‖² + ‖Y‖²), divided by the sum of the weights (observed cells weigh
  /// their confidence, the others 1). Uses Σᵢ (x·yᵢ)² = xᵀ(YᵀY)x, so it costs one pass over the cells.
  public static func loss(_ x: FactorMatrix, _ y: FactorMatrix, confidences m: ConfidenceMatrix, regularization: Float) -> Double {
    let gram = gram(y)
    let lanes = x.lanes, rows = x.rows
    let chunks = max(1, (rows + rowsPerChunk - 1) / rowsPerChunk)
    let parts = x.storage.withUnsafeBufferPointer { xs in
      y.storage.withUnsafeBufferPointer { ys in
        gram.withUnsafeBufferPointer { g in
          let shared = UnsafeTransfer((xs, ys, g))
          return Parallel.map(chunks: chunks) { chunk -> (Double, Double, Double) in
            let (xs, ys, g) = shared.wrapped
            let gx = UnsafeMutableBufferPointer<SIMD8<Float>>.allocate(capacity: lanes)
            defer { gx.deallocate() }
            var loss = 0.0, confidence = 0.0, norm = 0.0
            for r in Parallel.range(chunk, of: chunks, count: rows) {
              let row = UnsafeBufferPointer(rebasing: xs[r * lanes..<(r + 1) * lanes])
              multiply(g, UnsafeMutableBufferPointer(mutating: row), into: gx, lanes: lanes)
              loss += Double(dot(row, UnsafeBufferPointer(gx), lanes))
              norm += Double(dot(row, row, lanes))
              for i in m.offsets[r]..<m.offsets[r + 1] {
                let c = Double(m.confidence[i]), s = Double(dot(row, item(ys, m.columns[i], lanes), lanes))
                loss += c * (1 - s) * (1 - s) - s * s
                confidence += c
              }
            }
            return (loss, confidence, norm)
          }
        }
      }
    }
    let itemNorm = y.storage.reduce(0.0) { $0 + Double(($1 * $1).sum()) }
    let loss = parts.reduce(0.0) { $0 + $1.0 } + Double(regularization) * (parts.reduce(0.0) { $0 + $1.2 } + itemNorm)
    let weights = parts.reduce(0.0) { $0 + $1.1 } + Double(x.rows) * Double(y.rows) - Double(m.columns.count)
    return loss / weights
  }
}
