import Foundation
import Pipeline
import Testing

@testable import Stages

@Suite struct ALSTests {
  /// Users and items in `groups` planted tastes: each user buys `perUser` items of their group
  /// (`heldOut` of them kept apart), with confidence 1–4.
  struct Planted {
    var train: ConfidenceMatrix
    var heldOut: [[UInt32]]
    let users: Int, items: Int

    init(users: Int = 400, items: Int = 300, groups: Int = 4, perUser: Int = 12, heldOut: Int = 2, seed: UInt64 = 9) {
      self.users = users
      self.items = items
      var offsets = [0], columns: [UInt32] = [], confidence: [Float] = []
      var held: [[UInt32]] = []
      for u in 0..<users {
        var rng = CounterRandom(seed: seed, stream: 3, index: UInt64(u))
        let group = u % groups
        var chosen = Set<UInt32>()
        while chosen.count < perUser { chosen.insert(UInt32(rng.below(items / groups) * groups + group)) }
        let sorted = chosen.sorted()
        let out = Set(sorted.shuffled(using: &rng).prefix(heldOut))
        held.append(Array(out))
        for i in sorted where !out.contains(i) {
          columns.append(i)
          confidence.append(Float(1 + rng.below(4)))
        }
        offsets.append(columns.count)
      }
      train = ConfidenceMatrix(offsets: offsets, columns: columns, confidence: confidence)
      self.heldOut = held
    }
  }

