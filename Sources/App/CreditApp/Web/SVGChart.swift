import Foundation

/// Charts as inline SVG, rendered on the server (no JavaScript, no external assets). Labels are
/// XML-escaped here because the markup is inserted into the page unescaped.
public enum SVGChart {
    public static let palette = ["#2f6690", "#3a7d44", "#c44536", "#d98c1f", "#6c5b7b", "#16697a", "#8d6a9f"]

    public static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    static func number(_ v: Double) -> String {
        if v >= 1_000_000 { return String(format: "%.1fM", v / 1_000_000) }
        if v >= 10_000 { return String(format: "%.0fk", v / 1000) }
        if v == v.rounded() { return String(format: "%.0f", v) }
        return String(format: "%.1f", v)
    }

    /// Horizontal bars, one per (label, value).
    public static func bars(_ data: [(String, Double)], title: String, width: Int = 420, labelWidth: Int = 130) -> String {
        let rowHeight = 26, top = 28
        let height = top + rowHeight * max(1, data.count) + 8
        let maxValue = max(1, data.map(\.1).max() ?? 1)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"\(escape(title))\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\">"
        svg += "<title>\(escape(title))</title><text x=\"0\" y=\"16\" font-size=\"14\" font-weight=\"bold\" fill=\"#222\">\(escape(title))</text>"
        let barSpace = Double(width - labelWidth - 60)
        for (i, (label, value)) in data.enumerated() {
            let y = top + i * rowHeight
            let w = max(1, Int(barSpace * value / maxValue))
            svg += "<text x=\"0\" y=\"\(y + 17)\" font-size=\"12\" fill=\"#333\">\(escape(label))</text>"
            svg += "<rect x=\"\(labelWidth)\" y=\"\(y + 4)\" width=\"\(w)\" height=\"18\" rx=\"2\" fill=\"\(palette[i % palette.count])\"/>"
            svg += "<text x=\"\(labelWidth + w + 6)\" y=\"\(y + 17)\" font-size=\"12\" fill=\"#333\">\(escape(number(value)))</text>"
        }
        if data.isEmpty { svg += "<text x=\"0\" y=\"\(top + 16)\" font-size=\"12\" fill=\"#777\">no data yet</text>" }
        return svg + "</svg>"
    }

    /// A ring showing `fraction` (0…1) with its percentage in the middle.
    public static func ring(fraction: Double?, title: String, caption: String) -> String {
        let size = 180, r = 60.0, c = 2 * Double.pi * r
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"\(escape(title))\" width=\"\(size + 60)\" height=\"\(size + 30)\" viewBox=\"0 0 \(size + 60) \(size + 30)\">"
        svg += "<title>\(escape(title))</title><text x=\"0\" y=\"16\" font-size=\"14\" font-weight=\"bold\" fill=\"#222\">\(escape(title))</text>"
        svg += "<circle cx=\"\(size / 2)\" cy=\"\(size / 2 + 20)\" r=\"\(Int(r))\" fill=\"none\" stroke=\"#e3e3e3\" stroke-width=\"22\"/>"
        if let fraction {
            let dash = c * min(1, max(0, fraction))
            svg += "<circle cx=\"\(size / 2)\" cy=\"\(size / 2 + 20)\" r=\"\(Int(r))\" fill=\"none\" stroke=\"#3a7d44\" stroke-width=\"22\" stroke-dasharray=\"\(String(format: "%.1f", dash)) \(String(format: "%.1f", c))\" transform=\"rotate(-90 \(size / 2) \(size / 2 + 20))\"/>"
            svg += "<text x=\"\(size / 2)\" y=\"\(size / 2 + 27)\" font-size=\"22\" text-anchor=\"middle\" fill=\"#222\">\(String(format: "%.0f%%", fraction * 100))</text>"
        } else {
            svg += "<text x=\"\(size / 2)\" y=\"\(size / 2 + 25)\" font-size=\"14\" text-anchor=\"middle\" fill=\"#777\">no decisions</text>"
        }
        svg += "<text x=\"0\" y=\"\(size + 24)\" font-size=\"12\" fill=\"#555\">\(escape(caption))</text>"
        return svg + "</svg>"
    }

