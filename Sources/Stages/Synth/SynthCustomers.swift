import Foundation
import Pipeline

/// The synthetic customers: ids, the CSV's attributes with the real rates of missing values, and
/// the latent traits that drive their purchases (home index group, style, activity, channel).
struct SynthCustomers: Sendable {
  static let placeholderPostalCode = "2c29ae653a9282cce4151bd87643c907644e09541abc28ae87dea0d1f6603b1c"
  /// (bucket low, high, share of customers); the rest have no age.
  static let ageBuckets: [(Int, Int, Double)] = [
    (16, 19, 0.052175), (20, 29, 0.385106), (30, 39, 0.170606), (40, 49, 0.148776), (50, 59, 0.164902), (60, 95, 0.066874),
  ]

  var count: Int { ids.count / 32 }
  /// 32 raw bytes per customer, sorted: the file lists customers in id order, as the real one does.
  var ids: [UInt8] = []
  var age: [UInt8] = []  // 0 = unknown
  var homeGroup: [UInt8] = []  // into SynthIndex.groups
  var style: [UInt8] = []
  var postalCode: [Int32] = []  // 0 = the placeholder code
  var flags: [UInt8] = []  // bit 0 FN, bit 1 Active; bits 2-4 club status; bits 5-7 news frequency
  var online: [Float] = []  // probability a visit is online

  static func count(scale: Double) -> Int { max(100, Int((1_371_980 * scale).rounded())) }

  init(scale: Double, seed: UInt64) {
    let n = SynthCustomers.count(scale: scale)
    // Random 256-bit ids, sorted as the 64-hex strings sort (big-endian words compare alike).
    var words = (0..<n).map { c in
      var rng = CounterRandom(seed: seed, stream: 20, index: UInt64(c))
      return IDWords(a: rng.next(), b: rng.next(), c: rng.next(), d: rng.next())
    }
    words.sort()
    ids.reserveCapacity(n * 32)
    for w in words {
      for word in [w.a, w.b, w.c, w.d] { withUnsafeBytes(of: word.bigEndian) { ids.append(contentsOf: $0) } }
    }
    let ageTable = CumulativeTable(weights: SynthCustomers.ageBuckets.map(\.2) + [0.011561])
    // The young lean to Divided, the older to Ladieswear; overall the transaction shares hold.
    let homeTables = [false, true].map { young in
      CumulativeTable(
        weights: SynthIndex.groups.map { group in
          SynthReference.indexGroups[group]!.1
            * (group == "Divided" ? (young ? 1.6 : 0.55) : group == "Ladieswear" ? (young ? 0.85 : 1.12) : 1)
        })
    }
    let postalCodes = max(10, Int(352_899 * scale))
    for c in 0..<n {
      var rng = CounterRandom(seed: seed, stream: 21, index: UInt64(c))
      let bucket = ageTable.pick(&rng)
      let years =
        bucket < SynthCustomers.ageBuckets.count
        ? SynthCustomers.ageBuckets[bucket].0 + rng.below(SynthCustomers.ageBuckets[bucket].1 - SynthCustomers.ageBuckets[bucket].0 + 1) : 0
      age.append(UInt8(years))
      homeGroup.append(UInt8(homeTables[years > 0 && years < 30 ? 1 : 0].pick(&rng)))
      style.append(UInt8(rng.below(SynthCatalog.styles)))
      postalCode.append(rng.chance(0.085) ? 0 : Int32(1 + Int(Double(postalCodes) * pow(rng.uniform(), 1.6))))
      let fn = rng.chance(0.3476)
      let active = fn ? rng.chance(0.96) : rng.chance(0.008)
      let club = rng.uniform()
      let clubCode: UInt8 = club < 0.004418 ? 0 : club < 0.004758 ? 3 : club < 0.072514 ? 2 : 1
      let news = rng.uniform()
      let newsCode: UInt8 =
        news < 0.011669 ? 0 : news < 0.012283 ? 3 : news < 0.012284 ? 4 : fn ? (rng.chance(0.92) ? 2 : 1) : (rng.chance(0.05) ? 2 : 1)
      flags.append((fn ? 1 : 0) | (active ? 2 : 0) | clubCode << 2 | newsCode << 5)
      let channel = rng.uniform()
      online.append(channel < 0.62 ? 0.93 : channel < 0.90 ? 0.45 : 0.05)
    }
  }

  /// The 64-character lowercase hex id of customer `c`, written into `out`.
  func writeHexID(_ c: Int, into out: inout [UInt8]) {
    HexText.append(bytes: ids[(c * 32)..<(c * 32 + 32)], to: &out)
  }
}

/// A 256-bit customer id as four words, ordered as its hex text is.
struct IDWords: Comparable {
  var a, b, c, d: UInt64
  static func < (x: IDWords, y: IDWords) -> Bool { (x.a, x.b, x.c, x.d) < (y.a, y.b, y.c, y.d) }
}
