import Foundation
import Pipeline
import Synchronization

/// Toy stage kinds with nothing to do with H&M: they prove the framework stands alone, and give the
/// tests stages whose outputs and timing they control.
public enum ToyStages {
  public static let registry = StageRegistry([
    ToySource.self, ToyScale.self, ToyClamp.self, ToySum.self, ToyLines.self, ToyFail.self, ToyReport.self, ToySpread.self,
    CommandStage.self,
  ])
}

/// Numbers 0..<count, times `seed`; `delay_ms` sleeps between the columns it writes, so a test can
/// kill the process in the middle of a write.
public struct ToySource: Stage {
  public static let kind = "toy-source"
  public static let version = 1
  public static let inputs: [InputSlot] = []
  public static let outputs = ["numbers"]
  public struct Params: StageParams {
    public var count = 1000
    public var seed = 1
    public var delay_ms = 0
    public var columns = 1
    public init() {}
  }

  public static func validate(_ params: Params) throws(ParamError) {
    if params.count < 0 { throw ParamError("count", "must be at least 0, not \(params.count)") }
  }

  public static func run(_ params: Params, _ context: StageContext) throws {
    let writer = try context.outputWriter("numbers")
    let values = (0..<params.count).map { Int64($0 * params.seed) }
    try writer.append(Column("value", values))
    for extra in 1..<max(params.columns, 1) {
      if params.delay_ms > 0 {
        context.log("writing column \(extra)")
        usleep(UInt32(params.delay_ms * 1000))
      }
      try context.checkCancellation()
      try writer.append(Column("extra\(extra)", values.map { Double($0) * Double(extra) }))
      context.progress(Double(extra) / Double(params.columns))
    }
    try writer.finish()
  }
}

/// Multiplies every value.
public struct ToyScale: Stage {
  public static let kind = "toy-scale"
  public static let version = 1
  public static let inputs = [InputSlot("numbers")]
  public static let outputs = ["scaled"]
  public struct Params: StageParams {
    public var factor = 2.0
    public init() {}
  }
  public static func run(_ params: Params, _ context: StageContext) throws {
    let values = try context.column("numbers", "value").values(Int64.self)
    try context.write("scaled", Table([Column("value", values.map { Int64(Double($0) * params.factor) })]))
  }
}

/// Caps values at `max`: a change of `max` above every value leaves the output id unchanged.
public struct ToyClamp: Stage {
  public static let kind = "toy-clamp"
  public static let version = 1
  public static let inputs = [InputSlot("numbers")]
  public static let outputs = ["clamped"]
  public struct Params: StageParams {
    public var max = 1_000_000
    public init() {}
  }
  public static func run(_ params: Params, _ context: StageContext) throws {
    let values = try context.column("numbers", "value").values(Int64.self)
    try context.write("clamped", Table([Column("value", values.map { Swift.min($0, Int64(params.max)) })]))
  }
}

/// The sum of the values, as a one-row table.
public struct ToySum: Stage {
  public static let kind = "toy-sum"
  public static let version = 1
  public static let inputs = [InputSlot("numbers")]
  public static let outputs = ["total"]
  public struct Params: StageParams { public init() {} }
  public static func run(_ params: Params, _ context: StageContext) throws {
    let values = try context.column("numbers", "value").values(Int64.self)
    try context.write("total", Table([Column("total", [values.reduce(0, +)])]))
  }
}

/// The length of every line of an external text file.
public struct ToyLines: Stage {
  public static let kind = "toy-lines"
  public static let version = 1
  public static let inputs = [InputSlot("source", accepts: .file)]
  public static let outputs = ["lengths"]
  public struct Params: StageParams { public init() {} }
  public static func run(_ params: Params, _ context: StageContext) throws {
    let text = try String(contentsOfFile: try context.file("source"), encoding: .utf8)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    try context.write(
      "lengths", Table([Column("length", lines.map { UInt32($0.utf8.count) }), Column("line", strings: lines.map(String.init))]))
  }
}

/// The values as a text file (one per line): a file output, for publishing.
public struct ToyReport: Stage {
  public static let kind = "toy-report"
  public static let version = 1
  public static let inputs = [InputSlot("numbers")]
  public static let outputs = ["report", "count"]
  public struct Params: StageParams { public init() {} }
  public static func run(_ params: Params, _ context: StageContext) throws {
    let values = try context.column("numbers", "value").values(Int64.self)
    try context.write("report", Table.file(named: "report.txt", bytes: Array(values.map { "\($0)\n" }.joined().utf8)))
    try context.write("count", Table([Column("count", [Int64(values.count)])]))
  }
}

/// Always fails: for testing that failures stop dependents and keep finished stages.
public struct ToyFail: Stage {
  public static let kind = "toy-fail"
  public static let version = 1
  public static let inputs = [InputSlot("numbers", optional: true)]
  public static let outputs = ["nothing"]
  public struct Params: StageParams { public init() {} }
  public struct Failure: Error, CustomStringConvertible { public var description: String { "toy-fail always fails" } }
  public static func run(_ params: Params, _ context: StageContext) throws { throw Failure() }
}

/// One `Parallel.forEach` loop of `chunks` chunks of `chunk_ms` each, begun while another stage runs
/// (so at a part of the cores): it logs how many threads ran its chunks and the most at once, to
/// show that a thread freed by a stage that ends joins the loop, and that the loop never holds more
/// threads than the machine has.
public struct ToySpread: Stage {
  public static let kind = "toy-spread"
  public static let version = 1
  public static let inputs: [InputSlot] = []
  public static let outputs = ["squares"]
  public struct Params: StageParams {
    public var chunks = 400
    public var chunk_ms = 2
    public init() {}
  }

  public static func run(_ params: Params, _ context: StageContext) throws {
    let deadline = Date().addingTimeInterval(10)
    while Parallel.share == Parallel.coreCount && Date() < deadline { usleep(1000) }
    context.log("began at a share of \(Parallel.share) of \(Parallel.coreCount) threads")
    let threads = Mutex<Set<pthread_t>>([]), inside = Atomic<Int>(0), most = Atomic<Int>(0)
    let squares = Parallel.map(chunks: params.chunks) { chunk in
      let now = inside.add(1, ordering: .relaxed).newValue
      most.max(now, ordering: .relaxed)
      threads.withLock { _ = $0.insert(pthread_self()) }
      usleep(UInt32(params.chunk_ms * 1000))
      inside.subtract(1, ordering: .relaxed)
      return Int64(chunk * chunk)
    }
    context.log("ran on \(threads.withLock { $0.count }) threads, at most \(most.load(ordering: .relaxed)) at once")
    try context.write("squares", Table([Column("square", squares)]))
  }
}
