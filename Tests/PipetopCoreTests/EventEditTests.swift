import Foundation
import Testing
@testable import PipetopCore

/// Checking an edit of a dead letter's event, the field edit (`--set`) and the diff shown before
/// the edit is confirmed.
/// That `body` throws an error whose text contains `message` (the error is shown if not).
func expectRefusal(_ message: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("no error; expected one saying: \(message)", sourceLocation: sourceLocation)
    } catch {
        #expect("\(error)".contains(message), "\(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct EventEditTests {
    let listing = CloudEvent(
        id: "listing-7", source: "/scraper/autosite", type: "listing.uploaded", time: Timestamp(micros: 1_800_000_000_123_456),
        subject: "L7", data: .json(Data(#"{"listingId":"L7","price":"12,500","year":2019,"ratio":1.0,"big":12345678901234567890,"tags":["a","b"],"seller":{}}"#.utf8)),
        correlationID: "listing-7", extensions: ["priority": 5])

    /// The editor's text with one line replaced.
    func editing(_ event: CloudEvent, _ replace: String, with new: String) -> String {
        let text = EventEdit.editableText(event)
        precondition(text.contains(replace), "\(replace) not in \(text)")
        return text.replacingOccurrences(of: replace, with: new)
    }

    @Test func theEditorGetsTheWholeEnvelopePrettyPrintedInItsOwnOrderAndItReadsBackUnchanged() throws {
        let text = EventEdit.editableText(listing)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first == "{" && lines.last == "}" && text.hasSuffix("}\n"))
        #expect(lines.contains(#"  "id": "listing-7","#))
        #expect(lines.contains(#"  "data": {"#))
        // The producer's order and number text, not JSONSerialization's sorted keys and doubles.
        let data = lines.drop { !$0.contains(#""data""#) }.dropFirst().prefix(4)
        #expect(Array(data) == [#"    "listingId": "L7","#, #"    "price": "12,500","#, #"    "year": 2019,"#, #"    "ratio": 1.0,"#])
        #expect(lines.contains(#"    "big": 12345678901234567890,"#) && lines.contains(#"    "seller": {}"#))
        let back = try EventEdit.parse(text, original: listing)
        #expect(!EventEdit.changes(listing, back))
        #expect(EventEdit.diff(listing, back).isEmpty)
    }

    @Test func aRepairedPayloadIsAcceptedWithItsDiff() throws {
        let text = editing(listing, #""price": "12,500","#, with: #""price": 12500,"#)
        let edited = try EventEdit.parse(text, original: listing)
        #expect(EventEdit.changes(listing, edited))
        #expect(edited.id == listing.id && edited.time == listing.time && edited.correlationID == listing.correlationID && edited.extensions == listing.extensions)
        #expect(edited.data?.jsonObject().flatMap { ($0 as? [String: Any])?["price"] as? Int } == 12500)
        let diff = EventEdit.diff(listing, edited).map(\.description)
        #expect(diff == [
            #"  {"#, #"    "listingId": "L7","#, #"-   "price": "12,500","#, #"+   "price": 12500,"#, #"    "year": 2019,"#, #"    "ratio": 1.0,"#,
            "… 7 unchanged lines",
        ])
    }

    @Test func theContentTypeMayChangeWithTheData() throws {
        // A new extension is a changed attribute too.
        let text = editing(listing, #""subject": "L7","#, with: #""subject": "L7", "x": "y","#)
        expectRefusal("attribute 'x' was changed (unset → 'y')") { _ = try EventEdit.parse(text, original: listing) }
        var plain = listing
        plain.datacontenttype = "text/plain"
        plain.data = .text("price 12500")
        let edited = try EventEdit.parse(EventEdit.editableText(plain), original: listing)
        #expect(edited.data == .text("price 12500") && edited.datacontenttype == "text/plain")
        #expect(EventEdit.diff(listing, edited).prefix(2).map(\.description) == ["- datacontenttype: application/json", "+ datacontenttype: text/plain"])
    }

    @Test(arguments: [
        (#""id": "listing-7","#, #""id": "listing-8","#, "attribute 'id' was changed ('listing-7' → 'listing-8'); an edit may change only data and datacontenttype"),
        (#""type": "listing.uploaded","#, #""type": "listing.sold","#, "attribute 'type' was changed"),
        (#""source": "/scraper/autosite","#, #""source": "/other","#, "attribute 'source' was changed"),
        (#""time": "2027-01-15T08:00:00.123456Z","#, #""time": "2027-01-15T09:00:00Z","#, "attribute 'time' was changed"),
        (#""correlationid": "listing-7","#, "", "attribute 'correlationid' was changed ('listing-7' → unset)"),
        (#""priority": 5,"#, #""priority": 6,"#, "attribute 'priority' was changed ('5' → '6')"),
        (#""specversion": "1.0","#, #""specversion": "0.3","#, "unsupported specversion '0.3'"),
        (#""price": "12,500","#, #""price": 12,500,"#, "not valid JSON at line 13, column 17: expected a member name in double quotes, found '5'"),
        (#""id": "listing-7","#, #""id": "listing-7",,"#, "not valid JSON at line 3, column 21"),
    ])
    func anythingButTheDataChangedIsRefusedNamingWhat(replace: String, with: String, message: String) throws {
        let text = editing(listing, replace, with: with)
        expectRefusal(message) { _ = try EventEdit.parse(text, original: listing) }
    }

    @Test func theFileMustHoldOneEnvelopeAndJSONDataMustBeJSON() throws {
        expectRefusal("the file is empty") { _ = try EventEdit.parse("  \n", original: listing) }
        expectRefusal("2 JSON values") { _ = try EventEdit.parse("{} {}", original: listing) }
        var binary = listing
        binary.data = .binary(Data("12,500".utf8))
        binary.datacontenttype = "application/json"
        expectRefusal("datacontenttype is application/json, but data_base64 does not hold JSON") { _ = try EventEdit.validate(binary, against: listing) }
        binary.datacontenttype = "application/octet-stream"
        #expect(try EventEdit.validate(binary, against: listing) == binary, "binary data of a binary type is fine")
    }

    @Test func aPayloadWithTerminalControlsIsEditedAndDiffedEscaped() throws {
        var hostile = listing
        // Valid JSON whose string holds ESC, BEL and a right-to-left override once decoded.
        hostile.data = .json(Data(#"{"note":"\u001b]0;pwned\u0007 \u202Eevil"}"#.utf8))
        let text = EventEdit.editableText(hostile)
        #expect(!text.unicodeScalars.contains { $0.isTerminalUnsafe && $0 != "\n" }, "\(text)")
        let edited = try EventEdit.parse(text.replacingOccurrences(of: "pwned", with: "fine"), original: hostile)
        let diff = EventEdit.diff(hostile, edited)
        #expect(diff.count == 4)
        #expect(diff.allSatisfy { !$0.description.unicodeScalars.contains(where: \.isTerminalUnsafe) })
        #expect(diff.contains { $0.kind == .removed && $0.text.contains("\\u001b]0;pwned\\u0007 \\u202eevil") })
    }

    @Test func theLineDiffIsCompact() {
        let old = (1...20).map { "line \($0)" }
        var new = old
        new[2] = "changed 3"
        new.insert("inserted", at: 15)
        new.removeLast()
        let diff = LineDiff.compact(old, new, context: 1).map(\.description)
        #expect(diff == [
            "… 1 unchanged line", "  line 2", "- line 3", "+ changed 3", "  line 4", "… 10 unchanged lines", "  line 15", "+ inserted", "  line 16", "… 2 unchanged lines",
            "  line 19", "- line 20",
        ])
        #expect(LineDiff.compact(old, old).isEmpty)
        #expect(LineDiff.full([], ["a"]).map(\.description) == ["+ a"])
    }

    @Test func jsonPointersFollowRFC6901() throws {
        #expect(try JSONPointer("").tokens == [])
        #expect(try JSONPointer("/a~1b/m~0n/0/").tokens == ["a/b", "m~n", "0", ""])
        #expect(try JSONPointer("/a~1b/m~0n").description == "/a~1b/m~0n")
        #expect(try JSONPointer("/~01").tokens == ["~1"], "~0 then 1, not ~ then ~1")
        expectRefusal("must start with '/'") { _ = try JSONPointer("price") }
        expectRefusal("'~' must be followed by 0") { _ = try JSONPointer("/a~2") }
    }

    @Test func fieldAssignmentsSetMembersAndElementsLikeJSONPatchAdd() throws {
        func set(_ assignments: [String], on json: String) throws -> String {
            var event = listing
            event.data = .json(Data(json.utf8))
            let edited = try EventEdit.applying(try assignments.map { try FieldAssignment(parsing: $0) }, to: event)
            return String(decoding: edited.data!.bytes, as: UTF8.self)
        }
        #expect(try set(["/price=12500"], on: #"{"price":"12,500","n":1.0}"#) == #"{"price":12500,"n":1.0}"#)
        #expect(try set(["/currency=\"EUR\"", "/seller/name=\"Ada\""], on: #"{"seller":{}}"#) == #"{"seller":{"name":"Ada"},"currency":"EUR"}"#)
        #expect(try set(["/tags/1=\"x\"", "/tags/-=true", "/a~1b=null"], on: #"{"tags":["a","b"]}"#) == #"{"tags":["a","x",true],"a/b":null}"#)
        #expect(try set(["=[1, 2]"], on: #"{"a":1}"#) == "[1,2]", "the empty pointer is the whole payload")
        let refusals: [(String, String, String)] = [
            ("/seller/name=1", #"{"n":1}"#, "/seller/name: the payload has no member 'seller'"),
            ("/price/amount=1", #"{"price":"12,500"}"#, "/price/amount: /price is a string, not an object or array"),
            ("/tags/5=1", #"{"tags":["a"]}"#, "/tags/5: /tags has 1 element; there is no index 5"),
            ("/tags/01=1", #"{"tags":["a","b"]}"#, "'01' is not an index"),
            ("/tags/-/x=1", #"{"tags":[]}"#, "'-' (the end of /tags) can only be the last token"),
        ]
        for (assignment, json, message) in refusals {
            #expect(throws: EditError.self) { try set([assignment], on: json) }
            expectRefusal(message) { _ = try set([assignment], on: json) }
        }
        expectRefusal("is not PATH=VALUE") { _ = try FieldAssignment(parsing: "/price") }
        expectRefusal(#"a string needs its quotes: /currency='"EUR"'"#) { _ = try FieldAssignment(parsing: "/currency=EUR") }
        expectRefusal("the value of /price is not JSON") { _ = try FieldAssignment(parsing: "/price=12,500") }
        var text = listing
        text.datacontenttype = "text/csv"
        text.data = .text("a,b")
        expectRefusal("the payload is not JSON (text/csv)") { _ = try EventEdit.applying([try FieldAssignment(parsing: "/a=1")], to: text) }
    }
}
