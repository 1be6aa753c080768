import Pipeline

/// trending: what sells now, per customer segment. The articles most bought in the last `days`
/// days of training by customers of the same age band (under 20, 20s, 30s, 40s, 50s, 60 and over),
/// scored by those rows; customers of unknown age, and bands with fewer than `top` articles sold,
/// get (or are topped up from) everyone's list. The best `top` per customer.
///
/// Inputs: `transactions` (training rows), `customers` (ingest's, for `age`). Output: `candidates`
/// as repurchase's.
public struct TrendingStage: Stage {
  public static let kind = "trending"
  public static let version = 1
  public static let inputs = [InputSlot("transactions"), InputSlot("customers")]
  public static let outputs = ["candidates"]

  public struct Params: StageParams {
    public var days = 7
    public var top = 12
    public init() {}
  }

  public static func validate(_ p: Params) throws(ParamError) {
    try ParamError.check("days", p.days, in: 1...10_000)
    try ParamError.check("top", p.top, in: 1...1000)
  }

  /// The band of an age (255: unknown → the last band, everyone).
  static func band(_ age: UInt8) -> Int { age == 255 ? bands : min(max(Int(age) / 10 - 1, 0), bands - 1) }
  static let bands = 6

  public static func run(_ p: Params, _ context: StageContext) throws {
    let ages = Array(try context.column("customers", "age").values(UInt8.self))
    let transactions = try context.table("transactions", columns: ["day", "customer", "article"])
    let day = try transactions.column("day").values(Int32.self), customer = try transactions.column("customer").values(UInt32.self)
    let article = try transactions.column("article").values(UInt32.self)
    let window = TrainingWindow(day, days: p.days)
    var counts = [[UInt32: Int]](repeating: [:], count: bands + 1)
    for row in 0..<day.count where window.contains(day[row]) {
      let a = article[row]
      counts[bands][a, default: 0] += 1
      let b = Int(customer[row]) < ages.count ? band(ages[Int(customer[row])]) : bands
      if b < bands { counts[b][a, default: 0] += 1 }
    }
    let everyone = best(counts[bands], top: p.top)
    let lists = (0..<bands).map { b in topUp(best(counts[b], top: p.top), from: everyone, to: p.top) } + [everyone]
    let built: (offsets: [UInt64], items: [ScoredArticle]) = ListBuilder.build(rows: ages.count) { c, chunk in
      chunk.items += lists[band(ages[c])]
    }
    CandidateFigures.record(built.offsets, into: context)
    try context.write("candidates", ArticleLists.candidates.make(built))
  }

  static func best(_ counts: [UInt32: Int], top: Int) -> [ScoredArticle] {
    Array(counts.map { ScoredArticle($0.key, Float($0.value)) }.sorted().prefix(top))
  }

  /// `list` then articles of `fallback` it lacks (scored below its last), up to `size`.
  static func topUp(_ list: [ScoredArticle], from fallback: [ScoredArticle], to size: Int) -> [ScoredArticle] {
    var out = list
    for entry in fallback where out.count < size && !out.contains(where: { $0.article == entry.article }) {
      out.append(ScoredArticle(entry.article, 0))
    }
    return out
  }
}
