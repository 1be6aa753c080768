import Pipeline

/// trending: what sells now, per customer segment. The articles most bought in the last `days`
/// days of training by customers of the same segment, scored by those rows; customers outside every
/// segment, and segments with fewer than `top` articles sold, get (or are topped up from)
/// everyone's list. The best `top` per customer. `segment`:
/// - `age`: the age band (under 20, 20s, 30s, 40s, 50s, 60 and over; unknown age: everyone);
/// - `index_group`: the index group the customer bought most rows from (ties to the lower code;
///   none bought: everyone), their home department store floor.
///
/// Inputs: `transactions` (training rows), `customers` (ingest's, for `age`), `articles` (ingest's,
/// for `index_group_no`; needed by `segment: index_group`). Output: `candidates` as repurchase's.
public struct TrendingStage: Stage {
  public static let kind = "trending"
  /// 2: `segment`.
  public static let version = 2
  public static let inputs = [InputSlot("transactions"), InputSlot("customers"), InputSlot("articles", optional: true)]
  public static let outputs = ["candidates"]

  /// Which customers share a list.
  public enum Segment: String, ParamChoice {
    case age
    case index_group
  }

  public struct Params: StageParams {
    public var days = 7
    public var top = 12
    public var segment = Segment.age
    public init() {}
  }

  public static func validate(_ p: Params) throws(ParamError) {
    try ParamError.check("days", p.days, in: 1...10_000)
    try ParamError.check("top", p.top, in: 1...1000)
  }

  /// The band of an age (255: unknown → `bands`, everyone).
  static func band(_ age: UInt8) -> Int { age == 255 ? bands : min(max(Int(age) / 10 - 1, 0), bands - 1) }
  static let bands = 6

  public static func run(_ p: Params, _ context: StageContext) throws {
    let customers = try context.table("customers", columns: ["age"]).rowCount
    let transactions = try context.table("transactions", columns: ["day", "customer", "article"])
    let day = try transactions.column("day").values(Int32.self), customer = try transactions.column("customer").values(UInt32.self)
    let article = try transactions.column("article").values(UInt32.self)
    let (segmentOf, segments) =
      switch p.segment {
      case .age: (try context.column("customers", "age").values(UInt8.self).map(band), bands)
      case .index_group: try homeGroups(context, customer: customer, article: article, customers: customers)
      }
    let window = TrainingWindow(day, days: p.days)
    var counts = [[UInt32: Int]](repeating: [:], count: segments + 1)
    for row in 0..<day.count where window.contains(day[row]) {
      let a = article[row]
      counts[segments][a, default: 0] += 1
      let s = Int(customer[row]) < segmentOf.count ? segmentOf[Int(customer[row])] : segments
      if s < segments { counts[s][a, default: 0] += 1 }
    }
    let everyone = best(counts[segments], top: p.top)
    let lists = (0..<segments).map { s in topUp(best(counts[s], top: p.top), from: everyone, to: p.top) } + [everyone]
    let built: (offsets: [UInt64], items: [ScoredArticle]) = ListBuilder.build(rows: customers) { c, chunk in
      chunk.items += lists[segmentOf[c]]
    }
    CandidateFigures.record(built.offsets, into: context)
    try context.write("candidates", ArticleLists.candidates.make(built))
  }

  /// Each customer's most-bought index group as a dense segment (`segments` when none), and the
  /// number of groups.
  static func homeGroups(
    _ context: StageContext, customer: TypedValues<UInt32>, article: TypedValues<UInt32>, customers: Int
  ) throws -> ([Int], Int) {
    guard context.hasInput("articles") else {
      throw StageInputError(stage: context.stage, slot: "articles", detail: "is needed by segment index_group: connect ingest.articles")
    }
    let codes = try context.column("articles", "index_group_no").values(Int32.self)
    let distinct = Array(Set(codes)).sorted()
    guard distinct.count <= 64 else {
      throw StageInputError(
        stage: context.stage, slot: "articles", detail: "has \(distinct.count) index groups; segment index_group takes at most 64")
    }
    let dense = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, $0) })
    let groupOf = codes.map { dense[$0]! }
    let groups = distinct.count
    var rows = [UInt32](repeating: 0, count: customers * groups)
    for r in 0..<customer.count where Int(customer[r]) < customers && Int(article[r]) < groupOf.count {
      rows[Int(customer[r]) * groups + groupOf[Int(article[r])]] += 1
    }
    let home = (0..<customers).map { c in
      let mine = rows[(c * groups)..<((c + 1) * groups)]
      guard let most = mine.max(), most > 0 else { return groups }
      return mine.firstIndex(of: most)! - c * groups
    }
    return (home, groups)
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
