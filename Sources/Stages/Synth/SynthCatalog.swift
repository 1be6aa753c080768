import Foundation

/// The index codes of the real data: (code, name, index group, index_group_no, articles at scale 1).
enum SynthIndex {
  static let all: [(code: String, name: String, group: String, groupNo: Int, articles: Int)] = [
    ("A", "Ladieswear", "Ladieswear", 1, 26001), ("B", "Lingeries/Tights", "Ladieswear", 1, 6775),
    ("C", "Ladies Accessories", "Ladieswear", 1, 6961), ("D", "Divided", "Divided", 2, 15149),
    ("F", "Menswear", "Menswear", 3, 12553), ("G", "Baby Sizes 50-98", "Baby/Children", 4, 8875),
    ("H", "Children Sizes 92-140", "Baby/Children", 4, 12007), ("I", "Children Sizes 134-170", "Baby/Children", 4, 9214),
    ("J", "Children Accessories, Swimwear", "Baby/Children", 4, 4615), ("S", "Sport", "Sport", 26, 3392),
  ]
  static let groups = ["Ladieswear", "Divided", "Menswear", "Baby/Children", "Sport"]

  /// Product groups an index sells: lingerie, accessories and the rest keep to their own kinds.
  static func sells(_ code: String, _ productGroup: String) -> Bool {
    let lingerie: Set = ["Underwear", "Socks & Tights", "Nightwear", "Underwear/nightwear", "Swimwear"]
    let accessories: Set = [
      "Accessories", "Bags", "Items", "Cosmetic", "Fun", "Stationery", "Furniture",
      "Interior textile", "Garment and Shoe care", "Shoes",
    ]
    switch code {
    case "B": return lingerie.contains(productGroup)
    case "C": return accessories.contains(productGroup)
    case "J": return accessories.contains(productGroup) || productGroup == "Swimwear"
    default: return !accessories.contains(productGroup) || productGroup == "Shoes" || productGroup == "Accessories"
    }
  }
}

/// The synthetic article catalogue: products with colour variants, their categories, launch and
/// fade, popularity and price, and latent style. Everything the CSV and the transactions need.
struct SynthCatalog: Sendable {
  struct Department: Sendable {
    var number: Int
    var name: String
    var index: Int
    var section: Int
    var productGroup: String
  }

