import Foundation

/// A payload as lines for a person to read, always escaped: JSON pretty-printed (keys sorted),
/// text as it is, anything else as hex (16 bytes a line, with the offset). The CLI's `dlq show`
/// and the dashboard's dead-letter detail both show payloads this way.
public enum PayloadText {
    public static func lines(_ data: Payload?) -> [String] {
        switch data {
        case nil: return ["(none)"]
        case .json(let bytes)?:
            if let object = try? JSONSerialization.jsonObject(with: bytes, options: [.fragmentsAllowed]),
               let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes]) {
                return String(decoding: pretty, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map { String($0).jsonTerminalSafe }
            }
            return escapedLines(String(decoding: bytes, as: UTF8.self))
        case .text(let text)?: return escapedLines(text)
        case .binary(let bytes)?:
            return stride(from: 0, to: bytes.count, by: 16).map { offset in
                let chunk = bytes[bytes.index(bytes.startIndex, offsetBy: offset)..<bytes.index(bytes.startIndex, offsetBy: min(offset + 16, bytes.count))]
                return String(format: "%08x  ", offset) + chunk.map { String(format: "%02x", $0) }.joined(separator: " ")
            }
        }
    }

    private static func escapedLines(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { String($0).terminalSafe }
    }
}
