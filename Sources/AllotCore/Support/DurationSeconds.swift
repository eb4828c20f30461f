extension Duration {
    /// The duration in seconds, as a floating-point number (Foundation's `TimeInterval`).
    public var timeInterval: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
