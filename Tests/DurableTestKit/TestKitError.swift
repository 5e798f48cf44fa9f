/// What went wrong in the test kit (a child process, a wait, a file), in words
/// for a failure message.
public struct TestKitError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
