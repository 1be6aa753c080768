import Foundation
import Pipeline

/// Writes the synthetic data set in the Kaggle files' exact format.
enum SynthFiles {
  static let names = [
    "articles.csv", "customers.csv", "transactions_train.csv", "sample_submission.csv",
    "image_embeddings.npy", "image_embeddings_ids.npy",
  ]

  static func writeArticles(_ catalog: SynthCatalog, to path: String) throws {
    var csv = CSVOutput(capacity: catalog.articleCount * 330)
    csv.raw(
      Array(
        ("article_id,product_code,prod_name,product_type_no,product_type_name,product_group_name,graphical_appearance_no,"
          + "graphical_appearance_name,colour_group_code,colour_group_name,perceived_colour_value_id,perceived_colour_value_name,"
          + "perceived_colour_master_id,perceived_colour_master_name,department_no,department_name,index_code,index_name,"
          + "index_group_no,index_group_name,section_no,section_name,garment_group_no,garment_group_name,detail_desc\n").utf8))
    let values = Array(Set(SynthReference.colours.map(\.4))).sorted()
    let masters = Array(Set(SynthReference.colours.map(\.5))).sorted()
    var product = -1
    var names = ("", "")
    for a in 0..<catalog.articleCount {
      let p = Int(catalog.productOf[a])
      let type = SynthReference.productTypes[Int(catalog.productType[p])]
      let graphical = SynthCatalog.graphical[Int(catalog.productGraphical[p])]
      let colour = SynthReference.colours[Int(catalog.colour[a])]
      let department = catalog.departments[Int(catalog.productDepartment[p])]
      let index = SynthIndex.all[department.index]
      let section = SynthReference.sections[department.section]
      let garments = SynthCatalog.garmentGroups[type.2] ?? [SynthCatalog.otherGarmentGroup]
      let garment = garments[Int(catalog.productGarmentGroup[p]) % garments.count]
      // Colour variants of a product are consecutive: name and describe each product once.
      if p != product { (product, names) = (p, (catalog.productName(p), catalog.description(p))) }
      csv.articleID(catalog.articleNumbers[a])
      csv.raw([UInt8(ascii: ",")])
      csv.field(String(format: "%07d", catalog.productCodes[p]))
      csv.field(names.0)
      csv.field(type.1)
      csv.field(type.0)
      csv.field(type.2)
      csv.field(graphical.1)
      csv.field(graphical.0)
      csv.field(colour.1)
      csv.field(colour.0)
      csv.field(values.firstIndex(of: colour.4)! + 1)
      csv.field(colour.4)
      csv.field(masters.firstIndex(of: colour.5)! + 1)
      csv.field(colour.5)
      csv.field(department.number)
      csv.field(department.name)
      csv.field(index.code)
      csv.field(index.name)
      csv.field(index.groupNo)
      csv.field(index.group)
      csv.field(10 + department.section)
      csv.field(String(section.0.prefix(30)))
      csv.field(garment.1)
      csv.field(garment.0)
      csv.field(names.1, last: true)
    }
    try write(csv.bytes, to: path)
  }

  static func writeCustomers(_ customers: SynthCustomers, seed: UInt64, to path: String) throws {
    let club = ["", "ACTIVE", "PRE-CREATE", "LEFT CLUB"]
    let news = ["", "NONE", "Regularly", "Monthly", "None"]
    let chunks = (customers.count + 65_535) / 65_536
    let parts = Parallel.map(chunks: chunks) { chunk in
      var csv = CSVOutput(capacity: 65_536 * 200)
      if chunk == 0 { csv.raw(Array("customer_id,FN,Active,club_member_status,fashion_news_frequency,age,postal_code\n".utf8)) }
      for c in (chunk * 65_536)..<min(customers.count, (chunk + 1) * 65_536) {
        customers.writeHexID(c, into: &csv.bytes)
        let flags = customers.flags[c]
        csv.raw(
          Array(
            ("," + (flags & 1 != 0 ? "1.0" : "") + "," + (flags & 2 != 0 ? "1.0" : "") + ","
              + club[Int(flags >> 2) & 7] + "," + news[Int(flags >> 5) & 7] + ","
              + (customers.age[c] > 0 ? "\(customers.age[c]).0" : "") + ",").utf8))
        csv.raw(postalCode(customers.postalCode[c], seed: seed))
        csv.raw([10])
      }
      return csv.bytes
    }
    try write(parts, to: path)
  }

