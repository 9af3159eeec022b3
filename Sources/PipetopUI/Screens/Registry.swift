/// The registry of screens, in tab order (`1`, `2`, … and `tab` follow it).
///
/// The one switch that names every screen type; the compiler makes it exhaustive, so a new
/// screen is a new case here plus its `Screen` type, and nothing else in the dashboard changes.
public enum ScreenID: String, CaseIterable, Sendable {
    case overview, events, deadLetters, trace, cpu

    public var type: any Screen.Type {
        switch self {
        case .overview: OverviewScreen.self
        case .events: EventsScreen.self
        case .deadLetters: DeadLettersScreen.self
        case .trace: TraceScreen.self
        case .cpu: CPUScreen.self
        }
    }

    public var title: String { type.title }
    /// The number key that shows it.
    public var number: Int { Self.allCases.firstIndex(of: self)! + 1 }

    /// The next screen in tab order (`tab`), or the previous one (`shift-tab`), wrapping around.
    public func cycled(by step: Int) -> ScreenID {
        let all = Self.allCases
        let index = all.firstIndex(of: self)!
        return all[((index + step) % all.count + all.count) % all.count]
    }
}

/// The name the views had before they were screens.
public typealias ViewID = ScreenID