  static func sameBits(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> Bool { (0..<8).allSatisfy { a[$0].bitPattern == b[$0].bitPattern } }

  static func train(
    _ m: ConfidenceMatrix, items: Int, factors: Int, iterations: Int, reg: Float = 0.1, cgSteps: Int = 3,
    loss: ((Double) -> Void)? = nil
  ) -> (FactorMatrix, FactorMatrix) {
    let x = FactorMatrix.random(rows: m.rowCount, factors: factors, seed: 1, stream: 1)
    let y = FactorMatrix.random(rows: items, factors: factors, seed: 1, stream: 2)
    let byItem = m.transposed(columnCount: items)
    for _ in 0..<iterations {
      ImplicitALS.solve(x, fixed: y, confidences: m, regularization: reg, cgSteps: cgSteps)
      ImplicitALS.solve(y, fixed: x, confidences: byItem, regularization: reg, cgSteps: cgSteps)
      loss?(ImplicitALS.loss(x, y, confidences: m, regularization: reg))
    }
    return (x, y)
  }

  @Test func heldOutItemsRankFarAboveRandom() {
    let data = Planted()
    let (x, y) = Self.train(data.train, items: data.items, factors: 8, iterations: 10)
    // The held-out items' percentile among all items the user did not train on (0 = top, 0.5 = random).
    var percentiles: [Double] = []
    for u in 0..<data.users {
      let trained = Set(data.train.columns[data.train.offsets[u]..<data.train.offsets[u + 1]])
      let scores = (0..<data.items).filter { !trained.contains(UInt32($0)) }.map { ($0, x.dot(u, y, $0)) }
      for item in data.heldOut[u] {
        let mine = scores.first { $0.0 == Int(item) }!.1
        percentiles.append(Double(scores.filter { $0.1 > mine }.count) / Double(scores.count))
      }
    }
    let mean = percentiles.reduce(0, +) / Double(percentiles.count)
    #expect(mean < 0.2, "held-out items sit at the \(mean) percentile; random would be 0.5")
  }

  @Test func lossDecreasesOverIterations() {
    let data = Planted(users: 200, items: 150, seed: 4)
    var losses: [Double] = []
    _ = Self.train(data.train, items: data.items, factors: 6, iterations: 8, loss: { losses.append($0) })
    for (a, b) in zip(losses, losses.dropFirst()) { #expect(b <= a * (1 + 1e-4), "\(losses)") }
    #expect(losses.last! < losses.first! * 0.99, "\(losses)")
  }

  /// The exact solution of one row's normal equations, in Double.
  static func exactSolve(row r: Int, _ m: ConfidenceMatrix, _ y: FactorMatrix, reg: Double) -> [Double] {
    let f = y.factors
    var a = [[Double]](repeating: [Double](repeating: 0, count: f + 1), count: f)
    for i in 0..<y.rows {
      for j in 0..<f { for k in 0..<f { a[j][k] += Double(y[i, j]) * Double(y[i, k]) } }
    }
    for j in 0..<f { a[j][j] += reg }
    for n in m.offsets[r]..<m.offsets[r + 1] {
      let i = Int(m.columns[n]), c = Double(m.confidence[n])
      for j in 0..<f {
        for k in 0..<f { a[j][k] += (c - 1) * Double(y[i, j]) * Double(y[i, k]) }
        a[j][f] += c * Double(y[i, j])
      }
    }
    // Gaussian elimination with partial pivoting.
    for col in 0..<f {
      let pivot = (col..<f).max { abs(a[$0][col]) < abs(a[$1][col]) }!
      a.swapAt(col, pivot)
      for row in 0..<f where row != col {
        let factor = a[row][col] / a[col][col]
        for k in col...f { a[row][k] -= factor * a[col][k] }
      }
    }
    return (0..<f).map { a[$0][f] / a[$0][$0] }
  }

  /// Rows of a few cells, and of more than two blocks of them (`ImplicitALS.cellsPerBlock`), which
  /// are gathered and summed a block at a time.
  @Test(arguments: [(6, 20), (80, 200)]) func manyCGStepsAgreeWithAnExactSolve(perUser: Int, items: Int) {
    let data = Planted(users: 12, items: items, groups: 2, perUser: perUser, heldOut: 0, seed: 5)
    let factors = 5
    let y = FactorMatrix.random(rows: data.items, factors: factors, seed: 2, stream: 2)
    let x = FactorMatrix.random(rows: data.users, factors: factors, seed: 2, stream: 1)
    for r in 0..<data.users { for f in 0..<factors { x[r, f] *= 100 } }  // start far from the answer
    ImplicitALS.solve(x, fixed: y, confidences: data.train, regularization: 0.05, cgSteps: 40)
    for r in 0..<data.users {
      let exact = Self.exactSolve(row: r, data.train, y, reg: 0.05)
      for f in 0..<factors { #expect(abs(Double(x[r, f]) - exact[f]) < 1e-3 * max(1, abs(exact[f])), "row \(r) factor \(f)") }
    }
  }

  /// Rows go through CG four at a time, sharing G's loads. A row's result must be bit for bit what
  /// it is beside any other rows: one more row in front (with no cells and zero factors, so it is done
  /// before the first step while its batch goes on) changes every batch. Factor counts with a
  /// kernel unrolled for them (64, 100) and without (5).
  @Test(arguments: [5, 64, 100]) func aRowsSolutionDoesNotDependOnTheRowsBesideIt(factors: Int) {
    let data = Planted(users: 50, items: 60, groups: 3, perUser: 8, heldOut: 0, seed: 4)
    let m = data.train
    let y = FactorMatrix.random(rows: data.items, factors: factors, seed: 3, stream: 2)
    let x = FactorMatrix.random(rows: data.users, factors: factors, seed: 3, stream: 1)
    let shifted = ConfidenceMatrix(offsets: [0] + m.offsets, columns: m.columns, confidence: m.confidence)
    let xs = FactorMatrix(rows: data.users + 1, factors: factors)
    for r in 0..<data.users { for f in 0..<factors { xs[r + 1, f] = x[r, f] } }
    ImplicitALS.solve(x, fixed: y, confidences: m, regularization: 0.1, cgSteps: 3)
    ImplicitALS.solve(xs, fixed: y, confidences: shifted, regularization: 0.1, cgSteps: 3)
    for r in 0..<data.users {
      for f in 0..<factors { #expect(xs[r + 1, f].bitPattern == x[r, f].bitPattern, "row \(r) factor \(f)") }
    }
    #expect((0..<factors).allSatisfy { xs[0, $0] == 0 }, "the row without cells stays at zero")
    #expect(x[0, 0] != FactorMatrix.random(rows: 1, factors: factors, seed: 3, stream: 1)[0, 0], "the solve moved the factors")
  }

  @Test func thresholdingEqualsANaiveReference() {
    for seed in [1, 2, 3] as [UInt64] {
      let data = RandomPurchases(customers: 300, articles: 150, rows: 3000, seed: seed)
      let (keepCustomer, keepArticle) = ALSModelData.threshold(
        data.history(), articles: data.articles, minCustomerRows: 6, minArticleRows: 12)
      // Naive: filter the transaction rows again and again until no row goes.
      var rows = Array(zip(data.customer, data.article))
      while true {
        let byCustomer = Dictionary(grouping: rows, by: \.0).mapValues(\.count)
        let byArticle = Dictionary(grouping: rows, by: \.1).mapValues(\.count)
        let kept = rows.filter { byCustomer[$0.0]! >= 6 && byArticle[$0.1]! >= 12 }
        if kept.count == rows.count { break }
        rows = kept
      }
      #expect(Set(rows.map(\.0)) == Set((0..<data.customers).filter { keepCustomer[$0] }.map(UInt32.init)))
      #expect(Set(rows.map(\.1)) == Set((0..<data.articles).filter { keepArticle[$0] }.map(UInt32.init)))
      #expect(!rows.isEmpty && rows.count < data.customer.count, "the thresholds bite but leave a model")
    }
  }

  /// Every element, the ones summed and the ones copied from the other side of the diagonal, at
  /// widths within one register block (11 factors) and beyond it (150).
  @Test(arguments: [11, 150]) func gramMatrixIsYTransposeY(factors: Int) {
    let rows = 2500  // two partial sums to add
    let y = FactorMatrix.random(rows: rows, factors: factors, seed: 3, stream: 1)
    let g = ImplicitALS.gram(y, regularization: 0.5)
    var expected = [Double](repeating: 0, count: factors * factors)
    for r in 0..<rows {
      for j in 0..<factors {
        let yj = Double(y[r, j])
        for k in j..<factors { expected[j * factors + k] += yj * Double(y[r, k]) }
      }
    }
    for j in 0..<factors {
      for k in 0..<factors {
        let want = expected[min(j, k) * factors + max(j, k)] + (j == k ? 0.5 : 0)
        #expect(abs(Double(g[j * y.lanes + k / 8][k % 8]) - want) < 1e-3 * max(1, want), "G[\(j)][\(k)]")
      }
    }
  }

  /// The kernels' register tiles (32 registers, AVX-512's; 16, AVX2's and below) change no bit: G's
  /// products for a whole batch and a short one, and the cells' dot products (groups of four and a
  /// tail), both shapes against the one-row sums. A build uses one shape; this tries both.
  @Test(arguments: [5, 64, 100, 128]) func registerTilesChangeNoBit(factors: Int) {
    let y = FactorMatrix.random(rows: 64, factors: factors, seed: 5, stream: 1)
    let lanes = y.lanes, batch = ImplicitALS.rowsPerBatch
    let g = ImplicitALS.gram(y, regularization: 0.1)
    let weights = (0..<batch * factors).map { y[20 + $0 / factors, $0 % factors] * ($0 % 3 == 0 ? -1 : 1) }
    let ys = UnsafePointer(y.storage.baseAddress!)
    g.withUnsafeBufferPointer { g in
      weights.withUnsafeBufferPointer { w in
        for rows in [batch, batch - 1] {
          var reference = [SIMD8<Float>](repeating: .zero, count: batch * lanes)
          reference.withUnsafeMutableBufferPointer { out in
            for i in 0..<rows {
              ImplicitALS.weightedSum(
                g.baseAddress!, count: factors, weights: w.baseAddress! + i * factors, lanes: 0..<lanes, stride: lanes,
                into: out.baseAddress! + i * lanes)
            }
          }
          for registers in [16, 32] {
            var out = [SIMD8<Float>](repeating: .zero, count: batch * lanes)
            out.withUnsafeMutableBufferPointer {
              ImplicitALS.gramProducts(
                g.baseAddress!, factors: factors, weights: w.baseAddress!, rows: rows, lanes: lanes, into: $0.baseAddress!,
                registers: registers)
            }
            #expect(
              (0..<rows * lanes).allSatisfy { Self.sameBits(out[$0], reference[$0]) }, "G products, \(rows) rows, \(registers) registers")
          }
        }
      }
    }
    let cells = 11, v = ys + 40 * lanes
    let reference = (0..<cells).map { ImplicitALS.dot(ys + $0 * lanes, v, lanes: lanes) }
    for registers in [16, 32] {
      var out = [Float](repeating: 0, count: cells)
      out.withUnsafeMutableBufferPointer {
        ImplicitALS.dots(ys, count: cells, with: v, lanes: lanes, into: $0.baseAddress!, registers: registers)
      }
      #expect(out.map(\.bitPattern) == reference.map(\.bitPattern), "dot products, \(registers) registers")
    }
  }

  /// A v worked a block of cells at a time (weights, then their rows summed while in cache) has,
  /// bit for bit, the value of A v from all of a row's weights at once, for rows of no cells, one,
  /// and more than one block with a ragged end, as products and as the residual.
  @Test(arguments: [64, 100]) func cellBlocksChangeNoBit(factors: Int) {
    let block = ImplicitALS.cellsPerBlock, members = ImplicitALS.rowsPerBatch
    let lengths = [0, 1, block + 3, 2 * block + 6]
    let starts = lengths.reduce(into: [0]) { $0.append($0[$0.count - 1] + $1) }, total = starts[members]
    let y = FactorMatrix.random(rows: total + members, factors: factors, seed: 7, stream: 1)
    let lanes = y.lanes, ys = UnsafePointer(y.storage.baseAddress!)
    let cells = { (i: Int) in starts[i]..<starts[i + 1] }, vector = { (i: Int) in ys + (total + i) * lanes }
    let g = ImplicitALS.gram(y, regularization: 0.1)
    g.withUnsafeBufferPointer { g in
      let s = ImplicitALS.CGScratch(gram: g.baseAddress!, factors: factors, lanes: lanes)
      s.reserve(total)
      s.cellRows.update(from: ys, count: total * lanes)
      for j in 0..<total { s.confidence[j] = Float(1 + j % 5) }
      for residual in [false, true] {
        var out = [SIMD8<Float>](repeating: .zero, count: members * lanes)
        out.withUnsafeMutableBufferPointer {
          ImplicitALS.multiply(
            s, members: members, active: .init(repeating: true), cells: cells, lanes: lanes, residual: residual,
            into: $0.baseAddress!, vector: vector)
        }
        var reference = [SIMD8<Float>](repeating: .zero, count: members * lanes)
        reference.withUnsafeMutableBufferPointer { reference in
          for i in 0..<members {
            let row = reference.baseAddress! + i * lanes, sign: Float = residual ? -1 : 1
            let gramWeights = (0..<factors).map { sign * y[total + i, $0] }
            ImplicitALS.weightedSum(g.baseAddress!, count: factors, weights: gramWeights, lanes: 0..<lanes, stride: lanes, into: row)
            let weights = cells(i).map { j in
              let d = ImplicitALS.dot(s.cellRows + j * lanes, vector(i), lanes: lanes), c = s.confidence[j]
              return residual ? c - (c - 1) * d : d * (c - 1)
            }
            ImplicitALS.weightedSum(
              s.cellRows + cells(i).lowerBound * lanes, count: weights.count, weights: weights, lanes: 0..<lanes, stride: lanes,
              into: row, continuing: true)
          }
        }
        #expect((0..<members * lanes).allSatisfy { Self.sameBits(out[$0], reference[$0]) }, "residual: \(residual)")
      }
    }
  }
}