  static let styles = 8
  static let graphical: [(String, Int, Double)] = [
    ("Solid", 1_010_016, 0.471), ("All over pattern", 1_010_001, 0.163), ("Melange", 1_010_010, 0.056),
    ("Stripe", 1_010_017, 0.047), ("Denim", 1_010_004, 0.046), ("Front print", 1_010_008, 0.030),
    ("Placement print", 1_010_014, 0.029), ("Check", 1_010_002, 0.021), ("Lace", 1_010_009, 0.014),
    ("Other structure", 1_010_021, 0.014), ("Colour blocking", 1_010_003, 0.010), ("Application/3D", 1_010_024, 0.010),
    ("Embroidery", 1_010_006, 0.010), ("Mixed solid/pattern", 1_010_011, 0.010), ("Glittering/Metallic", 1_010_023, 0.010),
    ("Jacquard", 1_010_022, 0.008), ("Sequin", 1_010_015, 0.006), ("Dot", 1_010_005, 0.006), ("Treatment", 1_010_018, 0.006),
    ("Other pattern", 1_010_013, 0.007), ("Transparent", 1_010_019, 0.004), ("Metallic", 1_010_012, 0.003),
    ("Contrast", 1_010_020, 0.002), ("Chambray", 1_010_025, 0.001), ("Neps", 1_010_026, 0.001),
    ("Hologram", 1_010_027, 0.0005), ("Slub", 1_010_028, 0.0005), ("Argyle", 1_010_029, 0.0005),
    ("Mesh", 1_010_007, 0.0005), ("Unknown", -1, 0.0005),
  ]
  /// Garment groups by product group: (garment_group_name, garment_group_no).
  static let garmentGroups: [String: [(String, Int)]] = [
    "Garment Upper body": [
      ("Jersey Fancy", 1005), ("Jersey Basic", 1002), ("Blouses", 1010), ("Knitwear", 1003), ("Shirts", 1011), ("Outdoor", 1007),
    ],
    "Garment Lower body": [("Trousers", 1009), ("Trousers Denim", 1016), ("Shorts", 1025), ("Skirts", 1012)],
    "Garment Full body": [("Dresses Ladies", 1013), ("Dressed", 1008), ("Dresses/Skirts girls", 1014)],
    "Underwear": [("Under-, Nightwear", 1017)], "Nightwear": [("Under-, Nightwear", 1017)],
    "Socks & Tights": [("Socks and Tights", 1021)], "Shoes": [("Shoes", 1020)], "Swimwear": [("Swimwear", 1018)],
    "Unknown": [("Unknown", 1001)], "Accessories": [("Accessories", 1019)],
  ]
  static let otherGarmentGroup = ("Special Offers", 1023)
  static let nameSyllables = [
    "ja", "de", "ti", "lly", "ma", "ri", "so", "fi", "lu", "na", "ka", "ro", "be", "lla", "mo", "vi", "ta", "ne", "ol", "ive",
  ]
  static let materials = [
    "soft cotton jersey", "woven fabric", "fine-knit", "denim", "lyocell", "recycled polyester", "linen blend", "sweatshirt fabric",
  ]
  static let details = [
    "a round neckline", "long sleeves", "an elasticated waist", "a V-neck", "side pockets", "a concealed zip", "covered buttons",
    "narrow shoulder straps",
  ]

  var articleCount: Int { articleNumbers.count }
  /// The 10-digit article number without its leading zero (product_code × 1000 + variant).
  var articleNumbers: [Int64] = []
  var productOf: [Int32] = []
  var productCodes: [Int32] = []
  var productType: [Int16] = []  // per product, into SynthReference.productTypes
  var productStyle: [UInt8] = []  // per product
  var productDepartment: [Int32] = []  // per product
  var productGraphical: [UInt8] = []  // per product
  var productGarmentGroup: [UInt8] = []  // per product, into garmentGroups[group]
  var productBasePrice: [Float] = []  // per product, SEK
  var colour: [UInt8] = []  // per article
  var launchDay: [Int32] = []  // per article
  var halfLife: [Float] = []  // per article, days of fade
  var weight: [Double] = []  // per article, popularity
  var hasImage: [Bool] = []
  var departments: [Department] = []
  private var articleProductGroup: [String] = []

  func index(ofArticle a: Int) -> Int { departments[Int(productDepartment[Int(productOf[a])])].index }
  func group(ofArticle a: Int) -> String { SynthReference.productTypes[Int(productType[Int(productOf[a])])].2 }

  /// Article count at a scale: linear in customers would leave too few articles at small scales,
  /// so articles shrink with the square root (105,542 at scale 1, 10,554 at 0.01).
  static func articleCount(scale: Double) -> Int {
    max(200, min(105_542, Int((105_542 * scale.squareRoot()).rounded())))
  }