  static func postalCode(_ code: Int32, seed: UInt64) -> [UInt8] {
    if code == 0 { return Array(SynthCustomers.placeholderPostalCode.utf8) }
    var rng = CounterRandom(seed: seed, stream: 22, index: UInt64(code))
    var text: [UInt8] = []
    for _ in 0..<4 { HexText.append(rng.next(), to: &text) }
    return text
  }

  /// The transactions file, formatted in parallel chunks and written in order.
  static func writeTransactions(
    _ tx: SynthTransactions, catalog: SynthCatalog, customers: SynthCustomers, to path: String,
    progress: @Sendable (Double) -> Void
  ) throws {
    let dates = (0..<SynthTransactions.days).map { Array(KaggleDate.text(day: $0).utf8) }
    let ids = (0..<catalog.articleCount).map { a -> [UInt8] in
      var csv = CSVOutput()
      csv.articleID(catalog.articleNumbers[a])
      return csv.bytes
    }
    var prices = [[UInt8]](repeating: [], count: 35_000)
    for cents in Set(tx.priceCents) { prices[Int(cents)] = Array("\(Double(cents) / 100 / 590)".utf8) }
    let priceText = prices
    let writer = try AtomicFile(path: path)
    do {
      try writer.write(Array("t_dat,customer_id,article_id,price,sales_channel_id\n".utf8))
      let rowsPerChunk = 1 << 17
      let chunks = (tx.count + rowsPerChunk - 1) / rowsPerChunk
      let batch = 2 * Parallel.coreCount
      for start in stride(from: 0, to: chunks, by: batch) {
        let parts = Parallel.map(chunks: min(batch, chunks - start)) { offset in
          let rows = ((start + offset) * rowsPerChunk)..<min(tx.count, (start + offset + 1) * rowsPerChunk)
          var csv = CSVOutput(capacity: rows.count * 115)
          for i in rows {
            csv.raw(dates[Int(tx.day[i])])
            csv.bytes.append(UInt8(ascii: ","))
            customers.writeHexID(Int(tx.customer[i]), into: &csv.bytes)
            csv.bytes.append(UInt8(ascii: ","))
            csv.raw(ids[Int(tx.article[i])])
            csv.bytes.append(UInt8(ascii: ","))
            csv.raw(priceText[Int(tx.priceCents[i])])
            csv.bytes.append(UInt8(ascii: ","))
            csv.bytes.append(48 + tx.channel[i])
            csv.bytes.append(10)
          }
          return csv.bytes
        }
        for part in parts { try writer.write(part) }
        progress(Double(min(chunks, start + batch)) / Double(max(chunks, 1)))
      }
      try writer.commit()
    } catch {
      writer.abandon()
      throw error
    }
  }

  /// One row per customer, predicting the 12 best-sellers of all time, as Kaggle's sample file does.
  static func writeSampleSubmission(_ tx: SynthTransactions, catalog: SynthCatalog, customers: SynthCustomers, to path: String) throws {
    var sales = [Int](repeating: 0, count: catalog.articleCount)
    for a in tx.article { sales[Int(a)] += 1 }
    let top = sales.indices.sorted { (sales[$0], -$0) > (sales[$1], -$1) }.prefix(12)
    var prediction = CSVOutput()
    for (n, a) in top.enumerated() {
      if n > 0 { prediction.bytes.append(32) }
      prediction.articleID(catalog.articleNumbers[a])
    }
    var csv = CSVOutput(capacity: customers.count * 200)
    csv.raw(Array("customer_id,prediction\n".utf8))
    for c in 0..<customers.count {
      customers.writeHexID(c, into: &csv.bytes)
      csv.bytes.append(UInt8(ascii: ","))
      csv.raw(prediction.bytes)
      csv.bytes.append(10)
    }
    try write(csv.bytes, to: path)
  }

  static func write(_ bytes: [UInt8], to path: String) throws { try write([bytes], to: path) }

  static func write(_ parts: [[UInt8]], to path: String) throws {
    let writer = try AtomicFile(path: path)
    do {
      for part in parts { try writer.write(part) }
      try writer.commit()
    } catch {
      writer.abandon()
      throw error
    }
  }
}
