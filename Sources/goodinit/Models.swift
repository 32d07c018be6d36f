import ArgumentParser
import GoodInit

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the model presets with parameter and FLOP counts.")
    @Option(help: "Show one model layer by layer.", transform: Parse.preset) var show: String?
    @Option(help: "Activation for presets that take one.") var activation = ActivationName.relu

    func run() throws {
        if let show { print(try Presets.network(show, activation: activation.rawValue).summary); return }
        print("model            input        params      MFLOP/sample  description")
        for name in Presets.names {
            let p = try Presets.make(name, activation: activation.rawValue)
            let net = try Network(name: name, input: p.input, layers: p.layers)
            print("\(name.padding(toLength: 16, withPad: " ", startingAt: 0)) \(p.input.map(String.init).joined(separator: "×").padding(toLength: 12, withPad: " ", startingAt: 0)) \(String(net.parameterCount).padding(toLength: 11, withPad: " ", startingAt: 0)) \(String(format: "%12.2f", Double(net.flopsPerSample) / 1e6))  \(p.summary)")
        }
    }
}
