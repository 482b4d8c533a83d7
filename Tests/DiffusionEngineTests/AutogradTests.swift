import Testing
@testable import DiffusionEngine

@Suite("Autograd mechanics")
struct AutogradTests {
    @Test func simpleChainAndAccumulation() {
        let x = Tensor([1, 2, 3]).requiringGrad()
        let y = (x * x).sum()          // dy/dx = 2x
        y.backward()
        #expect(x.grad?.scalars == [2, 4, 6])
        (x * 3).sum().backward()        // accumulates
        #expect(x.grad?.scalars == [5, 7, 9])
        x.zeroGrad()
        #expect(x.grad == nil)
    }

    @Test func backwardWithSeedAndDetach() {
        let x = Tensor([1, 2]).requiringGrad()
        let y = x * 2
        y.backward(Tensor([1, 10]))
        #expect(x.grad?.scalars == [2, 20])
        let z = x.detached() * x
        #expect(z.requiresGrad)
        x.zeroGrad()
        z.sum().backward()
        #expect(x.grad?.scalars == [1, 2])
    }

    @Test func noGradScope() {
        let x = Tensor([1, 2]).requiringGrad()
        let y = withNoGrad { x * 2 }
        #expect(!y.requiresGrad)
        #expect(GradMode.isEnabled)
    }

    @Test("a graph of a million ops is built, differentiated and freed without recursion")
    func millionOpGraph() {
        let x = Tensor(scalar: 1).requiringGrad()
        var y = x
        for _ in 0..<1_000_000 { y = y * Tensor(scalar: 1) }
        y.backward()
        #expect(x.grad?.item == 1)
        var z = x
        for _ in 0..<1_000_000 { z = z + Tensor(scalar: 0) }
        z = Tensor(scalar: 0)   // frees the chain without calling backward
        #expect(z.item == 0)
    }

    @Test("gradients flow through shared subexpressions (diamond)")
    func diamond() {
        let x = Tensor([3]).requiringGrad()
        let a = x * 2, b = x.square()
        (a * b).sum().backward()       // d/dx 2x³ = 6x² = 54
        #expect(x.grad?.scalars == [54])
    }
}
