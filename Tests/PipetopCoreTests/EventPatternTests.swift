import Foundation
import Testing
@testable import PipetopCore

@Suite struct EventPatternTests {
    let listing = CloudEvent(
        id: "e1", source: "/scraper/autosite", type: "listing.uploaded", subject: "L1",
        data: try! Payload.json(object: [
            "make": "Volvo", "price": 18_500, "tags": ["estate", "diesel"], "dealer": ["name": "Nordic Cars", "rating": 4.5],
            "sold": false, "note": NSNull(),
        ]),
        correlationID: "flow-1", extensions: ["tenant": "se"])

    func matches(_ json: String, _ event: CloudEvent? = nil) throws -> Bool {
        let pattern = try EventPattern(json: json)
        let event = event ?? listing
        return pattern.matches(event, data: pattern.examinesData ? event.data?.jsonObject() : nil)
    }

    @Test func exactValuesOnEnvelopeAndData() throws {
        #expect(try matches(#"{"type": ["listing.uploaded"]}"#))
        #expect(try !matches(#"{"type": ["listing.parsed"]}"#))
        #expect(try matches(#"{"type": ["a", "listing.uploaded"], "source": ["/scraper/autosite"]}"#))
        #expect(try matches(#"{"data": {"make": ["Volvo"], "price": [18500]}}"#))
        #expect(try !matches(#"{"data": {"make": ["volvo"]}}"#))
        #expect(try matches(#"{"data": {"sold": [false], "note": [null]}}"#))
        #expect(try matches(#"{"tenant": ["se"], "correlationid": ["flow-1"]}"#))
    }

    @Test func arraysMatchWhenAnyElementMatches() throws {
        #expect(try matches(#"{"data": {"tags": ["diesel"]}}"#))
        #expect(try !matches(#"{"data": {"tags": ["petrol"]}}"#))
    }

    @Test func nestedFields() throws {
        #expect(try matches(#"{"data": {"dealer": {"name": [{"prefix": "Nordic"}], "rating": [{"numeric": [">=", 4]}]}}}"#))
        #expect(try !matches(#"{"data": {"dealer": {"rating": [{"numeric": [">", 4.5]}]}}}"#))
    }

    @Test func prefixSuffixAndIgnoreCase() throws {
        #expect(try matches(#"{"type": [{"prefix": "listing."}]}"#))
        #expect(try !matches(#"{"type": [{"prefix": "order."}]}"#))
        #expect(try matches(#"{"source": [{"suffix": "/autosite"}]}"#))
        #expect(try matches(#"{"data": {"make": [{"equals-ignore-case": "VOLVO"}]}}"#))
    }

    @Test func anythingBut() throws {
        #expect(try matches(#"{"data": {"make": [{"anything-but": ["Ford", "Kia"]}]}}"#))
        #expect(try !matches(#"{"data": {"make": [{"anything-but": "Volvo"}]}}"#))
        #expect(try !matches(#"{"type": [{"anything-but": {"prefix": "listing."}}]}"#))
        #expect(try matches(#"{"type": [{"anything-but": {"prefix": "order."}}]}"#))
        // A missing field is not "anything but": EventBridge requires the field to exist.
        #expect(try !matches(#"{"data": {"colour": [{"anything-but": ["red"]}]}}"#))
    }

    @Test func exists() throws {
        #expect(try matches(#"{"subject": [{"exists": true}]}"#))
        #expect(try matches(#"{"data": {"colour": [{"exists": false}]}}"#))
        #expect(try !matches(#"{"data": {"make": [{"exists": false}]}}"#))
        var bare = listing
        bare.subject = nil
        #expect(try !matches(#"{"subject": [{"exists": true}]}"#, bare))
    }

    @Test func numericRanges() throws {
        #expect(try matches(#"{"data": {"price": [{"numeric": [">", 10000, "<=", 20000]}]}}"#))
        #expect(try !matches(#"{"data": {"price": [{"numeric": [">", 20000]}]}}"#))
        #expect(try matches(#"{"data": {"price": [{"numeric": ["=", 18500]}]}}"#))
        // A string never satisfies a numeric matcher.
        #expect(try !matches(#"{"data": {"make": [{"numeric": [">", 0]}]}}"#))
    }

