import Foundation
import Pipeline

/// repurchase: each customer's own recent purchases as candidates. An article they bought in the
/// last `days` days of training is scored by its rows there, each row weighing 2^(−age /
/// `half_life_days`), so recent and repeated purchases lead; the best `top` per customer.
///
/// Inputs: `transactions` (training rows), `customers` (ingest's: the row count). Output:
/// `candidates`, one row per customer: `candidates` (list<u32>, best first) and `scores` (list<f32>).
public struct RepurchaseStage: Stage {
  public static let kind = "repurchase"
  public static let version = 1
  public static let inputs = [InputSlot("transactions"), InputSlot("customers")]
  public static let outputs = ["candidates"]

  public struct Params: StageParams {
    public var days = 28
    public var top = 12
    public var half_life_days = 7.0
    public init() {}
  }

  public static func validate(_ p: Params) throws(ParamError) {
    try ParamError.check("days", p.days, in: 1...10_000)
    try ParamError.check("top", p.top, in: 1...1000)
    if !(p.half_life_days > 0) { throw ParamError("half_life_days", "must be more than 0, not \(p.half_life_days)") }
  }

  public static func run(_ p: Params, _ context: StageContext) throws {
    let customers = try context.manifest("customers").rows
    let transactions = try context.table("transactions", columns: ["day", "customer", "article"])
    let window = TrainingWindow(try transactions.column("day").values(Int32.self), days: p.days)
    let (last, rate) = (window.lastDay, -1 / p.half_life_days)
    let history = try PurchaseHistory(transactions, customers: customers) { day in
      window.contains(day) ? Float(exp2(rate * Double(last - day))) : 0
    }
    let built: (offsets: [UInt64], items: [ScoredArticle]) = ListBuilder.build(rows: customers) { c, chunk in
      for cell in history.cells[history.range(of: c)] where cell.weight > 0 { chunk.items.append(ScoredArticle(cell.article, cell.weight)) }
      chunk.keepBest(p.top)
    }
    CandidateFigures.record(built.offsets, into: context)
    try context.write("candidates", ArticleLists.candidates.make(built))
  }
}

/// The figures every candidate generator records: how many candidates, for how many customers.
enum CandidateFigures {
  static func record(_ offsets: [UInt64], into context: StageContext) {
    context.record("candidates", Double(offsets.last ?? 0))
    context.record("customers_with_candidates", Double(ListBuilder.nonEmptyRows(offsets)))
  }
}
