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
}
