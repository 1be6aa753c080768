import Foundation

/// A counter-based random stream: the numbers for (seed, stream, index) are always the same,
/// whichever thread draws them and in whatever order, which is what makes parallel generation
/// deterministic. SplitMix64 underneath.
public struct CounterRandom: RandomNumberGenerator {
  private var state: UInt64
  /// The golden-ratio increment of SplitMix64's counter.
  private static let step: UInt64 = 0x9E37_79B9_7F4A_7C15

  public init(seed: UInt64, stream: UInt64, index: UInt64) {
    state = CounterRandom.mix(seed &+ CounterRandom.mix(stream &+ Self.step &* (index &+ 1)))
  }

  @inline(__always)
  public static func mix(_ value: UInt64) -> UInt64 {
    var z = value &+ step
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  @inline(__always)
  public mutating func next() -> UInt64 {
    state &+= Self.step
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Uniform in [0, 1).
  @inline(__always)
  public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

  /// Uniform integer in 0..<bound.
  @inline(__always)
  public mutating func below(_ bound: Int) -> Int { Int(uniform() * Double(bound)) }

  @inline(__always)
  public mutating func chance(_ p: Double) -> Bool { uniform() < p }

  /// Standard normal (Box–Muller).
  public mutating func normal() -> Double {
    let u = max(uniform(), 1e-300)
    return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * uniform())
  }

  public mutating func logNormal(median: Double, sigma: Double) -> Double { median * exp(sigma * normal()) }

  /// Geometric count of failures before a success with probability `p`: mean (1 - p) / p.
  public mutating func geometric(_ p: Double) -> Int {
    Int(log(max(uniform(), 1e-300)) / log(1 - p))
  }
}

/// Sampling from a fixed discrete distribution by its cumulative weights.
public struct CumulativeTable: Sendable {
  public let cumulative: [Double]

  public init(weights: some Sequence<Double>) {
    var total = 0.0
    cumulative = weights.map {
      total += max($0, 0)
      return total
    }
  }

  public var total: Double { cumulative.last ?? 0 }

  /// The index whose cumulative interval holds `u · total`.
  @inline(__always)
  public func pick(_ u: Double) -> Int {
    let target = u * total
    var lo = 0, hi = cumulative.count - 1
    while lo < hi {
      let mid = (lo + hi) >> 1
      if cumulative[mid] > target { hi = mid } else { lo = mid + 1 }
    }
    return lo
  }

  public func pick(_ rng: inout CounterRandom) -> Int { pick(rng.uniform()) }
}
