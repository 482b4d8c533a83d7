import Foundation

/// A learning rate as a function of the optimiser step (0 for the first update).
/// Set it before each update: `opt.learningRate = schedule.lr(at: step)`.
public protocol LRSchedule: Sendable {
    func lr(at step: Int) -> Double
}

/// The same rate at every step.
public struct ConstantLR: LRSchedule, Codable, Equatable {
    public var value: Double
    public init(_ value: Double) { self.value = value }
    public func lr(at step: Int) -> Double { value }
}

/// Linear warm-up from 0 to `peak` over `warmupSteps` (peak·step/warmupSteps), then constant
/// (transformers' `get_constant_schedule_with_warmup`).
public struct LinearWarmupLR: LRSchedule, Codable, Equatable {
    public var peak: Double
    public var warmupSteps: Int
    public init(peak: Double, warmupSteps: Int) {
        self.peak = peak
        self.warmupSteps = warmupSteps
    }
    public func lr(at step: Int) -> Double {
        step < warmupSteps ? peak * Double(step) / Double(warmupSteps) : peak
    }
}

/// Linear warm-up, then a half-cosine from `peak` to `minimum` at `totalSteps` (constant after):
/// lr = min + (peak − min)·½(1 + cos(π·p)), p = (step − warmup)/(total − warmup).
public struct CosineLR: LRSchedule, Codable, Equatable {
    public var peak: Double, minimum: Double
    public var warmupSteps: Int, totalSteps: Int
    public init(peak: Double, totalSteps: Int, warmupSteps: Int = 0, minimum: Double = 0) {
        precondition(totalSteps > warmupSteps, "cosine schedule needs totalSteps > warmupSteps")
        self.peak = peak
        self.minimum = minimum
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }
    public func lr(at step: Int) -> Double {
        if step < warmupSteps { return peak * Double(step) / Double(warmupSteps) }
        let p = Swift.min(1, Double(step - warmupSteps) / Double(totalSteps - warmupSteps))
        return minimum + (peak - minimum) * 0.5 * (1 + Foundation.cos(Double.pi * p))
    }
}

/// Multiplies the rate by `gamma` every `stepSize` steps: base·gamma^⌊step/stepSize⌋ (`torch.optim.lr_scheduler.StepLR`).
public struct StepDecayLR: LRSchedule, Codable, Equatable {
    public var base: Double, gamma: Double
    public var stepSize: Int
    public init(base: Double, stepSize: Int, gamma: Double = 0.1) {
        precondition(stepSize > 0, "step decay needs stepSize > 0")
        self.base = base
        self.stepSize = stepSize
        self.gamma = gamma
    }
    public func lr(at step: Int) -> Double {
        base * Foundation.pow(gamma, Double(step / stepSize))
    }
}
