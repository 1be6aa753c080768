/// What a stage's cache key is made of: kind, code version, canonical params, and the content digest
/// of each input by slot. Two runs with equal components compute the same thing.
public struct KeyComponents: Sendable, Equatable {
  public var kind: String
  public var version: Int
  public var params: JSONValue
  /// Slot → artifact id or external file hash (hex).
  public var inputs: [String: String]

  /// The stage key: SHA-256 over the components' canonical text.
  public var key: Digest {
    var text = "hmpipe-stage-key-v1\nkind \(kind)\nversion \(version)\nparams \(params.canonical)\n"
    for slot in inputs.keys.sorted() { text += "input \(slot) \(inputs[slot]!)\n" }
    return Digest.of(text)
  }

  /// Why a stage with these components is not the one last recorded in `head`, in words:
  /// "params changed: k (10 → 12)", "input transactions changed", "code version 1 → 2".
  public func difference(from head: CacheEntry?) -> String {
    guard let head else { return "never ran" }
    if head.kind != kind { return "kind changed (\(head.kind) → \(kind))" }
    if head.version != version { return "code version changed (\(head.version) → \(version))" }
    var reasons: [String] = []
    if head.params != params { reasons.append("params changed: " + KeyComponents.paramChanges(head.params, params)) }
    let changedInputs = Set(inputs.keys).union(head.inputs.keys).sorted().filter { inputs[$0] != head.inputs[$0] }
    if !changedInputs.isEmpty {
      reasons.append("input\(changedInputs.count > 1 ? "s" : "") changed: " + changedInputs.joined(separator: ", "))
    }
    return reasons.isEmpty ? "" : reasons.joined(separator: "; ")
  }

  static func paramChanges(_ old: JSONValue, _ new: JSONValue) -> String {
    guard case .object(let o) = old, case .object(let n) = new else { return "\(old) → \(new)" }
    return Set(o.keys).union(n.keys).sorted().compactMap { key in
      o[key] == n[key] ? nil : "\(key) (\(o[key]?.canonical ?? "unset") → \(n[key]?.canonical ?? "unset"))"
    }.joined(separator: ", ")
  }
}
