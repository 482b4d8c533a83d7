import Testing
@testable import DiffusionLayers

@Test func layersModuleLinks() { #expect(Tensor.ones([2]).sum().item == 2) }