  init(scale: Double, seed: UInt64) {
    let target = SynthCatalog.articleCount(scale: scale)
    var rng = CounterRandom(seed: seed, stream: 1, index: 0)
    makeDepartments(articles: target, rng: &rng)
    let indexWeights = CumulativeTable(weights: SynthIndex.all.map { Double($0.articles) })
    let typeTables = SynthIndex.all.map { index in
      CumulativeTable(weights: SynthReference.productTypes.map { SynthIndex.sells(index.code, $0.2) ? $0.3 : 0 })
    }
    let graphicalTable = CumulativeTable(weights: SynthCatalog.graphical.map(\.2))
    let colourTable = CumulativeTable(weights: SynthReference.colours.map(\.2))
    // Popularity multipliers: transactions per article, by index group and product group.
    let groupBoost = Dictionary(uniqueKeysWithValues: SynthReference.indexGroups.map { ($0.key, $0.value.1 / $0.value.0) })
    // Product codes: distinct 7-digit numbers spread over the real range, in increasing order.
    var code = 108_775
    let step = max(2, (959_461 - 108_775) / max(1, Int(Double(target) / 2.235)))
    while articleNumbers.count < target {
      code += 1 + rng.below(step * 2 - 1)
      let product = Int32(productCodes.count)
      productCodes.append(Int32(code))
      let index = indexWeights.pick(&rng)
      let type = typeTables[index].pick(&rng)
      let productGroup = SynthReference.productTypes[type].2
      productType.append(Int16(type))
      productStyle.append(UInt8(rng.below(SynthCatalog.styles)))
      productDepartment.append(Int32(department(for: index, productGroup, &rng)))
      productGraphical.append(UInt8(graphicalTable.pick(&rng)))
      productGarmentGroup.append(UInt8(rng.below(SynthCatalog.garmentGroups[productGroup]?.count ?? 1)))
      productBasePrice.append(Float(rng.logNormal(median: 15.5, sigma: 0.5) * SynthCatalog.priceFactor(productGroup)))
      // Colour variants: geometric with mean 2.235, as 105,542 articles over 47,224 products.
      let variants = min(1 + rng.geometric(1 / 2.235), 30, target - articleNumbers.count)
      let launch = Int32(rng.below(734 + 90)) - 90
      let boost = groupBoost[SynthIndex.all[index].group] ?? 1
      let basic = rng.chance(0.06)
      var variant = 0
      for _ in 0..<variants {
        variant += rng.chance(0.85) ? 1 : 2 + rng.below(8)
        articleNumbers.append(Int64(code) * 1000 + Int64(variant))
        productOf.append(product)
        colour.append(UInt8(colourTable.pick(&rng)))
        launchDay.append(launch + Int32(rng.below(21)))
        halfLife.append(Float(basic ? rng.logNormal(median: 300, sigma: 0.4) : rng.logNormal(median: 35, sigma: 0.6)))
        weight.append(rng.logNormal(median: 1, sigma: 1.2) * boost)
        articleProductGroup.append(productGroup)
        hasImage.append(!rng.chance(0.0042))
      }
    }
    fitProductGroupShares()
  }

  /// Scales popularity per product group until the expected transaction share of each product
  /// group matches the real one, given that customers first choose an index group (iterative
  /// proportional fitting over the two margins).
  private mutating func fitProductGroupShares() {
    let groups = SynthIndex.groups
    let groupOf = (0..<articleCount).map { groups.firstIndex(of: SynthIndex.all[index(ofArticle: $0)].group)! }
    let names = Array(Set(articleProductGroup)).sorted()
    let pgOf = articleProductGroup.map { names.firstIndex(of: $0)! }
    var multiplier = [Double](repeating: 1, count: names.count)
    for _ in 0..<20 {
      var mass = [[Double]](repeating: [Double](repeating: 0, count: names.count), count: groups.count)
      for a in 0..<articleCount { mass[groupOf[a]][pgOf[a]] += weight[a] * multiplier[pgOf[a]] }
      var realised = [Double](repeating: 0, count: names.count)
      for g in groups.indices {
        let total = mass[g].reduce(0, +)
        guard total > 0 else { continue }
        for p in names.indices { realised[p] += SynthReference.indexGroups[groups[g]]!.1 * mass[g][p] / total }
      }
      for p in names.indices where realised[p] > 0 {
        let target = max(SynthReference.productGroups[names[p]]?.1 ?? 0, 1e-5)
        multiplier[p] *= pow(target / realised[p], 0.7)
      }
    }
    for a in 0..<articleCount { weight[a] *= multiplier[pgOf[a]] }
    articleProductGroup = []
  }

