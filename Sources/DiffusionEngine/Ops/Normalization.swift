import CKernels

extension Op {
    static let groupNorm = Op("groupNorm")
}

extension Tensor {
    /// Group normalisation of [N, C, *]: each of `groups` channel groups is normalised over its channels and
    /// positions (population variance), then scaled and shifted per channel by `weight`/`bias` ([C], optional).
    /// One fused kernel forward and backward (GroupNorm; LayerNorm is `groups: 1` over a [rows, features] view).
    public func groupNormalized(groups: Int, weight: Tensor? = nil, bias: Tensor? = nil, eps: Float = 1e-5) -> Tensor {
        precondition(rank >= 2, "groupNormalized needs [N, C, …], got shape \(shape)")
        let (n, c) = (shape[0], shape[1])
        precondition(groups > 0 && c % groups == 0, "groupNormalized: \(c) channels do not split into \(groups) groups")
        if let weight { precondition(weight.shape == [c], "groupNormalized: weight of shape \(weight.shape) for \(c) channels") }
        if let bias { precondition(bias.shape == [c], "groupNormalized: bias of shape \(bias.shape) for \(c) channels") }
        let s = count / Swift.max(n * c, 1)
        let x = detached().contiguous()
        let w = weight?.detached().contiguous(), b = bias?.detached().contiguous()
        let out = Tensor(uninitialized: shape)
        let stats = Tensor(uninitialized: [2, n * groups])
        let mean = stats.pointer, rstd = stats.pointer + n * groups
        withExtendedLifetime((w, b)) {
            dl_groupnorm_forward(n, c, s, groups, eps, x.pointer, w?.pointer, b?.pointer, out.pointer, mean, rstd)
        }
        var inputs = [self]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        let needX = node != nil, needW = weight?.node != nil, needB = bias?.node != nil
        let hasW = weight != nil, hasB = bias != nil
        return Tensor.record(.groupNorm, out, inputs) { g in
            let gc = g.contiguous()
            let gx = needX ? Tensor(uninitialized: x.shape) : nil
            let gw = needW ? Tensor(uninitialized: [c]) : nil
            let gb = needB ? Tensor(uninitialized: [c]) : nil
            withExtendedLifetime((w, stats, gc)) {
                dl_groupnorm_backward(n, c, s, groups, x.pointer, w?.pointer, stats.pointer, stats.pointer + n * groups,
                                      gc.pointer, gx?.pointer, gw?.pointer, gb?.pointer)
            }
            var grads: [Tensor?] = [gx]
            if hasW { grads.append(gw) }
            if hasB { grads.append(gb) }
            return grads
        }
    }
}
