import ArgumentParser
import GoodInit

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the model presets with parameter and FLOP counts.")
    @Option(help: "Show one model layer by layer.", transform: Parse.named) var show: ModelPreset?
    @Option(help: "Activation for presets that take one.") var activation = ActivationKind.relu

    func run() throws {
        if let show { print(try Presets.network(show, activation: activation).summary); return }
        print("model            input        params      MFLOP/sample  description")
        func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: n, withPad: " ", startingAt: 0) }
        for preset in ModelPreset.allCases {
            let p = Presets.make(preset, activation: activation)
            let net = try Network(name: p.name, input: p.input, layers: p.layers)
            let input = p.input.map(String.init).joined(separator: "×")
            print("\(pad(p.name, 16)) \(pad(input, 12)) \(pad(String(net.parameterCount), 11)) "
                  + "\(String(format: "%12.2f", Double(net.flopsPerSample) / 1e6))  \(p.summary)"
                  + Self.adapted(p))
        }
    }

    /// A 3×32×32 preset's figures on 1×28×28 (what `train --data fashion-mnist` builds and says it
    /// adapted), or that it does not fit there.
    static func adapted(_ p: Presets.Preset) -> String {
        guard p.input == [3, 32, 32] else { return "" }
        guard let net = try? Network(name: p.name, input: [1, 28, 28], layers: p.layers) else {
            return " [does not fit 1×28×28]"
        }
        return " [on 1×28×28: \(net.parameterCount) params, "
            + "\(String(format: "%.2f", Double(net.flopsPerSample) / 1e6)) MFLOP/sample]"
    }
}
