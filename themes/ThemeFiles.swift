import Foundation

/// Where the theme files shipped with pipetop are at run time.
///
/// They are SwiftPM resources of this target, so the build puts them in a
/// `pipetop_PipetopThemes.resources` directory next to the `pipetop` binary (and next to the test
/// bundle). The generated `Bundle.module` would `fatalError` when that directory is missing (a
/// binary copied alone), so the directory is looked up here by hand and the dashboard falls back
/// to its built-in theme instead of crashing. `PIPETOP_THEMES_DIR` overrides the lookup.
public enum ThemeFiles {
    public static let bundleName = "pipetop_PipetopThemes.resources"

    public static var directory: String? {
        let fm = FileManager.default
        var candidates: [String] = []
        if let dir = ProcessInfo.processInfo.environment["PIPETOP_THEMES_DIR"], !dir.isEmpty { candidates.append(dir) }
        var executables: [URL] = []
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") { executables.append(URL(fileURLWithPath: exe)) }
        if let exe = Bundle.main.executableURL { executables.append(exe) }
        executables.append(URL(fileURLWithPath: CommandLine.arguments.first ?? ".").standardizedFileURL)
        for exe in executables {
            let dir = exe.resolvingSymlinksInPath().deletingLastPathComponent()
            candidates.append(dir.appendingPathComponent(bundleName).path)
            candidates.append(dir.deletingLastPathComponent().appendingPathComponent(bundleName).path)
            candidates.append(dir.deletingLastPathComponent().appendingPathComponent("share/pipetop/themes").path)
        }
        candidates.append(Bundle.main.bundleURL.appendingPathComponent(bundleName).path)
        // The source tree this binary was built from (`swift run`, tests in a checkout).
        candidates.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent().path)
        return candidates.first { fm.fileExists(atPath: ($0 as NSString).appendingPathComponent("default.yaml")) }
    }
}
