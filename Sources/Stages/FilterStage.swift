import CIntrinsics
import Pipeline

/// filter: each customer's candidates, as the seed chose them: the neighbours of every article the
/// customer bought, kept only if the candidate's department is one the customer bought from AND its
/// index (`index_code`) is one they bought from (two independent checks); deduplicated. An article
/// with an unknown department or index never passes.
///
/// Inputs: `transactions` (training rows), `articles`, `customers` (ingest's; sets the row count),
/// `neighbours` (embed-neighbours'). Output: `candidates`, one row per customer: `candidates`
/// (list<u32> of article indexes, ascending). Params: `exclude_purchased` (default false, the
/// seed's behaviour: articles the customer already bought stay candidates); `recent_days` (default
/// 0, the seed's: every purchase) takes only the neighbours of articles bought in the last that
/// many days of training (the department and index checks still use every purchase), which bounds
/// the lists for a ranker.
public struct FilterStage: Stage {
  public static let kind = "filter"
  public static let version = 1
  public static let inputs = [InputSlot("transactions"), InputSlot("articles"), InputSlot("customers"), InputSlot("neighbours")]
  public static let outputs = ["candidates"]

  public struct Params: StageParams {
    public var exclude_purchased = false
    public var recent_days = 0
    public init() {}
  }

  public static func validate(_ p: Params) throws(ParamError) {
    try ParamError.check("recent_days", p.recent_days, in: 0...100_000)
  }

  public static func run(_ params: Params, _ context: StageContext) throws {
    let articles = try context.table("articles", columns: ["department_no", "index_code"])
    let customers = try context.manifest("customers").rows
    let neighbours = try ArticleLists.neighbours.lists(context, "neighbours")
    guard neighbours.rowCount == articles.rowCount else {
      throw StageInputError(
        stage: context.stage, slot: "neighbours",
        detail: "has \(neighbours.rowCount) rows for \(articles.rowCount) articles (from another ingest?)")
    }
    let transactions = try context.table("transactions", columns: ["day", "customer", "article"])
    let history = try PurchaseHistory(transactions, customers: customers)
    context.progress(0.3, "histories")
    let attributes = try ArticleGroups(articles)
    let since =
      params.recent_days == 0
      ? Int32.min : TrainingWindow(try transactions.column("day").values(Int32.self), days: params.recent_days).firstDay
    let candidates = try Candidates.filter(
      history: history, neighbours: neighbours, groups: attributes,
      excludePurchased: params.exclude_purchased, since: since)
    let total = Int(candidates.offsets.last ?? 0)
    context.record("candidates", Double(total))
    context.record("customers_with_candidates", Double(ListBuilder.nonEmptyRows(candidates.offsets)))
    context.record("customers_with_purchases", Double((0..<customers).filter { !history.range(of: $0).isEmpty }.count))
    try context.write("candidates", ArticleLists.candidates.make(offsets: candidates.offsets, items: candidates.items))
  }
}

/// Each article's department and index as dense codes (`none` when unknown), for bitset lookups.
struct ArticleGroups: Sendable {
  static let none = UInt32.max
  let department: [UInt32]
  let index: [UInt32]
  let departmentCount: Int
  let indexCount: Int
  /// Per article, `department << 32 | index`, the candidate check's one load per neighbour. An
  /// article with either unknown has the spare codes `departmentCount << 32 | indexCount`, which
  /// no customer's sets ever hold (they have room for them), so it fails the check without a branch.
  let both: [UInt64]

  init(department: [UInt32], index: [UInt32]) {
    self.department = department
    self.index = index
    let departmentCount = Int(department.filter { $0 != Self.none }.max().map { $0 + 1 } ?? 0)
    let indexCount = Int(index.filter { $0 != Self.none }.max().map { $0 + 1 } ?? 0)
    let spare = UInt64(departmentCount) << 32 | UInt64(indexCount)
    both = zip(department, index).map { d, i in d == Self.none || i == Self.none ? spare : UInt64(d) << 32 | UInt64(i) }
    (self.departmentCount, self.indexCount) = (departmentCount, indexCount)
  }

