// The validation share: a seeded part of the training set held out for per-epoch scoring.

extension Dataset {
    /// The samples at `indices`, in that order, same shape and classes.
    func picking(_ indices: [Int]) -> Dataset {
        var part = self
        part.images = []
        part.images.reserveCapacity(indices.count * sampleSize)
        for i in indices { part.images += images[(i * sampleSize)..<((i + 1) * sampleSize)] }
        part.labels = indices.map { labels[$0] }
        return part
    }
}

extension DataSplits {
    /// Moves round(fraction · N) training samples (at least one) into `validation`. They are drawn by a
    /// permutation seeded from `seed` alone, so every W, T and rank count holds out the same ones;
    /// both parts keep the samples' order.
    public mutating func holdOutValidation(_ fraction: Double, seed: UInt64) throws {
        let n = train.count
        let held = max(1, Int((Double(n) * fraction).rounded()))
        guard held < n else {
            throw SettingError("data.valFraction", "\(fraction) of \(n) training samples leaves none to train on")
        }
        var g = SplitMix64(seed: deriveSeed(seed, 4000))
        var isValidation = [Bool](repeating: false, count: n)
        for i in g.permutation(n).prefix(held) { isValidation[i] = true }
        validation = train.picking((0..<n).filter { isValidation[$0] })
        train = train.picking((0..<n).filter { !isValidation[$0] })
    }
}
