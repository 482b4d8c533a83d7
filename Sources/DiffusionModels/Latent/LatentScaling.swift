import Diffusion
import Foundation

/// The factor that brings an autoencoder's latents to unit scale before diffusion (Rombach et al. 2022,
/// arXiv 2112.10752): z_diffusion = factor · z. Stable Diffusion's 0.18215 is 1/std of its latents; an un-scaled
/// latent of std s shifts every log-SNR of the noise schedule by 2·ln s.
public struct LatentScaling: Codable, Sendable, Equatable {
    public let factor: Double

    public init(factor: Double) {
        precondition(factor.isFinite && factor > 0, "LatentScaling needs a finite positive factor, got \(factor)")
        self.factor = factor
    }

    /// No scaling.
    public static let identity = LatentScaling(factor: 1)

    /// 1 / (standard deviation of all latent elements) over `images`: z ~ q(z | x) drawn with `seed` (Stable
    /// Diffusion's rule), or the posterior means when `sample` is false. In batches, without gradients.
    public static func measure(_ autoencoder: Autoencoder, images: Tensor, sample: Bool = true, seed: UInt64 = 0, batchSize: Int = 256) -> LatentScaling {
        let z = LatentDiffusion.latents(autoencoder, images: images, sample: sample, seed: seed, batchSize: batchSize).scalars
        let n = Double(z.count)
        let mean = z.reduce(0.0) { $0 + Double($1) } / n
        let variance = z.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
        precondition(variance > 0, "LatentScaling.measure: the latents do not vary")
        return LatentScaling(factor: 1 / variance.squareRoot())
    }

    /// log-SNR shift 2·ln(factor) that scaling data by `factor` applies at every noise level.
    public var logSNRShift: Double { 2 * Foundation.log(factor) }
}
