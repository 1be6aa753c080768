import ArgumentParser
import Pipeline

/// `hmpipe verify`: finds damaged artifacts and moves them aside so they are recomputed.
struct Verify: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Check every artifact's checksums; damaged ones are quarantined and recomputed by the next run.")

  @OptionGroup var storeOptions: StoreOptions

  @Flag(help: "Also recompute every chunk's SHA-256 and every content id.")
  var deep = false

  func run() async throws {
    let store = try storeOptions.open()
    let (checked, damaged) = Maintenance.verify(store: store, deep: deep)
    for d in damaged {
      let fate = d.quarantineError.map { "not moved to quarantine: \($0)" } ?? "moved to quarantine; the next run recomputes it"
      print("damaged: \(d.id.short): \(d.problem) (\(fate))")
    }
    print("checked \(checked) artifacts: \(damaged.isEmpty ? "all sound" : "\(damaged.count) damaged")")
    if !damaged.isEmpty { throw ExitCode.failure }
  }
}
