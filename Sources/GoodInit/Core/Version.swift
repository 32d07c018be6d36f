public enum GoodInitVersion { public static let string = "0.1.0" }
