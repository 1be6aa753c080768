import CIntrinsics
import Pipeline

/// Exact top-K cosine neighbours of every row of a matrix, by blocked matrix products through BLAS
/// and a streaming per-row top-K: memory is one block of similarities, never n × n.
///
/// Determinism across machines: OpenBLAS rounds a product differently on each kernel (Haswell,
/// SkylakeX, …), so its similarities only choose candidates. Each row keeps `k` plus a margin of them;
/// every kept candidate is re-scored by `exactSimilarity` (Double, in a fixed order: the same bits on
/// every processor), and the neighbours are the best `k` by that score, ties to the lower row index.
/// Where the margin cannot prove that no dropped target could enter (a cluster of near-equal rows
/// wider than the margin), the row is searched again over every target with the bound widened by
/// BLAS's worst-case error. So the result is the exact top-K of `exactSimilarity` whatever kernel
/// runs. Rows whose norm is zero (no image) get no neighbours and are nobody's neighbour.
public enum TopKCosine {
  /// Neighbours in CSR form: row r's are `neighbours[offsets[r] ..< offsets[r+1]]`, best first.
  public struct Result: Sendable {
    public var offsets: [UInt64]
    public var neighbours: [UInt32]
    public var scores: [Float]
    /// Rows whose candidates had to be searched again over every target (near-equal clusters).
    public var rowsSearchedAgain = 0
  }

  /// - Parameters:
  ///   - matrix: `rows` × `dims`, row-major.
  ///   - block: rows per block of the product (4096 × 4096 Floats is 64 MB).
  ///   - margin: candidates kept beyond `k` per row before the exact re-scoring.
  ///   - progress: the fraction of block pairs done.
  /// - Complexity: O(rows² · dims / 2) arithmetic in BLAS: similarity is symmetric, so each pair of
  ///   blocks is multiplied once and merged both ways; O(rows · (k + margin) · dims) to re-score.
  public static func neighbours(
    of matrix: UnsafeBufferPointer<Float>, rows: Int, dims: Int, k: Int, block: Int = 4096, margin: Int? = nil,
    progress: (Double) -> Void = { _ in }, cancelled: () -> Bool = { false }
  ) -> Result {
    precondition(matrix.count >= rows * dims && k >= 0 && block > 0)
    guard k > 0 else { return Result(offsets: [UInt64](repeating: 0, count: rows + 1), neighbours: [], scores: []) }
    let (unit, isZero) = normalised(matrix, rows: rows, dims: dims)
    let candidates = TopKSlots(k: k + (margin ?? max(8, k)), isZero: isZero)
    defer { candidates.deallocate() }
    // Huge pages: the column merge steps down the block a row (16 KB) at a time.
    let product = HugePages.allocate(Float.self, count: block * block)
    defer { product.deallocate() }
    let blocks = (rows + block - 1) / block
    var done = 0
    let final = TopKSlots(k: k, isZero: isZero)
    defer { final.deallocate() }
    return unit.withUnsafeBufferPointer { u in
      for i in 0..<blocks {
        for j in i..<blocks {
          if cancelled() { return final.result() }
          let a = (i * block)..<min(rows, (i + 1) * block), b = (j * block)..<min(rows, (j + 1) * block)
          BLAS.multiplyTransposedInParallel(
            UnsafeBufferPointer(rebasing: u[(a.lowerBound * dims)..<(a.upperBound * dims)]),
            UnsafeBufferPointer(rebasing: u[(b.lowerBound * dims)..<(b.upperBound * dims)]), into: product, m: a.count, n: b.count, k: dims)
          mergeRows(UnsafeBufferPointer(product), queries: a, targets: b, into: candidates)
          if i != j { mergeColumns(UnsafeBufferPointer(product), queries: b, targets: a, into: candidates) }
          done += 1
          progress(Double(done) / Double(blocks * (blocks + 1) / 2))
        }
      }
      let unclear = rescore(candidates, unit: u, dims: dims, into: final)
      searchAgain(unclear, unit: u, rows: rows, dims: dims, block: block, product: product, into: final)
      var result = final.result()
      result.rowsSearchedAgain = unclear.count
      return result
    }
  }

