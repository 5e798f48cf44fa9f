// Torture: the suite that proves Durable's guarantees under kills, concurrent
// processes, storage faults and bad rows (see TORTURE.md). The worker processes the
// scenarios start, kill and restart are DurableTestWorker (Tests/DurableTestWorker).

import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

exit(await Suite.main(Array(CommandLine.arguments.dropFirst())))
