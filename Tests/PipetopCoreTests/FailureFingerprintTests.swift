import Testing
@testable import PipetopCore

@Suite struct FailureFingerprintTests {
    @Test(arguments: [
        ("timeout: pricing service did not answer within 2s", "timeout: pricing service did not answer within <n>s"),
        ("malformed listing L817: price is not a number: \"abc\"", "malformed listing L<n>: price is not a number: \"…\""),
        ("malformed listing listing-9: 'title' is missing", "malformed listing listing-<n>: '…' is missing"),
        ("HTTP 503 from https://pricing.internal:8443/v1/quote?id=9", "HTTP <n> from <url>"),
        ("lock 0x7ffee4b2c8a0 held by 4,211 ms", "lock <hex> held by <n> ms"),
        ("object deadbeef12345678 not found", "object <hex> not found"),
        ("row 550e8400-e29b-41d4-a716-446655440000 vanished", "row <uuid> vanished"),
        ("cannot open /var/lib/app/data.db: No such file", "cannot open <path>: No such file"),
        ("don't retry:   took   2.50 s", "don't retry: took <n> s"),
        ("a / b and added cafe", "a / b and added cafe"),
        ("index rejected: title of 40000 bytes", "index rejected: title of <n> bytes"),
    ])
    func foldsWhatDiffersBetweenOccurrences(_ error: String, _ expected: String) {
        #expect(FailureFingerprint.of(error) == expected)
    }

    @Test func occurrencesOfOneCauseShareAFingerprintAndCausesDoNot() {
        let a = FailureFingerprint.of("timeout after 2.5s on listing-817 (trace 4bf92f3577b34da6a3ce929d0e0e4736)")
        let b = FailureFingerprint.of("timeout after 3s on listing-9 (trace 00f067aa0ba902b7a3ce929d0e0e4736)")
        #expect(a == b)
        #expect(a != FailureFingerprint.of("connection refused on listing-9"))
    }

    @Test func isBoundedAndNeverTraps() {
        #expect(FailureFingerprint.of(String(repeating: "word ", count: 500)).count == FailureFingerprint.maxLength)
        var random = SeededRandom(seed: 11)
        let alphabet = Array("ab0x9/.:'\"` -_\n\u{202E}é😀f/")
        for _ in 0..<2_000 {
            let text = String((0..<random.below(40)).map { _ in random.pick(alphabet) })
            let fingerprint = FailureFingerprint.of(text)
            #expect(fingerprint.count <= FailureFingerprint.maxLength)
            #expect(FailureFingerprint.of(text) == fingerprint)
        }
    }
}
