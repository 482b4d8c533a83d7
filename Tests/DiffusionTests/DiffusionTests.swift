import Testing
@testable import Diffusion

@Test func diffusionModuleLinks() { #expect(Tensor.ones([2]).sum().item == 2) }
