import Pipeline
import Testing

@testable import Stages

/// The shared kernels that promise the same result whatever the split of the work: against a
/// plain reference, for several splits.
@Suite struct StableScatterTests {
  @Test(arguments: [1, 2, 3, 7, 64])
  func placesLikeAStableSortWhateverTheSlices(slices: Int) {
    var rng = CounterRandom(seed: 11, stream: 0, index: 0)
    let buckets = 50, keys = (0..<5000).map { _ in rng.below(buckets) }
    var placed = [Int](repeating: -1, count: keys.count)
    let offsets = placed.withUnsafeMutableBufferPointer { placed in
      let out = UnsafeTransfer(placed)
      return StableScatter.sort(buckets: buckets, items: keys.count, slices: slices) { slice, slices, place in
        for item in Parallel.range(slice, of: slices, count: keys.count) {
          if let at = place(keys[item]) { out.wrapped[at] = item }
        }
      }
    }
    let expected = keys.indices.sorted { (keys[$0], $0) < (keys[$1], $1) }
    #expect(placed == expected)
    #expect(offsets == (0...buckets).map { b in keys.count { $0 < b } })
  }
}

@Suite struct ScoringKernelTests {
  /// Four at a time and the tail (0–9 rows) give `dot`'s bits, for widths with and without an odd lane.
  @Test(arguments: [5, 64, 100])
  func dotsMatchOneAtATime(factors: Int) {
    let users = FactorMatrix.random(rows: 3, factors: factors, seed: 1, stream: 1)
    let items = FactorMatrix.random(rows: 40, factors: factors, seed: 1, stream: 2)
    for count in 0...9 {
      let rows = (0..<count).map { Int32(($0 * 17 + count) % 40) }
      var scores = [Float](repeating: .nan, count: count + 1)
      rows.withUnsafeBufferPointer { rows in
        scores.withUnsafeMutableBufferPointer { users.dots(2, items, rows: rows, into: $0.baseAddress!) }
      }
      #expect(scores.prefix(count).map(\.bitPattern) == rows.map { users.dot(2, items, Int($0)).bitPattern })
      #expect(scores[count].isNaN, "wrote past the rows")
    }
  }
}

@Suite struct SortingKernelTests {
  /// Insertion runs, quicksort with many repeats, sorted and reversed input: the standard sort's result.
  @Test(arguments: [0, 1, 31, 32, 33, 100, 5000])
  func sortShortRunsSortsLikeTheStandardSort(count: Int) {
    var rng = CounterRandom(seed: 5, stream: UInt64(count), index: 0)
    let inputs: [[UInt32]] = [
      (0..<count).map { _ in UInt32(rng.below(1_000_000)) }, (0..<count).map { _ in UInt32(rng.below(4)) },
      (0..<count).map(UInt32.init), (0..<count).reversed().map(UInt32.init),
    ]
    for input in inputs {
      var sorted = input
      sorted.sortShortRuns()
      #expect(sorted == input.sorted())
    }
  }

  /// Short runs by `sortShortRuns`, long ones by radix over the bytes that differ: purchase keys
  /// (article << 32 | day) with repeats, keys differing in every byte, sorted and reversed input.
  @Test(arguments: [0, 1, 96, 97, 300, 5000])
  func sortKeysSortsLikeTheStandardSort(count: Int) {
    var rng = CounterRandom(seed: 7, stream: UInt64(count), index: 0)
    let inputs: [[UInt64]] = [
      (0..<count).map { _ in UInt64(rng.below(105_000)) << 32 | UInt64(0x8000_0000 + rng.below(734)) },
      (0..<count).map { _ in UInt64(rng.below(3)) << 40 | 5 }, (0..<count).map { _ in rng.next() },
      (0..<count).map(UInt64.init), (0..<count).reversed().map(UInt64.init),
    ]
    let scratch = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: count)
    defer { scratch.deallocate() }
    for input in inputs {
      var sorted = input
      sorted.withUnsafeMutableBufferPointer { $0.sortKeys(scratch: scratch) }
      #expect(sorted == input.sorted())
    }
  }

  @Test func orderedBitsetHandsBackDistinctMembersInOrderAndEmpties() {
    var set = OrderedBitset(capacity: 300_000), rng = CounterRandom(seed: 6, stream: 0, index: 0)
    for round in 0..<3 {
      let members = (0..<(round * 400)).map { _ in rng.below(299_999) }
      var fresh = Set<Int>()
      for m in members { #expect(set.insert(m) == fresh.insert(m).inserted) }
      // The branchless form: flag 0 leaves the set as it is, flag 1 adds.
      for (n, m) in members.enumerated() { set.insert(m + 1, if: UInt64(n & 1)) }
      for (n, m) in members.enumerated() where n & 1 == 1 { fresh.insert(m + 1) }
      var out: [UInt32] = [7]
      set.drain(into: &out)
      #expect(out == [7] + fresh.sorted().map(UInt32.init))
    }
  }

  /// The top of a `SparseCounter` against a sort of a dictionary's counts, over rounds that reuse
  /// it after `reset`: highest counts first, ties to the lower key, `keep` honoured, adds of 0
  /// neither counted nor listed.
  @Test func sparseCounterTopIsTheSortedCountsAndResetEmptiesIt() {
    let counter = SparseCounter(keys: 500)
    var rng = CounterRandom(seed: 8, stream: 0, index: 0), best: [(key: UInt32, count: UInt32)] = []
    for round in 0..<4 {
      var reference: [UInt32: UInt32] = [:]
      for _ in 0..<(round * 300) {
        let key = UInt32(rng.below(round == 3 ? 500 : 40)), amount = UInt32(rng.below(3))
        counter.add(key, amount)
        if amount > 0 { reference[key, default: 0] += amount }
      }
      for limit in [0, 5, 1000] {
        counter.top(limit, into: &best) { $0 % 3 != 0 }
        let expected = reference.filter { $0.key % 3 != 0 }.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.prefix(limit)
        #expect(best.map(\.key) == expected.map(\.key) && best.map(\.count) == expected.map(\.value), "round \(round), limit \(limit)")
      }
      #expect((0..<500).allSatisfy { counter[UInt32($0)] == reference[UInt32($0)] ?? 0 })
      counter.reset()
      #expect((0..<500).allSatisfy { counter[UInt32($0)] == 0 })
    }
  }
}