  /// The worst gap between a BLAS similarity of two unit rows and `exactSimilarity`, whatever the
  /// kernel's order of summation or use of FMA: γ(dims) = dims·u/(1 − dims·u) times Σ|aᵢbᵢ| ≤ ‖a‖‖b‖
  /// (just over 1 for rows normalised in Float), plus two Float ulps near 1 for the rounding of the
  /// exact score itself.
  static func blasErrorBound(dims: Int) -> Float {
    let u = 0x1p-24, n = Double(dims + 1)
    return Float(n * u / (1 - n * u) * 1.001 + 0x1p-22)
  }

  /// The similarity of two unit rows that decides the neighbours: Float products summed in Double
  /// (each product is exact) in one fixed order, the same on every processor.
  @inline(__always)
  static func exactSimilarity(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, dims: Int) -> Float {
    var lanes = SIMD4<Double>()
    var d = 0
    while d + 4 <= dims {
      let x = SIMD4<Double>(Double(a[d]), Double(a[d + 1]), Double(a[d + 2]), Double(a[d + 3]))
      let y = SIMD4<Double>(Double(b[d]), Double(b[d + 1]), Double(b[d + 2]), Double(b[d + 3]))
      lanes += x * y
      d += 4
    }
    var sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3])
    while d < dims {
      sum += Double(a[d]) * Double(b[d])
      d += 1
    }
    return Float(sum)
  }

  /// Re-scores every row's candidates exactly and keeps the best `final.k` (ties to the lower index).
  /// Returns the rows where that is not proven: a full candidate list whose last BLAS score, widened
  /// by the error bound, could still reach the k-th exact score.
  static func rescore(_ candidates: TopKSlots, unit: UnsafeBufferPointer<Float>, dims: Int, into final: TopKSlots) -> [Int] {
    let rows = candidates.queries, chunks = (rows + 255) / 256, bound = blasErrorBound(dims: dims)
    let shared = UnsafeTransfer((candidates, final, unit.baseAddress!))
    let unclear = Parallel.map(chunks: chunks) { chunk -> [Int] in
      let (candidates, final, unit) = shared.wrapped
      var unclear: [Int] = []
      var kept: [ScoredArticle] = []
      kept.reserveCapacity(candidates.k)
      for q in Parallel.range(chunk, of: chunks, count: rows) where !candidates.isZero[q] {
        kept.removeAll(keepingCapacity: true)
        for slot in (q * candidates.k)..<((q + 1) * candidates.k) where candidates.rows[slot] != .max {
          let t = Int(candidates.rows[slot])
          kept.append(ScoredArticle(UInt32(t), exactSimilarity(unit + q * dims, unit + t * dims, dims: dims)))
        }
        kept.sort()
        final.set(q, kept.prefix(final.k))
        if kept.count == candidates.k, !(candidates.threshold(q) + bound < kept[final.k - 1].score) { unclear.append(q) }
      }
      return unclear
    }
    return unclear.flatMap { $0 }
  }

  /// Searches `queries` again over every target: a BLAS score within the error bound of the row's
  /// k-th exact score (what `final` holds now: a lower bound of the true k-th) makes a target a
  /// candidate, re-scored exactly and offered in increasing target order.
  static func searchAgain(
    _ queries: [Int], unit: UnsafeBufferPointer<Float>, rows: Int, dims: Int, block: Int,
    product: UnsafeMutableBufferPointer<Float>, into final: TopKSlots
  ) {
    let bound = blasErrorBound(dims: dims)
    for first in stride(from: 0, to: queries.count, by: block) {
      let batch = Array(queries[first..<min(queries.count, first + block)])
      var gathered = [Float](repeating: 0, count: batch.count * dims)
      for (i, q) in batch.enumerated() { for d in 0..<dims { gathered[i * dims + d] = unit[q * dims + d] } }
      let floor = batch.map { final.threshold($0) - bound }
      for q in batch { final.clear(q) }
      for start in stride(from: 0, to: rows, by: block) {
        let targets = start..<min(rows, start + block)
        gathered.withUnsafeBufferPointer { g in
          BLAS.multiplyTransposedInParallel(
            g, UnsafeBufferPointer(rebasing: unit[(targets.lowerBound * dims)..<(targets.upperBound * dims)]),
            into: product, m: batch.count, n: targets.count, k: dims)
        }
        let shared = UnsafeTransfer((final, unit.baseAddress!, product.baseAddress!))
        Parallel.forEach(chunks: batch.count) { i in
          let (final, unit, product) = shared.wrapped
          let q = batch[i], row = product + i * targets.count
          for (offset, t) in targets.enumerated() where row[offset] >= floor[i] {
            final.offer(exactSimilarity(unit + q * dims, unit + t * dims, dims: dims), target: t, to: q)
          }
        }
      }
    }
  }

  /// Unit rows (zero rows stay zero) and which rows are zero.
  static func normalised(_ matrix: UnsafeBufferPointer<Float>, rows: Int, dims: Int) -> ([Float], [Bool]) {
    var unit = [Float](repeating: 0, count: rows * dims)
    var isZero = [Bool](repeating: false, count: rows)
    for r in 0..<rows {
      var norm: Float = 0
      for d in 0..<dims { norm += matrix[r * dims + d] * matrix[r * dims + d] }
      guard norm > 0, norm.isFinite else {
        isZero[r] = true
        continue
      }
      let scale = 1 / norm.squareRoot()
      for d in 0..<dims { unit[r * dims + d] = matrix[r * dims + d] * scale }
    }
    return (unit, isZero)
  }

  /// Folds a block into the running top-K of its row queries (query q's similarities are row
  /// `q - queries.lowerBound`), queries in parallel: each query writes only its own k slots. Thirty-two
  /// similarities at a time are compared with the row's k-th best; only the rare runs holding one
  /// that beats it take the scalar insertion.
  static func mergeRows(_ block: UnsafeBufferPointer<Float>, queries: Range<Int>, targets: Range<Int>, into slots: TopKSlots) {
    let shared = UnsafeTransfer((slots, block.baseAddress!))
    let chunks = (queries.count + 63) / 64
    Parallel.forEach(chunks: chunks) { chunk in
      let (slots, block) = shared.wrapped
      for offset in Parallel.range(chunk, of: chunks, count: queries.count) {
        let q = queries.lowerBound + offset
        guard !slots.isZero[q] else { continue }
        let row = block + offset * targets.count
        var threshold = SIMD8(repeating: slots.threshold(q))
        var t = 0
        while t + 32 <= targets.count {
          let v = UnsafeRawPointer(row + t)
          let beats =
            exceeds(v.loadUnaligned(as: SIMD8<Float>.self), threshold)
            | exceeds(v.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self), threshold)
            | exceeds(v.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self), threshold)
            | exceeds(v.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self), threshold)
          if beats != SIMD8() {
            for lane in t..<(t + 32) { slots.offer(row[lane], target: targets.lowerBound + lane, to: q) }
            threshold = SIMD8(repeating: slots.threshold(q))
          }
          t += 32
        }
        for lane in t..<targets.count { slots.offer(row[lane], target: targets.lowerBound + lane, to: q) }
      }
    }
  }

  /// Folds a block into the running top-K of its column queries (query q's similarities are column
  /// `q - queries.lowerBound`) without transposing it. The block is read row by row, as it lies in
  /// memory: each worker takes a band of columns (a multiple of 32 wide) and walks it down the rows,
  /// comparing 32 similarities at a time with the band's k-th bests, which it keeps in a small array
  /// beside (refreshed only after an offer). Rows are a whole row of the block apart, too far for the
  /// hardware prefetcher: the band's part of the row eight rows down is asked for as it goes. Rows
  /// (targets) reach each query in increasing order, as ties need, however the bands fall.
  static func mergeColumns(_ block: UnsafeBufferPointer<Float>, queries: Range<Int>, targets: Range<Int>, into slots: TopKSlots) {
    let shared = UnsafeTransfer((slots, block.baseAddress!))
    let columns = queries.count, workers = max(1, min(Parallel.share, columns / 256))
    let bandWidth = ((columns + workers - 1) / workers + 31) / 32 * 32
    Parallel.forEach(chunks: (columns + bandWidth - 1) / bandWidth) { band in
      let (slots, block) = shared.wrapped
      let first = band * bandWidth, width = min(bandWidth, columns - first), vectorWidth = width / 32 * 32
      let query = { (column: Int) in queries.lowerBound + first + column }
      let thresholds = UnsafeMutablePointer<Float>.allocate(capacity: width)
      defer { thresholds.deallocate() }
      for c in 0..<width { thresholds[c] = slots.threshold(query(c)) }
      for r in 0..<targets.count {
        let row = block + r * columns + first, target = targets.lowerBound + r
        var c = 0
        let ahead = r + 8 < targets.count ? UnsafeRawPointer(row + 8 * columns) : nil
        while c < vectorWidth {
          let v = UnsafeRawPointer(row + c), t = UnsafeRawPointer(thresholds + c)
          if let ahead {
            hmpipe_prefetch(ahead + 4 * c)
            hmpipe_prefetch(ahead + 4 * c + 64)
          }
          let beats =
            exceeds(v.loadUnaligned(as: SIMD8<Float>.self), t.loadUnaligned(as: SIMD8<Float>.self))
            | exceeds(
              v.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self), t.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
            | exceeds(
              v.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self), t.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
            | exceeds(
              v.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self), t.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
          if beats != SIMD8() {
            for lane in c..<(c + 32) {
              slots.offer(row[lane], target: target, to: query(lane))
              thresholds[lane] = slots.threshold(query(lane))
            }
          }
          c += 32
        }
        for lane in vectorWidth..<width { slots.offer(row[lane], target: target, to: query(lane)) }
      }
    }
  }

  /// All ones in the lanes where `v` beats `threshold`. Swift's `any(v .> t)` takes the lanes one
  /// by one through memory; the mask's bits compared with zero stay in vector registers.
  @inline(__always)
  static func exceeds(_ v: SIMD8<Float>, _ threshold: SIMD8<Float>) -> SIMD8<Int32> {
    unsafeBitCast(v .> threshold, to: SIMD8<Int32>.self)
  }
}

