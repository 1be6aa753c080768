extension RandomAccessCollection where Index == Int {
  /// In this collection, sorted ascending by `key`, the first position whose key is not below
  /// `value` (a binary search).
  @inline(__always)
  func sortedLowerBound<Key: Comparable>(_ value: Key, by key: (Element) -> Key) -> Int {
    var low = startIndex, high = endIndex
    while low < high {
      let mid = (low + high) / 2
      if key(self[mid]) < value { low = mid + 1 } else { high = mid }
    }
    return low
  }

  /// Whether this collection, sorted ascending by `key`, holds an element whose key is `value`.
  @inline(__always)
  func sortedContains<Key: Comparable>(_ value: Key, by key: (Element) -> Key) -> Bool {
    let low = sortedLowerBound(value, by: key)
    return low < endIndex && key(self[low]) == value
  }
}

extension RandomAccessCollection where Index == Int, Element: Comparable {
  /// In this sorted collection, the first position not below `value`.
  @inline(__always)
  func sortedLowerBound(_ value: Element) -> Int { sortedLowerBound(value, by: { $0 }) }

  /// Whether this sorted collection holds `value`.
  @inline(__always)
  func sortedContains(_ value: Element) -> Bool { sortedContains(value, by: { $0 }) }
}