  private mutating func makeDepartments(articles: Int, rng: inout CounterRandom) {
    let count = max(40, Int((299 * Double(articles) / 105_542).rounded()))
    let sectionTables = SynthIndex.groups.map { group in
      CumulativeTable(weights: SynthReference.sections.map { $0.2 == group ? $0.1 : 0 })
    }
    let indexTable = CumulativeTable(weights: SynthIndex.all.map { Double($0.articles) })
    for n in 0..<count {
      let index = indexTable.pick(&rng)
      let groupNo = SynthIndex.groups.firstIndex(of: SynthIndex.all[index].group)!
      let section = sectionTables[groupNo].pick(&rng)
      let word = ["Basic", "Trend", "Premium", "Young", "Everyday", "Studio", "Casual", "Tailoring"][n % 8]
      departments.append(
        Department(
          number: 1201 + n * 27, name: "\(word) \(SynthIndex.all[index].name.split(separator: " ")[0]) \(n / 8 + 1)",
          index: index, section: section, productGroup: ""))
    }
  }

  /// A department of the index; departments specialise by product group as they fill.
  private mutating func department(for index: Int, _ productGroup: String, _ rng: inout CounterRandom) -> Int {
    let candidates = departments.indices.filter { departments[$0].index == index }
    let specialised = candidates.filter { departments[$0].productGroup == productGroup }
    if !specialised.isEmpty && rng.chance(0.9) { return specialised[rng.below(specialised.count)] }
    let open = candidates.filter { departments[$0].productGroup.isEmpty }
    if let pick = open.first {
      departments[pick].productGroup = productGroup
      return pick
    }
    return candidates.isEmpty ? rng.below(departments.count) : candidates[rng.below(candidates.count)]
  }

  static func priceFactor(_ productGroup: String) -> Double {
    switch productGroup {
    case "Garment Full body", "Shoes": 1.6
    case "Garment Lower body": 1.3
    case "Accessories", "Socks & Tights", "Items", "Cosmetic": 0.6
    case "Underwear", "Swimwear", "Nightwear": 0.8
    default: 1.0
    }
  }

  /// The popularity of article `a` on `day` relative to its peak: rises for a week after launch,
  /// then fades with its half-life.
  @inline(__always)
  func life(_ a: Int, day: Int) -> Double {
    let age = Double(day - Int(launchDay[a]))
    if age < 0 { return 0 }
    if age < 7 { return (age + 1) / 8 }
    return exp2(-(age - 7) / Double(halfLife[a]))
  }

  /// The product name: shared by all colour variants of a product.
  func productName(_ product: Int) -> String {
    var rng = CounterRandom(seed: UInt64(productCodes[product]), stream: 7, index: 0)
    var name = ""
    for _ in 0..<(2 + rng.below(2)) { name += SynthCatalog.nameSyllables[rng.below(SynthCatalog.nameSyllables.count)] }
    let type = SynthReference.productTypes[Int(productType[product])].0
    return name.prefix(1).uppercased() + name.dropFirst() + (rng.chance(0.5) ? " " + type : "")
  }

  /// The free-text description: commas always, quotes sometimes, empty for about 0.4%.
  func description(_ product: Int) -> String {
    var rng = CounterRandom(seed: UInt64(productCodes[product]), stream: 8, index: 0)
    if rng.chance(0.004) { return "" }
    let type = SynthReference.productTypes[Int(productType[product])].0.lowercased()
    let material = SynthCatalog.materials[rng.below(SynthCatalog.materials.count)]
    let detail = SynthCatalog.details[rng.below(SynthCatalog.details.count)]
    let quoted = rng.chance(0.1) ? " in a \"relaxed\" fit" : ""
    return
      "\(type.prefix(1).uppercased() + type.dropFirst()) in \(material) with \(detail), \(SynthCatalog.details[rng.below(SynthCatalog.details.count)])\(quoted)."
  }
}
