// Where the network comes from, and its flags: --model, --model-file, --activation.
import ArgumentParser

/// A named preset (with its activation) or a model file.
public enum ModelSource: Sendable, Equatable {
    case preset(ModelPreset, activation: ActivationKind = .relu)
    case file(String)

    public static let `default` = ModelSource.preset(.cnnSmall)

    /// The model's name for reports: the preset's, or the file's.
    public var name: String {
        switch self {
        case .preset(let p, _): return p.rawValue
        case .file(let path): return path
        }
    }
}

/// Stored as {"preset": NAME, "activation": NAME} or {"file": PATH}.
extension ModelSource: Codable {
    enum CodingKeys: String, CodingKey { case preset, activation, file }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let file = try c.decodeIfPresent(String.self, forKey: .file) {
            self = .file(file)
        } else {
            self = .preset(try c.decode(ModelPreset.self, forKey: .preset),
                           activation: try c.decodeIfPresent(ActivationKind.self, forKey: .activation) ?? .relu)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case let .preset(p, a): try c.encode(p, forKey: .preset); try c.encode(a, forKey: .activation)
        case let .file(path): try c.encode(path, forKey: .file)
        }
    }
}

extension ModelSource {
    /// The model flags. Optional, so that a contradiction can be told from a default.
    public struct Flags: ParsableArguments, Sendable {
        @Option(help: .withDefault("Preset (see `goodinit models`).", ModelPreset.cnnSmall.rawValue),
                transform: Parse.named)
        public var model: ModelPreset?
        @Option(help: "A YAML/JSON model file instead of a preset.") public var modelFile: String?
        @Option(help: .withDefault("Activation for presets that take one (\(ModelPreset.withActivation)).",
                                   ActivationKind.relu.rawValue))
        public var activation: ActivationKind?
        public init() {}

        public func validate() throws {
            if model != nil && modelFile != nil {
                throw ValidationError("--model and --model-file both given: train a preset or a model file")
            }
            if activation != nil && modelFile != nil {
                throw ValidationError("--activation and --model-file both given: a model file names its own "
                                      + "activations")
            }
            let preset = model ?? .cnnSmall
            if activation != nil && !preset.takesActivation {
                throw ValidationError("--activation and --model \(preset.rawValue): that preset has a fixed "
                                      + "activation (these take one: \(ModelPreset.withActivation))")
            }
        }

        public var source: ModelSource {
            modelFile.map { .file($0) } ?? .preset(model ?? .cnnSmall, activation: activation ?? .relu)
        }
        /// Whether any model flag was given (resume takes the model from the checkpoint otherwise).
        public var given: Bool { model != nil || modelFile != nil || activation != nil }
    }
}

extension ModelPreset {
    /// The presets built with a selectable activation.
    public var takesActivation: Bool {
        switch self {
        case .plain30, .plain22, .plain30Thin, .plain22Thin, .fitnet4, .fitnetSmall: return true
        default: return false
        }
    }

    static var withActivation: String { allCases.filter(\.takesActivation).map(\.rawValue).joined(separator: ", ") }
}
