/// The text of a metadata block parsed into its fields: `StreamTitle='Artist - Song';StreamUrl='…';`.
///
/// Field order is kept, and fields other than `StreamTitle` and `StreamUrl` are kept too.
///
/// Real servers put quotes inside values unescaped (`StreamTitle='Don't Stop';`), so a value ends
/// only at a `';` that is followed by the end of the text or by the next `Key='`. A `\'` or `\\`
/// inside a value stands for `'` or `\`. ``text`` escapes exactly where that is needed to read back
/// the same value, so `ICYMetadata(parsing: m.text) == m` for every `m`, while ordinary titles such
/// as `Don't Stop` are written as they are.
public struct ICYMetadata: Hashable, Sendable {
    /// One `Key='value'` pair.
    public struct Field: Hashable, Sendable {
        /// The key, such as `StreamTitle`.
        public var key: String
        /// The value, unescaped.
        public var value: String

        /// Creates a field.
        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    /// The fields in order.
    public var fields: [Field]

    /// Creates metadata from fields.
    public init(fields: [Field] = []) {
        self.fields = fields
    }

    /// Creates metadata carrying a title.
    public init(title: String) {
        self.fields = [Field(key: "StreamTitle", value: title)]
    }

    /// The first value for `key` (compared exactly, as servers do).
    public subscript(key: String) -> String? {
        self.fields.first(where: { $0.key == key })?.value
    }

    /// `StreamTitle`, usually `Artist - Song`.
    public var streamTitle: String? { self["StreamTitle"] }

    /// `StreamUrl`, a link the station sends along with the title.
    public var streamURL: String? { self["StreamUrl"] }

    /// The block text: `Key='value';` for every field, escaped where needed.
    public var text: String {
        var out = ""
        for field in self.fields {
            guard !field.key.isEmpty else {
                // Text that was not a field list, kept as it came.
                out += field.value
                continue
            }
            out += field.key
            out += "='"
            Self.appendEscaped(field.value, to: &out)
            out += "';"
        }
        return out
    }

    /// Parses block text. Never fails: text that is not a field list is kept whole as a last field
    /// with an empty key (written back as it came), so nothing a server sends is lost.
    public init(parsing text: String) {
        let chars = Array(text.unicodeScalars)
        var fields: [Field] = []
        var i = 0
        while i < chars.count {
            guard let (key, valueStart) = Self.keyStart(chars, at: i) else {
                // Not `Key='`: keep the rest as it is (skipping stray separators).
                let rest = String(String.UnicodeScalarView(chars[i...]))
                if !rest.allSatisfy({ $0 == ";" || $0 == " " }) {
                    fields.append(Field(key: "", value: rest))
                }
                break
            }
            var value = String.UnicodeScalarView()
            var j = valueStart
            var closed = false
            while j < chars.count {
                let c = chars[j]
                if c == "\\", j + 1 < chars.count, chars[j + 1] == "'" || chars[j + 1] == "\\" {
                    value.append(chars[j + 1])
                    j += 2
                    continue
                }
                if c == "'", j + 1 < chars.count, chars[j + 1] == ";", Self.isFieldEnd(chars, at: j + 2) {
                    j += 2
                    closed = true
                    break
                }
                value.append(c)
                j += 1
            }
            if !closed {
                // Unterminated last value: drop a trailing quote if there is one.
                if value.last == "'" { value.removeLast() }
            }
            fields.append(Field(key: key, value: String(value)))
            i = j
        }
        self.fields = fields
    }

    /// `Key='` at `i`: returns the key and the index of the value's first character.
    private static func keyStart(_ chars: [Unicode.Scalar], at i: Int) -> (String, Int)? {
        var j = i
        while j < chars.count, Self.isKeyCharacter(chars[j]) { j += 1 }
        guard j > i, j + 1 < chars.count, chars[j] == "=", chars[j + 1] == "'" else {
            return nil
        }
        return (String(String.UnicodeScalarView(chars[i..<j])), j + 2)
    }

    /// Whether a value closed just before `i` really ends there: end of text, or the next `Key='`.
    private static func isFieldEnd(_ chars: [Unicode.Scalar], at i: Int) -> Bool {
        chars[i...].allSatisfy({ $0 == ";" || $0 == " " }) || Self.keyStart(chars, at: i) != nil
    }

    private static func isKeyCharacter(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_" || c == "-"
    }

    /// Escapes `'` only before `;` and `\` only before `'`, `\` or the end, so that parsing reads
    /// back exactly `value`.
    private static func appendEscaped(_ value: String, to out: inout String) {
        let chars = Array(value.unicodeScalars)
        var scalars = String.UnicodeScalarView()
        for (index, c) in chars.enumerated() {
            let next = index + 1 < chars.count ? chars[index + 1] : nil
            if c == "\\", next == nil || next == "'" || next == "\\" {
                scalars.append("\\")
            } else if c == "'", next == ";" {
                scalars.append("\\")
            }
            scalars.append(c)
        }
        out.unicodeScalars.append(contentsOf: scalars)
    }
}
