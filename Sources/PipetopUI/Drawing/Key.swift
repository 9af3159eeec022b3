/// A key press as the terminal backend decodes it.
public enum Key: Hashable, Sendable {
    case char(Character)
    /// Ctrl + a letter (lowercase).
    case ctrl(Character)
    case up, down, left, right, pageUp, pageDown, home, end
    case enter, escape, backspace, delete, tab, backTab
    case function(Int)

    /// Keys from text, for tests: every character is a key, with `\n` as Enter and `\t` as Tab.
    public static func typing(_ text: String) -> [Key] {
        text.map { $0 == "\n" ? .enter : $0 == "\t" ? .tab : .char($0) }
    }
}
