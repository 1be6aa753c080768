import Foundation
import Pipeline
import Testing

@testable import Stages

/// Random small purchase data for the candidate and history kernels.
struct RandomPurchases {
  let customers: Int, articles: Int
  let customer: [UInt32], article: [UInt32], day: [Int32]

  init(customers: Int, articles: Int, rows: Int, seed: UInt64, silentCustomers: Int = 5) {
    self.customers = customers
    self.articles = articles
    var rng = CounterRandom(seed: seed, stream: 1, index: 0)
    // The last `silentCustomers` customers buy nothing.
    customer = (0..<rows).map { _ in UInt32(rng.below(customers - silentCustomers)) }
    article = (0..<rows).map { _ in UInt32(rng.below(articles)) }
    day = (0..<rows).map { _ in Int32(rng.below(30)) }
  }

  func history(weight: @Sendable @escaping (Int32) -> Float = { _ in 1 }) -> PurchaseHistory {
    PurchaseHistory(
      customer: try! Column("c", customer).values(UInt32.self), article: try! Column("a", article).values(UInt32.self),
      day: try! Column("d", day).values(Int32.self), customers: customers, weight: weight)
  }

  /// Each customer's set of bought articles, the naive way.
  var bought: [Set<UInt32>] {
    var sets = [Set<UInt32>](repeating: [], count: customers)
    for (c, a) in zip(customer, article) { sets[Int(c)].insert(a) }
    return sets
  }
}

@Suite struct PurchaseHistoryTests {
  @Test func cellsSumRowsWeightsAndLastDays() {
    let data = RandomPurchases(customers: 40, articles: 30, rows: 600, seed: 1)
    let history = data.history { Float($0) + 1 }
    for c in 0..<data.customers {
      var expected: [UInt32: (rows: UInt32, last: Int32, weight: Float)] = [:]
      for row in data.customer.indices where data.customer[row] == UInt32(c) {
        var e = expected[data.article[row]] ?? (0, Int32.min, 0)
        e.rows += 1
        e.last = max(e.last, data.day[row])
        e.weight += Float(data.day[row]) + 1
        expected[data.article[row]] = e
      }
      let cells = history.cells[history.range(of: c)]
      #expect(cells.map(\.article) == expected.keys.sorted())
      for cell in cells {
        let e = expected[cell.article]!
        #expect(cell.rows == e.rows && cell.lastDay == e.last && cell.weight == e.weight)
      }
    }
    let byArticle = history.byArticle(articles: data.articles)
    for a in 0..<data.articles {
      let buyers = byArticle.customers[byArticle.offsets[a]..<byArticle.offsets[a + 1]]
      #expect(Array(buyers) == data.bought.indices.filter { data.bought[$0].contains(UInt32(a)) }.map(UInt32.init))
    }
  }
}

@Suite struct FilterTests {
  /// Neighbour lists (0–5 per article, self excluded) and groups with some unknowns.
  static func catalog(articles: Int, seed: UInt64) -> (Column, ArticleGroups) {
    var rng = CounterRandom(seed: seed, stream: 2, index: 0)
    var offsets: [UInt64] = [0], lists: [UInt32] = []
    for a in 0..<articles {
      let n = rng.below(6)
      var row: [UInt32] = []
      while row.count < n {
        let b = UInt32(rng.below(articles))
        if b != UInt32(a) && !row.contains(b) { row.append(b) }
      }
      lists += row
      offsets.append(UInt64(lists.count))
    }
    let department = (0..<articles).map { _ in rng.chance(0.05) ? ArticleGroups.none : UInt32(rng.below(6)) }
    let index = (0..<articles).map { _ in rng.chance(0.05) ? ArticleGroups.none : UInt32(rng.below(3)) }
    return (Column("neighbours", offsets: offsets, values: lists), ArticleGroups(department: department, index: index))
  }

  /// The rule as the seed's query states it, with sets.
  static func reference(_ data: RandomPurchases, _ neighbours: Column, _ groups: ArticleGroups, exclude: Bool, since: Int32 = .min)
    -> [[UInt32]]
  {
    let lists = try! neighbours.values(UInt32.self)
    var recent = [Set<UInt32>](repeating: [], count: data.customers)
    for row in data.customer.indices where data.day[row] >= since { recent[Int(data.customer[row])].insert(data.article[row]) }
    return zip(data.bought, recent).map { bought, recent in
      let departments = Set(bought.map { groups.department[Int($0)] }).subtracting([ArticleGroups.none])
      let indexes = Set(bought.map { groups.index[Int($0)] }).subtracting([ArticleGroups.none])
      var candidates = Set<UInt32>()
      for a in recent {
        for n in neighbours.range(of: Int(a)).map({ lists[$0] })
        where departments.contains(groups.department[Int(n)]) && indexes.contains(groups.index[Int(n)]) {
          if !(exclude && bought.contains(n)) { candidates.insert(n) }
        }
      }
      return candidates.sorted()
    }
  }

  @Test(arguments: [(1, false, Int32.min), (2, true, Int32.min), (3, false, 20), (4, true, 25)])
  func equalsANaiveSetReference(seed: UInt64, exclude: Bool, since: Int32) throws {
    let data = RandomPurchases(customers: 300, articles: 120, rows: 2500, seed: seed)
    let (neighbours, groups) = Self.catalog(articles: data.articles, seed: seed)
    let result = try Candidates.filter(
      history: data.history(), neighbours: neighbours, groups: groups, excludePurchased: exclude, since: since)
    let expected = Self.reference(data, neighbours, groups, exclude: exclude, since: since)
    let rows = (0..<data.customers).map { Array(result.items[Int(result.offsets[$0])..<Int(result.offsets[$0 + 1])]) }
    #expect(rows == expected)
    let silentEmpty = rows.suffix(5).allSatisfy { $0.isEmpty }
    #expect(silentEmpty, "customers with no purchases get no candidates")
    #expect(rows.contains { !$0.isEmpty })
    if exclude { #expect(zip(rows, data.bought).allSatisfy { row, bought in row.allSatisfy { !bought.contains($0) } }) }
  }
}
