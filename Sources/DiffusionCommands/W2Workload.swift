import ArgumentParser
import DiffusionLayers

/// W2: the small conv UNet of torch_w2_unet.py. Not built yet: it needs the Conv2d layers.
final class W2Workload {
    init() throws { throw ValidationError("workload w2 is not available yet (it needs the convolution layers)") }
    func step() {}
}
