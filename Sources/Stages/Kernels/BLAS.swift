import COpenBLAS
import Pipeline

/// Single-precision matrix products through OpenBLAS (Debian's libopenblas), the only place that
/// calls it.
public enum BLAS {
  /// C (m × n) = A (m × k) · Bᵀ, where B is n × k: every row of A against every row of B, all
  /// row-major and contiguous. This is the shape of similarity blocks (embeddings × embeddings) and
  /// of scoring (users × items).
  public static func multiplyTransposed(
    _ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>, into c: UnsafeMutableBufferPointer<Float>,
    m: Int, n: Int, k: Int
  ) {
    precondition(a.count >= m * k && b.count >= n * k && c.count >= m * n, "matrix buffers are too small")
    guard m > 0, n > 0 else { return }
    stopOwnThreads()
    cblas_sgemm(
      CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k),
      1, a.baseAddress, Int32(k), b.baseAddress, Int32(k), 0, c.baseAddress, Int32(n))
  }

  /// As `multiplyTransposed`, with A's rows cut into fixed slices of `rowsPerSlice` multiplied on
  /// all cores by single-threaded OpenBLAS calls. OpenBLAS's own threading splits the work by its
  /// thread count, and a different split can round differently; here every element comes from a
  /// call whose shape is fixed by the data, so the result is byte-identical whatever the number of
  /// threads (ours or OpenBLAS's). Each call packs all of B again, so slices are long: 1024 rows
  /// pack it a quarter as often as 256 did (embed-neighbours: 31.5 → 29.6 core-seconds).
  public static func multiplyTransposedInParallel(
    _ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>, into c: UnsafeMutableBufferPointer<Float>,
    m: Int, n: Int, k: Int, rowsPerSlice: Int = 1024
  ) {
    precondition(a.count >= m * k && b.count >= n * k && c.count >= m * n, "matrix buffers are too small")
    let slices = (m + rowsPerSlice - 1) / rowsPerSlice
    let shared = UnsafeTransfer((a, b, c))
    Parallel.forEach(chunks: slices) { slice in
      let (a, b, c) = shared.wrapped
      let rows = (slice * rowsPerSlice)..<min(m, (slice + 1) * rowsPerSlice)
      multiplyTransposed(
        UnsafeBufferPointer(rebasing: a[(rows.lowerBound * k)..<(rows.upperBound * k)]), b,
        into: UnsafeMutableBufferPointer(rebasing: c[(rows.lowerBound * n)..<(rows.upperBound * n)]),
        m: rows.count, n: n, k: k)
    }
  }

  /// C (m × n) = A (m × k) · Bᵀ in Double, for operands holding integers small enough that every
  /// product and partial sum is an integer below 2⁵³ (`maxA · maxB · k ≤ 2⁵³`): each is then exact,
  /// so C has the same bits whatever the kernel, the order of summation or the use of FMA.
  public static func multiplyTransposedExactly(
    _ a: UnsafeBufferPointer<Double>, _ b: UnsafeBufferPointer<Double>, into c: UnsafeMutableBufferPointer<Double>,
    m: Int, n: Int, k: Int
  ) {
    precondition(a.count >= m * k && b.count >= n * k && c.count >= m * n, "matrix buffers are too small")
    precondition(ExactIntegers.largest(a) * ExactIntegers.largest(b) * Double(k) <= 0x1p53, "operands too large to multiply exactly")
    let shared = UnsafeTransfer((a, b, c))
    inSlices(ofRows: m) { rows in
      let (a, b, c) = shared.wrapped
      cblas_dgemm(
        CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows.count), Int32(n), Int32(k),
        1, a.baseAddress! + rows.lowerBound * k, Int32(k), b.baseAddress, Int32(k),
        0, c.baseAddress! + rows.lowerBound * n, Int32(n))
    }
  }

  /// C (columns × columns) = XᵀX for X (rows × columns) of integers, exactly as
  /// `multiplyTransposedExactly` (`maxX² · rows ≤ 2⁵³`), without transposing X.
  public static func gramExactly(_ x: UnsafeBufferPointer<Double>, into c: UnsafeMutableBufferPointer<Double>, rows: Int, columns: Int) {
    precondition(x.count >= rows * columns && c.count >= columns * columns, "matrix buffers are too small")
    let largest = ExactIntegers.largest(x)
    precondition(largest * largest * Double(rows) <= 0x1p53, "operands too large to multiply exactly")
    let shared = UnsafeTransfer((x, c))
    inSlices(ofRows: columns) { slice in
      let (x, c) = shared.wrapped
      cblas_dgemm(
        CblasRowMajor, CblasTrans, CblasNoTrans, Int32(slice.count), Int32(columns), Int32(rows),
        1, x.baseAddress! + slice.lowerBound, Int32(columns), x.baseAddress, Int32(columns),
        0, c.baseAddress! + slice.lowerBound * columns, Int32(columns))
    }
  }

  /// Runs `body` on fixed 64-row slices of `rows` on all cores, with single-threaded OpenBLAS.
  private static func inSlices(ofRows rows: Int, _ body: @Sendable (Range<Int>) -> Void) {
    guard rows > 0 else { return }
    stopOwnThreads()
    let slice = 64
    Parallel.forEach(chunks: (rows + slice - 1) / slice) { s in body((s * slice)..<min(rows, (s + 1) * slice)) }
  }

  /// Makes every OpenBLAS call run on its caller's thread and stops the library's own threads, once
  /// per process and before the first call (every function here asks for it first, so no call can
  /// race the stop). hmpipe never asks OpenBLAS for threads: it runs single-threaded calls on its
  /// own threads, in slices fixed by the data. But the library starts a worker per core when it
  /// loads, and each spins for about a tenth of a second before it sleeps: hmpipe calls this first
  /// thing, or a core is lost at the start of every process.
  public static func stopOwnThreads() { _ = singleThreaded }

  private static let singleThreaded: Void = {
    openblas_set_num_threads(1)
    blas_thread_shutdown_()
  }()

  /// The kernel OpenBLAS runs ("Haswell", "SkylakeX", "Prescott", …).
  public static var coreName: String {
    guard let name = openblas_get_corename() else { return "unknown" }
    return String(cString: name)
  }

  /// Threads OpenBLAS uses for one call.
  public static var threads: Int { Int(openblas_get_num_threads()) }
}

