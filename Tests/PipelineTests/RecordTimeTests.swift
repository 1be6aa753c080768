import Foundation
import Testing

@testable import Pipeline

/// Record times, written and read without Foundation's formatters: the same instants as
/// Foundation's ISO 8601 reading, to the millisecond, and the whole-second times of older records.
@Suite struct RecordTimeTests {
  @Test func roundTripsToTheMillisecondAndAgreesWithFoundation() throws {
    let foundation = ISO8601DateFormatter()
    foundation.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    for seconds in [0.0, 951_782_400.5, 1_795_982_889.314, 4_107_542_399.999, -86_400.25] {
      let date = Date(timeIntervalSince1970: seconds)
      let text = Timestamp.text(date)
      #expect(text == foundation.string(from: date), "\(seconds)")
      let back = try #require(Timestamp.date(text))
      #expect(abs(back.timeIntervalSince1970 - (seconds * 1000).rounded(.down) / 1000) < 1e-6, "\(text)")
    }
    #expect(Timestamp.date("2026-11-29T20:08:09Z") == Date(timeIntervalSince1970: 1_795_982_889))
    for bad in ["2026-11-29 20:08:09Z", "2026-02-30T00:00:00Z", "2026-11-29T20:08:09.Z", "2026-11-29T20:08:09+01:00", ""] {
      #expect(Timestamp.date(bad) == nil, "\(bad)")
    }
  }
}
