import DiffusionEngine
import Foundation

extension ImageDataset {
    /// Images from `root/<class>/<image>.png`: one sub-folder per class (classes sorted by folder name), PNG files
    /// sorted by name, other files and hidden entries ignored. Every image must have the size of the first one;
    /// `channels` 1 or 3 (libpng converts colour types, alpha is composited onto black). Values in [−1, 1].
    /// Throws `DataError` naming the file: unreadable or invalid PNG, mismatched dimensions, or no images at all.
    public static func folder(_ root: URL, channels: Int = 3, name: String? = nil) throws -> ImageDataset {
        precondition([1, 3].contains(channels), "ImageDataset.folder: channels must be 1 or 3")
        let fm = FileManager.default
        func entries(_ url: URL) throws -> [URL] {
            do {
                return try fm.contentsOfDirectory(at: url, includingPropertiesForKeys: [.isDirectoryKey], options: [.skipsHiddenFiles])
                    .sorted { $0.lastPathComponent < $1.lastPathComponent }
            } catch {
                throw DataError(file: url.path, fault: .unreadable, detail: error.localizedDescription)
            }
        }
        let classes = try entries(root).filter { (try? $0.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) == true }
        guard !classes.isEmpty else { throw DataError(file: root.path, fault: .empty, detail: "no class sub-folders") }
        var pixels: [Float] = [], labels: [Int] = []
        var size: (w: Int, h: Int, first: String)?
        for (label, folder) in classes.enumerated() {
            for file in try entries(folder) where file.pathExtension.lowercased() == "png" {
                let image = try PNG.read(file, channels: channels)
                if let s = size, s.w != image.width || s.h != image.height {
                    throw DataError(file: file.path, fault: .sizeMismatch,
                                    detail: "\(image.width)×\(image.height), but \(s.first) is \(s.w)×\(s.h); resize the images to one size first")
                }
                if size == nil { size = (image.width, image.height, file.path) }
                pixels += image.tensor.scalars
                labels.append(label)
            }
        }
        guard let s = size else { throw DataError(file: root.path, fault: .empty, detail: "no PNG files in the class sub-folders") }
        return ImageDataset(name: name ?? root.lastPathComponent, images: Tensor(pixels, shape: [labels.count, channels, s.h, s.w]),
                            labels: labels, classNames: classes.map(\.lastPathComponent))
    }
}
