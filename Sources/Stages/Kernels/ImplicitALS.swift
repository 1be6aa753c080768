import CIntrinsics
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
    let storage = UnsafeTransfer(self.storage), lanes = self.lanes
    // In parallel: the first touch of each page (its zeroing by the kernel) is most of the cost.
    Parallel.forEachRow(rows, rowsPerChunk: 4096) { r in
      UnsafeMutableBufferPointer(rebasing: storage.wrapped[r * lanes..<(r + 1) * lanes]).initialize(repeating: .zero)
    }
  }

  /// Calls `body(r, row)` for every row r in parallel, with a pointer to its `factors` floats.
  private func forEachRowOfFloats(_ body: @Sendable (Int, UnsafeMutablePointer<Float>) -> Void) {
    let floats = UnsafeTransfer(UnsafeMutableRawPointer(storage.baseAddress!).assumingMemoryBound(to: Float.self))
    let stride = lanes * 8
    Parallel.forEachRow(rows, rowsPerChunk: 4096) { r in body(r, floats.wrapped + r * stride) }
  }

  deinit { storage.deallocate() }

  /// Rows of `factors` floats, unpadded, as a flat collection (what the artifacts store).
  public convenience init(rows: Int, factors: Int, flat: TypedValues<Float>) {
    self.init(rows: rows, factors: factors)
    flat.withUnsafeBufferPointer { flat in
      guard let base = flat.baseAddress else { return }
      let source = UnsafeTransfer(base)
      forEachRowOfFloats { r, row in row.update(from: source.wrapped + r * factors, count: factors) }
    }
  }

  /// Uniform in [0, 0.01) from a counter-based stream, as `implicit` starts: the same for every
  /// thread count.
  public static func random(rows: Int, factors: Int, seed: UInt64, stream: UInt64) -> FactorMatrix {
    let m = FactorMatrix(rows: rows, factors: factors)
    m.forEachRowOfFloats { r, row in
      var random = CounterRandom(seed: seed, stream: stream, index: UInt64(r))
      for f in 0..<factors { row[f] = Float(random.uniform() * 0.01) }
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

  /// Row `i`'s dot products with rows `js` of `other`, each bit-identical to `dot(i, other, j)`:
  /// eight at a time, so eight independent chains of adds hide each other's latency, with the rows
  /// two steps ahead prefetched (they are scattered over tens of megabytes).
  public func dots(_ i: Int, _ other: FactorMatrix, rows js: UnsafeBufferPointer<Int32>, into out: UnsafeMutablePointer<Float>) {
    let lanes = self.lanes, u = UnsafePointer(storage.baseAddress! + i * lanes)
    let base = UnsafePointer(other.storage.baseAddress!), rowBytes = lanes * MemoryLayout<SIMD8<Float>>.stride
    @inline(__always) func row(_ k: Int) -> UnsafePointer<SIMD8<Float>> { base + Int(js[k]) * lanes }
    @inline(__always) func prefetch(_ k: Int) {
      guard k < js.count else { return }
      let start = UnsafeRawPointer(row(k))
      for offset in stride(from: 0, to: rowBytes, by: 64) { hmpipe_prefetch(start + offset) }
    }
    let ahead = 16, step = 8
    for k in 0..<min(ahead, js.count) { prefetch(k) }
    var k = 0
    while k + step <= js.count {
      for a in 0..<step { prefetch(k + ahead + a) }
      var rows = InlineArray<8, UnsafePointer<SIMD8<Float>>>(repeating: u)
      for a in 0..<step { rows[a] = row(k + a) }
      var sums = InlineArray<8, SIMD8<Float>>(repeating: .zero)
      for l in 0..<lanes {
        let x = u[l]
        for a in 0..<step { sums[a] += x * rows[a][l] }
      }
      for a in 0..<step { out[k + a] = sums[a].sum() }
      k += step
    }
    for tail in k..<js.count { out[tail] = dot(i, other, Int(js[tail])) }
  }

  /// The rows unpadded, one after another.
  public var flat: [Float] {
    [Float](unsafeUninitializedCapacity: rows * factors) { out, count in
      if let base = out.baseAddress {
        let target = UnsafeTransfer(base), factors = self.factors
        forEachRowOfFloats { r, row in (target.wrapped + r * factors).initialize(from: row, count: factors) }
      }
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
    var rows = [UInt32](repeating: 0, count: columns.count), values = [Float](repeating: 0, count: columns.count)
    let offsets = rows.withUnsafeMutableBufferPointer { rows in
      values.withUnsafeMutableBufferPointer { values in
        let out = UnsafeTransfer((rows, values))
        return StableScatter.sort(buckets: columnCount, items: columns.count) { slice, slices, place in
          for r in Parallel.range(slice, of: slices, count: rowCount) {
            for i in self.offsets[r]..<self.offsets[r + 1] {
              if let at = place(Int(columns[i])) {
                out.wrapped.0[at] = UInt32(r)
                out.wrapped.1[at] = confidence[i]
              }
            }
          }
        }
      }
    }
    return ConfidenceMatrix(offsets: offsets, columns: rows, confidence: values)
  }
}

/// Implicit-feedback ALS (Hu, Koren & Volinsky 2008), each half-step solved by a few conjugate-
/// gradient steps per row warm-started from the previous factors (Takács et al. 2011), as the
/// `implicit` package does. A cell's confidence `c` weighs the error of predicting 1; every other
/// cell predicts 0 with weight 1. Rows go four side by side to share loads, but each row's
/// arithmetic is its own fixed order of operations (fused multiply-adds in fixed lanes, fixed
/// reduction trees), so the result is the same whatever the rows beside it, the thread count and
/// the processor's vector width.
public enum ImplicitALS {
  static let rowsPerChunk = 512

  /// G = YᵀY (+ `regularization` on the diagonal), as `factors` rows of `lanes` vectors. Row j of G
  /// is Σᵣ yᵣⱼ yᵣ: for each block of rows, their j-th scalars are laid out together and the same
  /// weighted sum as the CG's gives each row of G. Partial sums over fixed item ranges, added in
  /// order: deterministic. Row j is summed from its own lane (j / 8) on and the lanes before it are
  /// copied from the rows above: G[k][j] is the same products (yᵣₖ yᵣⱼ = yᵣⱼ yᵣₖ, each rounded once in
  /// its multiply-add) added in the same order as G[j][k], so the copy has its bits, for half the work.
  public static func gram(_ y: FactorMatrix, regularization: Float = 0) -> [SIMD8<Float>] {
    let lanes = y.lanes, f = y.factors, block = 32
    let chunks = max(1, min(64, y.rows / 1024))
    let ys = UnsafeTransfer(UnsafePointer(y.storage.baseAddress!))
    let partials = Parallel.map(chunks: chunks) { chunk in
      var g = [SIMD8<Float>](repeating: .zero, count: f * lanes)
      let columns = UnsafeMutablePointer<Float>.allocate(capacity: f * block)
      let sum = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: lanes)
      defer {
        columns.deallocate()
        sum.deallocate()
      }
      let range = Parallel.range(chunk, of: chunks, count: y.rows)
      g.withUnsafeMutableBufferPointer { g in
        for start in stride(from: range.lowerBound, to: range.upperBound, by: block) {
          let count = min(block, range.upperBound - start), rows = ys.wrapped + start * lanes
          for r in 0..<count {
            let scalars = UnsafeRawPointer(rows + r * lanes).assumingMemoryBound(to: Float.self)
            for j in 0..<f { columns[j * block + r] = scalars[j] }
          }
          for j in 0..<f {
            let first = j / 8
            weightedSum(rows, count: count, weights: columns + j * block, lanes: first..<lanes, stride: lanes, into: sum)
            for l in first..<lanes { g[j * lanes + l] += sum[l] }
          }
        }
      }
      return g
    }
    var g = partials[0]
    for p in partials.dropFirst() { for i in g.indices { g[i] += p[i] } }
    for j in 0..<f {
      for k in 0..<(j / 8 * 8) { g[j * lanes + k / 8][k % 8] = g[k * lanes + j / 8][j % 8] }
    }
    for j in 0..<f { g[j * lanes + j / 8][j % 8] += regularization }
    return g
  }

  /// Calls `body` with `lanes` as a constant for the common factor counts (32, 64, 100, 128), so
  /// each gets its own copy of the kernels with their loops unrolled for that width.
  @inline(__always)
  static func withConstantLanes(_ lanes: Int, _ body: (Int) -> Void) {
    switch lanes {
    case 4: body(4)
    case 8: body(8)
    case 13: body(13)
    case 16: body(16)
    default: body(lanes)
    }
  }

  /// Calls `body` with `width` (1...`maxBlockLanes`, the widths of `weightedSum`'s register block)
  /// as a constant, so the block's sums stay in registers whatever the width.
  @inline(__always)
  static func withConstantWidth(_ width: Int, _ body: (Int) -> Void) {
    switch width {
    case 1: body(1)
    case 2: body(2)
    case 3: body(3)
    case 4: body(4)
    case 5: body(5)
    case 6: body(6)
    case 7: body(7)
    case 8: body(8)
    case 9: body(9)
    case 10: body(10)
    case 11: body(11)
    case 12: body(12)
    case 13: body(13)
    case 14: body(14)
    case 15: body(15)
    case 16: body(16)
    default: body(width)
    }
  }

  /// Rows solved side by side: each vector of G loaded serves this many rows' products, so the
  /// dense part of A p (G outgrows the L1 cache at 64+ factors) costs a quarter of the loads.
  /// `gramProducts`' register tile and the batch state in `conjugateGradient` are written for 4.
  static let rowsPerBatch = 4

  /// Re-solves every row of `x` against the fixed `y`, given the rows' confidences.
  public static func solve(
    _ x: FactorMatrix, fixed y: FactorMatrix, confidences: ConfidenceMatrix, regularization: Float, cgSteps: Int
  ) {
    precondition(confidences.rowCount == x.rows && x.lanes == y.lanes)
    let gram = gram(y, regularization: regularization)
    let lanes = x.lanes, rows = x.rows, factors = x.factors
    let chunks = max(1, (rows + rowsPerChunk - 1) / rowsPerChunk)
    gram.withUnsafeBufferPointer { g in
      let shared = UnsafeTransfer((x.storage.baseAddress!, UnsafePointer(y.storage.baseAddress!), g.baseAddress!))
      Parallel.forEach(chunks: chunks, makeState: { _ in CGScratch(gram: shared.wrapped.2, factors: factors, lanes: lanes) }) {
        scratch, chunk in
        let (xs, ys, _) = shared.wrapped
        let range = Parallel.range(chunk, of: chunks, count: rows), end = confidences.offsets[range.upperBound]
        for first in stride(from: range.lowerBound, to: range.upperBound, by: rowsPerBatch) {
          let batch = first..<min(first + rowsPerBatch, range.upperBound), next = confidences.offsets[batch.upperBound]
          withConstantLanes(lanes) { lanes in
            conjugateGradient(
              batch, of: xs, confidences, ys, lanes: lanes, steps: cgSteps, scratch, firstPrefetched: first != range.lowerBound,
              prefetchNext: next..<min(next + prefetchDistance, end))
          }
        }
      }
    }
  }

  /// Working memory of one worker: the CG vectors of a batch's rows, and the fixed side's rows of
  /// the batch's cells copied together, so the CG passes read them from cache instead of from all
  /// over memory.
  final class CGScratch {
    let gram: UnsafePointer<SIMD8<Float>>
    let factors: Int, lanes: Int
    /// Each batch row's vectors, `lanes` apart.
    let r, p, ap: UnsafeMutablePointer<SIMD8<Float>>
    /// Each batch row's weights of G's rows (the scalars of the vector G multiplies), `factors` apart.
    let gramWeights: UnsafeMutablePointer<Float>
    private(set) var cellRows: UnsafeMutablePointer<SIMD8<Float>>
    private(set) var confidence: UnsafeMutablePointer<Float>
    /// One block of cells' weights (`cellsPerBlock`).
    let cellWeights: UnsafeMutablePointer<Float>
    private var capacity = 1024

    init(gram: UnsafePointer<SIMD8<Float>>, factors: Int, lanes: Int) {
      self.gram = gram
      self.factors = factors
      self.lanes = lanes
      r = .allocate(capacity: rowsPerBatch * lanes)
      p = .allocate(capacity: rowsPerBatch * lanes)
      ap = .allocate(capacity: rowsPerBatch * lanes)
      gramWeights = .allocate(capacity: rowsPerBatch * factors)
      cellRows = .allocate(capacity: capacity * lanes)
      confidence = .allocate(capacity: capacity)
      cellWeights = .allocate(capacity: cellsPerBlock)
    }

    /// Room for `cells` rows; grows by doubling, so a worker reallocates only a few times.
    func reserve(_ cells: Int) {
      guard cells > capacity else { return }
      while capacity < cells { capacity *= 2 }
      cellRows.deallocate()
      confidence.deallocate()
      cellRows = .allocate(capacity: capacity * lanes)
      confidence = .allocate(capacity: capacity)
    }

    deinit {
      for buffer in [r, p, ap, cellRows] { buffer.deallocate() }
      for buffer in [gramWeights, confidence, cellWeights] { buffer.deallocate() }
    }
  }

  /// Minimises each batch row's ‖weighted error‖ + λ‖x‖² in `steps` CG steps from its current `x`.
  /// A = G + λI + Σ (c − 1) y yᵀ and b = Σ c y over the row's cells. The rows go side by side but
  /// each one's arithmetic is its own, in the order it would have alone: a row's result does not
  /// depend on its neighbours in the batch. Once its cells are gathered, it asks for the rows of
  /// the cells `prefetchNext` (the next batch's first), so that they arrive during the CG steps
  /// and the next batch, `firstPrefetched`, starts without waiting on memory.
  @inline(__always)
  static func conjugateGradient(
    _ batch: Range<Int>, of xs: UnsafeMutablePointer<SIMD8<Float>>, _ m: ConfidenceMatrix,
    _ ys: UnsafePointer<SIMD8<Float>>, lanes: Int, steps: Int, _ s: CGScratch, firstPrefetched: Bool,
    prefetchNext: Range<Int>
  ) {
    let members = batch.count
    // A batch's cells are one run of the CSR arrays; row i's are a sub-run of it.
    let all = m.offsets[batch.lowerBound]..<m.offsets[batch.upperBound]
    let cells = { (i: Int) in (m.offsets[batch.lowerBound + i] - all.lowerBound)..<(m.offsets[batch.lowerBound + i + 1] - all.lowerBound) }
    s.reserve(all.count)
    var rsOld = InlineArray<4, Float>(repeating: 0), active = InlineArray<4, Bool>(repeating: true)
    // r = b − A x = Σ (c − (c − 1) y·x) y − G x, gathering the cells' rows a block at a time as it goes.
    multiply(
      s, members: members, active: active, cells: cells, lanes: lanes, residual: true, into: s.r,
      vector: { i in UnsafePointer(xs + (batch.lowerBound + i) * lanes) },
      gathering: { block in
        gather(
          (all.lowerBound + block.lowerBound)..<(all.lowerBound + block.upperBound), m, ys, lanes: lanes,
          into: s.cellRows + block.lowerBound * lanes, confidence: s.confidence + block.lowerBound,
          prefetchingUpTo: all.upperBound, prefetchFirst: block.lowerBound == 0 && !firstPrefetched)
      })
    prefetchRows(prefetchNext, m, ys, lanes: lanes)
    for i in 0..<members {
      let r = s.r + i * lanes
      (s.p + i * lanes).update(from: r, count: lanes)
      rsOld[i] = dot(r, r, lanes: lanes)
      active[i] = !(rsOld[i] < 1e-20)
    }
    for _ in 0..<steps {
      guard (0..<members).contains(where: { active[$0] }) else { break }
      // ap = A p = G p + Σ (c − 1)(y·p) y
      multiply(
        s, members: members, active: active, cells: cells, lanes: lanes, residual: false, into: s.ap,
        vector: { i in UnsafePointer(s.p + i * lanes) })
      for i in 0..<members where active[i] {
        let x = xs + (batch.lowerBound + i) * lanes, r = s.r + i * lanes, p = s.p + i * lanes, ap = s.ap + i * lanes
        let alpha = rsOld[i] / dot(p, ap, lanes: lanes)
        for l in 0..<lanes {
          x[l] = hmpipe_fma8(p[l], SIMD8(repeating: alpha), x[l])
          r[l] = hmpipe_fma8(ap[l], SIMD8(repeating: -alpha), r[l])
        }
        let rsNew = dot(r, r, lanes: lanes)
        if rsNew < 1e-20 {
          active[i] = false
          continue
        }
        let beta = rsNew / rsOld[i]
        for l in 0..<lanes { p[l] = hmpipe_fma8(p[l], SIMD8(repeating: beta), r[l]) }
        rsOld[i] = rsNew
      }
    }
  }

  /// Cells whose weights are worked out and then summed while their rows are still in the L1
  /// cache (13 KB at 100 factors): a whole row's cells, as one pass of dot products and then one
  /// of sums, read an article's thousands of customer rows twice from L2 or beyond. The blocks
  /// change no bit: `dots` gives each cell what `dot` gives it, and the sums run on over the
  /// blocks in the same order.
  static let cellsPerBlock = 32

  /// out_i = A_i v_i for each active batch row (`residual`: b − A v), v_i = `vector(i)`: G's part
  /// for all rows at once, then each row's cells continuing the same sums, a block at a time: the
  /// block's weights (c − 1)(y·v), or c − (c − 1)(y·v) with G's part negated for the residual,
  /// then its rows weighted. (A finished row's product is computed from stale G weights and never
  /// read.) `gathering(block)`, when given, first copies a block's rows into the scratch: the
  /// residual's pass reads each row as it arrives instead of in a pass of its own.
  @inline(__always)
  static func multiply(
    _ s: CGScratch, members: Int, active: InlineArray<4, Bool>, cells: (Int) -> Range<Int>, lanes: Int, residual: Bool,
    into out: UnsafeMutablePointer<SIMD8<Float>>, vector: (Int) -> UnsafePointer<SIMD8<Float>>,
    gathering: ((Range<Int>) -> Void)? = nil
  ) {
    let f = s.factors
    for i in 0..<members where active[i] { setGramWeights(s.gramWeights + i * f, from: vector(i), factors: f, negated: residual) }
    // A whole batch passes the constant, so the odd lane's loop over its rows unrolls too (5% at
    // 100 factors, 13 lanes).
    if members == rowsPerBatch {
      gramProducts(s.gram, factors: f, weights: s.gramWeights, rows: rowsPerBatch, lanes: lanes, into: out)
    } else {
      gramProducts(s.gram, factors: f, weights: s.gramWeights, rows: members, lanes: lanes, into: out)
    }
    let w = s.cellWeights
    for i in 0..<members where active[i] {
      let cs = cells(i), v = vector(i)
      for start in stride(from: cs.lowerBound, to: cs.upperBound, by: cellsPerBlock) {
        let count = min(cellsPerBlock, cs.upperBound - start), rows = s.cellRows + start * lanes, c = s.confidence + start
        gathering?(start..<(start + count))
        dots(rows, count: count, with: v, lanes: lanes, into: w)
        if residual {
          for j in 0..<count { w[j] = c[j] - (c[j] - 1) * w[j] }
        } else {
          for j in 0..<count { w[j] *= c[j] - 1 }
        }
        weightedSum(rows, count: count, weights: w, lanes: 0..<lanes, stride: lanes, into: out + i * lanes, continuing: true)
      }
    }
  }

  /// out_i = Σⱼ weights_i[j] Gⱼ for `rows` weight vectors, `factors` apart, into outputs `lanes`
  /// apart. For a whole batch, tiles of output vectors × four rows in registers: each of G's vectors
  /// loaded serves all four rows, and each broadcast weight the tile's vectors, so the loads keep up
  /// with the multiply-adds. Each sum runs over j in order from zero, as `weightedSum` runs it
  /// (which takes what the tiles leave, and smaller batches), so the tile shape never changes a bit.
  @inline(__always)
  static func gramProducts(
    _ g: UnsafePointer<SIMD8<Float>>, factors: Int, weights: UnsafePointer<Float>, rows: Int, lanes: Int,
    into out: UnsafeMutablePointer<SIMD8<Float>>, registers: Int = vectorRegisters
  ) {
    var lane = 0
    if rows == rowsPerBatch && registers < 32 {
      lane = narrowGramTiles(g, factors: factors, weights: weights, lanes: lanes, into: out)
    }
    /// One tile: `pairs` 16-float vectors of the four rows' outputs from `lane` on.
    @inline(__always) func tile(_ lane: Int, pairs: Int) {
      var sums = InlineArray<12, SIMD16<Float>>(repeating: .zero)
      var row = g + lane, w = weights
      for _ in 0..<factors {
        for r in 0..<rowsPerBatch {
          let weight = SIMD16<Float>(repeating: w[r * factors])
          for p in 0..<pairs { sums[r * pairs + p] = hmpipe_fma16(pair(row + 2 * p), weight, sums[r * pairs + p]) }
        }
        row += lanes
        w += 1
      }
      for r in 0..<rowsPerBatch {
        for p in 0..<pairs { store(sums[r * pairs + p], at: out + r * lanes + lane + 2 * p) }
      }
    }
    if rows == rowsPerBatch && registers >= 32 {
      while lane + 6 <= lanes {
        tile(lane, pairs: 3)
        lane += 6
      }
      while lane + 2 <= lanes {
        tile(lane, pairs: 1)
        lane += 2
      }
    }
    guard lane < lanes else { return }
    for i in 0..<rows {
      weightedSum(g, count: factors, weights: weights + i * factors, lanes: lane..<lanes, stride: lanes, into: out + i * lanes)
    }
  }

  /// The vector registers of the build's target: 32 with AVX-512, 16 on AVX2 and below. The
  /// kernels take their register tiles from it (`registers:`, which tests set to try both shapes).
  static let vectorRegisters = Int(HMPIPE_VECTOR_REGISTERS)

  /// `gramProducts`' tiles of a whole batch for 16 vector registers: up to three 8-float vectors ×
  /// four rows (12 sums), where the 32-register tile of three 16-float vectors × four rows (24 on
  /// AVX2) would spill its sums to memory on every multiply-add. Returns the lanes covered: all.
  /// (One generic tile over the vector type for both was 5% slower at 128 factors.)
  @inline(__always)
  static func narrowGramTiles(
    _ g: UnsafePointer<SIMD8<Float>>, factors: Int, weights: UnsafePointer<Float>, lanes: Int,
    into out: UnsafeMutablePointer<SIMD8<Float>>
  ) -> Int {
    @inline(__always) func tile(_ lane: Int, width: Int) {
      var sums = InlineArray<12, SIMD8<Float>>(repeating: .zero)
      var row = g + lane, w = weights
      for _ in 0..<factors {
        for r in 0..<rowsPerBatch {
          let weight = SIMD8<Float>(repeating: w[r * factors])
          for v in 0..<width { sums[r * width + v] = hmpipe_fma8(row[v], weight, sums[r * width + v]) }
        }
        row += lanes
        w += 1
      }
      for r in 0..<rowsPerBatch {
        for v in 0..<width { out[r * lanes + lane + v] = sums[r * width + v] }
      }
    }
    var lane = 0
    while lane + 3 <= lanes {
      tile(lane, width: 3)
      lane += 3
    }
    switch lanes - lane {
    case 2: tile(lane, width: 2)
    case 1: tile(lane, width: 1)
    default: break
    }
    return lanes
  }

  /// How many cells ahead a fixed-side row is prefetched.
  static let prefetchDistance = 16

  /// Asks for every cache line of row `column` of `ys`: the rows are scattered over tens to
  /// hundreds of megabytes, so each is asked for several cells before it is read and the misses
  /// overlap instead of queueing one behind another.
  @inline(__always)
  static func prefetchRow(_ ys: UnsafePointer<SIMD8<Float>>, _ column: UInt32, lanes: Int) {
    let start = UnsafeRawPointer(ys + Int(column) * lanes), rowBytes = lanes * MemoryLayout<SIMD8<Float>>.stride
    var offset = 0
    while offset < rowBytes {
      hmpipe_prefetch(start + offset)
      offset += 64
    }
    hmpipe_prefetch(start + rowBytes - 1)
  }

  /// Asks for the fixed side's rows of the cells (`prefetchRow`).
  @inline(__always)
  static func prefetchRows(_ cells: Range<Int>, _ m: ConfidenceMatrix, _ ys: UnsafePointer<SIMD8<Float>>, lanes: Int) {
    m.columns.withUnsafeBufferPointer { columns in
      for i in cells { prefetchRow(ys, columns[i], lanes: lanes) }
    }
  }

  /// Copies the fixed side's rows of the cells together, with their confidences (each row
  /// prefetched `prefetchDistance` cells ahead, up to `end`: a block's copy asks for the next
  /// block's first rows; only the first block asks for its own).
  @inline(__always)
  static func gather(
    _ cells: Range<Int>, _ m: ConfidenceMatrix, _ ys: UnsafePointer<SIMD8<Float>>, lanes: Int,
    into rows: UnsafeMutablePointer<SIMD8<Float>>, confidence c: UnsafeMutablePointer<Float>,
    prefetchingUpTo end: Int, prefetchFirst: Bool
  ) {
    let ahead = prefetchDistance
    m.columns.withUnsafeBufferPointer { columns in
      m.confidence.withUnsafeBufferPointer { confidence in
        if prefetchFirst { prefetchRows(cells.lowerBound..<min(cells.lowerBound + ahead, end), m, ys, lanes: lanes) }
        var to = rows
        for i in cells {
          if i + ahead < end { prefetchRow(ys, columns[i + ahead], lanes: lanes) }
          let from = ys + Int(columns[i]) * lanes
          for l in 0..<lanes { to[l] = from[l] }
          c[i - cells.lowerBound] = confidence[i]
          to += lanes
        }
      }
    }
  }

  /// The weights of G's rows in A's weighted sum: the vector's own scalars (G is symmetric, so
  /// G v = Σⱼ vⱼ Gⱼ), negated for the residual.
  @inline(__always)
  static func setGramWeights(_ weights: UnsafeMutablePointer<Float>, from v: UnsafePointer<SIMD8<Float>>, factors: Int, negated: Bool) {
    let scalars = UnsafeRawPointer(v).assumingMemoryBound(to: Float.self)
    if negated {
      for j in 0..<factors { weights[j] = -scalars[j] }
    } else {
      weights.update(from: scalars, count: factors)
    }
  }

  /// out[j] = rows[j] · v for `count` rows. Four rows at a time, two lanes per step: every load
  /// of v serves four rows, and independent chains of fused multiply-adds keep the FMA units busy.
  /// The four rows' sums end side by side (`hmpipe_sum_trees4`): ended one by one, the optimizer
  /// turned each into scalar adds, and an ALS iteration at 100 factors took 1.1× as long.
  /// Every kernel here multiplies and adds through `hmpipe_fma16` / `hmpipe_fma8`, the same bits as
  /// `addingProduct`: on AVX-512 the standard library's 16-float one became 128-bit multiply-adds
  /// joined by inserts in this loop, and 128 factors took 1.1–1.2× as long.
  @inline(__always)
  static func dots(
    _ rows: UnsafePointer<SIMD8<Float>>, count n: Int, with v: UnsafePointer<SIMD8<Float>>, lanes: Int,
    into out: UnsafeMutablePointer<Float>, registers: Int = vectorRegisters
  ) {
    if registers < 32 {
      narrowDots(rows, count: n, with: v, lanes: lanes, into: out)
      return
    }
    var j = 0
    while j + 4 <= n {
      let r0 = rows + j * lanes, r1 = r0 + lanes, r2 = r1 + lanes, r3 = r2 + lanes
      var a0 = SIMD16<Float>.zero, a1 = a0, a2 = a0, a3 = a0
      var l = 0
      while l + 2 <= lanes {
        let v01 = pair(v + l)
        a0 = hmpipe_fma16(pair(r0 + l), v01, a0)
        a1 = hmpipe_fma16(pair(r1 + l), v01, a1)
        a2 = hmpipe_fma16(pair(r2 + l), v01, a2)
        a3 = hmpipe_fma16(pair(r3 + l), v01, a3)
        l += 2
      }
      hmpipe_sum_trees4(
        addHalves(a0, r0, v, from: l, lanes: lanes), addHalves(a1, r1, v, from: l, lanes: lanes),
        addHalves(a2, r2, v, from: l, lanes: lanes), addHalves(a3, r3, v, from: l, lanes: lanes), out + j)
      j += 4
    }
    while j < n {
      out[j] = dot(rows + j * lanes, v, lanes: lanes)
      j += 1
    }
  }

  /// `dots` for 16 vector registers, the same sums lane for lane: each row's even and odd lanes
  /// in two 8-float sums, each step one 8-float fused multiply-add (`hmpipe_fma8`). On AVX2 the
  /// 16-float sums were lowered as a 256-bit half and two 128-bit quarters joined by inserts, and
  /// 8-float `addingProduct`s (a loop over lanes) as 128-bit halves, spilled every step: 128
  /// factors took 1.1–1.4× as long.
  @inline(__always)
  static func narrowDots(
    _ rows: UnsafePointer<SIMD8<Float>>, count n: Int, with v: UnsafePointer<SIMD8<Float>>, lanes: Int,
    into out: UnsafeMutablePointer<Float>
  ) {
    var j = 0
    while j + 4 <= n {
      let r0 = rows + j * lanes, r1 = r0 + lanes, r2 = r1 + lanes, r3 = r2 + lanes
      var e0 = SIMD8<Float>.zero, e1 = e0, e2 = e0, e3 = e0, o0 = e0, o1 = e0, o2 = e0, o3 = e0
      var l = 0
      while l + 2 <= lanes {
        let even = v[l], odd = v[l + 1]
        e0 = hmpipe_fma8(r0[l], even, e0)
        o0 = hmpipe_fma8(r0[l + 1], odd, o0)
        e1 = hmpipe_fma8(r1[l], even, e1)
        o1 = hmpipe_fma8(r1[l + 1], odd, o1)
        e2 = hmpipe_fma8(r2[l], even, e2)
        o2 = hmpipe_fma8(r2[l + 1], odd, o2)
        e3 = hmpipe_fma8(r3[l], even, e3)
        o3 = hmpipe_fma8(r3[l + 1], odd, o3)
        l += 2
      }
      hmpipe_sum_trees4(
        addHalves(even: e0, odd: o0, r0, v, from: l, lanes: lanes), addHalves(even: e1, odd: o1, r1, v, from: l, lanes: lanes),
        addHalves(even: e2, odd: o2, r2, v, from: l, lanes: lanes), addHalves(even: e3, odd: o3, r3, v, from: l, lanes: lanes),
        out + j)
      j += 4
    }
    while j < n {
      out[j] = dot(rows + j * lanes, v, lanes: lanes)
      j += 1
    }
  }

  /// out = Σⱼ weights[j] rows[j] over `count` rows (added to out's sums when `continuing`), for the
  /// vectors `lanes` of rows `stride` apart: up to sixteen output vectors at a time held in
  /// registers while the rows stream by, so each row element is loaded once (each block's width a
  /// constant, `withConstantWidth`, whatever the caller's lanes). One block for up to
  /// 128 factors: each row's multiply-adds are then independent of each other, and the four-cycle
  /// chain of each sum across rows is hidden behind them (two blocks of 100 factors took twice as
  /// long, each waiting on its chains).
  @inline(__always)
  static func weightedSum(
    _ rows: UnsafePointer<SIMD8<Float>>, count n: Int, weights: UnsafePointer<Float>, lanes: Range<Int>, stride: Int,
    into out: UnsafeMutablePointer<SIMD8<Float>>, continuing: Bool = false
  ) {
    var lane = lanes.lowerBound
    while lane < lanes.upperBound {
      let width = min(maxBlockLanes, lanes.upperBound - lane)
      withConstantWidth(width) { width in
        weightedSum(rows + lane, count: n, weights: weights, stride: stride, width: width, into: out + lane, continuing: continuing)
      }
      lane += width
    }
  }

  /// The widest block `weightedSum` holds in registers: 8 of the 32 vector registers of AVX-512.
  static let maxBlockLanes = 16

  /// One block of `width` (at most `maxBlockLanes`) output vectors, two at a time; a constant
  /// width unrolls into registers.
  @inline(__always)
  static func weightedSum(
    _ rows: UnsafePointer<SIMD8<Float>>, count n: Int, weights: UnsafePointer<Float>, stride: Int, width: Int,
    into out: UnsafeMutablePointer<SIMD8<Float>>, continuing: Bool
  ) {
    let pairs = width / 2, odd = width % 2 == 1
    var sums = InlineArray<8, SIMD16<Float>>(repeating: .zero), last = SIMD8<Float>.zero
    if continuing {
      for k in 0..<pairs { sums[k] = pair(out + 2 * k) }
      if odd { last = out[width - 1] }
    }
    var row = rows
    for j in 0..<n {
      let s = SIMD16<Float>(repeating: weights[j])
      for k in 0..<pairs { sums[k] = hmpipe_fma16(pair(row + 2 * k), s, sums[k]) }
      if odd { last = hmpipe_fma8(row[width - 1], SIMD8(repeating: weights[j]), last) }
      row += stride
    }
    for k in 0..<pairs { store(sums[k], at: out + 2 * k) }
    if odd { out[width - 1] = last }
  }

  @inline(__always)
  static func item(_ ys: UnsafeBufferPointer<SIMD8<Float>>, _ i: UInt32, _ lanes: Int) -> UnsafePointer<SIMD8<Float>> {
    ys.baseAddress! + Int(i) * lanes
  }

  /// Two interleaved partial sums, the even lanes and the odd (with one, every add waits for the
  /// previous one), then a fixed tree across the lanes.
  @inline(__always)
  static func dot(_ a: UnsafePointer<SIMD8<Float>>, _ b: UnsafePointer<SIMD8<Float>>, lanes: Int) -> Float {
    var sums = SIMD16<Float>.zero
    var l = 0
    while l + 2 <= lanes {
      sums = hmpipe_fma16(pair(a + l), pair(b + l), sums)
      l += 2
    }
    return finishDot(sums, a, b, from: l, lanes: lanes)
  }

  /// A dot product from its even-lane (low half) and odd-lane (high half) partial sums (shim.h
  /// says how it ends, and why in C). `dots` ends four rows at once, the same adds lane for lane.
  @inline(__always)
  static func finishDot(
    _ sums: SIMD16<Float>, _ a: UnsafePointer<SIMD8<Float>>, _ b: UnsafePointer<SIMD8<Float>>, from l: Int, lanes: Int
  ) -> Float {
    hmpipe_sum_tree(addHalves(sums, a, b, from: l, lanes: lanes))
  }

  /// `finishDot` up to the tree: the 8-float sum whose lanes the tree adds.
  @inline(__always)
  static func addHalves(
    _ sums: SIMD16<Float>, _ a: UnsafePointer<SIMD8<Float>>, _ b: UnsafePointer<SIMD8<Float>>, from l: Int, lanes: Int
  ) -> SIMD8<Float> {
    l < lanes ? hmpipe_add_halves_fma(sums, a[l], b[l]) : hmpipe_add_halves(sums)
  }

  /// `addHalves` from the two halves held apart (`narrowDots`).
  @inline(__always)
  static func addHalves(
    even: SIMD8<Float>, odd: SIMD8<Float>, _ a: UnsafePointer<SIMD8<Float>>, _ b: UnsafePointer<SIMD8<Float>>, from l: Int,
    lanes: Int
  ) -> SIMD8<Float> {
    (l < lanes ? hmpipe_fma8(a[l], b[l], even) : even) + odd
  }

  /// Two adjacent 8-float lanes as one 16-float vector: the same arithmetic lane for lane, so the
  /// same results, in one instruction where the processor has 512-bit vectors (two elsewhere).
  @inline(__always)
  static func pair(_ p: UnsafePointer<SIMD8<Float>>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
  }

  @inline(__always)
  static func store(_ v: SIMD16<Float>, at p: UnsafeMutablePointer<SIMD8<Float>>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
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
        let gx = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: lanes)
        defer { gx.deallocate() }
        var loss = 0.0, confidence = 0.0, norm = 0.0
        let range = Parallel.range(chunk, of: chunks, count: rows), end = m.offsets[range.upperBound]
        let ahead = prefetchDistance, ysBase = ys.baseAddress!
        for i in m.offsets[range.lowerBound]..<min(end, m.offsets[range.lowerBound] + ahead) {
          prefetchRow(ysBase, m.columns[i], lanes: lanes)
        }
        withConstantLanes(lanes) { lanes in
          for r in range {
            let row = xs.baseAddress! + r * lanes
            // G x = Σⱼ xⱼ Gⱼ: the row's own scalars weigh G's rows.
            let scalars = UnsafeRawPointer(row).assumingMemoryBound(to: Float.self)
            weightedSum(g.baseAddress!, count: x.factors, weights: scalars, lanes: 0..<lanes, stride: lanes, into: gx)
            loss += Double(dot(row, gx, lanes: lanes))
            norm += Double(dot(row, row, lanes: lanes))
            for i in m.offsets[r]..<m.offsets[r + 1] {
              if i + ahead < end { prefetchRow(ysBase, m.columns[i + ahead], lanes: lanes) }
              let c = Double(m.confidence[i]), s = Double(dot(row, item(ys, m.columns[i], lanes), lanes: lanes))
              loss += c * (1 - s) * (1 - s) - s * s
              confidence += c
            }
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
