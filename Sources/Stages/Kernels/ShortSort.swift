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
