// Torture: the suite that proves Durable's guarantees under kills, concurrent
// processes, storage faults and bad rows (see TORTURE.md). `Torture worker ...` is
// the child-process mode the scenarios start, kill and restart.

import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "worker" {
    await WorkerMode.main(Array(arguments.dropFirst()))
}
exit(await Suite.main(arguments))