/// Chooses OpenBLAS's kernel. Debian's OpenBLAS 0.3.21 does not recognise recent processors and
/// falls back to its generic "Prescott" kernel, 4–5× slower. OpenBLAS reads `OPENBLAS_CORETYPE` once,
/// when the library loads, so the choice is made before: the program sets the variable and
/// re-executes itself. A value the user set is never overridden.
public enum BLASKernel {
  /// The kernel for processor `flags` (from /proc/cpuinfo): AVX-512 F/BW/DQ/VL → SkylakeX,
  /// AVX2 + FMA → Haswell, otherwise none (leave OpenBLAS to its own detection).
  public static func recommended(forFlags flags: Set<Substring>) -> String? {
    if ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains) { return "SkylakeX" }
    if flags.contains("avx2") && flags.contains("fma") { return "Haswell" }
    return nil
  }

  /// The flags of the first processor listed in a /proc/cpuinfo text.
  public static func flags(cpuinfo: String) -> Set<Substring> {
    guard let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
      let colon = line.firstIndex(of: ":")
    else { return [] }
    return Set(line[line.index(after: colon)...].split(separator: " "))
  }

  /// The core type to set for this machine, or nil when the user set one or none is needed.
  public static func choice(environment: [String: String], cpuinfo: String?) -> String? {
    guard environment["OPENBLAS_CORETYPE"] == nil, let cpuinfo else { return nil }
    return recommended(forFlags: flags(cpuinfo: cpuinfo))
  }
}

/// Values scaled by a power of two and rounded to integers (held in Double), so that BLAS products
/// of them are exact (`BLAS.multiplyTransposedExactly`). A power-of-two scale loses nothing when
/// undone.
public enum ExactIntegers {
  /// `values` × 2^e rounded, with e chosen so the largest magnitude is at most 2^`bits`; returns
  /// the integers and 2^e (divide by it to undo).
  public static func quantise<C: Collection>(_ values: C, bits: Int) -> ([Double], scale: Double) where C.Element: BinaryFloatingPoint {
    let largest = values.reduce(0.0) { max($0, abs(Double($1))) }
    guard largest > 0, largest.isFinite else { return (values.map { _ in 0 }, 1) }
    let scale = Double(sign: .plus, exponent: bits - largest.exponent - 1, significand: 1)
    return (values.map { (Double($0) * scale).rounded() }, scale)
  }

  /// The largest magnitude in `values`.
  static func largest(_ values: UnsafeBufferPointer<Double>) -> Double {
    values.reduce(0.0) { max($0, abs($1)) }
  }

  /// Bits per operand so that two operands' products summed `terms` times stay below 2⁵³.
  public static func bits(terms: Int) -> Int {
    (53 - (Int.bitWidth - (max(terms, 1) - 1).leadingZeroBitCount)) / 2
  }
}
