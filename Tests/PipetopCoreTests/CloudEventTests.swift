import Foundation
import Testing
@testable import PipetopCore

@Suite struct CloudEventTests {
    @Test func decodesTheJSONFormat() throws {
        let event = try CloudEvent(json: Data(#"""
            {"specversion": "1.0", "id": "A-1", "source": "/scraper", "type": "listing.uploaded",
             "time": "2026-11-24T20:16:38.123456+01:00", "subject": "L1", "correlationid": "flow", "causationid": "A-0",
             "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tenant": "se", "priority": 3,
             "data": {"make": "Volvo", "price": 18500}}
            """#.utf8))
        #expect(event.id == "A-1")
        #expect(event.time == Timestamp(rfc3339: "2026-11-24T19:16:38.123456Z"))
        #expect(event.correlationID == "flow")
        #expect(event.causationID == "A-0")
        #expect(event.traceparent == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        #expect(event.extensions == ["tenant": "se", "priority": 3])
        #expect(event.datacontenttype == nil, "not invented when the producer gave none")
        let data = try #require(event.data?.jsonObject() as? [String: Any])
        #expect(data["make"] as? String == "Volvo")
    }

    @Test func decodesBase64Data() throws {
        let event = try CloudEvent(json: Data(#"{"specversion":"1.0","id":"b","source":"/s","type":"blob","datacontenttype":"application/octet-stream","data_base64":"AAEC/w=="}"#.utf8))
        #expect(event.data == .binary(Data([0, 1, 2, 255])))
        #expect(event.datacontenttype == "application/octet-stream")
    }

    @Test func roundTripsThroughJSON() throws {
        let original = CloudEvent(
            id: "x\"1", source: "/s", type: "t", time: Timestamp(micros: 1_700_000_000_123_456), subject: "quote\" and é",
            data: .binary(Data([9, 8, 7])), correlationID: "c", causationID: "p", traceparent: "tp", extensions: ["ext": "v"])
        let decoded = try CloudEvent(json: Data(original.jsonString().utf8))
        #expect(decoded == original)
        let json = CloudEvent(id: "j", source: "/s", type: "t", time: nil, data: try .json(object: ["a": [1, 2]]))
        #expect(try CloudEvent(json: Data(json.jsonString().utf8)) == json)
    }

    @Test(arguments: [
        (#"{"id":"1","source":"/s","type":"t"}"#, "required attribute 'specversion' is missing"),
        (#"{"specversion":"0.3","id":"1","source":"/s","type":"t"}"#, "unsupported specversion '0.3'"),
        (#"{"specversion":"1.0","source":"/s","type":"t"}"#, "required attribute 'id' is missing"),
        (#"{"specversion":"1.0","id":"1","type":"t"}"#, "required attribute 'source' is missing"),
        (#"{"specversion":"1.0","id":"1","source":"/s"}"#, "required attribute 'type' is missing"),
        (#"{"specversion":"1.0","id":"","source":"/s","type":"t"}"#, "attribute 'id' must not be empty"),
        (#"{"specversion":"1.0","id":7,"source":"/s","type":"t"}"#, "attribute 'id' must be a string"),
        (#"{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"yesterday"}"#, "attribute 'time' is not an RFC 3339 timestamp"),
        (#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":1,"data_base64":"AA=="}"#, "'data' or 'data_base64', not both"),
        (#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"%%%"}"#, "not valid base64"),
        (#"{"specversion":"1.0","id":"1","source":"/s","type":"t","Bad-Name":"x"}"#, "extension name 'Bad-Name'"),
        (#"{"specversion":"1.0","id":"1","source":"/s","type":"t","ext":{"a":1}}"#, "extension 'ext' must be a string"),
        (#"["not an object"]"#, "must be a JSON object"),
        (#"{"specversion":"1.0""#, "not valid JSON"),
    ])
    func invalidEnvelopesAreExplained(json: String, expected: String) {
        #expect {
            _ = try CloudEvent(json: Data(json.utf8))
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    @Test func aChildCarriesCorrelationCausationAndTrace() {
        let root = CloudEvent(id: "root", source: "/s", type: "listing.uploaded", correlationID: "flow", traceparent: "tp")
        let child = root.child(type: "listing.parsed")
        #expect(child.correlationID == "flow")
        #expect(child.causationID == "root")
        #expect(child.traceparent == "tp")
        #expect(child.id != root.id)
        // The first event of a flow is its own correlation.
        let orphan = CloudEvent(id: "o", source: "/s", type: "t").child(type: "u")
        #expect(orphan.correlationID == "o")
    }

    @Test func timestampsParseAndPrintRFC3339() {
        #expect(Timestamp(rfc3339: "1970-01-01T00:00:01Z")?.micros == 1_000_000)
        #expect(Timestamp(rfc3339: "1970-01-01T00:00:00.5Z")?.micros == 500_000)
        #expect(Timestamp(rfc3339: "1970-01-01T01:00:00+01:00")?.micros == 0)
        #expect(Timestamp(rfc3339: "2026-02-30") == nil)
        #expect(Timestamp(rfc3339: "2026-11-24T20:16:38") == nil)
        #expect(Timestamp(micros: 1_764_015_398_000_001).rfc3339 == "2025-11-24T20:16:38.000001Z")
        #expect(Timestamp(micros: -1).rfc3339 == "1969-12-31T23:59:59.999999Z")
    }

    @Test func durationsParse() {
        #expect(Duration(parsing: "15s") == .seconds(15))
        #expect(Duration(parsing: "250ms") == .milliseconds(250))
        #expect(Duration(parsing: "1m30s") == .seconds(90))
        #expect(Duration(parsing: "2") == .seconds(2))
        #expect(Duration(parsing: "soon") == nil)
        #expect(Duration(parsing: "5x") == nil)
    }

    @Test func controlCharactersAreEscapedForTheTerminal() {
        #expect("plain ünïcode 🚗".terminalSafe == "plain ünïcode 🚗")
        #expect("a\u{1B}[31mred\u{07}\n".terminalSafe == "a\\e[31mred\\u{7}\\n")
        #expect("c1\u{9B}2J".terminalSafe == "c1\\u{9b}2J")
    }
}

@Suite struct BackoffTests {
    @Test func growsExponentiallyUpToTheCap() {
        let backoff = Backoff(base: .milliseconds(100), cap: .seconds(1), jitter: 0)
        #expect((1...6).map { backoff.delay(afterAttempt: $0) } == [
            .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1),
        ])
        #expect(backoff.delay(afterAttempt: 500) == .seconds(1))
    }

    @Test func jitterTakesAtMostItsFraction() {
        let backoff = Backoff(base: .milliseconds(100), cap: .seconds(10), jitter: 0.5)
        #expect(backoff.delay(afterAttempt: 3, random: 0) == .milliseconds(400))
        #expect(backoff.delay(afterAttempt: 3, random: 0.999_999) >= .milliseconds(200))
        #expect(backoff.delay(afterAttempt: 3, random: 0.5) == .milliseconds(300))
        let full = Backoff(base: .milliseconds(100), cap: .seconds(10), jitter: 1)
        #expect(full.delay(afterAttempt: 1, random: 0.75) == .milliseconds(25))
    }

    @Test func batchWindowsAlignToTheEpoch() {
        let mode = QueueMode.batch(every: .seconds(15))
        #expect(mode.nextRelease(after: Timestamp(micros: 16_000_000)) == Timestamp(micros: 30_000_000))
        #expect(mode.nextRelease(after: Timestamp(micros: 30_000_000)) == Timestamp(micros: 45_000_000))
        #expect(QueueMode.stream.nextRelease(after: .now()) == nil)
    }
}
