// Training-time augmentation for CIFAR: random crop from the image zero-padded by `pad` pixels,
// and a horizontal flip with probability ½ — the standard CIFAR recipe (and the LSUV paper's
// "with augmentation" rows). Each sample's draw depends on (seed, step, sample) only.
public enum Augment {
    /// Crops and flips one sample (C, H, W) in place.
    public static func cropFlip(_ x: Tensor, channels: Int, height: Int, width: Int, pad: Int, seed: UInt64) {
        var g = SplitMix64(seed: seed)
        let dy = g.below(2 * pad + 1) - pad, dx = g.below(2 * pad + 1) - pad, flip = g.below(2) == 1
        let src = x.clone()
        for c in 0..<channels {
            for h in 0..<height {
                for w in 0..<width {
                    let sh = h + dy, sw0 = w + dx
                    let sw = flip ? width - 1 - sw0 : sw0
                    let inside = sh >= 0 && sh < height && sw0 >= 0 && sw0 < width
                    x[(c * height + h) * width + w] = inside ? src[(c * height + sh) * width + sw] : 0
                }
            }
        }
    }

    /// Crops and flips every sample of a batch held in chunks (a plan's `inputs`, each
    /// (n, C, H, W), with `chunks` their sample ranges): sample s draws from (seed, s) only.
    public static func cropFlip(_ inputs: [Tensor], chunks: [Range<Int>], channels: Int, height: Int, width: Int,
                                pad: Int, seed: UInt64) {
        precondition(inputs.count == chunks.count, "cropFlip: \(inputs.count) inputs for \(chunks.count) chunks")
        let size = channels * height * width
        for (x, range) in zip(inputs, chunks) {
            for j in 0..<range.count {
                cropFlip(x.view(from: j * size, shape: [size]), channels: channels, height: height, width: width,
                         pad: pad, seed: deriveSeed(seed, UInt64(range.lowerBound + j)))
            }
        }
    }
}
