import ArgumentParser
import Foundation
import GoodInit

struct Experiment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reproduce a paper's finding: runs the comparison, prints a table, writes report.md, results.json, "
            + "metrics and SVG plots.")
    @Argument(help: "Experiment: \(ExperimentName.allCases.map(\.rawValue).joined(separator: ", ")).",
              transform: Parse.named)
    var name: ExperimentName
    @Flag(help: ArgumentHelp("A small preset, 2 seeds (on 2 cores: zero-init, xavier-mlp, rbm, bn-mnist seconds; "
                             + "prelu, lsuv under a minute; he30 about a minute; resnet-init about 2.5 minutes)."))
    var quick = false
    @Option(parsing: .unconditional, help: "Training steps per run (overrides the preset).",
            transform: Parse.positiveInt)
    var steps: Int?
    @Option(parsing: .unconditional,
            help: ArgumentHelp("Seeds per variant (seed, seed+1, …; default 5, with --quick 2); the report gives "
                + "how many converged, medians and ranges."), transform: { try Parse.int($0, min: 1, max: 100) })
    var seeds: Int?
    @Option(help: "Data set.") var data = DataSource.fashionMNIST
    @Option(help: "Folder with the data set's files.") var dataDir: String?
    @Option(help: "Output folder (default runs/experiment-NAME).") var out: String?
    @Option(help: ArgumentHelp("Rebuild report.md and the charts of a finished experiment's folder from its "
                               + "results.json and run folders, without training.", valueName: "folder"))
    var render: String?
    @Flag(help: "Exit non-zero when a claim of the paper is not shown by the run.") var strict = false
    @OptionGroup var compute: ComputeOptions.Flags

    func run() throws {
        let log: (String) -> Void = { StandardOutput.writeOrRecord($0 + "\n") }
        let r: ExperimentReport, folder: String
        if let render {
            r = try Experiments.render(folder: render)
            folder = render
            guard r.name == name.rawValue else {
                throw ValidationError("--render \(render) holds experiment \(r.name), not \(name.rawValue)")
            }
        } else {
            var o = ExperimentOptions()
            o.quick = quick; o.steps = steps; o.seed = compute.seed; o.seeds = seeds ?? (quick ? 2 : 5)
            o.threads = compute.threads; o.workers = compute.workers; o.flushSubnormals = compute.flushSubnormals
            o.precision = compute.precision
            noteBF16Path(compute.precision)
            o.data = data; o.dataDir = dataDir; o.out = out ?? "runs/experiment-\(name.rawValue)"
            try OutputFolder.prepare(o.out)
            r = try Experiments.run(name, o, log: log)
            folder = o.out
        }
        print("\n" + r.table)
        for (claim, ok) in r.checks { print("\(ok ? "✔" : "✘") \(claim)") }
        print("\nreport: \(folder)/report.md")
        if strict && r.checks.contains(where: { !$0.1 }) { throw ExitCode(1) }
    }
}
