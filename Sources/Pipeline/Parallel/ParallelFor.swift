import Dispatch
import Foundation
import Synchronization

/// Moves a non-Sendable value (a pointer, a buffer) into `concurrentPerform`. The caller promises that
/// the workers touch disjoint parts of it; each use says which.
public struct UnsafeTransfer<Wrapped>: @unchecked Sendable {
  public var wrapped: Wrapped
  @inlinable public init(_ wrapped: Wrapped) { self.wrapped = wrapped }
}

/// Data-parallel loops for kernels: synchronous, no `async`, the caller's thread plus Dispatch's
/// core-sized pool.
///
/// Determinism: callers split work into chunks by the data (never by the worker count) and write
/// each chunk's result into its own slot, so the bytes produced do not depend on `workers`.
public enum Parallel {
  /// Threads a kernel uses: the `HMPIPE_THREADS` environment variable when set, else the cores
  /// available to this process. Results never depend on it.
  public static let coreCount: Int = {
    if let text = ProcessInfo.processInfo.environment["HMPIPE_THREADS"], let n = Int(text), n > 0 { return n }
    return max(1, ProcessInfo.processInfo.activeProcessorCount)
  }()

  /// Threads a loop takes by default: `coreCount` shared evenly among the stages running at this
  /// moment, so two stages in parallel on 2 cores use one thread each rather than four threads on
  /// two cores. Read at every loop, so a stage gets the whole machine back once the other ends.
  /// Results never depend on it.
  public static var share: Int { max(1, coreCount / max(1, runningStages.load(ordering: .relaxed))) }

  private static let runningStages = Atomic<Int>(0)

  /// Runs `body` (a stage's work) counted as one running stage for `share`. When it ends, its thread
  /// is lent to the loops still running (`OpenLoops.lend`): they took a smaller share when they began.
  public static func asStage<T>(_ body: () throws -> T) rethrows -> T {
    runningStages.add(1, ordering: .relaxed)
    defer {
      runningStages.subtract(1, ordering: .relaxed)
      OpenLoops.lend()
    }
    return try body()
  }

  /// Runs `body(chunk)` for every chunk in `0..<chunks` on up to `workers` threads, dynamically
  /// balanced: a worker takes the next unclaimed chunk when it finishes one.
  public static func forEach(chunks: Int, workers: Int = share, _ body: @Sendable (Int) -> Void) {
    forEach(chunks: chunks, workers: workers, makeState: { _ in () }) { _, chunk in body(chunk) }
  }

  /// As `forEach(chunks:workers:_:)`, with per-worker scratch state (a zstd context, a buffer) made
  /// once per worker by `makeState(worker)` and handed to every chunk that worker runs.
  ///
  /// A loop that takes its whole share but fewer threads than the machine has stays open to the
  /// threads of stages that end while it runs (`OpenLoops`): otherwise a half-step of ALS begun beside
  /// another stage would keep one core idle until it ends.
  public static func forEach<State>(
    chunks: Int, workers: Int = share,
    makeState: @Sendable (Int) -> State, _ body: @Sendable (inout State, Int) -> Void
  ) {
    guard chunks > 0 else { return }
    let threads = max(1, min(workers, chunks))
    let loop = OpenLoop(chunks: chunks)
    OpenLoops.run(loop, threads: threads, open: threads < min(coreCount, chunks) && workers >= share) { worker, lent in
      var state = makeState(worker)
      while let chunk = loop.claim(lent: lent) { body(&state, chunk) }
    }
  }

  /// Maps every chunk to a value, in parallel, returning the values in chunk order.
  public static func map<T>(chunks: Int, workers: Int = share, _ transform: @Sendable (Int) -> T) -> [T] {
    map(chunks: chunks, workers: workers, makeState: { _ in () }) { _, chunk in transform(chunk) }
  }

  /// As `map(chunks:workers:_:)`, with per-worker scratch state made once per worker by
  /// `makeState(worker)` and handed to every chunk that worker maps.
  public static func map<T, State>(
    chunks: Int, workers: Int = share,
    makeState: @Sendable (Int) -> State, _ transform: @Sendable (inout State, Int) -> T
  ) -> [T] {
    var results = [T?](repeating: nil, count: chunks)
    results.withUnsafeMutableBufferPointer { slots in
      let out = UnsafeTransfer(slots)
      // Each chunk writes only its own slot.
      forEach(chunks: chunks, workers: workers, makeState: makeState) { state, chunk in
        out.wrapped[chunk] = transform(&state, chunk)
      }
    }
    return results.map { $0! }
  }

  /// Calls `body` for every row of `0..<count`, in parallel over runs of about `rowsPerChunk` rows
  /// (at most 256 runs): for rows that each write their own, precomputed place in an output.
  public static func forEachRow(_ count: Int, rowsPerChunk: Int, _ body: @Sendable (Int) -> Void) {
    let chunks = max(1, min(256, count / rowsPerChunk))
    forEach(chunks: chunks) { chunk in
      for row in range(chunk, of: chunks, count: count) { body(row) }
    }
  }

  /// Splits `0..<count` into `chunks` contiguous ranges of near-equal size.
  public static func range(_ chunk: Int, of chunks: Int, count: Int) -> Range<Int> {
    let lower = count * chunk / chunks
    let upper = count * (chunk + 1) / chunks
    return lower..<upper
  }
}
