import Foundation
import Pipeline
import Stages

// Writes and reads realistic columns through the artifact format, and writes the same raw bytes to
// files so `zstd` can be timed on them. Prints one line per column: MB/s write, MB/s read, ratio.
// Usage: artifact-bench OUT_DIR [SCALE] [LEVEL] [RUNS]

let args = CommandLine.arguments
let out = args.count > 1 ? args[1] : "bench/out/artifacts"
let scale = args.count > 2 ? Double(args[2])! : 0.25
let level = args.count > 3 ? Int32(args[3])! : 3
let runs = args.count > 4 ? Int(args[4])! : 5
try FileSystem.makeDirectories(out)

let tx = HMSynth.transactionColumns(scale: scale, seed: 42)
var rng = CounterRandom(seed: 1, stream: 1, index: 1)
let factorCount = Int(1_371_980 * scale) * 64
let factors = Column("user_factors", (0..<factorCount).map { _ in Float(rng.normal() * 0.1) })
let columns = [tx.columns[1], tx.columns[2], tx.columns[3], factors]

func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
func now() -> Double { Date().timeIntervalSince1970 }

print("column,raw_bytes,stored_bytes,ratio,write_MBps,read_MBps,threads,level")
for column in columns {
  let raw = column.values.bytes
  try FileSystem.writeAtomically(Array(raw), to: "\(out)/\(column.name).raw")
  var writes: [Double] = [], reads: [Double] = []
  var stored = 0
  for run in 0...runs {
    let path = "\(out)/\(column.name).hmpa"
    FileSystem.remove(path)
    let t0 = now()
    let writer = try ArtifactWriter(path: path, level: level)
    try writer.append(column)
    let manifest = try writer.finish()
    try FileSystem.sync(path)  // as the store does before an object goes in place
    let t1 = now()
    _ = try ArtifactReader(path: path).table()
    let t2 = now()
    stored = manifest.compressedBytes
    if run > 0 {
      writes.append(t1 - t0)
      reads.append(t2 - t1)
    }  // run 0 warms the page cache
  }
  let mb = Double(raw.count) / 1e6
  print(
    "\(column.name),\(raw.count),\(stored),\(String(format: "%.2f", Double(raw.count) / Double(stored))),\(String(format: "%.0f", mb / median(writes))),\(String(format: "%.0f", mb / median(reads))),\(Parallel.coreCount),\(level)"
  )
}
