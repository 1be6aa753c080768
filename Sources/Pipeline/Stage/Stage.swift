/// A kind of stage: what a pipeline file's `kind` names. A stage kind declares its inputs, outputs,
/// params (with defaults) and a code version it bumps whenever its output semantics change.
///
/// ```swift
/// struct SumStage: Stage {
///   static let kind = "sum"
///   static let version = 1
///   static let inputs = [InputSlot("numbers")]
///   static let outputs = ["total"]
///   struct Params: StageParams { var scale = 1.0 }
///   static func run(_ params: Params, _ context: StageContext) throws { … }
/// }
/// ```
public protocol Stage: Sendable {
  associatedtype Params: StageParams
  static var kind: String { get }
  static var version: Int { get }
  static var inputs: [InputSlot] { get }
  static var outputs: [String] { get }
  /// Checks params beyond their types (ranges, combinations); throws `ParamError` naming the param.
  static func validate(_ params: Params) throws(ParamError)
  /// Computes the outputs from the inputs; reads only declared inputs, writes every declared output.
  static func run(_ params: Params, _ context: StageContext) throws
  /// What a person should read after a run, from the stage's recorded figures (its result and a
  /// verdict), shown whether the stage ran or came from the cache; nil for most stages.
  static func headline(_ figures: [String: Double]) -> String?
  /// Charts of the stage's recorded figures for `hmpipe report` (scores by segment, recall by
  /// generator); empty for most stages.
  static func charts(_ figures: [String: Double]) -> [FigureChart]
  /// The few figures worth following from run to run (the score and its baselines), labelled,
  /// for the report's trend; empty for most stages.
  static func keyFigures(_ figures: [String: Double]) -> [(label: String, value: Double)]
}

extension Stage {
  public static func validate(_ params: Params) throws(ParamError) {}
  public static func headline(_ figures: [String: Double]) -> String? { nil }
  public static func charts(_ figures: [String: Double]) -> [FigureChart] { [] }
  public static func keyFigures(_ figures: [String: Double]) -> [(label: String, value: Double)] { [] }
}

/// A stage kind's params: `Codable`, and `init()` gives every default. Use no optionals: a param
/// that can be off takes a value that says so (0, "").
public protocol StageParams: Codable, Sendable {
  init()
}

/// A param's value is out of its allowed range.
public struct ParamError: Error, Sendable {
  public var param: String
  public var message: String
  public init(_ param: String, _ message: String) {
    self.param = param
    self.message = message
  }

  /// Throws "must be in LOW...HIGH, not VALUE" for `param` when `value` is outside `range`.
  public static func check<T: Comparable>(_ param: String, _ value: T, in range: ClosedRange<T>) throws(ParamError) {
    if !range.contains(value) { throw ParamError(param, "must be in \(range.lowerBound)...\(range.upperBound), not \(value)") }
  }
}

/// A param that takes one of a few words ("fail" or "skip"): an enum with String raw values. A word
/// outside them is an error that lists the allowed ones.
public protocol ParamChoice: RawRepresentable, CaseIterable, Codable, Sendable where RawValue == String {}

extension ParamChoice {
  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    let word = try container.decode(String.self)
    guard let value = Self(rawValue: word) else {
      let allowed = Self.allCases.map { "\"\($0.rawValue)\"" }
      let list = allowed.dropLast().joined(separator: ", ") + (allowed.count > 1 ? " or " : "") + (allowed.last ?? "")
      throw DecodingError.dataCorruptedError(in: container, debugDescription: "must be \(list), not \"\(word)\"")
    }
    self = value
  }
}

/// A named input of a stage kind.
public struct InputSlot: Sendable {
  public enum Source: Sendable { case artifact, file, either }
  public var name: String
  public var optional: Bool
  public var accepts: Source
  public init(_ name: String, optional: Bool = false, accepts: Source = .artifact) {
    self.name = name
    self.optional = optional
    self.accepts = accepts
  }
}

/// A stage kind whose pipeline file declares its outputs, and files whose content enters its key,
/// in its params; it takes inputs under any slot name (a command stage).
public protocol SlotsFromParams: Stage {
  /// The output names the params declare.
  static func outputs(_ params: Params) -> [String]
  /// Files read by the stage but not named as inputs (a script), by slot name: path as written in
  /// the pipeline file (relative to its folder).
  static func fileInputs(_ params: Params) -> [String: String]
}

/// A stage kind with its types erased, as the registry and runner hold it.
public struct StageDefinition: Sendable {
  public let kind: String
  public let version: Int
  /// For a `SlotsFromParams` kind, the slots of one stage (set by the pipeline loader).
  public internal(set) var inputs: [InputSlot]
  public internal(set) var outputs: [String]
  /// For a `SlotsFromParams` kind: its declared outputs and extra file inputs, from resolved params.
  let slotsFromParams: (@Sendable (JSONValue) throws -> (outputs: [String], files: [String: String]))?
  /// The default params as JSON (also the set of known param names).
  public let defaults: [String: JSONValue]
  /// Decodes and validates params merged over the defaults; returns their canonical JSON.
  let resolve: @Sendable (JSONValue) throws -> JSONValue
  let execute: @Sendable (JSONValue, StageContext) throws -> Void
  /// The stage's `headline` for a record's figures.
  public let headline: @Sendable ([String: Double]) -> String?
  /// The stage's `charts` for a record's figures.
  public let charts: @Sendable ([String: Double]) -> [FigureChart]
  /// The stage's `keyFigures` for a record's figures.
  public let keyFigures: @Sendable ([String: Double]) -> [(label: String, value: Double)]

  public init<S: Stage>(_: S.Type) {
    kind = S.kind
    version = S.version
    inputs = S.inputs
    outputs = S.outputs
    if case .object(let d) = (try? JSONValue.from(S.Params())) ?? .object([:]) { defaults = d } else { defaults = [:] }
    resolve = { json in
      let params = try json.decode(S.Params.self)
      try S.validate(params)
      return try JSONValue.from(params)
    }
    execute = { json, context in try S.run(try json.decode(S.Params.self), context) }
    headline = { S.headline($0) }
    if let declaring = S.self as? any SlotsFromParams.Type {
      slotsFromParams = { json in try Self.slots(declaring, json) }
    } else {
      slotsFromParams = nil
    }
    charts = { S.charts($0) }
    keyFigures = { S.keyFigures($0) }
  }
}

extension StageDefinition {
  fileprivate static func slots<S: SlotsFromParams>(_: S.Type, _ json: JSONValue) throws -> (outputs: [String], files: [String: String]) {
    let params = try json.decode(S.Params.self)
    return (S.outputs(params), S.fileInputs(params))
  }
}

/// The stage kinds a program knows, by name.
public struct StageRegistry: Sendable {
  public private(set) var definitions: [String: StageDefinition] = [:]

  public init(_ kinds: [any Stage.Type] = []) {
    for kind in kinds { register(kind) }
  }

  public mutating func register<S: Stage>(_ kind: S.Type) {
    precondition(definitions[S.kind] == nil, "stage kind \(S.kind) registered twice")
    definitions[S.kind] = StageDefinition(kind)
  }

  public subscript(kind: String) -> StageDefinition? { definitions[kind] }

  public var kinds: [String] { definitions.keys.sorted() }
}