/// Every query's running top-K (scores best first and their rows), in flat arrays of k slots per
/// query. Parallel merges give each query to one worker, which alone writes its slots.
struct TopKSlots: @unchecked Sendable {
  let k: Int
  let queries: Int
  let scores: UnsafeMutablePointer<Float>
  let rows: UnsafeMutablePointer<UInt32>
  let isZero: UnsafeMutablePointer<Bool>

  /// Empty lists (every slot −∞, no row) for `isZero.count` queries; `deallocate()` frees them.
  init(k: Int, isZero: [Bool]) {
    precondition(k > 0)
    (self.k, queries) = (k, isZero.count)
    scores = .allocate(capacity: queries * k)
    scores.initialize(repeating: -.infinity, count: queries * k)
    rows = .allocate(capacity: queries * k)
    rows.initialize(repeating: UInt32.max, count: queries * k)
    self.isZero = .allocate(capacity: queries)
    self.isZero.initialize(from: isZero, count: queries)
  }

  func deallocate() {
    scores.deallocate()
    rows.deallocate()
    isZero.deallocate()
  }

  /// The lists so far, in CSR form (a list is shorter than k when fewer targets were offered).
  func result() -> TopKCosine.Result {
    var offsets: [UInt64] = [0]
    var neighbours: [UInt32] = [], kept: [Float] = []
    for slot in 0..<(queries * k) {
      if rows[slot] != UInt32.max {
        neighbours.append(rows[slot])
        kept.append(scores[slot])
      }
      if slot % k == k - 1 { offsets.append(UInt64(neighbours.count)) }
    }
    return TopKCosine.Result(offsets: offsets, neighbours: neighbours, scores: kept)
  }

