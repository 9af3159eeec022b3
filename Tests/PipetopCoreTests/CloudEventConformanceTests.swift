import Foundation
import Testing
@testable import PipetopCore

/// CloudEvents 1.0, JSON event format: the spec's own examples, one case per rule of the spec that
/// pipetop once got wrong, envelopes as the official SDKs write them, and a property test over the
/// decoder. Fixtures in the SDKs' styles are written by hand from their documentation and sources
/// (only the Python SDK is installable here; `SDKRoundTripTests` runs it for real).
@Suite struct CloudEventConformanceTests {
    static func decode(_ json: String) throws -> CloudEvent { try CloudEvent(json: Data(json.utf8)) }

    // MARK: The spec's examples (json-format.md, section 5)

    @Test func specExampleWithBinaryData() throws {
        let event = try Self.decode("""
            {
                "specversion" : "1.0",
                "type" : "com.example.someevent",
                "source" : "/mycontext",
                "id" : "A234-1234-1234",
                "time" : "2018-04-05T17:31:00Z",
                "comexampleextension1" : "value",
                "comexampleothervalue" : 5,
                "datacontenttype" : "application/vnd.apache.thrift.binary",
                "data_base64" : "AQIDBA=="
            }
            """)
        #expect(event.type == "com.example.someevent")
        #expect(event.time == Timestamp(micros: 1_522_949_460_000_000))
        #expect(event.extensions == ["comexampleextension1": "value", "comexampleothervalue": 5])
        #expect(event.datacontenttype == "application/vnd.apache.thrift.binary")
        #expect(event.data == .binary(Data([1, 2, 3, 4])))
    }

    @Test func specExampleWithXMLDataAndUnsetAttributes() throws {
        let event = try Self.decode("""
            {
                "specversion" : "1.0",
                "type" : "com.example.someevent",
                "source" : "/mycontext",
                "subject": null,
                "id" : "C234-1234-1234",
                "time" : "2018-04-05T17:31:00Z",
                "comexampleextension1" : "value",
                "comexampleothervalue" : 5,
                "unsetextension": null,
                "datacontenttype" : "application/xml",
                "data" : "<much wow=\\"xml\\"/>"
            }
            """)
        #expect(event.subject == nil, "null is unset")
        #expect(event.extensions["unsetextension"] == nil, "null is unset")
        #expect(event.extensions.count == 2)
        #expect(event.data == .text(#"<much wow="xml"/>"#), "a non-JSON content type: the string is the data")
    }

    @Test func specExampleWithJSONData() throws {
        let event = try Self.decode("""
            {
                "specversion" : "1.0",
                "type" : "com.example.someevent",
                "source" : "/mycontext",
                "id" : "B234-1234-1234",
                "time" : "2018-04-05T17:31:00Z",
                "comexampleextension1" : "value",
                "comexampleothervalue" : 5,
                "datacontenttype" : "application/json",
                "data" : {
                    "appinfoA" : "abc",
                    "appinfoB" : 123,
                    "appinfoC" : true
                }
            }
            """)
        #expect(event.data == .json(Data(#"{"appinfoA":"abc","appinfoB":123,"appinfoC":true}"#.utf8)), "kept as written, minified")
    }

    @Test func specBatchExample() throws {
        let events = try CloudEvent.decodeAll(Data("""
            [
              {"specversion": "1.0", "type": "com.example.someevent", "source": "/mycontext", "id": "1", "data": {"n": 1}},
              {"specversion": "1.0", "type": "com.example.someevent", "source": "/mycontext", "id": "2", "datacontenttype": "text/plain", "data": "two"}
            ]
            """.utf8))
        #expect(events.map(\.id) == ["1", "2"])
        #expect(events[1].data == .text("two"))
        #expect(try CloudEvent.decodeAll(Data("[]".utf8)).isEmpty, "the spec lets a batch be empty (pipetop publish refuses one)")
    }

    // MARK: One case per rule

