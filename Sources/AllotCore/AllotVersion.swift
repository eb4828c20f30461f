/// The version of this build, shown by `allot --version`, in `/status` and in the `User-Agent`.
public enum AllotVersion {
    public static let current = "0.1.0"
}