/// `IDIndex` looks ids up in batches; runs of one id (a basket's rows) share one probe.
@Suite struct IDIndexTests {
  /// Built region by region in parallel, the index answers as a dictionary of first positions
  /// would, at sizes with one region and with sixteen (where probes wrap within a region), and
  /// names the first key met again.
  @Test(arguments: [0, 1, 9, 2_000, 50_000])
  func lookupsMatchADictionaryOfFirstPositions(count: Int) {
    var rng = CounterRandom(seed: 8, stream: 3, index: UInt64(count))
    let keys = (0..<count).map { _ in CustomerKey(a: rng.next() % 40_000, b: 1, c: 2, d: rng.next() % 3) }
    var first: [CustomerKey: Int] = [:], firstMetAgain: CustomerKey?
    for (n, key) in keys.enumerated() {
      if first[key] == nil { first[key] = n } else if firstMetAgain == nil { firstMetAgain = key }
    }
    let index = IDIndex(keys)
    #expect(index.firstDuplicate == firstMetAgain)
    let probes = keys + (0..<200).map { CustomerKey(a: UInt64($0), b: 9, c: 9, d: 9) }
    #expect(probes.allSatisfy { index.index(of: $0) == first[$0] })
    var found = [Int32](repeating: -2, count: probes.count)
    probes.withUnsafeBufferPointer { keys in found.withUnsafeMutableBufferPointer { index.indexes(of: keys, into: $0) } }
    #expect(found == probes.map { first[$0].map(Int32.init) ?? -1 })
  }

  /// Looked up in the table's own order (batches of 4096 keys or more), keys get what one-at-a-time
  /// lookups give, in their own places: present and absent ids, repeats, one region and sixteen.
  @Test(arguments: [3_000, 60_000])
  func slotOrderLookupsMatchOneAtATime(known count: Int) {
    var rng = CounterRandom(seed: 4, stream: 9, index: UInt64(count))
    let known = (0..<count).map { _ in CustomerKey(a: rng.next(), b: rng.next(), c: 3, d: rng.next()) }
    let index = IDIndex(known)
    let probes = (0..<20_000).map { n in
      n % 5 == 0 ? CustomerKey(a: rng.next(), b: 0, c: 0, d: rng.next()) : known[Int(rng.next() % UInt64(count))]
    }
    for batch in [probes, Array(probes.prefix(1000))] {
      var found = [Int32](repeating: -2, count: batch.count)
      batch.withUnsafeBufferPointer { keys in found.withUnsafeMutableBufferPointer { index.indexesInSlotOrder(of: keys, into: $0) } }
      #expect(found == batch.map { key in index.index(of: key).map { Int32($0) } ?? -1 })
      #expect(found.contains(-1) && found.contains { $0 >= 0 })
    }
  }

  @Test func batchedLookupsMatchOneAtATimeWithRunsAndAbsentIDs() {
    let known: [UInt64] = (0..<1000).map { $0 * 7919 + 3 }
    let index = IDIndex(known)
    // Runs of 1–4 of each id, present and absent ones mixed, as transactions' customer ids come.
    var keys: [UInt64] = []
    for n in 0..<600 {
      let id = n % 3 == 0 ? UInt64(n) * 7919 + 4 : known[(n * 37) % known.count]
      keys += repeatElement(id, count: 1 + n % 4)
    }
    var found = [Int32](repeating: -2, count: keys.count)
    keys.withUnsafeBufferPointer { keys in found.withUnsafeMutableBufferPointer { index.indexes(of: keys, into: $0) } }
    #expect(found == keys.map { key in index.index(of: key).map { Int32($0) } ?? -1 })
    #expect(found.contains(-1) && found.contains { $0 >= 0 }, "both present and absent ids were looked up")
  }
}
