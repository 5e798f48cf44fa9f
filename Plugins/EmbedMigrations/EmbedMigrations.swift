import Foundation
import PackagePlugin

/// Embeds every `migrations/<dialect>/NNNN_name.sql` file of the package into the
/// target as Swift source, so the schema ships inside the binary and no `.sql` file
/// is looked up at run time. The dialect comes from the target: `DurableSQLite`
/// takes `migrations/sqlite`, `DurablePostgres` takes `migrations/postgres`.
@main
struct EmbedMigrations: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let dialect = target.name.replacingOccurrences(of: "Durable", with: "").lowercased()
        let directory = context.package.directoryURL.appending(path: "migrations").appending(path: dialect)
        let files = try FileManager.default
            .contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "sql" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedMigrations.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(files.count) migrations into \(target.name)",
                executable: try context.tool(named: "MigrationEmbedder").url,
                arguments: [output.path] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output]
            )
        ]
    }
}
