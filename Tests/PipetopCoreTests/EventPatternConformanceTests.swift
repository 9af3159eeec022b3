import Foundation
import Testing
@testable import PipetopCore

/// EventBridge / event-ruler semantics, case by case: each row is (pattern, payload, expected).
///
/// The cases port the behaviour documented in aws/event-ruler's README and exercised by its tests
/// (MachineTest, ArrayMembershipTest, CIDRTest, ComparableNumberTest, WildcardParserTest,
/// JsonRuleCompilerTest) and the EventBridge guide, restated for our CloudEvent mapping: `data`
/// holds the payload's fields, the other top-level keys name envelope attributes.
@Suite struct EventPatternConformanceTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let pattern: String
        let data: String
        let expected: Bool
        var testDescription: String { "\(pattern) on \(data) → \(expected)" }
    }

    static func event(_ data: String) -> CloudEvent {
        CloudEvent(
            id: "e1", source: "/s", type: "t", time: nil, subject: nil, data: .json(Data(data.utf8)),
            correlationID: "flow-1", extensions: ["tenant": "se"])
    }

    static let staff = #"{"employees": [{"firstName": "John", "lastName": "Doe"}, {"firstName": "Anna", "lastName": "Smith"}, {"firstName": "Peter", "lastName": "Jones"}]}"#
    static let nestedStaff = #"{"employees": [[{"firstName": "John", "lastName": "Doe"}, {"firstName": "Anna", "lastName": "Smith"}], [{"firstName": "Peter", "lastName": "Jones"}]]}"#

    static let cases: [Case] = [
        // Arrays of objects: any element, at any depth, with array consistency.
        Case(pattern: #"{"data": {"employees": {"firstName": ["Anna"]}}}"#, data: staff, expected: true),
        Case(pattern: #"{"data": {"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}}"#, data: staff, expected: true),
        Case(pattern: #"{"data": {"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}}"#, data: staff, expected: false),
        Case(pattern: #"{"data": {"employees": {"firstName": ["Anna"]}}}"#, data: nestedStaff, expected: true),
        Case(pattern: #"{"data": {"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}}"#, data: nestedStaff, expected: true),
        Case(pattern: #"{"data": {"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}}"#, data: nestedStaff, expected: false),
        Case(pattern: #"{"data": {"employees": {"firstName": ["John"], "lastName": ["Smith"]}}}"#, data: nestedStaff, expected: false),
        Case(pattern: #"{"data": {"employees": {"firstName": ["Maria"]}}}"#, data: staff, expected: false),
        Case(pattern: #"{"data": {"tags": ["diesel"]}}"#, data: #"{"tags": ["estate", "diesel"]}"#, expected: true),
        Case(pattern: #"{"data": {"m": [2]}}"#, data: #"{"m": [[1, 2], [3]]}"#, expected: true),
        Case(pattern: #"{"data": {"m": [4]}}"#, data: #"{"m": [[1, 2], [3]]}"#, expected: false),
        Case(pattern: #"{"data": {"a": {"x": [1]}, "b": {"y": [2]}}}"#, data: #"{"a": [{"x": 1}], "b": [{"y": 2}]}"#, expected: true),
        Case(pattern: #"{"data": {"o": {"items": {"sku": ["A"], "qty": [{"numeric": [">", 1]}]}}}}"#,
             data: #"{"o": {"items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 5}]}}"#, expected: false),
        Case(pattern: #"{"data": {"o": {"items": {"sku": ["A"], "qty": [{"numeric": [">", 1]}]}}}}"#,
             data: #"{"o": {"items": [{"sku": "B", "qty": 1}, {"sku": "A", "qty": 3}]}}"#, expected: true),
        Case(pattern: #"{"data": {"d": {"a": {"b": ["x"]}, "c": ["y"]}}}"#, data: #"{"d": [{"a": [{"b": "x"}], "c": "y"}]}"#, expected: true),
        Case(pattern: #"{"data": {"d": {"a": {"b": ["x"]}, "c": ["y"]}}}"#, data: #"{"d": [{"a": [{"b": "x"}]}, {"c": "y"}]}"#, expected: false),
        Case(pattern: #"{"data": {"p": ["a"]}}"#, data: #"{"p": ["a", {"x": 1}]}"#, expected: true),
        Case(pattern: #"{"data": {"a": [1]}}"#, data: #"[{"a": 2}, {"a": 1}]"#, expected: true),
        Case(pattern: #"{"data": {"d": {"a": [1], "b": [{"exists": false}]}}}"#, data: #"{"d": [{"a": 1, "b": 2}, {"a": 1}]}"#, expected: true),
        Case(pattern: #"{"data": {"d": {"a": [1], "b": [{"exists": false}]}}}"#, data: #"{"d": [{"a": 1, "b": 2}]}"#, expected: false),
        // event-ruler judges exists:false against the fields before it in path order: d.a comes first, unconstrained.
        Case(pattern: #"{"data": {"d": {"a": [{"exists": false}], "b": [1]}}}"#, data: #"{"d": [{"a": 1, "b": 2}, {"b": 1}]}"#, expected: false),
        Case(pattern: #"{"data": {"d": {"a": [{"exists": false}], "b": [1]}}}"#, data: #"{"d": [{"b": 1}]}"#, expected: true),

        // exists works on values (leaves) only.
        Case(pattern: #"{"data": {"c": [{"exists": true}]}}"#, data: #"{"c": {"c1": 100}}"#, expected: false),
        Case(pattern: #"{"data": {"c": [{"exists": false}]}}"#, data: #"{"c": {"c1": 100}}"#, expected: true),
        Case(pattern: #"{"data": {"c": {"c1": [{"exists": true}]}}}"#, data: #"{"c": {"c1": 100}}"#, expected: true),
        Case(pattern: #"{"data": {"c": [{"exists": true}]}}"#, data: #"{"c": null}"#, expected: true),
        Case(pattern: #"{"data": {"c": [{"exists": false}]}}"#, data: #"{"c": null}"#, expected: false),
        Case(pattern: #"{"data": {"c": [{"exists": true}]}}"#, data: #"{"c": []}"#, expected: false),
        Case(pattern: #"{"data": {"c": [{"exists": false}]}}"#, data: #"{"c": []}"#, expected: true),
        Case(pattern: #"{"data": {"c": [{"exists": true}]}}"#, data: #"{"c": [[]]}"#, expected: false),
        Case(pattern: #"{"data": {"c": [{"exists": true}]}}"#, data: #"{"c": [1]}"#, expected: true),
        Case(pattern: #"{"data": {"c": [{"exists": true}]}}"#, data: #"{"c": [{"a": 1}]}"#, expected: false),
        Case(pattern: #"{"data": {"c": [{"exists": false}]}}"#, data: #"{"c": [{"a": 1}]}"#, expected: true),
        Case(pattern: #"{"data": {"c": [{"exists": true}]}}"#, data: #"{"c": ""}"#, expected: true),
        Case(pattern: #"{"data": {"c": [{"exists": false}]}}"#, data: #"{"b": 1}"#, expected: true),
        Case(pattern: #"{"data": {"c": {"x": [{"exists": false}]}}}"#, data: #"{"c": 5}"#, expected: true),
        Case(pattern: #"{"data": {"c": [{"exists": false}, "v"]}}"#, data: #"{"c": "v"}"#, expected: true),

        // Literals: strings byte for byte, null, booleans, no conversion between types.
        Case(pattern: #"{"data": {"s": ["Volvo"]}}"#, data: #"{"s": "Volvo"}"#, expected: true),
        Case(pattern: #"{"data": {"s": ["volvo"]}}"#, data: #"{"s": "Volvo"}"#, expected: false),
        Case(pattern: #"{"data": {"s": [null]}}"#, data: #"{"s": null}"#, expected: true),
        Case(pattern: #"{"data": {"s": ["null"]}}"#, data: #"{"s": null}"#, expected: false),
        Case(pattern: #"{"data": {"s": [""]}}"#, data: #"{"s": ""}"#, expected: true),
        Case(pattern: #"{"data": {"s": [""]}}"#, data: #"{"s": null}"#, expected: false),
        Case(pattern: #"{"data": {"s": [null]}}"#, data: #"{"t": 1}"#, expected: false),
        Case(pattern: #"{"data": {"s": [true]}}"#, data: #"{"s": true}"#, expected: true),
        Case(pattern: #"{"data": {"s": [true]}}"#, data: #"{"s": "true"}"#, expected: false),
        Case(pattern: #"{"data": {"s": [false]}}"#, data: #"{"s": 0}"#, expected: false),
        Case(pattern: #"{"data": {"s": [5]}}"#, data: #"{"s": "5"}"#, expected: false),
        Case(pattern: #"{"data": {"s": ["5"]}}"#, data: #"{"s": 5}"#, expected: false),
        Case(pattern: #"{"data": {"s": ["é"]}}"#, data: #"{"s": "e\u0301"}"#, expected: false),
        Case(pattern: #"{"data": {"s": ["é"]}}"#, data: #"{"s": "\u00e9"}"#, expected: true),

        // Numbers in every notation compare by value.
        Case(pattern: #"{"data": {"n": [1]}}"#, data: #"{"n": 1}"#, expected: true),
        Case(pattern: #"{"data": {"n": [1]}}"#, data: #"{"n": 1.0}"#, expected: true),
        Case(pattern: #"{"data": {"n": [1.0]}}"#, data: #"{"n": 1}"#, expected: true),
        Case(pattern: #"{"data": {"n": [1e0]}}"#, data: #"{"n": 1}"#, expected: true),
        Case(pattern: #"{"data": {"n": [10E-1]}}"#, data: #"{"n": 1}"#, expected: true),
        Case(pattern: #"{"data": {"n": [-0]}}"#, data: #"{"n": 0}"#, expected: true),
        Case(pattern: #"{"data": {"n": [0]}}"#, data: #"{"n": -0.0}"#, expected: true),
        Case(pattern: #"{"data": {"n": [100]}}"#, data: #"{"n": 1E2}"#, expected: true),
        Case(pattern: #"{"data": {"n": [1.5e300]}}"#, data: #"{"n": 15e299}"#, expected: true),
        Case(pattern: #"{"data": {"n": [1e-300]}}"#, data: #"{"n": 0.1e-299}"#, expected: true),
        Case(pattern: #"{"data": {"n": [0.1]}}"#, data: #"{"n": 0.1}"#, expected: true),
        Case(pattern: #"{"data": {"n": [1.0]}}"#, data: #"{"n": 1.0000001}"#, expected: false),
        // More digits than a double holds: event-ruler compares such numbers as text.
        Case(pattern: #"{"data": {"n": [0.1]}}"#, data: #"{"n": 0.10000000000000001}"#, expected: false),
        Case(pattern: #"{"data": {"n": [123456789012345678]}}"#, data: #"{"n": 123456789012345678}"#, expected: true),
        Case(pattern: #"{"data": {"n": [123456789012345678]}}"#, data: #"{"n": 123456789012345679}"#, expected: false),
        Case(pattern: #"{"data": {"n": [9007199254740993]}}"#, data: #"{"n": 9007199254740993}"#, expected: true),
        Case(pattern: #"{"data": {"n": [9007199254740993]}}"#, data: #"{"n": 9007199254740992}"#, expected: false),
        Case(pattern: #"{"data": {"n": [9007199254740992]}}"#, data: #"{"n": 9007199254740992}"#, expected: true),
        Case(pattern: #"{"data": {"n": [1e400]}}"#, data: #"{"n": 1}"#, expected: false),
        Case(pattern: #"{"data": {"n": [1, 2, 3]}}"#, data: #"{"n": [7, 3]}"#, expected: true),

        // numeric ranges over the whole double range.
        Case(pattern: #"{"data": {"n": [{"numeric": [">", 0, "<=", 5]}]}}"#, data: #"{"n": 5}"#, expected: true),
        Case(pattern: #"{"data": {"n": [{"numeric": [">", 0, "<=", 5]}]}}"#, data: #"{"n": 0}"#, expected: false),
        Case(pattern: #"{"data": {"n": [{"numeric": [">", 0, "<=", 5]}]}}"#, data: #"{"n": 5.0000001}"#, expected: false),
        Case(pattern: #"{"data": {"n": [{"numeric": [">=", 1e2]}]}}"#, data: #"{"n": 100}"#, expected: true),
        Case(pattern: #"{"data": {"n": [{"numeric": ["<", -1.5e-3]}]}}"#, data: #"{"n": -0.0016}"#, expected: true),
        Case(pattern: #"{"data": {"n": [{"numeric": ["<", -1.5e-3]}]}}"#, data: #"{"n": -0.0015}"#, expected: false),
        Case(pattern: #"{"data": {"n": [{"numeric": ["=", 3.018e2]}]}}"#, data: #"{"n": 301.8}"#, expected: true),
        Case(pattern: #"{"data": {"n": [{"numeric": ["=", 5]}]}}"#, data: #"{"n": "5"}"#, expected: false),
        Case(pattern: #"{"data": {"n": [{"numeric": [">", 10]}]}}"#, data: #"{"n": [1, 50]}"#, expected: true),
        Case(pattern: #"{"data": {"n": [{"numeric": [">", 1e300]}]}}"#, data: #"{"n": 1e301}"#, expected: true),
        Case(pattern: #"{"data": {"n": [{"numeric": ["<", -1e300]}]}}"#, data: #"{"n": -1.7976931348623157e308}"#, expected: true),
        Case(pattern: #"{"data": {"n": [{"numeric": ["<", 0]}]}}"#, data: #"{"n": -0}"#, expected: false),
        Case(pattern: #"{"data": {"n": [{"numeric": [">=", 0, "<", 1]}]}}"#, data: #"{"n": 0.5}"#, expected: true),
        Case(pattern: #"{"data": {"n": [{"numeric": [">", 0]}]}}"#, data: #"{"n": true}"#, expected: false),

        // prefix, suffix, equals-ignore-case and their combinations.
        Case(pattern: #"{"data": {"s": [{"prefix": ""}]}}"#, data: #"{"s": "abc"}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"prefix": ""}]}}"#, data: #"{"s": 5}"#, expected: false),
        Case(pattern: #"{"data": {"s": [{"prefix": "2017-10-02"}]}}"#, data: #"{"s": "2017-10-02T16:24:49Z"}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"suffix": "ec2"}]}}"#, data: #"{"s": "aws.ec2"}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"suffix": "ec2"}]}}"#, data: #"{"s": "aws.EC2"}"#, expected: false),
        Case(pattern: #"{"data": {"s": [{"prefix": {"equals-ignore-case": "EC2"}}]}}"#, data: #"{"s": "ec2.instance"}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"prefix": {"equals-ignore-case": "EC2"}}]}}"#, data: #"{"s": "xec2"}"#, expected: false),
        Case(pattern: #"{"data": {"s": [{"suffix": {"equals-ignore-case": "EC2"}}]}}"#, data: #"{"s": "aws.Ec2"}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"suffix": {"equals-ignore-case": "EC2"}}]}}"#, data: #"{"s": "aws.ec3"}"#, expected: false),
        Case(pattern: #"{"data": {"s": [{"equals-ignore-case": "ÄbC"}]}}"#, data: #"{"s": "äBc"}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"equals-ignore-case": "ß"}]}}"#, data: #"{"s": "SS"}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"equals-ignore-case": "ß"}]}}"#, data: #"{"s": "ss"}"#, expected: false),
        Case(pattern: #"{"data": {"s": [{"equals-ignore-case": "abc"}]}}"#, data: #"{"s": "abcd"}"#, expected: false),
        Case(pattern: #"{"data": {"s": [{"equals-ignore-case": "5"}]}}"#, data: #"{"s": 5}"#, expected: false),
        Case(pattern: #"{"data": {"s": [{"suffix": {"equals-ignore-case": "Straße"}}]}}"#, data: #"{"s": "HAUPTSTRASSE"}"#, expected: true),

        // wildcard.
        Case(pattern: #"{"data": {"s": [{"wildcard": "Simple*Service"}]}}"#, data: #"{"s": "SimpleNotificationService"}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"wildcard": "Simple*Service"}]}}"#, data: #"{"s": "SimpleService"}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"wildcard": "Simple*Service"}]}}"#, data: #"{"s": "SimpleServiceX"}"#, expected: false),
        Case(pattern: #"{"data": {"s": [{"wildcard": "*"}]}}"#, data: #"{"s": ""}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"wildcard": "*"}]}}"#, data: #"{"s": 5}"#, expected: false),
        Case(pattern: #"{"data": {"s": [{"wildcard": "a\\*b"}]}}"#, data: #"{"s": "a*b"}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"wildcard": "a\\*b"}]}}"#, data: #"{"s": "axb"}"#, expected: false),
        Case(pattern: #"{"data": {"s": [{"wildcard": "a\\\\b"}]}}"#, data: #"{"s": "a\\b"}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"wildcard": "*/bin/*.jar"}]}}"#, data: #"{"s": "/usr/bin/app.jar"}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"wildcard": "a*b*c"}]}}"#, data: #"{"s": "abc"}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"wildcard": "a*b*c"}]}}"#, data: #"{"s": "aXbYc"}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"wildcard": "a*b*c"}]}}"#, data: #"{"s": "acb"}"#, expected: false),
        Case(pattern: #"{"data": {"s": [{"wildcard": "ab*ba"}]}}"#, data: #"{"s": "aba"}"#, expected: false),
        Case(pattern: #"{"data": {"s": [{"wildcard": "plain"}]}}"#, data: #"{"s": "plain"}"#, expected: true),

        // anything-but: needs a value; values of another type pass.
        Case(pattern: #"{"data": {"s": [{"anything-but": "x"}]}}"#, data: #"{"s": "y"}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"anything-but": "x"}]}}"#, data: #"{"s": "x"}"#, expected: false),
        Case(pattern: #"{"data": {"s": [{"anything-but": "x"}]}}"#, data: #"{"t": "y"}"#, expected: false),
        Case(pattern: #"{"data": {"s": [{"anything-but": "x"}]}}"#, data: #"{"s": 5}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"anything-but": "x"}]}}"#, data: #"{"s": null}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"anything-but": ["stopped", "overloaded"]}]}}"#, data: #"{"s": "running"}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"anything-but": ["stopped", "overloaded"]}]}}"#, data: #"{"s": "stopped"}"#, expected: false),
        Case(pattern: #"{"data": {"s": [{"anything-but": "a"}]}}"#, data: #"{"s": ["a", "b"]}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"anything-but": "a"}]}}"#, data: #"{"s": ["a"]}"#, expected: false),
        Case(pattern: #"{"data": {"n": [{"anything-but": [100, 200, 300]}]}}"#, data: #"{"n": 301.8}"#, expected: true),
        Case(pattern: #"{"data": {"n": [{"anything-but": [100, 200, 300]}]}}"#, data: #"{"n": 2e2}"#, expected: false),
        Case(pattern: #"{"data": {"n": [{"anything-but": [100, 200, 300]}]}}"#, data: #"{"n": "200"}"#, expected: true),
        Case(pattern: #"{"data": {"n": [{"anything-but": 5}]}}"#, data: #"{"n": true}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"anything-but": {"prefix": "init"}}]}}"#, data: #"{"s": "initializing"}"#, expected: false),
        Case(pattern: #"{"data": {"s": [{"anything-but": {"prefix": "init"}}]}}"#, data: #"{"s": "running"}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"anything-but": {"prefix": "init"}}]}}"#, data: #"{"s": 5}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"anything-but": {"prefix": ["init", "error"]}}]}}"#, data: #"{"s": "error-7"}"#, expected: false),
        Case(pattern: #"{"data": {"s": [{"anything-but": {"suffix": "1234"}}]}}"#, data: #"{"s": "i-1234"}"#, expected: false),
        Case(pattern: #"{"data": {"s": [{"anything-but": {"suffix": ["1234", "6789"]}}]}}"#, data: #"{"s": "i-5678"}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"anything-but": {"equals-ignore-case": "Stopped"}}]}}"#, data: #"{"s": "STOPPED"}"#, expected: false),
        Case(pattern: #"{"data": {"s": [{"anything-but": {"equals-ignore-case": "Stopped"}}]}}"#, data: #"{"s": "running"}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"anything-but": {"equals-ignore-case": ["Stopped", "OverLoaded"]}}]}}"#, data: #"{"s": "overloaded"}"#, expected: false),
        Case(pattern: #"{"data": {"s": [{"anything-but": {"wildcard": "*/bin/*.jar"}}]}}"#, data: #"{"s": "/usr/bin/app.jar"}"#, expected: false),
        Case(pattern: #"{"data": {"s": [{"anything-but": {"wildcard": "*/bin/*.jar"}}]}}"#, data: #"{"s": "/usr/lib/app.jar"}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"anything-but": {"wildcard": ["*/bin/*.jar", "*/bin/*.class"]}}]}}"#, data: #"{"s": "/bin/A.class"}"#, expected: false),
        Case(pattern: #"{"data": {"s": [{"anything-but": {"prefix": []}}]}}"#, data: #"{"s": "anything"}"#, expected: true),
        Case(pattern: #"{"data": {"s": [{"anything-but": "a"}, {"anything-but": "b"}]}}"#, data: #"{"s": "b"}"#, expected: true),

        // cidr and IP literals.
        Case(pattern: #"{"data": {"ip": [{"cidr": "10.0.0.0/24"}]}}"#, data: #"{"ip": "10.0.0.33"}"#, expected: true),
        Case(pattern: #"{"data": {"ip": [{"cidr": "10.0.0.0/24"}]}}"#, data: #"{"ip": "10.0.1.1"}"#, expected: false),
        Case(pattern: #"{"data": {"ip": [{"cidr": "10.0.0.0/24"}]}}"#, data: #"{"ip": "not an address"}"#, expected: false),
        Case(pattern: #"{"data": {"ip": [{"cidr": "10.0.0.0/24"}]}}"#, data: #"{"ip": 10}"#, expected: false),
        Case(pattern: #"{"data": {"ip": [{"cidr": "10.0.0.5/8"}]}}"#, data: #"{"ip": "10.255.255.255"}"#, expected: true),
        Case(pattern: #"{"data": {"ip": [{"cidr": "0.0.0.0/0"}]}}"#, data: #"{"ip": "2001:db8::1"}"#, expected: false),
        Case(pattern: #"{"data": {"ip": [{"cidr": "2001:db8::/32"}]}}"#, data: #"{"ip": "2001:DB8:0:0::1"}"#, expected: true),
        Case(pattern: #"{"data": {"ip": [{"cidr": "2001:db8::/32"}]}}"#, data: #"{"ip": "2001:db9::1"}"#, expected: false),
        Case(pattern: #"{"data": {"ip": [{"cidr": "2400:6500:FF00::36FB:1F80/122"}]}}"#, data: #"{"ip": "2400:6500:ff00::36fb:1fbf"}"#, expected: true),
        Case(pattern: #"{"data": {"ip": ["10.0.0.1"]}}"#, data: #"{"ip": "10.0.0.1"}"#, expected: true),
        Case(pattern: #"{"data": {"ip": ["::1"]}}"#, data: #"{"ip": "0:0:0:0:0:0:0:1"}"#, expected: true),
        Case(pattern: #"{"data": {"ip": ["10.0.0.1"]}}"#, data: #"{"ip": "10.0.0.2"}"#, expected: false),

        // $or at any level, with "and" inside, nested, and fields written again.
        Case(pattern: #"{"source": ["/s"], "$or": [{"data": {"a": [1]}}, {"data": {"b": [2]}}]}"#, data: #"{"b": 2}"#, expected: true),
        Case(pattern: #"{"source": ["/s"], "$or": [{"data": {"a": [1]}}, {"data": {"b": [2]}}]}"#, data: #"{"c": 3}"#, expected: false),
        Case(pattern: #"{"source": ["/other"], "$or": [{"data": {"a": [1]}}, {"data": {"b": [2]}}]}"#, data: #"{"b": 2}"#, expected: false),
        Case(pattern: #"{"data": {"$or": [{"a": [1]}, {"b": [2]}]}}"#, data: #"{"a": 1}"#, expected: true),
        Case(pattern: #"{"$or": [{"data": {"x": [1], "y": [2]}}, {"data": {"z": [3]}}]}"#, data: #"{"x": 1, "y": 3}"#, expected: false),
        Case(pattern: #"{"$or": [{"data": {"x": [1], "y": [2]}}, {"data": {"z": [3]}}]}"#, data: #"{"x": 1, "y": 2}"#, expected: true),
        Case(pattern: #"{"$or": [{"data": {"a": [1], "$or": [{"b": [1]}, {"c": [1]}]}}, {"data": {"d": [1]}}]}"#, data: #"{"a": 1, "c": 1}"#, expected: true),
        Case(pattern: #"{"$or": [{"data": {"a": [1], "$or": [{"b": [1]}, {"c": [1]}]}}, {"data": {"d": [1]}}]}"#, data: #"{"a": 1}"#, expected: false),
        Case(pattern: #"{"$or": [{"data": {"a": [1], "$or": [{"b": [1]}, {"c": [1]}]}}, {"data": {"d": [1]}}]}"#, data: #"{"d": 1}"#, expected: true),
        Case(pattern: #"{"data": {"$or": [{"a": [1]}, {"b": [1]}]}, "type": ["t"], "$or": [{"subject": [{"exists": false}]}, {"id": ["x"]}]}"#, data: #"{"b": 1}"#, expected: true),
        Case(pattern: #"{"data": {"a": ["x"]}, "$or": [{"data": {"a": ["y"]}}, {"data": {"b": [1]}}]}"#, data: #"{"a": "y"}"#, expected: true),
        Case(pattern: #"{"data": {"a": ["x"]}, "$or": [{"data": {"a": ["y"]}}, {"data": {"b": [1]}}]}"#, data: #"{"a": "x", "b": 1}"#, expected: true),
        Case(pattern: #"{"data": {"a": ["x"]}, "$or": [{"data": {"a": ["y"]}}, {"data": {"b": [1]}}]}"#, data: #"{"a": "x"}"#, expected: false),
        Case(pattern: #"{"data": {"employees": {"$or": [{"firstName": ["Anna"], "lastName": ["Jones"]}, {"firstName": ["Peter"]}]}}}"#, data: staff, expected: true),
        Case(pattern: #"{"data": {"employees": {"$or": [{"firstName": ["Anna"], "lastName": ["Jones"]}, {"firstName": ["Maria"]}]}}}"#, data: staff, expected: false),
        Case(pattern: #"{"$or": [{"type": ["x"]}, {"type": ["t"], "subject": [{"exists": false}]}], "data": {"k": [1]}}"#, data: #"{"k": 1}"#, expected: true),

        // The envelope, and repeated keys (the later one counts).
        Case(pattern: #"{"type": ["t"], "source": [{"prefix": "/"}], "subject": [{"exists": false}]}"#, data: "{}", expected: true),
        Case(pattern: #"{"tenant": ["se"], "correlationid": [{"equals-ignore-case": "FLOW-1"}]}"#, data: "{}", expected: true),
        Case(pattern: #"{"type": {"x": ["t"]}}"#, data: "{}", expected: false),
        Case(pattern: #"{"type": ["a"], "type": ["t"]}"#, data: "{}", expected: true),
        Case(pattern: #"{"type": ["t"], "type": ["a"]}"#, data: "{}", expected: false),
        Case(pattern: #"{"data": ["hello"]}"#, data: #""hello""#, expected: true),
        Case(pattern: #"{"data": {"a": [1]}}"#, data: #""hello""#, expected: false),
        Case(pattern: #"{"data": {"a.b": [1]}}"#, data: #"{"a": {"b": 1}}"#, expected: false),
    ]

    @Test(arguments: cases)
    func matchesAsEventRulerDoes(_ row: Case) throws {
        let pattern = try EventPattern(json: row.pattern)
        let event = Self.event(row.data)
        #expect(pattern.matches(event, data: pattern.examinesData ? event.data?.jsonObject() : nil) == row.expected)
    }

    @Test func theTableIsLargeEnough() {
        #expect(Self.cases.count >= 100)
        #expect(Self.refusals.count >= 50)
    }

    struct Refusal: Sendable, CustomTestStringConvertible {
        let pattern: String
        let fragment: String
        var testDescription: String { "\(pattern) → \(fragment)" }
    }

    static let deep = String(repeating: #"{"a":"#, count: 70) + "[1]" + String(repeating: "}", count: 70)
    static let tooManyAlternatives = "{" + (0..<11).map { #""$or": [{"a\#($0)": [1]}, {"b\#($0)": [1]}]"# }.joined(separator: ", ") + "}"

    static let refusals: [Refusal] = [
        Refusal(pattern: "not json", fragment: "not valid JSON"),
        Refusal(pattern: #"{"a": [1],}"#, fragment: "not valid JSON"),
        Refusal(pattern: #"{"a": [01]}"#, fragment: "not valid JSON"),
        Refusal(pattern: #"{"a": ["x"]} extra"#, fragment: "not valid JSON"),
        Refusal(pattern: #"{"a": ["\ud800"]}"#, fragment: "lone UTF-16 surrogate"),
        Refusal(pattern: "[1]", fragment: "must be a JSON object"),
        Refusal(pattern: "{}", fragment: "at least one field"),
        Refusal(pattern: deep, fragment: "nested too deep (more than 64 levels"),
        Refusal(pattern: #"{"data": {}}"#, fragment: "field 'data': an empty object"),
        Refusal(pattern: #"{"type": []}"#, fragment: "field 'type': an empty list"),
        Refusal(pattern: #"{"type": "x"}"#, fragment: "field 'type': expected a list"),
        Refusal(pattern: #"{"type": 5}"#, fragment: "field 'type': expected a list"),
        Refusal(pattern: #"{"type": [[1]]}"#, fragment: "field 'type' matcher 1: a matcher is a literal"),
        Refusal(pattern: #"{"type": [{}]}"#, fragment: "field 'type' matcher 1: a matcher object has exactly one operator, not 0"),
        Refusal(pattern: #"{"type": ["a", {"prefix": "a", "suffix": "b"}]}"#, fragment: "field 'type' matcher 2: a matcher object has exactly one operator"),
        Refusal(pattern: #"{"type": [{"regex": "a"}]}"#, fragment: "unsupported operator 'regex'"),
        Refusal(pattern: #"{"type": [{"exactly": "a"}]}"#, fragment: "unsupported operator 'exactly'"),
        Refusal(pattern: #"{"type": [{"date-after": "2020"}]}"#, fragment: "unsupported operator 'date-after'"),
        Refusal(pattern: #"{"type": [{"prefix": {"wildcard": "a"}}]}"#, fragment: "unsupported: 'prefix' with 'wildcard'"),
        Refusal(pattern: #"{"type": [{"suffix": {"prefix": "a"}}]}"#, fragment: "unsupported: 'suffix' with 'prefix'"),
        Refusal(pattern: #"{"type": [{"prefix": {"equals-ignore-case": 1}}]}"#, fragment: "'prefix' with 'equals-ignore-case' takes a string"),
        Refusal(pattern: #"{"type": [{"prefix": 1}]}"#, fragment: "'prefix' takes a string"),
        Refusal(pattern: #"{"type": [{"suffix": null}]}"#, fragment: "'suffix' takes a string"),
        Refusal(pattern: #"{"type": [{"equals-ignore-case": ["a"]}]}"#, fragment: "'equals-ignore-case' takes a string"),
        Refusal(pattern: #"{"type": [{"wildcard": "a**b"}]}"#, fragment: "consecutive wildcard characters"),
        Refusal(pattern: #"{"type": [{"wildcard": "a\\b"}]}"#, fragment: "invalid escape at position 1"),
        Refusal(pattern: #"{"type": [{"wildcard": "ab\\"}]}"#, fragment: "invalid escape at position 2"),
        Refusal(pattern: #"{"type": [{"wildcard": 5}]}"#, fragment: "'wildcard' takes a string"),
        Refusal(pattern: #"{"type": [{"exists": "yes"}]}"#, fragment: "'exists' takes true or false"),
        Refusal(pattern: #"{"type": [{"exists": 1}]}"#, fragment: "'exists' takes true or false"),
        Refusal(pattern: #"{"ip": [{"cidr": "10.0.0.0"}]}"#, fragment: "one '/'"),
        Refusal(pattern: #"{"ip": [{"cidr": "10.0.0.0/8/8"}]}"#, fragment: "one '/'"),
        Refusal(pattern: #"{"ip": [{"cidr": "10.0.0.0/33"}]}"#, fragment: "IPv4 mask bits must be below 32"),
        Refusal(pattern: #"{"ip": [{"cidr": "10.0.0.0/32"}]}"#, fragment: "IPv4 mask bits must be below 32"),
        Refusal(pattern: #"{"ip": [{"cidr": "2001:db8::/128"}]}"#, fragment: "IPv6 mask bits must be below 128"),
        Refusal(pattern: #"{"ip": [{"cidr": "foo/8"}]}"#, fragment: "needs an IPv4 or IPv6 address"),
        Refusal(pattern: #"{"ip": [{"cidr": "300.0.0.0/8"}]}"#, fragment: "needs an IPv4 or IPv6 address"),
        Refusal(pattern: #"{"ip": [{"cidr": "2400:6500:3:3:3:3:3:3:3:3FF00::36FB:1F80/122"}]}"#, fragment: "needs an IPv4 or IPv6 address"),
        Refusal(pattern: #"{"ip": [{"cidr": "10.0.0.0/x"}]}"#, fragment: "mask bits must be a whole number"),
        Refusal(pattern: #"{"ip": [{"cidr": "10.0.0.0/-3"}]}"#, fragment: "mask bits must be a whole number"),
        Refusal(pattern: #"{"ip": [{"cidr": 10}]}"#, fragment: "'cidr' takes a string"),
        Refusal(pattern: #"{"data": {"price": [{"numeric": [">"]}]}}"#, fragment: "field 'data.price' matcher 1: 'numeric' takes"),
        Refusal(pattern: #"{"n": [{"numeric": []}]}"#, fragment: "'numeric' takes"),
        Refusal(pattern: #"{"n": [{"numeric": 5}]}"#, fragment: "'numeric' takes"),
        Refusal(pattern: #"{"n": [{"numeric": ["~", 1]}]}"#, fragment: "operator must be one of"),
        Refusal(pattern: #"{"n": [{"numeric": [1, ">"]}]}"#, fragment: "operator must be one of"),
        Refusal(pattern: #"{"n": [{"numeric": [">", "1"]}]}"#, fragment: "bound after '>' must be a number"),
        Refusal(pattern: #"{"n": [{"numeric": [">", 5, "<", 5]}]}"#, fragment: "range is empty"),
        Refusal(pattern: #"{"n": [{"numeric": [">", 5, "<", 3]}]}"#, fragment: "range is empty"),
        Refusal(pattern: #"{"n": [{"numeric": [">=", 5, "<=", 5]}]}"#, fragment: "range is empty"),
        Refusal(pattern: #"{"n": [{"numeric": ["<", 5, ">", 1]}]}"#, fragment: "takes nothing after"),
        Refusal(pattern: #"{"n": [{"numeric": ["=", 1, "<", 2]}]}"#, fragment: "takes nothing after"),
        Refusal(pattern: #"{"n": [{"numeric": [">", 1, ">", 2]}]}"#, fragment: "must close with '<' or '<='"),
        Refusal(pattern: #"{"n": [{"numeric": [">", 1, "<"]}]}"#, fragment: "at most two operators"),
        Refusal(pattern: #"{"n": [{"numeric": [">", 1, "<", 2, "<", 3]}]}"#, fragment: "at most two operators"),
        Refusal(pattern: #"{"n": [{"numeric": [">", 1e400]}]}"#, fragment: "cannot compare 1e400"),
        Refusal(pattern: #"{"n": [{"numeric": [">", -1e400]}]}"#, fragment: "cannot compare -1e400"),
        Refusal(pattern: #"{"n": [{"numeric": [">", 1e-400]}]}"#, fragment: "cannot compare 1e-400"),
        Refusal(pattern: #"{"n": [{"numeric": ["<", 0.30000000000000001]}]}"#, fragment: "cannot compare"),
        Refusal(pattern: #"{"n": [{"numeric": ["=", 123456789012345678]}]}"#, fragment: "cannot compare"),
        Refusal(pattern: #"{"s": [{"anything-but": []}]}"#, fragment: "'anything-but' needs at least one value"),
        Refusal(pattern: #"{"s": [{"anything-but": ["a", 1]}]}"#, fragment: "only strings or only numbers"),
        Refusal(pattern: #"{"s": [{"anything-but": [null]}]}"#, fragment: "'anything-but' lists strings or numbers, not null"),
        Refusal(pattern: #"{"s": [{"anything-but": [true]}]}"#, fragment: "'anything-but' lists strings or numbers, not true"),
        Refusal(pattern: #"{"s": [{"anything-but": true}]}"#, fragment: "'anything-but' takes a string, a number"),
        Refusal(pattern: #"{"s": [{"anything-but": null}]}"#, fragment: "'anything-but' takes a string, a number"),
        Refusal(pattern: #"{"s": [{"anything-but": 1e400}]}"#, fragment: "'anything-but' cannot compare 1e400"),
        Refusal(pattern: #"{"s": [{"anything-but": {"prefix": ""}}]}"#, fragment: "cannot take an empty string"),
        Refusal(pattern: #"{"s": [{"anything-but": {"suffix": ["a", ""]}}]}"#, fragment: "cannot take an empty string"),
        Refusal(pattern: #"{"s": [{"anything-but": {"prefix": 1}}]}"#, fragment: "takes a string or a list of strings"),
        Refusal(pattern: #"{"s": [{"anything-but": {"equals-ignore-case": [1]}}]}"#, fragment: "'anything-but' with 'equals-ignore-case' takes strings"),
        Refusal(pattern: #"{"s": [{"anything-but": {"numeric": [">", 1]}}]}"#, fragment: "unsupported: 'anything-but' with 'numeric'"),
        Refusal(pattern: #"{"s": [{"anything-but": {"exists": true}}]}"#, fragment: "unsupported: 'anything-but' with 'exists'"),
        Refusal(pattern: #"{"s": [{"anything-but": {"prefix": "a", "suffix": "b"}}]}"#, fragment: "not 2 operators"),
        Refusal(pattern: #"{"s": [{"anything-but": {"wildcard": "a**"}}]}"#, fragment: "'anything-but' with 'wildcard' consecutive wildcard"),
        Refusal(pattern: #"{"s": [{"anything-but": {"wildcard": ["ok", "a\\x"]}}]}"#, fragment: "'anything-but' with 'wildcard' invalid escape"),
        Refusal(pattern: #"{"$or": [{"a": [1]}]}"#, fragment: "field '$or': '$or' takes a list of at least two objects"),
        Refusal(pattern: #"{"$or": {"a": [1]}}"#, fragment: "field '$or': '$or' takes a list of at least two objects"),
        Refusal(pattern: #"{"$or": [{"a": [1]}, "b"]}"#, fragment: "field '$or[2]': '$or' takes objects of fields, not a string"),
        Refusal(pattern: #"{"$or": [{"a": [1]}, {}]}"#, fragment: "field '$or[2]': an empty object"),
        Refusal(pattern: #"{"$or": [{"a": [1]}, {"prefix": ["x"]}]}"#, fragment: "field '$or[2].prefix': 'prefix' is a reserved word"),
        Refusal(pattern: #"{"data": {"$or": [{"a": [1]}, {"b": {"numeric": [1]}}]}}"#, fragment: "field 'data.$or[2].b.numeric': 'numeric' is a reserved word"),
        Refusal(pattern: #"{"data": {"price": [1, {"numeric": [">", "x"]}]}}"#, fragment: "field 'data.price' matcher 2: 'numeric' bound after '>' must be a number"),
        Refusal(pattern: #"{"data": {"$or": [{"a": [1]}, {"b": [{"wildcard": "**"}]}]}}"#, fragment: "field 'data.$or[2].b' matcher 1: 'wildcard' consecutive"),
        Refusal(pattern: tooManyAlternatives, fragment: "unsupported: the '$or' lists multiply out to more than 1024 alternatives"),
    ]

    @Test(arguments: refusals)
    func refusesWhatEventBridgeRefuses(_ row: Refusal) {
        #expect {
            _ = try EventPattern(json: row.pattern)
        } throws: { error in
            error is PatternError && "\(error)".contains(row.fragment)
        }
    }

    @Test func aRuleNamesItselfAndThePlaceInThePattern() {
        #expect {
            _ = try Rule("r", pattern: #"{"data": {"price": [1, {"numeric": ["<", 2, ">", 1]}]}}"#, targets: ["q"])
        } throws: { error in
            "\(error)".hasPrefix("rule 'r': invalid pattern: field 'data.price' matcher 2: 'numeric' takes nothing after")
        }
    }

    @Test func equalPatternsCompareEqual() throws {
        #expect(try EventPattern(json: #"{"a": [1], "b": ["x"]}"#) == EventPattern(json: #"{"b": ["x"], "a": [1.0]}"#))
        #expect(try EventPattern(json: #"{"a": [1]}"#) != EventPattern(json: #"{"a": [2]}"#))
        #expect(EventPattern.type("x") == (try EventPattern(json: #"{"type": ["x"]}"#)))
    }

    @Test func examinesDataOnlyWhenAFieldLooksIntoData() throws {
        #expect(try !EventPattern(json: #"{"type": ["t"], "$or": [{"source": ["a"]}, {"subject": ["b"]}]}"#).examinesData)
        #expect(try EventPattern(json: #"{"type": ["t"], "$or": [{"source": ["a"]}, {"data": {"b": [1]}}]}"#).examinesData)
    }
}
