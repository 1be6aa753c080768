import Pipeline

/// split: holds out the last `holdout_days` days of transactions as the test week (validation
/// mode); with `holdout_days` = 0 (submission mode) everything is training data and the test table
/// is empty.
///
/// Inputs: `transactions` (ingest's). Outputs: `train`, `test` (same columns).
public struct SplitStage: Stage {
  public static let kind = "split"
  public static let version = 1
  public static let inputs = [InputSlot("transactions")]
  public static let outputs = ["train", "test"]

  public struct Params: StageParams {
    public var holdout_days = 7
    public init() {}
  }

  public static func validate(_ params: Params) throws(ParamError) {
    if params.holdout_days < 0 { throw ParamError("holdout_days", "must be 0 (submission mode) or more, not \(params.holdout_days)") }
  }

  public static func run(_ params: Params, _ context: StageContext) throws {
    let table = try context.table("transactions")
    let days = try table.column("day").values(Int32.self)
    let last = days.max() ?? 0
    let cutoff = params.holdout_days == 0 ? Int32.max : last - Int32(params.holdout_days) + 1
    let isTest = days.map { $0 >= cutoff }
    // Transactions come in date order, so the training rows are usually the leading ones: then
    // their compressed chunks are copied, not compressed again.
    let firstTest = isTest.firstIndex(of: true) ?? isTest.count
    if !isTest[firstTest...].contains(false) {
      try context.writeLeadingRows("train", of: "transactions", rows: firstTest)
    } else {
      try context.write("train", table.filter { !isTest[$0] })
    }
    try context.write("test", table.filter { isTest[$0] })
    context.record("train_rows", Double(isTest.count - isTest.filter { $0 }.count))
    context.record("test_rows", Double(isTest.filter { $0 }.count))
    if params.holdout_days > 0 { context.record("test_first_day", Double(cutoff)) }
  }
}