    /// Vertical columns over time: two series (total, approved) per label.
    public static func columns(_ data: [(String, Double, Double)], title: String, legend: (String, String), width: Int = 560) -> String {
        let height = 240, top = 40, bottom = 36, left = 50
        let plot = Double(height - top - bottom)
        let maxValue = max(1, data.map(\.1).max() ?? 1)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"\(escape(title))\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\">"
        svg += "<title>\(escape(title))</title><text x=\"0\" y=\"16\" font-size=\"14\" font-weight=\"bold\" fill=\"#222\">\(escape(title))</text>"
        svg += "<rect x=\"\(width - 200)\" y=\"6\" width=\"10\" height=\"10\" fill=\"\(palette[0])\"/><text x=\"\(width - 186)\" y=\"15\" font-size=\"11\">\(escape(legend.0))</text>"
        svg += "<rect x=\"\(width - 100)\" y=\"6\" width=\"10\" height=\"10\" fill=\"\(palette[1])\"/><text x=\"\(width - 86)\" y=\"15\" font-size=\"11\">\(escape(legend.1))</text>"
        svg += "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width)\" y2=\"\(height - bottom)\" stroke=\"#999\"/>"
        svg += "<text x=\"\(left - 6)\" y=\"\(top + 4)\" font-size=\"10\" text-anchor=\"end\" fill=\"#555\">\(escape(number(maxValue)))</text>"
        svg += "<text x=\"\(left - 6)\" y=\"\(height - bottom)\" font-size=\"10\" text-anchor=\"end\" fill=\"#555\">0</text>"
        let slot = data.isEmpty ? 0 : Double(width - left - 10) / Double(data.count)
        for (i, (label, total, approved)) in data.enumerated() {
            let x = Double(left) + slot * Double(i) + 4
            let w = max(2, slot / 2 - 4)
            let h1 = plot * total / maxValue, h2 = plot * approved / maxValue
            func f(_ v: Double) -> String { String(format: "%.1f", v) }
            svg += "<rect x=\"\(f(x))\" y=\"\(f(Double(height - bottom) - h1))\" width=\"\(f(w))\" height=\"\(f(h1))\" fill=\"\(palette[0])\"><title>\(escape("\(label): \(number(total))"))</title></rect>"
            svg += "<rect x=\"\(f(x + w))\" y=\"\(f(Double(height - bottom) - h2))\" width=\"\(f(w))\" height=\"\(f(h2))\" fill=\"\(palette[1])\"><title>\(escape("\(label) approved: \(number(approved))"))</title></rect>"
            svg += "<text x=\"\(f(x + w))\" y=\"\(height - bottom + 14)\" font-size=\"10\" text-anchor=\"middle\" fill=\"#555\">\(escape(label))</text>"
        }
        if data.isEmpty { svg += "<text x=\"\(left + 10)\" y=\"\(top + 40)\" font-size=\"12\" fill=\"#777\">no data yet</text>" }
        return svg + "</svg>"
    }

    /// Horizontal bars in groups: per label one thin bar per series (e.g. approved, repaid, outstanding).
    public static func groupedBars(_ data: [(String, [Double])], series: [String], title: String, width: Int = 520, labelWidth: Int = 130) -> String {
        let barHeight = 12, top = 40
        let groupHeight = barHeight * max(1, series.count) + 10
        let height = top + groupHeight * max(1, data.count) + 6
        let maxValue = max(1, data.flatMap(\.1).max() ?? 1)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"\(escape(title))\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\">"
        svg += "<title>\(escape(title))</title><text x=\"0\" y=\"16\" font-size=\"14\" font-weight=\"bold\" fill=\"#222\">\(escape(title))</text>"
        for (k, name) in series.enumerated() {
            let x = labelWidth + k * 110
            svg += "<rect x=\"\(x)\" y=\"22\" width=\"10\" height=\"10\" fill=\"\(palette[k % palette.count])\"/><text x=\"\(x + 14)\" y=\"31\" font-size=\"11\">\(escape(name))</text>"
        }
        let barSpace = Double(width - labelWidth - 70)
        for (i, (label, values)) in data.enumerated() {
            let y = top + i * groupHeight
            svg += "<text x=\"0\" y=\"\(y + groupHeight / 2 + 2)\" font-size=\"12\" fill=\"#333\">\(escape(label))</text>"
            for (k, value) in values.enumerated() {
                let w = max(1, Int(barSpace * value / maxValue))
                let by = y + k * barHeight
                svg += "<rect x=\"\(labelWidth)\" y=\"\(by)\" width=\"\(w)\" height=\"\(barHeight - 2)\" fill=\"\(palette[k % palette.count])\"><title>\(escape("\(label) \(k < series.count ? series[k] : ""): \(number(value))"))</title></rect>"
                svg += "<text x=\"\(labelWidth + w + 4)\" y=\"\(by + barHeight - 3)\" font-size=\"10\" fill=\"#333\">\(escape(number(value)))</text>"
            }
        }
        if data.isEmpty { svg += "<text x=\"0\" y=\"\(top + 16)\" font-size=\"12\" fill=\"#777\">no data yet</text>" }
        return svg + "</svg>"
    }
}
