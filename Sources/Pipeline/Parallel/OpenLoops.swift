import Dispatch
import Foundation
import Synchronization

/// A running `Parallel.forEach` loop's chunks, claimed one at a time by its own threads and by any
/// thread lent to it.
final class OpenLoop: Sendable {
  let chunks: Int
  private let next = Atomic<Int>(0)
  /// Threads working in the loop now, its own and lent ones.
  let threads = Atomic<Int>(0)
  /// Lent threads in the loop: the loop returns only after they leave, since its body borrows the
  /// caller's memory.
  let lent = DispatchGroup()

  init(chunks: Int) { self.chunks = chunks }

  var isExhausted: Bool { next.load(ordering: .relaxed) >= chunks }

  /// The next unclaimed chunk, or nil when none is left. A lent thread also leaves once the loop
  /// holds more threads than its stage's share (another stage has started since), so that lending
  /// never oversubscribes the machine for longer than a chunk.
  func claim(lent: Bool) -> Int? {
    if lent && threads.load(ordering: .relaxed) > Parallel.share { return nil }
    let chunk = next.wrappingAdd(1, ordering: .relaxed).oldValue
    return chunk < chunks ? chunk : nil
  }
}

/// The loops that threads may join while they run: a loop begun beside another stage takes half the
/// cores; when that stage ends, its thread joins the loop instead of idling until the loop's next
/// start reads the larger share. Chunks are still claimed whole and write their own slots, so results
/// do not depend on who runs them.
enum OpenLoops {
  typealias Work = @Sendable (_ worker: Int, _ lent: Bool) -> Void

  private static let open = Mutex<[(loop: OpenLoop, work: Work)]>([])

  /// Runs `work` on `threads` threads (the caller's among them). An `open` loop also takes lent
  /// threads until its own finish, and returns once the lent ones have left too.
  static func run(_ loop: OpenLoop, threads: Int, open isOpen: Bool, _ work: Work) {
    guard isOpen else { return perform(loop, threads: threads, work) }
    withoutActuallyEscaping(work) { work in
      open.withLock { $0.append((loop, work)) }
      perform(loop, threads: threads, work)
      open.withLock { $0.removeAll { $0.loop === loop } }
      loop.lent.wait()
    }
  }

  private static func perform(_ loop: OpenLoop, threads: Int, _ work: Work) {
    if threads == 1 {
      counted(loop) { work(0, false) }
    } else {
      DispatchQueue.concurrentPerform(iterations: threads) { worker in counted(loop) { work(worker, false) } }
    }
  }

  /// Lends the calling stage's thread, which is ending, to the open loops: a thread joins each loop
  /// that has chunks left and fewer threads than its share, one after another. A thread of its own,
  /// not one of Dispatch's: Dispatch keeps as many of those busy as there are cores, and the next
  /// stage starts on one of them.
  static func lend() {
    guard Parallel.coreCount > 1, open.withLock({ !$0.isEmpty }) else { return }
    Thread {
      while let loop = join() {
        work(in: loop)
        loop.lent.leave()
      }
    }.start()
  }

  /// An open loop that can use another thread, entered (`lent`) before the lock is released, so it
  /// cannot return while the thread is on its way in.
  private static func join() -> OpenLoop? {
    open.withLock { open in
      let share = Parallel.share
      guard let (loop, _) = open.first(where: { !$0.loop.isExhausted && $0.loop.threads.load(ordering: .relaxed) < share })
      else { return nil }
      loop.lent.enter()
      return loop
    }
  }

  /// Works in `loop` as a lent thread. Not inlined: the reference to the loop's work ends with this
  /// call, before the thread leaves the loop, since the work borrows the caller's closures.
  @inline(never)
  private static func work(in loop: OpenLoop) {
    guard let work = open.withLock({ open in open.first { $0.loop === loop }?.work }) else { return }
    counted(loop) { work(Parallel.coreCount, true) }
  }

  private static func counted(_ loop: OpenLoop, _ body: () -> Void) {
    loop.threads.add(1, ordering: .relaxed)
    body()
    loop.threads.subtract(1, ordering: .relaxed)
  }
}
