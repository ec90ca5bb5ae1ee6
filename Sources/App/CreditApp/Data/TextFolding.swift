import Foundation

/// Case- and accent-insensitive matching without Postgres's `unaccent` extension: the same character map
/// folds the search text here and the column in SQL (`lower(translate(col, $from, $to))`, the map passed
/// as bind parameters), so "Chloe", "chloé" and "CHLOÉ" all find "Chloé".
public enum TextFolding {
    static let pairs: [(String, String)] = [
        ("ÀÁÂÃÄÅàáâãäåĀāĂăĄą", "AAAAAAaaaaaaAaAaAa"),
        ("ÇçĆćČčĈĉ", "CcCcCcCc"),
        ("ĎďĐđ", "DdDd"),
        ("ÈÉÊËèéêëĒēĖėĘęĚě", "EEEEeeeeEeEeEeEe"),
        ("ĞğĜĝ", "GgGg"),
        ("ÌÍÎÏìíîïĪīİı", "IIIIiiiiIiIi"),
        ("Łł", "Ll"),
        ("ÑñŃńŇň", "NnNnNn"),
        ("ÒÓÔÕÖØòóôõöøŌōŐő", "OOOOOOooooooOoOo"),
        ("ŘřŔŕ", "RrRr"),
        ("ŚśŠšŞşȘș", "SsSsSsSs"),
        ("ŤťŢţȚț", "TtTtTt"),
        ("ÙÚÛÜùúûüŪūŮůŰű", "UUUUuuuuUuUuUu"),
        ("ÝýÿŸ", "YyyY"),
        ("ŹźŻżŽž", "ZzZzZz"),
    ]

    /// `translate()`'s from and to strings.
    public static let translateFrom: String = pairs.map(\.0).joined()
    public static let translateTo: String = pairs.map(\.1).joined()

    static let map: [Character: Character] = {
        var m: [Character: Character] = [:]
        for (from, to) in pairs {
            for (f, t) in zip(from, to) { m[f] = t }
        }
        return m
    }()

    /// Folds `text` as the SQL side does: NFC, the accent map, then lower case.
    public static func fold(_ text: String) -> String {
        String(text.precomposedStringWithCanonicalMapping.map { map[$0] ?? $0 }).lowercased()
    }

    /// `%text%` for `LIKE … ESCAPE '\'`, with the caller's `%`, `_` and `\` taken literally.
    public static func containsPattern(_ folded: String) -> String {
        var out = "%"
        for c in folded {
            if c == "%" || c == "_" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out + "%"
    }
}
