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
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k),
                1, a.baseAddress, Int32(k), b.baseAddress, Int32(k), 0, c.baseAddress, Int32(n))
  }

  /// As `multiplyTransposed`, with A's rows cut into fixed slices of `rowsPerSlice` multiplied on
  /// all cores by single-threaded OpenBLAS calls. OpenBLAS's own threading splits the work by its
  /// thread count, and a different split can round differently; here every element comes from a
  /// call whose shape is fixed by the data, so the result is byte-identical whatever the number of
  /// threads (ours or OpenBLAS's).
  public static func multiplyTransposedInParallel(
    _ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>, into c: UnsafeMutableBufferPointer<Float>,
    m: Int, n: Int, k: Int, rowsPerSlice: Int = 256
  ) {
    precondition(a.count >= m * k && b.count >= n * k && c.count >= m * n, "matrix buffers are too small")
    openblas_set_num_threads(1)
    let slices = (m + rowsPerSlice - 1) / rowsPerSlice
    let shared = UnsafeTransfer((a, b, c))
    Parallel.forEach(chunks: slices) { slice in
      let (a, b, c) = shared.wrapped
      let rows = (slice * rowsPerSlice)..<min(m, (slice + 1) * rowsPerSlice)
      multiplyTransposed(UnsafeBufferPointer(rebasing: a[(rows.lowerBound * k)..<(rows.upperBound * k)]), b,
                         into: UnsafeMutableBufferPointer(rebasing: c[(rows.lowerBound * n)..<(rows.upperBound * n)]),
                         m: rows.count, n: n, k: k)
    }
  }

  /// The kernel OpenBLAS runs ("Haswell", "SkylakeX", "Prescott", …).
  public static var coreName: String {
    guard let name = openblas_get_corename() else { return "unknown" }
    return String(cString: name)
  }

  /// Threads OpenBLAS uses for one call.
  public static var threads: Int {
    get { Int(openblas_get_num_threads()) }
    set { openblas_set_num_threads(Int32(newValue)) }
  }
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
