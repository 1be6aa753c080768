import Pipeline

/// A dense factor matrix, each row padded to a whole number of `SIMD8<Float>` lanes with zeros (the
/// padding stays zero through training, so it never changes a dot product). Its memory is asked for
/// in huge pages: ALS reads rows at random, and with 4 KiB pages most of those reads would also miss
/// the TLB. A class: one matrix, updated in place.
public final class FactorMatrix: @unchecked Sendable {
  public let rows: Int
  public let factors: Int
  public let lanes: Int
  /// `rows × lanes` vectors, row-major.
  public let storage: UnsafeMutableBufferPointer<SIMD8<Float>>

  public init(rows: Int, factors: Int) {
    self.rows = rows
    self.factors = factors
    lanes = (factors + 7) / 8
    storage = HugePages.allocate(SIMD8<Float>.self, count: rows * lanes)
    storage.initialize(repeating: .zero)
  }

  deinit { storage.deallocate() }

  /// Rows of `factors` floats, unpadded, as a flat collection (what the artifacts store).
  public convenience init(rows: Int, factors: Int, flat: TypedValues<Float>) {
    self.init(rows: rows, factors: factors)
    flat.withUnsafeBufferPointer { flat in
      let lanes = self.lanes, out = UnsafeMutableRawPointer(storage.baseAddress!).assumingMemoryBound(to: Float.self)
      for r in 0..<rows { for f in 0..<factors { out[r * lanes * 8 + f] = flat[r * factors + f] } }
    }
  }

