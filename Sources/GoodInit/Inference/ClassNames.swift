// What a network's outputs mean, for `predict` and the checkpoint: the data set's own class names
// where they are public knowledge, else the data's (DataSplits.classNames, for sources that name
// their classes, as folders do), else "0"…"n−1".
public enum ClassNames {
    /// By data set name: Fashion-MNIST's and CIFAR-10's published label names; MNIST's are its digits.
    static let known: [String: [String]] = [
        "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                          "Ankle boot"],
        "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    ]

    /// `classes` names: the data's own, the data set's published ones, or the indices.
    public static func names(classes: Int, dataSet: String, fromData: [String]? = nil) -> [String] {
        if let given = fromData, given.count == classes { return given }
        if let names = known[dataSet], names.count == classes { return names }
        return (0..<classes).map(String.init)
    }
}
