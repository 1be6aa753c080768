import Foundation

/// A bar chart of a stage's figures, as `hmpipe report` draws it: one bar per label and series
/// (a score by customer segment, model beside baseline), with the numbers in a table below.
public struct FigureChart: Sendable, Equatable {
  /// How the chart's values read.
  public enum Unit: Sendable, Equatable {
    /// A score with this many decimals (MAP@12: 5).
    case decimal(Int)
    /// A share, printed as a percentage.
    case share
    /// A whole count.
    case count
    /// A size in bytes.
    case bytes
    /// A duration in seconds.
    case seconds
  }

  /// One group of bars.
  public struct Group: Sendable, Equatable {
    public var label: String
    /// One value per series (NaN where there is none).
    public var values: [Double]
    public init(_ label: String, _ values: [Double]) {
      self.label = label
      self.values = values
    }
  }

  public var title: String
  public var series: [String]
  public var groups: [Group]
  public var unit: Unit
  /// A sentence under the chart: what the bars count, what to read from them.
  public var note: String

  public init(title: String, series: [String], groups: [Group], unit: Unit, note: String = "") {
    self.title = title
    self.series = series
    self.groups = groups
    self.unit = unit
    self.note = note
  }

  /// `value` as the chart's unit prints it.
  public func text(_ value: Double) -> String {
    guard value.isFinite else { return "–" }
    switch unit {
    case .decimal(let digits): return String(format: "%.\(digits)f", value)
    case .share: return String(format: "%.1f%%", value * 100)
    case .count: return Format.count(Int(value.rounded()))
    case .bytes: return Format.bytes(Int(value.rounded()))
    case .seconds: return Format.seconds(value)
    }
  }
}