  /// Uniform in [0, 0.01) from a counter-based stream, as `implicit` starts: the same for every
  /// thread count.
  public static func random(rows: Int, factors: Int, seed: UInt64, stream: UInt64) -> FactorMatrix {
    let m = FactorMatrix(rows: rows, factors: factors)
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

  /// Row `i`'s dot product with row `j` of `other` (same factor count): the score of a customer
  /// for an article, in one fixed order of operations.
  public func dot(_ i: Int, _ other: FactorMatrix, _ j: Int) -> Float {
    var sum = SIMD8<Float>.zero
    for l in 0..<lanes { sum += storage[i * lanes + l] * other.storage[j * other.lanes + l] }
    return sum.sum()
  }

  /// The rows unpadded, one after another.
  public var flat: [Float] {
    [Float](unsafeUninitializedCapacity: rows * factors) { out, count in
      let lanes = self.lanes, all = UnsafeRawPointer(storage.baseAddress!).assumingMemoryBound(to: Float.self)
      for r in 0..<rows { for f in 0..<factors { out[r * factors + f] = all[r * lanes * 8 + f] } }
      count = rows * factors
    }
  }

  @inline(__always)
  func row(_ r: Int) -> UnsafeMutableBufferPointer<SIMD8<Float>> {
    UnsafeMutableBufferPointer(rebasing: storage[r * lanes..<(r + 1) * lanes])
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
    let ys = UnsafeTransfer(UnsafeBufferPointer(y.storage))
    let partials = Parallel.map(chunks: chunks) { chunk in
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
    var g = partials[0]
    for p in partials.dropFirst() { for i in g.indices { g[i] += p[i] } }
    for j in 0..<f { g[j * lanes + j / 8][j % 8] += regularization }
    return g
  }

  /// Re-solves every row of `x` against the fixed `y`, given the rows' confidences.
  public static func solve(
    _ x: FactorMatrix, fixed y: FactorMatrix, confidences: ConfidenceMatrix, regularization: Float, cgSteps: Int
  ) {
    precondition(confidences.rowCount == x.rows && x.lanes == y.lanes)
    let gram = gram(y, regularization: regularization)
    let lanes = x.lanes, rows = x.rows
    let chunks = max(1, (rows + rowsPerChunk - 1) / rowsPerChunk)
    gram.withUnsafeBufferPointer { g in
      let shared = UnsafeTransfer((x, UnsafeBufferPointer(y.storage), g))
      Parallel.forEach(chunks: chunks, makeState: { _ in CGScratch(lanes: lanes) }) { scratch, chunk in
        let (x, ys, g) = shared.wrapped
        for r in Parallel.range(chunk, of: chunks, count: rows) {
          let cells = confidences.offsets[r]..<confidences.offsets[r + 1]
          conjugateGradient(x.row(r), cells: cells, confidences, ys, gram: g, lanes: lanes, steps: cgSteps, scratch)
        }
      }
    }
  }

  /// Working memory of one worker: the CG vectors, and the fixed side's rows of the current row's
  /// cells copied together, so the CG passes read them from cache instead of from all over memory.
  final class CGScratch {
    let lanes: Int
    let r, p, ap: UnsafeMutableBufferPointer<SIMD8<Float>>
    private(set) var gathered: UnsafeMutableBufferPointer<SIMD8<Float>>
    private(set) var weights: UnsafeMutableBufferPointer<Float>

    init(lanes: Int) {
      self.lanes = lanes
      r = .allocate(capacity: lanes)
      p = .allocate(capacity: lanes)
      ap = .allocate(capacity: lanes)
      gathered = .allocate(capacity: 256 * lanes)
      weights = .allocate(capacity: 256)
    }

    /// Room for `cells` rows; grows by doubling, so a worker reallocates only a few times.
    func reserve(_ cells: Int) {
      guard cells > weights.count else { return }
      var capacity = weights.count
      while capacity < cells { capacity *= 2 }
      gathered.deallocate()
      weights.deallocate()
      gathered = .allocate(capacity: capacity * lanes)
      weights = .allocate(capacity: capacity)
    }

    deinit {
      for buffer in [r, p, ap, gathered] { buffer.deallocate() }
      weights.deallocate()
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
    s.reserve(cells.count)
    let rows = s.gathered, c = s.weights, n = cells.count
    m.columns.withUnsafeBufferPointer { columns in
      m.confidence.withUnsafeBufferPointer { confidence in
        for (j, i) in cells.enumerated() {
          let from = Int(columns[i]) * lanes, to = j * lanes
          for l in 0..<lanes { rows[to + l] = ys[from + l] }
          c[j] = confidence[i]
        }
      }
    }
    // r = b − A x
    multiply(gram, UnsafeBufferPointer(x), into: r, lanes: lanes)
    for l in 0..<lanes { r[l] = -r[l] }
    for j in 0..<n {
      let y = row(rows, j, lanes)
      let weight = c[j] - (c[j] - 1) * dot(y, UnsafeBufferPointer(x), lanes)
      for l in 0..<lanes { r[l] += y[l] * weight }
    }
    for l in 0..<lanes { p[l] = r[l] }
    var rsOld = dot(UnsafeBufferPointer(r), UnsafeBufferPointer(r), lanes)
    if rsOld < 1e-20 { return }
    for _ in 0..<steps {
      multiply(gram, UnsafeBufferPointer(p), into: ap, lanes: lanes)
      for j in 0..<n {
        let y = row(rows, j, lanes)
        let weight = (c[j] - 1) * dot(y, UnsafeBufferPointer(p), lanes)
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
  static func row(_ rows: UnsafeMutableBufferPointer<SIMD8<Float>>, _ j: Int, _ lanes: Int) -> UnsafeBufferPointer<SIMD8<Float>> {
    UnsafeBufferPointer(rebasing: rows[j * lanes..<(j + 1) * lanes])
  }

  @inline(__always)
  static func item(_ ys: UnsafeBufferPointer<SIMD8<Float>>, _ i: UInt32, _ lanes: Int) -> UnsafeBufferPointer<SIMD8<Float>> {
    UnsafeBufferPointer(rebasing: ys[Int(i) * lanes..<(Int(i) + 1) * lanes])
  }

  /// Two interleaved partial sums: with one, every add waits for the previous one, and the CG
  /// passes are mostly dot products.
  @inline(__always)
  static func dot(_ a: UnsafeBufferPointer<SIMD8<Float>>, _ b: UnsafeBufferPointer<SIMD8<Float>>, _ lanes: Int) -> Float {
    var even = SIMD8<Float>.zero, odd = SIMD8<Float>.zero
    var l = 0
    while l + 2 <= lanes {
      even += a[l] * b[l]
      odd += a[l + 1] * b[l + 1]
      l += 2
    }
    if l < lanes { even += a[l] * b[l] }
    return (even + odd).sum()
  }

  /// out = G v, G symmetric (row j of G is column j). Output lanes go eight at a time in registers
  /// while G's rows stream by in order, so each element of G is loaded once (G outgrows the L1
  /// cache at 64+ factors, and a column-order walk would wait on the L2 for every load); leftover
  /// lanes use four interleaved partial sums.
  @inline(__always)
  static func multiply(
    _ g: UnsafeBufferPointer<SIMD8<Float>>, _ v: UnsafeBufferPointer<SIMD8<Float>>,
    into out: UnsafeMutableBufferPointer<SIMD8<Float>>, lanes: Int
  ) {
    let rows = g.count / lanes
    let scalars = UnsafeRawPointer(v.baseAddress!).assumingMemoryBound(to: Float.self)
    var lane = 0
    while lane + 8 <= lanes {
      var a0 = SIMD8<Float>.zero, a1 = SIMD8<Float>.zero, a2 = SIMD8<Float>.zero, a3 = SIMD8<Float>.zero
      var a4 = SIMD8<Float>.zero, a5 = SIMD8<Float>.zero, a6 = SIMD8<Float>.zero, a7 = SIMD8<Float>.zero
      for j in 0..<rows {
        let s = SIMD8<Float>(repeating: scalars[j]), at = j * lanes + lane
        a0 += g[at] * s
        a1 += g[at + 1] * s
        a2 += g[at + 2] * s
        a3 += g[at + 3] * s
        a4 += g[at + 4] * s
        a5 += g[at + 5] * s
        a6 += g[at + 6] * s
        a7 += g[at + 7] * s
      }
      out[lane] = a0
      out[lane + 1] = a1
      out[lane + 2] = a2
      out[lane + 3] = a3
      out[lane + 4] = a4
      out[lane + 5] = a5
      out[lane + 6] = a6
      out[lane + 7] = a7
      lane += 8
    }
    while lane < lanes {
      var a0 = SIMD8<Float>.zero, a1 = SIMD8<Float>.zero, a2 = SIMD8<Float>.zero, a3 = SIMD8<Float>.zero
      var j = 0
      while j + 4 <= rows {
        a0 += g[j * lanes + lane] * scalars[j]
        a1 += g[(j + 1) * lanes + lane] * scalars[j + 1]
        a2 += g[(j + 2) * lanes + lane] * scalars[j + 2]
        a3 += g[(j + 3) * lanes + lane] * scalars[j + 3]
        j += 4
      }
      while j < rows {
        a0 += g[j * lanes + lane] * scalars[j]
        j += 1
      }
      out[lane] = (a0 + a1) + (a2 + a3)
      lane += 1
    }
  }

  /// The training loss as `implicit` reports it: Σ over all cells of weight × (preference −
  /// prediction)² plus λ(‖X‖² + ‖Y‖²), divided by the sum of the weights (observed cells weigh
  /// their confidence, the others 1). Uses Σᵢ (x·yᵢ)² = xᵀ(YᵀY)x, so it costs one pass over the cells.
  public static func loss(_ x: FactorMatrix, _ y: FactorMatrix, confidences m: ConfidenceMatrix, regularization: Float) -> Double {
    let gram = gram(y)
    let lanes = x.lanes, rows = x.rows
    let chunks = max(1, (rows + rowsPerChunk - 1) / rowsPerChunk)
    let (xs, ys) = (UnsafeBufferPointer(x.storage), UnsafeBufferPointer(y.storage))
    let parts = gram.withUnsafeBufferPointer { g in
      let shared = UnsafeTransfer((xs, ys, g))
      return Parallel.map(chunks: chunks) { chunk -> (Double, Double, Double) in
        let (xs, ys, g) = shared.wrapped
        let gx = UnsafeMutableBufferPointer<SIMD8<Float>>.allocate(capacity: lanes)
        defer { gx.deallocate() }
        var loss = 0.0, confidence = 0.0, norm = 0.0
        for r in Parallel.range(chunk, of: chunks, count: rows) {
          let row = UnsafeBufferPointer(rebasing: xs[r * lanes..<(r + 1) * lanes])
          multiply(g, row, into: gx, lanes: lanes)
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
    let itemNorm = y.storage.reduce(0.0) { $0 + Double(($1 * $1).sum()) }
    let loss = parts.reduce(0.0) { $0 + $1.0 } + Double(regularization) * (parts.reduce(0.0) { $0 + $1.2 } + itemNorm)
    let weights = parts.reduce(0.0) { $0 + $1.1 } + Double(x.rows) * Double(y.rows) - Double(m.columns.count)
    return loss / weights
  }
}