    @Test func dataThatIsNotJSONNeverMatchesDataFields() throws {
        let binary = CloudEvent(source: "/s", type: "t", data: .binary(Data([0, 1, 2])))
        #expect(try !matches(#"{"data": {"make": ["Volvo"]}}"#, binary))
        #expect(try matches(#"{"type": ["t"]}"#, binary))
    }

    @Test(arguments: [
        (#"not json"#, "not valid JSON"),
        (#"[1]"#, "must be a JSON object"),
        (#"{}"#, "at least one field"),
        (#"{"type": []}"#, "field 'type': an empty list"),
        (#"{"type": "listing"}"#, "field 'type': expected a list"),
        (#"{"data": {"price": [{"numeric": [">"]}]}}"#, "field 'data.price' matcher 1: 'numeric' takes"),
        (#"{"data": {"price": [{"numeric": ["~", 1]}]}}"#, "operator must be one of"),
        (#"{"data": {"price": [{"numeric": [">", "1"]}]}}"#, "must be a number"),
        (#"{"type": [{"regex": "*"}]}"#, "unsupported operator 'regex'"),
        (#"{"type": [{"prefix": 1}]}"#, "'prefix' takes a string"),
        (#"{"type": [{"exists": "yes"}]}"#, "'exists' takes true or false"),
        (#"{"type": [{"prefix": "a", "suffix": "b"}]}"#, "one operator"),
    ])
    func invalidPatternsAreExplained(json: String, expected: String) {
        #expect {
            _ = try EventPattern(json: json)
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    @Test func anInvalidRuleIsNamedWhenTheRuntimeIsConfigured() throws {
        #expect {
            _ = try Rule("big-cars", pattern: #"{"data": {"price": [{"numeric": ["<", "cheap"]}]}}"#, targets: ["q"])
        } throws: { error in
            "\(error)".hasPrefix("rule 'big-cars': invalid pattern: field 'data.price'")
        }
        let store = try TestStore()
        #expect {
            _ = try Runtime(name: "t", store: store.store, queues: [QueueSpec("q")], rules: [Rule("r", pattern: .type("x"), targets: ["nope"])])
        } throws: { error in
            "\(error)" == "rule 'r' targets unknown queue 'nope'"
        }
    }

    @Test func routerSendsToEveryMatchingQueueOnce() throws {
        let router = try Router(
            rules: [
                Rule("a", pattern: .type("listing.uploaded"), targets: ["batch", "parse"]),
                Rule("b", pattern: try EventPattern(json: #"{"data": {"make": ["Volvo"]}}"#), targets: ["parse", "volvo"]),
                Rule("c", pattern: .type("other"), targets: ["other"]),
            ],
            queues: [QueueSpec("batch", mode: .batch(every: .seconds(15))), QueueSpec("parse"), QueueSpec("volvo"), QueueSpec("other")])
        #expect(router.route(listing) == ["batch", "parse", "volvo"])
        #expect(router.targets(of: listing) == [
            Target(queue: "batch", held: true), Target(queue: "parse", held: false), Target(queue: "volvo", held: false),
        ])
        #expect(router.route(CloudEvent(source: "/", type: "nothing")) == [])
    }

    @Test func typedExtensionsMatchByTheirType() throws {
        let event = try CloudEvent(json: Data(#"{"specversion":"1.0","id":"x","source":"/s","type":"t","priority":5,"flag":true,"code":"5"}"#.utf8))
        #expect(try matches(#"{"priority": [5]}"#, event))
        #expect(try matches(#"{"priority": [{"numeric": [">", 3, "<=", 5]}]}"#, event))
        #expect(try matches(#"{"flag": [true]}"#, event))
        #expect(try !matches(#"{"flag": ["true"]}"#, event), "a Boolean is not the string 'true'")
        #expect(try !matches(#"{"code": [5]}"#, event), "a String extension is not the number 5")
        #expect(try matches(#"{"code": ["5"]}"#, event))
        #expect(try !matches(#"{"priority": [{"exists": false}]}"#, event))
    }
}