  /// Replaces `query`'s list with `entries` (best first, at most k).
  func set(_ query: Int, _ entries: ArraySlice<ScoredArticle>) {
    clear(query)
    for (i, entry) in entries.enumerated() {
      scores[query * k + i] = entry.score
      rows[query * k + i] = entry.article
    }
  }

  /// Empties `query`'s list.
  func clear(_ query: Int) {
    (scores + query * k).update(repeating: -.infinity, count: k)
    (rows + query * k).update(repeating: .max, count: k)
  }

  /// The score a new target must beat to enter `query`'s top-K (its k-th best; +∞ for a zero row).
  @inline(__always) func threshold(_ query: Int) -> Float {
    isZero[query] ? .infinity : scores[query * k + k - 1]
  }

  /// Inserts `target` with `score` into `query`'s top-K if it beats the k-th best. Targets reach a
  /// query in increasing order, so an equal score never displaces an earlier one: ties go to the
  /// lower index.
  @inline(__always) func offer(_ score: Float, target: Int, to query: Int) {
    let slots = query * k
    guard score > scores[slots + k - 1], target != query, !isZero[target], !isZero[query] else { return }
    var i = k - 1
    while i > 0 && scores[slots + i - 1] < score {
      scores[slots + i] = scores[slots + i - 1]
      rows[slots + i] = rows[slots + i - 1]
      i -= 1
    }
    scores[slots + i] = score
    rows[slots + i] = UInt32(target)
  }
}
