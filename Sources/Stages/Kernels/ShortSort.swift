extension MutableCollection where Self: RandomAccessCollection, Element: Comparable {
  /// Sorts ascending without allocating: the standard library's sort allocates a merge buffer on
  /// every call, which dominates when it is called once per customer or per article. Short runs (a
  /// customer's two dozen purchases) by insertion, longer ones by an introsort in place. Only for
  /// elements whose equal values are indistinguishable (integers, keys with a tie-breaker): the
  /// result is then the standard sort's.
  mutating func sortShortRuns() {
    if count <= ShortSort.insertionLimit { return insertionSort() }
    let sorted: Void? = withContiguousMutableStorageIfAvailable { values in
      values.introsort(depth: 2 * (Int.bitWidth - values.count.leadingZeroBitCount))
    }
    if sorted == nil { sort() }
  }

  mutating func insertionSort() {
    guard !isEmpty else { return }
    var i = index(after: startIndex)
    while i < endIndex {
      let value = self[i]
      var j = i
      while j > startIndex, self[index(before: j)] > value {
        self[j] = self[index(before: j)]
        j = index(before: j)
      }
      self[j] = value
      i = index(after: i)
    }
  }
}

/// The sizes where `sortShortRuns` switches method.
enum ShortSort {
  /// Runs this long or shorter are sorted by insertion.
  static let insertionLimit = 32
  /// Runs of 64-bit keys longer than this are sorted by radix (`sortKeys`).
  static let radixFrom = 96
}

extension UnsafeMutableBufferPointer where Element: Comparable {
  /// Quicksort down to short runs, each finished by insertion; after `depth` levels (an adversarial
  /// order) the standard sort takes over, so the worst case stays n log n.
  func introsort(depth: Int) {
    var low = 0, high = count - 1, depth = depth
    while high - low >= ShortSort.insertionLimit {
      if depth == 0 {
        var rest = UnsafeMutableBufferPointer(rebasing: self[low...high])
        return rest.sort()
      }
      depth -= 1
      let (j, i) = partition(low, high)
      // The smaller part by recursion, the larger by the loop: the stack stays logarithmic.
      if j - low < high - i {
        UnsafeMutableBufferPointer(rebasing: self[low...j]).introsort(depth: depth)
        low = i
      } else {
        UnsafeMutableBufferPointer(rebasing: self[i...high]).introsort(depth: depth)
        high = j
      }
    }
    guard high > low else { return }
    var rest = UnsafeMutableBufferPointer(rebasing: self[low...high])
    rest.insertionSort()
  }

  /// Hoare partition of `low...high` around the median of its first, middle and last elements:
  /// afterwards everything in `low...j` is at most the pivot, everything in `i...high` at least,
  /// and anything between equals it (j < i).
  func partition(_ low: Int, _ high: Int) -> (j: Int, i: Int) {
    let middle = low + (high - low) / 2
    let pivot = Swift.max(Swift.min(self[low], self[middle]), Swift.min(Swift.max(self[low], self[middle]), self[high]))
    var i = low, j = high
    while i <= j {
      while self[i] < pivot { i += 1 }
      while self[j] > pivot { j -= 1 }
      if i <= j {
        swapAt(i, j)
        i += 1
        j -= 1
      }
    }
    return (j, i)
  }
}

extension UnsafeMutableBufferPointer where Element == UInt64 {
  /// Sorts ascending, like `sortShortRuns`, but a run longer than `ShortSort.radixFrom` by a least
  /// significant digit radix sort through `scratch` (at least `count` elements): one counting pass
  /// per byte in which the keys differ (a customer's (article, day) keys differ in five of eight),
  /// with no comparisons to mispredict. The order is the same as any sort's, keys being integers.
  func sortKeys(scratch: UnsafeMutableBufferPointer<UInt64>) {
    guard count > ShortSort.radixFrom else {
      var run = self
      return run.sortShortRuns()
    }
    precondition(scratch.count >= count, "the radix sort's scratch is smaller than the run")
    let first = self[0]
    var differing: UInt64 = 0
    for key in self { differing |= key ^ first }
    var source = self, target = UnsafeMutableBufferPointer(rebasing: scratch[0..<count])
    withUnsafeTemporaryAllocation(of: Int.self, capacity: 256) { place in
      for shift in stride(from: 0, to: 64, by: 8) where (differing >> UInt64(shift)) & 0xFF != 0 {
        place.initialize(repeating: 0)
        for key in source { place[Int(truncatingIfNeeded: key >> UInt64(shift)) & 0xFF] += 1 }
        var total = 0
        for digit in 0..<256 {
          let n = place[digit]
          place[digit] = total
          total += n
        }
        for key in source {
          let digit = Int(truncatingIfNeeded: key >> UInt64(shift)) & 0xFF
          target[place[digit]] = key
          place[digit] += 1
        }
        swap(&source, &target)
      }
    }
    if source.baseAddress != baseAddress { baseAddress!.update(from: source.baseAddress!, count: count) }
  }
}