  init(_ articles: Table) throws {
    let departments = try articles.column("department_no").values(Int32.self)
    let distinct = Array(Set(departments.filter { $0 != Int32.min })).sorted()
    let code = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, UInt32($0)) })
    let indexes = try articles.column("index_code").values(UInt16.self)
    self.init(
      department: departments.map { code[$0] ?? Self.none },
      index: indexes.map { $0 == UInt16.max ? Self.none : UInt32($0) })
  }
}

/// The candidate rule itself, kept apart from the stage so tests can hold it against a reference.
enum Candidates {
  struct Scratch {
    var departments: Bitset
    var indexes: Bitset
    /// The current customer's distinct candidates so far, handed over in ascending order.
    var candidates: OrderedBitset
  }

  /// - Parameter since: only articles last bought on or after this day lend their neighbours.
  static func filter(history: PurchaseHistory, neighbours: Column, groups: ArticleGroups, excludePurchased: Bool, since: Int32 = .min)
    throws -> (offsets: [UInt64], items: [UInt32])
  {
    let neighbourOffsets = neighbours.offsetBuffer, neighbourLists = try neighbours.values(UInt32.self)
    return neighbourOffsets.withUnsafeBufferPointer { offsets in
      neighbourLists.withUnsafeBufferPointer { lists in
        groups.both.withUnsafeBufferPointer { both in
          candidateLists(history, UnsafeTransfer((offsets, lists, both)), groups, excludePurchased: excludePurchased, since: since)
        }
      }
    }
  }

  /// `filter` over the neighbour lists' raw buffers, which it prefetches from, and the articles'
  /// packed groups.
  private static func candidateLists(
    _ history: PurchaseHistory,
    _ neighbours: UnsafeTransfer<(UnsafeBufferPointer<UInt64>, UnsafeBufferPointer<UInt32>, UnsafeBufferPointer<UInt64>)>,
    _ groups: ArticleGroups, excludePurchased: Bool, since: Int32
  ) -> (offsets: [UInt64], items: [UInt32]) {
    ListBuilder.build(
      rows: history.customerCount,
      scratch: {
        Scratch(
          departments: Bitset(capacity: groups.departmentCount + 1), indexes: Bitset(capacity: groups.indexCount + 1),
          candidates: OrderedBitset(capacity: groups.department.count))
      }
    ) { customer, scratch, chunk in
      let (offsets, lists, both) = neighbours.wrapped
      let bought = history.cells[history.range(of: customer)]
      for cell in bought {
        let a = Int(cell.article)
        if groups.department[a] != ArticleGroups.none { scratch.departments.insert(Int(groups.department[a])) }
        if groups.index[a] != ArticleGroups.none { scratch.indexes.insert(Int(groups.index[a])) }
      }
      // The bought articles' neighbour lists are scattered over megabytes: ask for all of them
      // (their offsets, then the lists) before reading any.
      if let offsetsAddress = offsets.baseAddress, let listsAddress = lists.baseAddress {
        for cell in bought { hmpipe_prefetch(offsetsAddress + Int(cell.article)) }
        for cell in bought where cell.lastDay >= since { hmpipe_prefetch(listsAddress + Int(offsets[Int(cell.article)])) }
      }
      for cell in bought where cell.lastDay >= since {
        for n in Int(offsets[Int(cell.article)])..<Int(offsets[Int(cell.article) + 1]) {
          let candidate = lists[n], group = both[Int(candidate)]
          // Whether a neighbour passes is a coin toss to the branch predictor: computed as a bit.
          var passes = scratch.departments.bit(Int(group >> 32)) & scratch.indexes.bit(Int(group & 0xFFFF_FFFF))
          if excludePurchased && bought.contains(article: candidate) { passes = 0 }
          scratch.candidates.insert(Int(candidate), if: passes)
        }
      }
      scratch.candidates.drain(into: &chunk.items)
      for cell in bought {
        let a = Int(cell.article)
        if groups.department[a] != ArticleGroups.none { scratch.departments.remove(Int(groups.department[a])) }
        if groups.index[a] != ArticleGroups.none { scratch.indexes.remove(Int(groups.index[a])) }
      }
    }
  }
}
