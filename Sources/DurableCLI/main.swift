// The `durable` executable: the commands live in the DurableCommands library,
// where tests reach their logic in-process.
import DurableCommands

await DurableCommand.execute()