    @Test(arguments: [
        ("2025-12-31T23:59:59.123456789-07:00", "2026-01-01T06:59:59.123456Z"),  // Go RFC3339Nano, Java Instant
        ("2025-12-31T23:59:59.1234567Z", "2025-12-31T23:59:59.123456Z"),
        ("2025-12-31T23:59:59.999999999999999999999Z", "2025-12-31T23:59:59.999999Z"),  // truncated, never rounded up
        ("2025-12-31T23:59:59.000000999Z", "2025-12-31T23:59:59.000000Z"),
        ("2025-12-31T23:59:59.1Z", "2025-12-31T23:59:59.100000Z"),
        ("2026-12-01T10:00:00.000Z", "2026-12-01T10:00:00.000000Z"),  // JavaScript's toISOString
        ("2026-12-01T10:00:00.123456+00:00", "2026-12-01T10:00:00.123456Z"),  // Python's isoformat
        ("2026-12-01t10:00:00z", "2026-12-01T10:00:00.000000Z"),
        ("2026-12-01 10:00:00Z", "2026-12-01T10:00:00.000000Z"),
        ("2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000000Z"),
        ("1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59.500000Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000Z"),
    ])
    func anyRFC3339FractionParses(text: String, expected: String) throws {
        let time = try #require(Timestamp(rfc3339: text))
        #expect(time.rfc3339 == expected)
        let event = try Self.decode(#"{"specversion":"1.0","id":"t","source":"/s","type":"t","time":"\#(text)"}"#)
        #expect(event.time == time)
    }

    @Test(arguments: [
        "2025-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-12-01T24:00:00Z",
        "2026-12-01T10:00:00.Z", "2026-12-01T10:00:00+0100", "2026-12-01T10:00:00+01:00:00", "2026-12-01T10:00:00",
        "2026-12-01", "", "2026-12-01T10:00:00.123456789", "2026-12-01T10:00:00.1234567890123+01:",
    ])
    func invalidTimesAreRefused(text: String) {
        #expect(Timestamp(rfc3339: text) == nil)
    }

    @Test func nullAttributesAreUnset() throws {
        let event = try Self.decode(#"{"specversion":"1.0","id":"n","source":"/s","type":"t","subject":null,"time":null,"dataschema":null,"datacontenttype":null,"correlationid":null,"ext":null,"data_base64":null}"#)
        #expect(event.subject == nil && event.time == nil && event.dataschema == nil && event.datacontenttype == nil)
        #expect(event.correlationID == nil && event.extensions.isEmpty && event.data == nil)
        #expect(throws: EnvelopeError("required attribute 'id' is missing")) {
            try Self.decode(#"{"specversion":"1.0","id":null,"source":"/s","type":"t"}"#)
        }
    }

    @Test func extensionsKeepTheirType() throws {
        let event = try Self.decode(#"{"specversion":"1.0","id":"x","source":"/s","type":"t","priority":5,"flag":true,"off":false,"neg":-2147483648,"zero":-0,"name":"5"}"#)
        #expect(event.extensions == ["priority": .integer(5), "flag": .boolean(true), "off": .boolean(false), "neg": .integer(-2_147_483_648), "zero": .integer(0), "name": .string("5")])
        let json = event.jsonString()
        #expect(json.contains(#""priority":5"#) && json.contains(#""flag":true"#) && json.contains(#""name":"5""#))
        #expect(try CloudEvent(json: Data(json.utf8)) == event)
    }

    @Test(arguments: [
        (#""big":2147483648"#, "extension 'big' is a number but not a CloudEvents Integer (a whole number from -2147483648 to 2147483647, without fraction or exponent)"),
        (#""frac":1.5"#, "extension 'frac' is a number but not a CloudEvents Integer (a whole number from -2147483648 to 2147483647, without fraction or exponent)"),
        (#""whole":5.0"#, "extension 'whole' is a number but not a CloudEvents Integer (a whole number from -2147483648 to 2147483647, without fraction or exponent)"),
        (#""exp":1e2"#, "extension 'exp' is a number but not a CloudEvents Integer (a whole number from -2147483648 to 2147483647, without fraction or exponent)"),
        (#""ctl":"a\u0000b""#, "attribute 'ctl' contains U+0000, which CloudEvents does not allow in a String (control characters and noncharacters)"),
        (#""subject":"line\nbreak""#, "attribute 'subject' contains U+000A, which CloudEvents does not allow in a String (control characters and noncharacters)"),
        (#""subject":"c1\u0085""#, "attribute 'subject' contains U+0085, which CloudEvents does not allow in a String (control characters and noncharacters)"),
        (#""subject":"\ufdd0""#, "attribute 'subject' contains U+FDD0, which CloudEvents does not allow in a String (control characters and noncharacters)"),
        (#""subject":"\udbff\udfff""#, "attribute 'subject' contains U+10FFFF, which CloudEvents does not allow in a String (control characters and noncharacters)"),
        (#""obj":{"a":1}"#, "extension 'obj' must be a string, an integer or a boolean"),
        (#""list":[1]"#, "extension 'list' must be a string, an integer or a boolean"),
        (#""Upper":"x""#, "extension name 'Upper' must be lower-case letters and digits only"),
        (#""id":"again""#, "attribute 'id' appears more than once"),
    ])
    func badExtensionsAreRefused(member: String, expected: String) {
        #expect(throws: EnvelopeError(expected)) {
            try Self.decode(#"{"specversion":"1.0","id":"x","source":"/s","type":"t",\#(member)}"#)
        }
    }

    @Test func dataNullIsNotNoData() throws {
        let null = try Self.decode(#"{"specversion":"1.0","id":"x","source":"/s","type":"t","data":null}"#)
        let none = try Self.decode(#"{"specversion":"1.0","id":"x","source":"/s","type":"t"}"#)
        #expect(null.data == .json(Data("null".utf8)))
        #expect(none.data == nil)
        #expect(null.jsonString().hasSuffix(#","data":null}"#))
        #expect(!none.jsonString().contains("data"))
    }

    @Test func textDataIsAStringAndNoContentTypeIsInvented() throws {
        let text = try Self.decode(#"{"specversion":"1.0","id":"x","source":"/s","type":"t","datacontenttype":"text/plain; charset=utf-8","data":"Volvo \"V60\"\n"}"#)
        #expect(text.data == .text("Volvo \"V60\"\n"))
        #expect(text.data?.bytes == Data("Volvo \"V60\"\n".utf8), "the string's bytes, without JSON quotes")
        #expect(text.datacontenttype == "text/plain; charset=utf-8")
        // No content type: JSON, as the spec says, and none is written back.
        let json = try Self.decode(#"{"specversion":"1.0","id":"x","source":"/s","type":"t","data":"a JSON string"}"#)
        #expect(json.data == .json(Data(#""a JSON string""#.utf8)))
        #expect(json.datacontenttype == nil)
        #expect(!json.jsonString().contains("datacontenttype"))
        // JSON content types, with parameters and +json suffixes.
        for type in ["application/json", "application/json; charset=utf-8", "text/json", "application/cloudevents+json", "application/vnd.api+JSON"] {
            let event = try Self.decode(#"{"specversion":"1.0","id":"x","source":"/s","type":"t","datacontenttype":"\#(type)","data":"s"}"#)
            #expect(event.data == .json(Data(#""s""#.utf8)), "\(type) is JSON")
        }
        // A non-JSON content type with structured data is kept as JSON (nothing to unquote).
        let xmlObject = try Self.decode(#"{"specversion":"1.0","id":"x","source":"/s","type":"t","datacontenttype":"application/xml","data":{"a":1}}"#)
        #expect(xmlObject.data == .json(Data(#"{"a":1}"#.utf8)))
    }

    @Test func emptyBinaryDataIsData() throws {
        let event = try Self.decode(#"{"specversion":"1.0","id":"x","source":"/s","type":"t","data_base64":""}"#)
        #expect(event.data == .binary(Data()))
        let db = try TestStore()
        try db.store.publishUnrouted([event], at: .now())
        #expect(try db.store.events(matching: EventQuery(), after: 0, limit: 1).first?.event == event, "an empty blob is not NULL")
    }

    @Test func base64IsReadStrictly() {
        for (text, bytes) in [("", []), ("AA==", [0]), ("AA", [0]), ("AAE=", [0, 1]), ("AAE", [0, 1]), ("AAEC", [0, 1, 2]), ("+/8=", [251, 255])] as [(String, [UInt8])] {
            #expect(CloudEvent.base64(text) == Data(bytes), "\(text)")
        }
        for text in ["====", "AB=C", "A", "AAAAA", "AB==", "AAF=", "AA=", "A===", "AA AA", "AA\nAA", "-_8=", "AAECAw==="] {
            #expect(CloudEvent.base64(text) == nil, "\(text) is not strict base64")
        }
        var random = SeededRandom(seed: 64)
        for _ in 0..<500 {
            let data = Data((0..<random.below(40)).map { _ in UInt8(random.below(256)) })
            #expect(CloudEvent.base64(data.base64EncodedString()) == data)
        }
    }

    @Test func dataMayHoldWhatAStringAttributeMayNot() throws {
        let event = try Self.decode(#"{"specversion":"1.0","id":"x","source":"/s","type":"t","datacontenttype":"text/plain","data":"a\u0000b\n"}"#)
        #expect(event.data == .text("a\u{0}b\n"))
    }

    @Test func instantsRFC3339CannotWriteAreRefused() {
        #expect(Timestamp(rfc3339: "9999-12-31T23:30:00-01:00") == nil)
        #expect(Timestamp(rfc3339: "9999-12-31T23:59:60Z") == nil)
        #expect(Timestamp(rfc3339: "0000-01-01T00:00:00+00:01") == nil)
        #expect(Timestamp(rfc3339: "9999-12-31T23:59:59.9999999Z")?.rfc3339 == "9999-12-31T23:59:59.999999Z")
        #expect(Timestamp(rfc3339: "0000-01-01T00:00:00Z")?.rfc3339 == "0000-01-01T00:00:00.000000Z")
    }

    @Test func inputCutAnywhereIsRefusedNeverHangs() throws {
        let whole = Array(#"{"specversion":"1.0","id":"a\"b\\c\u00e9","source":"/s","type":"t","data":{"k":[1,-2.5e3,true,null]}}"#.utf8)
        for end in 0..<whole.count {
            #expect(throws: EnvelopeError.self, "cut at \(end)") { try CloudEvent.decodeAll(Data(whole.prefix(end))) }
        }
        #expect(throws: EnvelopeError("the envelope is not valid JSON: unterminated string at byte 6")) {
            try CloudEvent(json: Data(#"{"id":"\"#.utf8))
        }
    }

    @Test func batchesNestAsDeepAsSingleEventsAndMayBeAppended() throws {
        let head = #"{"specversion":"1.0","id":"d","source":"/s","type":"t","data":"#
        let deep = head + String(repeating: "[", count: 511) + String(repeating: "]", count: 511) + "}"
        #expect(try CloudEvent.decodeAll(Data(("[" + deep + "]").utf8)).count == 1, "the batch's array is not the envelope's nesting")
        let tooDeep = deep.replacingOccurrences(of: #""data":["#, with: #""data":[["#).replacingOccurrences(of: "]}", with: "]]}")
        #expect {
            try CloudEvent.decodeAll(Data(("[" + tooDeep + "]").utf8))
        } throws: { "\($0)" == "the envelope is refused: nested too deep (more than 512 levels of objects and arrays) at byte \(1 + head.utf8.count + 511)" }
        #expect {
            try CloudEvent.decodeAll(Data(tooDeep.utf8))
        } throws: { "\($0)".hasPrefix("the envelope is refused: nested too deep (more than 512 levels") }
        let one = #"{"specversion":"1.0","id":"1","source":"/s","type":"t"}"#
        let two = #"{"specversion":"1.0","id":"2","source":"/s","type":"t"}"#
        #expect(try CloudEvent.decodeAll(Data("[\(one)]\n[\(two),\(one)]\n\(two)".utf8)).map(\.id) == ["1", "2", "1", "2"])
    }

    @Test func invisibleAndSmugglingCharactersAreEscaped() throws {
        let hidden = "a\u{AD}\u{180E}\u{2062}\u{206A}\u{FFF9}\u{E0041}b"
        #expect(hidden.terminalSafe == #"a\u{ad}\u{180e}\u{2062}\u{206a}\u{fff9}\u{e0041}b"#)
        let event = CloudEvent(id: hidden, source: "/s", type: "t", time: nil)
        let json = event.jsonString()
        #expect(json.contains(#""id":"a\u00ad\u180e\u2062\u206a\ufff9\udb40\udc41b""#), "past the BMP: a surrogate pair")
        #expect(try CloudEvent(json: Data(json.utf8)).id == hidden)
    }

    @Test func hugeDurationsAreRefusedNotTrapped() {
        for text in ["1e300", "inf", "nan", "99999999999999999999", "10000000000000h", "-5"] {
            #expect(Duration(parsing: text) == nil, "\(text)")
        }
        #expect(Duration(parsing: "100000h") == .seconds(360_000_000))
    }

    @Test func surrogatePairsDecode() throws {
        let event = try Self.decode(#"{"specversion":"1.0","id":"\ud83d\ude97","source":"/s","type":"t"}"#)
        #expect(event.id == "🚗")
    }

    @Test func dataKeepsItsOwnText() throws {
        // JSONSerialization would rewrite 1.0 as 1, reorder keys and round the big integer.
        let event = try Self.decode(#"{"specversion":"1.0","id":"x","source":"/s","type":"t","data":{ "z": 1.0, "a": 12345678901234567890, "s": "\u00e9\n" }}"#)
        #expect(event.data == .json(Data(#"{"z":1.0,"a":12345678901234567890,"s":"\u00e9\n"}"#.utf8)))
    }

    @Test func invalidUTF8IsRefusedWithItsOffset() {
        var bytes = Array(#"{"specversion":"1.0","id":"x","source":"/s","type":"t","data":"caf"#.utf8)
        let offset = bytes.count
        bytes += [0xC3, 0x28] + Array(#""}"#.utf8)  // a lead byte without its continuation
        #expect(throws: EnvelopeError("the envelope is refused: invalid UTF-8 at byte \(offset)")) { try CloudEvent(json: Data(bytes)) }
        for bad: [UInt8] in [[0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82]] {
            let input = Data(Array(#"{"id":""#.utf8) + bad + Array(#""}"#.utf8))
            #expect(throws: EnvelopeError.self, "\(bad) is not UTF-8") { try CloudEvent(json: input) }
            #expect((try? CloudEvent.decodeAll(input)) == nil)
        }
    }

    @Test func deepNestingSaysSo() throws {
        func envelope(depth: Int) -> Data {
            Data((#"{"specversion":"1.0","id":"x","source":"/s","type":"t","data":"# + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}").utf8)
        }
        let deepest = try CloudEvent(json: envelope(depth: JSONScanner.maxDepth - 1))
        #expect(deepest.data?.jsonObject() != nil, "whatever the scanner accepts, Foundation can read")
        #expect {
            try CloudEvent(json: envelope(depth: JSONScanner.maxDepth))
        } throws: { "\($0)".contains("nested too deep (more than 512 levels") }
        #expect {
            try CloudEvent(json: envelope(depth: 100_000))
        } throws: { "\($0)".contains("nested too deep") }
    }

    @Test func syntaxErrorsNameTheirPlace() {
        let cases: [(String, String)] = [
            (#"{"specversion":"1.0",}"#, "expected a member name in double quotes, found '}' at byte 21"),
            (#"{"a":01}"#, "invalid number: no leading zeros at byte 5"),
            (#"{"a":"x\q"}"#, #"invalid escape: \ followed by 'q' in a string at byte 7"#),
            ("{\"a\":\"tab\there\"}", "control character U+0009 in a string (it must be escaped) at byte 9"),
            (#"{"a":"open}"#, "unterminated string at byte 5"),
            (#"{"a" 1}"#, "expected ':' after a member name, found '1' at byte 5"),
            (#"{"a":tru}"#, "expected a value, found 't' at byte 5"),
            (#"{"a":1}{"#, "unexpected end of input inside an object at byte 8"),
            (#"{"a":"\ud800"}"#, #"a lone UTF-16 surrogate in a \u escape at byte 6"#),
            (#"{"a":"\udc00\ud800"}"#, #"a lone UTF-16 surrogate in a \u escape at byte 6"#),
        ]
        for (json, expected) in cases {
            #expect(throws: EnvelopeError("the envelope is not valid JSON: " + expected), "\(json)") { try Self.decode(json) }
        }
    }

    @Test func batchesAndLinesNameTheBadEvent() throws {
        let good = #"{"specversion":"1.0","id":"1","source":"/s","type":"t"}"#
        let bad = #"{"specversion":"1.0","id":"2","type":"t"}"#
        #expect(throws: EnvelopeError("event #2 (line 2, byte \(good.utf8.count + 1)): required attribute 'source' is missing")) {
            try CloudEvent.decodeAll(Data((good + "\n" + bad + "\n").utf8))
        }
        #expect(throws: EnvelopeError("event #2 (line 1, byte \(good.utf8.count + 2)): required attribute 'source' is missing")) {
            try CloudEvent.decodeAll(Data(("[" + good + "," + bad + "]").utf8))
        }
        #expect(throws: EnvelopeError("event #1 (line 1, byte 1): an envelope must be a JSON object")) {
            try CloudEvent.decodeAll(Data("[1]".utf8))
        }
        // Pretty-printed objects one after another, and a byte order mark, are read too.
        let pretty = "\u{FEFF}{\n  \"specversion\": \"1.0\",\n  \"id\": \"a\", \"source\": \"/s\", \"type\": \"t\"\n}\n" + good
        #expect(try CloudEvent.decodeAll(Data(pretty.utf8)).map(\.id) == ["a", "1"])
    }

    // MARK: Envelopes as the SDKs write them

    /// Go (sdk-go v2, `json.Marshal(event)`): attributes in its order, `time` in RFC3339Nano, typed
    /// extensions, `data_base64` for binary.
    static let go = [
        #"{"specversion":"1.0","id":"4b7b4c1e-6a3f-4b64-a3f1-0d0a5b1f7e10","source":"github.com/cloudevents/sdk-go/samples","type":"com.cloudevents.sample.sent","datacontenttype":"application/json","time":"2025-12-31T23:59:59.123456789-07:00","exint":42,"exbool":true,"data":{"id":0,"message":"Hello, World!"}}"#,
        #"{"specversion":"1.0","id":"b1","source":"/go","type":"bin","datacontenttype":"application/octet-stream","time":"2026-01-02T03:04:05.1Z","data_base64":"AAECAwQF"}"#,
        #"{"specversion":"1.0","id":"t1","source":"/go","type":"text","datacontenttype":"text/plain","data":"plain text, not JSON"}"#,
    ]
    /// Java (sdk-java, the Jackson `JsonFormat`): `Instant`/`OffsetDateTime` times with nine digits.
    static let java = [
        #"{"specversion":"1.0","id":"1","source":"/source","type":"type","datacontenttype":"application/json","dataschema":"http://dataschema.example.com","subject":"sub","time":"2018-04-26T14:48:09.769123456+02:00","astring":"aaa","aboolean":true,"anumber":10,"data":{"a":1}}"#,
        #"{"specversion":"1.0","id":"2","source":"/source","type":"type","datacontenttype":"application/xml","data":"<stuff></stuff>"}"#,
    ]
    /// JavaScript (sdk-javascript, `event.toString()`): `toISOString` times, `data_base64` for buffers.
    static let javascript = [
        #"{"id":"5f8b2bde-4ac8-46e9-9b9e-1c0b5d2d8a53","time":"2026-12-01T10:00:00.000Z","type":"com.example.js","source":"/js","specversion":"1.0","datacontenttype":"application/json","data":{"hello":"world","n":[1,2.5,-3e-2]},"ext1":"value","ext2":7}"#,
        #"{"id":"b","time":"2026-12-01T10:00:00.001Z","type":"com.example.js","source":"/js","specversion":"1.0","data_base64":"aGVsbG8="}"#,
    ]
    /// Python (the `cloudevents` package, `to_json`): `isoformat` times with an offset.
    static let python = [
        #"{"specversion": "1.0", "id": "a6f3", "source": "https://example.com/event-producer", "type": "com.example.sampletype1", "time": "2026-12-01T10:00:00.123456+00:00", "data": {"message": "Hello World!"}}"#,
    ]
    static let sdkFixtures = go + java + javascript + python

    @Test(arguments: sdkFixtures)
    func sdkEnvelopesDecodeAndComeBackIntact(json: String) throws {
        let event = try Self.decode(json)
        let written = event.jsonString()
        #expect(!written.contains("\n"))
        #expect(try CloudEvent(json: Data(written.utf8)) == event)
        // Every attribute the producer wrote comes back with the same JSON value (time as the same
        // instant, to the microsecond).
        let original = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let back = try #require(try JSONSerialization.jsonObject(with: Data(written.utf8)) as? [String: Any])
        #expect(Set(original.keys) == Set(back.keys))
        func canonical(_ value: Any?) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: [value ?? NSNull()], options: [.sortedKeys]), as: UTF8.self)
        }
        for (name, value) in original where name != "time" {
            #expect(try canonical(value) == canonical(back[name]), "\(name)")
        }
        if let time = original["time"] as? String {
            #expect(Timestamp(rfc3339: back["time"] as! String) == Timestamp(rfc3339: time))
        }
    }

    @Test(arguments: sdkFixtures)
    func sdkEnvelopesRoundTripThroughTheStore(json: String) throws {
        let db = try TestStore()
        let event = try Self.decode(json)
        try db.store.publishUnrouted([event], at: .now())
        let stored = try db.store.events(matching: EventQuery(id: event.id), after: 0, limit: 10)
        #expect(stored.map(\.event) == [event])
    }

    @Test func terminalUnsafeTextIsEscapedInTheOutputYetTheSame() throws {
        // Bidi and zero-width characters are allowed in CloudEvents Strings (controls are not; data may hold both).
        let event = try Self.decode(#"{"specversion":"1.0","id":"x\u202e","source":"/s","type":"t\u2066","subject":"\u200b","data":{"k":"a\u200bb\u2066","c":"\u001b[31m\u0085"}}"#)
        let written = event.jsonString()
        #expect(!written.unicodeScalars.contains { $0.isTerminalUnsafe })
        #expect(written.contains(#""id":"x\u202e""#) && written.contains(#""k":"a\u200bb\u2066""#))
        #expect(try CloudEvent(json: Data(written.utf8)).id == "x\u{202E}")
        let data = try #require(try CloudEvent(json: Data(written.utf8)).data?.jsonObject() as? [String: String])
        #expect(data["k"] == "a\u{200B}b\u{2066}")
    }

    // MARK: Properties: nothing traps, and what decodes round-trips

    /// Thousands of mutated envelopes (bytes flipped, inserted, deleted, truncated, spliced), from a
    /// fixed seed: each decodes or is refused with an `EnvelopeError`, and what decodes comes back
    /// equal through `jsonString()` (JSON data as the same JSON value).
    @Test func mutatedEnvelopesNeverTrap() throws {
        var random = SeededRandom(seed: 0x5EED_CE10)
        let corpus = Self.sdkFixtures.map { Array($0.utf8) } + [
            Array(#"{"specversion":"1.0","id":"x","source":"/s","type":"t","time":"2025-12-31T23:59:59.123456789-07:00","n":null,"data":null}"#.utf8),
            Array(#"{"specversion":"1.0","id":"\"\\\/\b\u00e9\ud83d\ude97","source":"/s","type":"t","datacontenttype":"text/plain","data":"\n\t"}"#.utf8),
            Array(#"[{"specversion":"1.0","id":"x","source":"/s","type":"t"},{"specversion":"1.0","id":"y","source":"/s","type":"t","data":[[[]]]}]"#.utf8),
        ]
        let interesting: [UInt8] = Array(#"{}[]",:\.-+eEu0129"#.utf8) + [0x00, 0x0A, 0x7F, 0x80, 0xBF, 0xC3, 0xE2, 0xED, 0xF0, 0xF4, 0xFF]
        var decoded = 0
        for round in 0..<4000 {
            var bytes = corpus[random.below(corpus.count)]
            for _ in 0..<(1 + random.below(4)) {
                let position = bytes.isEmpty ? 0 : random.below(bytes.count)
                switch random.below(6) {
                case 0 where !bytes.isEmpty: bytes[position] = UInt8(truncatingIfNeeded: random.next())
                case 1: bytes.insert(interesting[random.below(interesting.count)], at: position)
                case 2 where !bytes.isEmpty: bytes.remove(at: position)
                case 3: bytes = Array(bytes.prefix(position))
                case 4 where !bytes.isEmpty: bytes[position] = interesting[random.below(interesting.count)]
                default:
                    let other = corpus[random.below(corpus.count)]
                    bytes.insert(contentsOf: other.prefix(random.below(other.count)), at: position)
                }
            }
            do {
                for event in try CloudEvent.decodeAll(Data(bytes)) {
                    decoded += 1
                    let again = try CloudEvent(json: Data(event.jsonString().utf8))
                    // JSON data comes back as the same text but for terminal-unsafe characters,
                    // which the output writes as \u escapes (the same JSON value).
                    var expected = event
                    if case .json(let text)? = event.data {
                        expected.data = .json(Data(JSONText.escapingUnsafe(String(decoding: text, as: UTF8.self)).utf8))
                    }
                    #expect(again == expected, "round \(round): \(String(decoding: bytes, as: UTF8.self))")
                }
            } catch is EnvelopeError {
                // Refused, with a reason: fine.
            }
        }
        #expect(decoded > 100, "the mutations should leave a fair share valid")
    }

    /// Random instants print and parse back to themselves, any fraction length truncates to the
    /// microsecond, and random text near the format never traps.
    @Test func timestampParserProperties() {
        var random = SeededRandom(seed: 0x7135)
        for _ in 0..<3000 {
            let micros = Int64(bitPattern: random.next() % 253_402_300_800_000_000)  // up to 9999-12-31
            let time = Timestamp(micros: micros)
            #expect(Timestamp(rfc3339: time.rfc3339) == time)
            let digits = random.below(25) + 1
            var fraction = ""
            for _ in 0..<digits { fraction.append(Character(String(random.below(10)))) }
            let whole = String(time.rfc3339.prefix(19))
            let parsed = Timestamp(rfc3339: whole + "." + fraction + "Z")
            let kept = String((fraction + "000000").prefix(6))
            #expect(parsed?.micros == Timestamp(rfc3339: whole + "Z")!.micros + Int64(kept)!)
        }
        let alphabet = Array("0123456789-:.TtZz+ ".utf8) + [0x00, 0xFF]
        let seeds = ["2025-12-31T23:59:59.123456789-07:00", "2026-02-29T00:00:00Z", "1970-01-01T00:00:00+23:59"]
        for round in 0..<20_000 {
            var bytes = Array(seeds[round % seeds.count].utf8)
            for _ in 0..<(1 + random.below(3)) {
                let position = random.below(bytes.count + 1)
                switch random.below(3) {
                case 0 where position < bytes.count: bytes[position] = alphabet[random.below(alphabet.count)]
                case 1: bytes.insert(alphabet[random.below(alphabet.count)], at: position)
                default: bytes = Array(bytes.prefix(position))
                }
            }
            _ = Timestamp(rfc3339: String(decoding: bytes, as: UTF8.self))
        }
    }
}

extension CloudEventConformanceTests {
    @Test func aSyntaxErrorInJSONLinesNamesItsLine() {
        let good = #"{"specversion":"1.0","id":"1","source":"/s","type":"t"}"#
        #expect(throws: EnvelopeError("line 3: the envelope is not valid JSON: expected a value, found 'x' at byte \(2 * good.utf8.count + 2 + 6)")) {
            try CloudEvent.decodeAll(Data((good + "\n" + good + "\n" + #"{"id":x}"#).utf8))
        }
    }
}
