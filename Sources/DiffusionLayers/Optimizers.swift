import CKernels
import Foundation

// Hyperparameters are Double, like Python floats: PyTorch computes bias corrections and step sizes in double
// and rounds each scalar once to float where it meets the tensor; the kernels do the same.

/// Stochastic gradient descent with optional momentum, Nesterov momentum and (coupled) weight decay,
/// following `torch.optim.SGD` (PyTorch defaults: lr 1e-3, momentum 0, dampening 0, weight_decay 0).
public final class SGD: OptimizerBase, Optimizer {
    public var momentum: Double, dampening: Double, weightDecay: Double
    public let nesterov: Bool

    public init(_ parameters: [Parameter], lr: Double = 1e-3, momentum: Double = 0, dampening: Double = 0,
                weightDecay: Double = 0, nesterov: Bool = false) {
        precondition(!nesterov || (momentum > 0 && dampening == 0), "Nesterov momentum requires momentum > 0 and zero dampening")
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        super.init(parameters, learningRate: lr, slotNames: ["momentum_buffer"])
    }

    public func step() {
        let (negLR, mom, damp, wd) = (Float(-learningRate), Float(momentum), Float(1 - dampening), Float(weightDecay))
        forEachUpdatable { i, p, g in
            let first = slots[i]["momentum_buffer"] == nil
            guard momentum != 0 else {
                p.withUnsafeMutableBufferPointer { pp in
                    dl_sgd_step(pp.count, pp.baseAddress, g.baseAddress, nil, negLR, 0, 1, wd, 0, 0)
                }
                steps[i] += 1
                return
            }
            var buf = takeSlot(i, "momentum_buffer")
            p.withUnsafeMutableBufferPointer { pp in
                buf.withUnsafeMutableBufferPointer { bp in
                    dl_sgd_step(pp.count, pp.baseAddress, g.baseAddress, bp.baseAddress, negLR, mom, damp, wd,
                                nesterov ? 1 : 0, first ? 1 : 0)
                }
            }
            slots[i]["momentum_buffer"] = buf
            steps[i] += 1
        }
    }
}

/// Adam (Kingma & Ba 2015) with PyTorch's formulas and defaults: betas (0.9, 0.999), eps 1e-8, L2 weight
/// decay added to the gradient (default 0). Bias corrections use the per-parameter step count.
public class Adam: OptimizerBase, Optimizer {
    public var beta1: Double, beta2: Double, eps: Double, weightDecay: Double
    /// True for AdamW: weight decay shrinks the parameter (p ·= 1 − lr·wd) instead of entering the gradient.
    public let decoupledWeightDecay: Bool

    public init(_ parameters: [Parameter], lr: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8,
                weightDecay: Double = 0, decoupledWeightDecay: Bool = false) {
        beta1 = betas.0
        beta2 = betas.1
        self.eps = eps
        self.weightDecay = weightDecay
        self.decoupledWeightDecay = decoupledWeightDecay
        super.init(parameters, learningRate: lr, slotNames: ["exp_avg", "exp_avg_sq"])
    }

    public func step() {
        let (w1, b2, w2, e, wd) = (Float(1 - beta1), Float(beta2), Float(1 - beta2), Float(eps), Float(weightDecay))
        let decay = Float(1 - learningRate * weightDecay)
        forEachUpdatable { i, p, g in
            var m = takeSlot(i, "exp_avg"), v = takeSlot(i, "exp_avg_sq")
            let t = Double(steps[i] + 1)
            let bc1 = 1 - Foundation.pow(beta1, t), bc2 = 1 - Foundation.pow(beta2, t)
            let negStep = Float(-(learningRate / bc1)), bc2Sqrt = Float(bc2.squareRoot())
            p.withUnsafeMutableBufferPointer { pp in
                m.withUnsafeMutableBufferPointer { mp in
                    v.withUnsafeMutableBufferPointer { vp in
                        dl_adam_step(pp.count, pp.baseAddress, g.baseAddress, mp.baseAddress, vp.baseAddress, w1, b2, w2,
                                     e, wd, decoupledWeightDecay ? 1 : 0, decay, negStep, bc2Sqrt)
                    }
                }
            }
            slots[i]["exp_avg"] = m
            slots[i]["exp_avg_sq"] = v
            steps[i] += 1
        }
    }
}

/// AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay, PyTorch default weight_decay 0.01.
public final class AdamW: Adam {
    public init(_ parameters: [Parameter], lr: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8,
                weightDecay: Double = 0.01) {
        super.init(parameters, lr: lr, betas: betas, eps: eps, weightDecay: weightDecay, decoupledWeightDecay: true)
    }
}

/// Scales all gradients so their global L2 norm is at most `maxNorm`, like `torch.nn.utils.clip_grad_norm_`
/// (coefficient maxNorm / (norm + 1e-6), applied only when below 1). The norm is summed in double.
/// Returns the norm before clipping.
@discardableResult
public func clipGradNorm(_ parameters: [Parameter], maxNorm: Double) -> Double {
    var total = 0.0
    for p in parameters {
        guard let g = p.grad else { continue }
        total += g.withUnsafeBufferPointer { dl_sum_squares($0.count, $0.baseAddress) }
    }
    let norm = total.squareRoot()
    let coef = maxNorm / (norm + 1e-6)
    if coef < 1 {
        for p in parameters {
            guard var g = p.grad else { continue }
            g.withUnsafeMutableBufferPointer { dl_scale_inplace($0.count, $0.baseAddress, Float(coef)) }
            p.grad = g
        }
    }
    return norm
}
