import Pipeline

/// A stable counting sort into buckets (customers, articles), in parallel: the items are cut into
/// contiguous slices, each slice counts its items per bucket, and then writes each item to its
/// place, after the same bucket's items of earlier slices. The places are the same for any number of
/// slices, so the result never depends on the thread count.
enum StableScatter {
  /// The bucket offsets (`buckets + 1`: bucket b's items go to `offsets[b]..<offsets[b + 1]`).
  ///
  /// `visit(slice, slices, place)` must go through slice `slice` of `slices` in item order, calling
  /// `place(bucket)` for each item. It is called twice per slice: first `place` only counts and
  /// returns nil, then it returns the item's position, where `visit` writes it.
  ///
  /// `slices` (tests) overrides the default: one per thread of the stage's share, a mebibyte of
  /// items or more each.
  @inline(__always)
  static func sort(
    buckets: Int, items: Int, slices: Int? = nil,
    _ visit: @Sendable (_ slice: Int, _ slices: Int, _ place: Place) -> Void
  ) -> [Int] {
    let slices = slices ?? max(1, min(Parallel.share, items >> 20))
    // next[s * buckets + b]: how many items slice s has in bucket b, then where its next one goes.
    var next = [Int](repeating: 0, count: slices * buckets)
    next.withUnsafeMutableBufferPointer { next in
      let counts = UnsafeTransfer(next)
      Parallel.forEach(chunks: slices, workers: slices) { s in
        // Each slice counts into its own row.
        visit(s, slices, Place(next: counts.wrapped.baseAddress! + s * buckets, buckets: buckets, counting: true))
      }
    }
    var offsets = [Int](repeating: 0, count: buckets + 1)
    for b in 0..<buckets {
      var at = offsets[b]
      for s in 0..<slices {
        let n = next[s * buckets + b]
        next[s * buckets + b] = at
        at += n
      }
      offsets[b + 1] = at
    }
    next.withUnsafeMutableBufferPointer { next in
      let positions = UnsafeTransfer(next)
      Parallel.forEach(chunks: slices, workers: slices) { s in
        // Each slice places its own items.
        visit(s, slices, Place(next: positions.wrapped.baseAddress! + s * buckets, buckets: buckets, counting: false))
      }
    }
    return offsets
  }

  /// One slice's `place(bucket)`: a struct rather than a closure, so that it inlines into the
  /// caller's loop.
  struct Place {
    let next: UnsafeMutablePointer<Int>, buckets: Int, counting: Bool

    @inline(__always) func callAsFunction(_ bucket: Int) -> Int? {
      if counting {
        precondition(bucket >= 0 && bucket < buckets, "bucket \(bucket) out of range 0..<\(buckets)")
        next[bucket] += 1
        return nil
      }
      defer { next[bucket] += 1 }
      return next[bucket]
    }
  }
}
