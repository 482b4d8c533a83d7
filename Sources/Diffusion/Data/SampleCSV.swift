import DiffusionEngine

/// Samples as CSV text, the format `diffusion sample` writes and the generation API returns.
public enum SampleCSV {
    /// Header x,y[,label] (x[,label] in 1-D, x1,…,xd beyond 2-D), then one row per sample.
    public static func encode(_ points: Tensor, labels: Tensor?) -> String {
        let n = points.shape[0], d = points.count / Swift.max(n, 1)
        let names = d == 1 ? ["x"] : d == 2 ? ["x", "y"] : (1...d).map { "x\($0)" }
        var out = (names + (labels == nil ? [] : ["label"])).joined(separator: ",") + "\n"
        let v = points.scalars, y = labels?.scalars
        out.reserveCapacity(n * 24)
        for i in 0..<n {
            out += (0..<d).map { String(v[i * d + $0]) }.joined(separator: ",")
            if let y { out += ",\(Int(y[i]))" }
            out += "\n"
        }
        return out
    }
}
