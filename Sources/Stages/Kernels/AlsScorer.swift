import Pipeline

/// ALS scores of (customer, article) pairs from als-train's `users` and `items` inputs: each an
/// index → model row map and the factor rows, one fixed-order dot product per pair.
struct AlsScorer: Sendable {
  let users: FactorMatrix, items: FactorMatrix
  let userRow: [Int32], itemRow: [Int32]

  /// The model of a stage whose `users` and `items` inputs are optional: nil when neither is connected.
  static func ifConnected(_ context: StageContext) throws -> AlsScorer? {
    context.hasInput("users") || context.hasInput("items") ? try AlsScorer(context) : nil
  }

  init(_ context: StageContext) throws {
    let customers = try context.manifest("customers").rows
    (users, userRow) = try FactorTable.read(context, "users", idName: "customer", count: customers)
    (items, itemRow) = try FactorTable.read(context, "items", idName: "article", count: 0)
    guard users.factors == items.factors else {
      throw StageInputError(stage: context.stage, slot: "items", detail: "has \(items.factors) factors, users has \(users.factors)")
    }
  }

  /// NaN when either is outside the model.
  func score(_ customer: Int, _ article: UInt32) -> Float {
    guard customer < userRow.count, Int(article) < itemRow.count else { return .nan }
    let u = userRow[customer], v = itemRow[Int(article)]
    return u < 0 || v < 0 ? .nan : users.dot(Int(u), items, Int(v))
  }
}
