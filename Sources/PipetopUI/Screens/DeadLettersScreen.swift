import PipetopCore

/// The Dead letters screen: dead letters grouped by cause (queue, type, fingerprint), a group's
/// list (or the flat list of all), one dead letter's detail; replay and delete, each confirmed.
///
/// Everything shown is read from the store (`StoreRequest`s asked by `reads`, answered into this
/// state): groups and true counts for the current selection, the list a page at a time by cursor
/// as the user scrolls (no cap). It is read again when the selection changes, after an action,
/// and when the queues' dead-letter counters move.
public struct DeadLettersScreen: Screen {
    public static let id = ScreenID.deadLetters
    public static let title = "Dead letters"
    public static let commands = ["dlq", "dead"]
    /// The queue stats (the header reads them anyway) give attempts' max and say when to read again.
    public static let needs: [DataNeed] = [StoreData.queueStats.need]
    public static let filterTerms = DeadLetterFilter.terms
    public static let pageSize = 100

    public enum Level: Equatable, Sendable { case groups, list, detail, jobs }

    public var level: Level = .groups
    /// `L`: groups first (true), or the flat list of every dead letter matching the filter.
    public var grouped = true
    public var filter = Filter("")
    /// The group whose list is shown (nil: the flat list).
    public var group: DeadLetterGroup?

    public private(set) var groups: [DeadLetterGroup]?
    /// Arrivals per cause and minute over the last hour, read with the groups (their sparklines).
    public private(set) var arrivals: [DeadLetterArrivals] = []
    public private(set) var arrivalsEnd: Timestamp?
    static let arrivalWindow: Duration = .seconds(3_600)
    public private(set) var groupsSelection: DeadLetterSelection?
    public var groupIndex = 0
    var groupTop = 0

    public private(set) var letters: [DeadLetter] = []
    public private(set) var lettersSelection: DeadLetterSelection?
    public private(set) var next: PageCursor?
    /// The true count of the list's selection, read with its first page.
    public private(set) var total: Int?
    public var letterIndex = 0
    var letterTop = 0
    public var marked: Set<Int64> = []
    public var detailScroll = 0
    /// The replays of the letter whose detail is open (read when it opens).
    public private(set) var replays: (messageID: Int64, items: [MessageReplay])?
    var askedReplays: Int64?

    /// A confirmation being answered (y/n, or the count typed).
    public var confirmation: Confirmation?
    /// An edit on its way (`e`: see DeadLettersScreen+Edit.swift).
    public var edit: EditState?

    /// Replay jobs, newest first (read at every poll while the screen shows), and the one selected in `J`.
    public private(set) var jobs: [ReplayJob]?
    public var jobIndex = 0
    /// Where `esc` goes back to from the jobs.
    var levelBeforeJobs: Level = .groups
    var askedJobs = false
    var jobsStale = true
    static let jobsShown = 20

    // What was asked and not answered yet, so each read is asked once.
    var askedGroups: DeadLetterSelection?
    var askedFirst: DeadLetterSelection?
    var askedNext: PageCursor?
    var askedPreview = false
    /// The preview asked for is of `R`: a replay job.
    var previewAsJob = false
    /// Read again (after an action, or the queues' dead-letter counters moved).
    var stale = true
    /// When a list deeper than a page was last read again (see `reads`).
    var lastDeepRead: Timestamp?
    var counters: [Int64]?

    public struct Confirmation: Equatable, Sendable {
        public var preview: DeadLetterPreview
        public var typed = ""
        /// `R`: the replay runs as a job at `rate` letters per second (typed after `tab`; 0: unthrottled).
        public var asJob = false
        public var rate = String(ReplayJobRequest.defaultRate)
        public var editingRate = false
        /// The rate shown when `tab` began editing it: the first digit typed replaces it (a
        /// backspace edits it instead).
        var rateUntouched = false
        /// One dead letter: y/n; more: the count typed, then enter.
        public var asksCount: Bool { preview.count > 1 }
    }

    public init(shared: Shared) {}

    // MARK: Selections

    /// The filter's selection; its durations (`since:10m`) count back from when it was typed.
    public var filterParsed: DeadLetterFilter { DeadLetterFilter(filter.source, now: filter.enteredAt ?? .now()) }

    /// What the list shows: the group's dead letters narrowed by the filter, or all the filter matches.
    public var listSelection: DeadLetterSelection {
        let parsed = filterParsed
        return group.map { parsed.narrowing($0.selection) } ?? parsed.selection
    }

    public var selectedLetter: DeadLetter? { letters.indices.contains(letterIndex) ? letters[letterIndex] : nil }

    public mutating func filterCommitted() {
        groupIndex = 0
        letterIndex = 0
        marked = []
        if level == .detail { level = .list }
    }

    // MARK: Keys

    public static let keymap = Keymap<ScreenAction<DeadLettersScreen>>([
        Binding(MoveKeys.down + MoveKeys.up, help: ("j k ↑ ↓", "select (scroll in the detail)")) { s, key, shared in
            s.move(by: MoveKeys.down.contains(key) ? 1 : -1, shared)
            return []
        },
        Binding([.pageDown, .pageUp], help: ("pgup pgdn", "a page")) { s, key, shared in
            s.move(by: (key == .pageDown ? 1 : -1) * max(1, s.visibleRows(shared) - 1), shared)
            return []
        },
        Binding(MoveKeys.first + MoveKeys.last, help: ("g G home end", "first / last (the list reads on as it goes)")) { s, key, shared in
            s.move(by: MoveKeys.first.contains(key) ? Int.min / 2 : Int.max / 2, shared)
            return []
        },
        Binding([.enter], help: ("enter", "group → its list → a dead letter's detail"), hint: ("enter", "open")) { s, _, _ in
            s.open()
            return []
        },
        Binding([.char("L")], help: ("L", "groups by cause / flat list of all"), hint: ("L", "list")) { s, _, _ in
            s.grouped.toggle()
            s.group = nil
            s.level = s.grouped ? .groups : .list
            s.letterIndex = 0
            s.marked = []
            return []
        },
        Binding([.char(" ")], help: ("space", "mark / unmark the selected dead letter"), hint: ("space", "mark"), mutates: true) { s, _, shared in
            guard s.level == .list, let letter = s.selectedLetter else { return [] }
            if s.marked.remove(letter.messageID) == nil { s.marked.insert(letter.messageID) }
            s.move(by: 1, shared)
            return []
        },
        Binding([.ctrl("a")], help: ("ctrl-a", "mark every dead letter read into the list (again: unmark them)"), mutates: true) { s, _, shared in
            guard s.level == .list, !s.letters.isEmpty else { return [] }
            let all = Set(s.letters.map(\.messageID))
            s.marked = s.marked.isSuperset(of: all) ? [] : all
            let more = s.next != nil ? "; R replays every one matching, read or not" : ""
            shared.notice = Notice(text: s.marked.isEmpty ? "unmarked" : "marked the \(s.marked.count) read so far\(more)", isError: false)
            return []
        },
        Binding([.char("r")], help: ("r", "replay the selected dead letter, or the marked"), hint: ("r", "replay"), mutates: true) { s, _, shared in
            s.act(.replay, everything: false, &shared)
        },
        Binding([.char("R")], help: ("R", "replay every dead letter of the group or filter"), hint: ("R", "all"), mutates: true) { s, _, shared in
            s.act(.replay, everything: true, &shared)
        },
        editKey,
        Binding([.char("d")], help: ("d", "delete the selected dead letter, or the marked"), mutates: true) { s, _, shared in
            s.act(.delete, everything: false, &shared)
        },
        Binding([.char("J")], help: ("J", "replay jobs: progress, pause, resume, cancel, rate (esc: back)"), hint: ("J", "jobs")) { s, _, _ in
            if s.level == .jobs {
                s.level = s.levelBeforeJobs
            } else {
                s.levelBeforeJobs = s.level
                s.level = .jobs
                s.jobsStale = true
            }
            return []
        },
        Binding([.char("x")], help: ("x", "export the marked, the group, the list or the letter to a JSON-lines file (0600) here")) { s, _, shared in
            guard let selection = s.exportSelection() else { return [] }
            let path = "pipetop-dead-letters-\(DeadLettersView.fileStamp(shared.now)).jsonl"
            shared.notice = Notice(text: "exporting to \(path)…", isError: false)
            return [.run(.read(.exportDeadLetters(selection, path: path), for: Self.id))]
        },
        Binding([.char("t")], help: ("t", "the selected dead letter's trace (its flow, from the store)")) { s, _, shared in
            guard s.level == .list || s.level == .detail, let letter = s.selectedLetter else { return [] }
            guard let correlation = letter.event.correlationID else {
                shared.notice = Notice(text: "this dead letter's event has no correlation id", isError: true)
                return []
            }
            return [.show(.trace, filter: Filter(correlation))]
        },
        Binding([.char("p")], help: ("p", "in the jobs: pause or resume the selected job"), mutates: true) { s, _, shared in
            guard let job = s.selectedJob(&shared) else { return [] }
            return s.control(job, job.state == .running ? .pause : .resume)
        },
        Binding([.char("C")], help: ("C", "in the jobs: cancel the selected job (what moved stays moved)"), mutates: true) { s, _, shared in
            guard let job = s.selectedJob(&shared) else { return [] }
            return s.control(job, .cancel)
        },
        Binding([.char("+"), .char("-")], help: ("+ -", "in the jobs: double or halve the selected job's rate"), mutates: true) { s, key, shared in
            guard let job = s.selectedJob(&shared) else { return [] }
            let faster = key == .char("+")
            // Unthrottled is the fastest: + keeps it, - comes down to 1,000/s.
            let rate = job.rate == 0 ? (faster ? 0 : 1_000) : (faster ? min(job.rate * 2, 1_000_000) : max(job.rate / 2, 1))
            guard rate != job.rate else {
                shared.notice = Notice(text: "replay job \(job.id) is already unthrottled", isError: false)
                return []
            }
            return s.control(job, .rate(rate))
        },
    ])

    /// What `x` exports: the marked, else the open letter, the list's selection, or the selected group.
    func exportSelection() -> DeadLetterSelection? {
        switch level {
        case .list where !marked.isEmpty: return DeadLetterSelection(messageIDs: marked.sorted())
        case .list: return listSelection
        case .detail: return selectedLetter.map { DeadLetterSelection(messageIDs: [$0.messageID]) }
        case .groups: return groups.flatMap { $0.indices.contains(groupIndex) ? filterParsed.narrowing($0[groupIndex].selection) : nil }
        case .jobs: return nil
        }
    }

    /// The job a jobs key acts on: the selected one in `J`, if it can still change.
    func selectedJob(_ shared: inout Shared) -> ReplayJob? {
        guard level == .jobs, let jobs, jobs.indices.contains(jobIndex) else {
            shared.notice = Notice(text: "J opens the replay jobs first", isError: false)
            return nil
        }
        let job = jobs[jobIndex]
        guard !job.state.isFinal else {
            shared.notice = Notice(text: "replay job \(job.id) is \(job.state.rawValue): it changes no more", isError: true)
            return nil
        }
        return job
    }

    func control(_ job: ReplayJob, _ control: ReplayJobControl) -> [Navigation] {
        [.run(.mutate(.controlReplayJob(job.id, control), for: Self.id))]
    }

    mutating func open() {
        switch level {
        case .groups:
            guard let groups, groups.indices.contains(groupIndex) else { return }
            group = groups[groupIndex]
            level = .list
            letterIndex = 0
            marked = []
        case .list:
            guard selectedLetter != nil else { return }
            level = .detail
            detailScroll = 0
        case .detail, .jobs: break
        }
    }

    public mutating func back(shared: inout Shared) -> Bool {
        switch level {
        case .jobs: level = levelBeforeJobs
        case .detail: level = .list
        case .list where grouped:
            level = .groups
            group = nil
            marked = []
        default: return false
        }
        return true
    }

    mutating func move(by step: Int, _ shared: Shared) {
        func clamped(_ index: Int, _ count: Int) -> Int { max(0, min(count - 1, index.addingReportingOverflow(step).overflow ? index : index + step)) }
        switch level {
        case .groups: groupIndex = clamped(groupIndex, groups?.count ?? 0)
        case .list: letterIndex = clamped(letterIndex, letters.count)
        case .detail: detailScroll = max(0, detailScroll + max(-10_000, min(10_000, step)))
        case .jobs: jobIndex = clamped(jobIndex, jobs?.count ?? 0)
        }
    }

    /// The selection an action applies to: the marked, the selected, or (`everything`) the group or filter.
    mutating func act(_ action: DeadLetterAction, everything: Bool, _ shared: inout Shared) -> [Navigation] {
        let selection: DeadLetterSelection
        switch (level, everything) {
        case (.groups, true):
            guard let groups, groups.indices.contains(groupIndex) else { return [] }
            selection = filterParsed.narrowing(groups[groupIndex].selection)
        case (.jobs, _):
            shared.notice = Notice(text: "esc goes back to the dead letters; p, C, + and - change the selected job", isError: false)
            return []
        case (.groups, false):
            shared.notice = Notice(text: "enter opens the group to pick dead letters; R \(action == .replay ? "replays" : "acts on") the whole group", isError: false)
            return []
        case (_, true):
            selection = listSelection
        case (.list, false) where !marked.isEmpty:
            selection = DeadLetterSelection(messageIDs: marked.sorted())
        case (_, false):
            guard let letter = selectedLetter else { return [] }
            selection = DeadLetterSelection(messageIDs: [letter.messageID])
        }
        if let error = filterParsed.error, everything {
            shared.notice = Notice(text: error, isError: true)
            return []
        }
        askedPreview = true
        previewAsJob = everything && action == .replay
        return [.run(.read(.deadLetterPreview(selection, action), for: Self.id))]
    }

    // MARK: Confirmation

    public var capturesKeys: Bool { confirmation != nil || edit != nil }

    public mutating func captured(_ key: Key, shared: inout Shared) -> [Navigation] {
        if edit != nil { return capturedEdit(key, shared: &shared) }
        guard var confirmation else { return [] }
        let preview = confirmation.preview
        let go: Bool
        switch key {
        case .escape, .char("n") where !confirmation.asksCount:
            self.confirmation = nil
            shared.notice = Notice(text: "cancelled: nothing was changed", isError: false)
            return []
        case .char("y") where !confirmation.asksCount && !confirmation.editingRate: go = true
        case .tab where confirmation.asJob:
            confirmation.editingRate.toggle()
            confirmation.rateUntouched = confirmation.editingRate
            go = false
        case .char(let c) where (confirmation.asksCount || confirmation.editingRate) && c.isASCII && c.isNumber:
            if confirmation.editingRate {
                if confirmation.rateUntouched { confirmation.rate = "" }
                confirmation.rateUntouched = false
                if confirmation.rate.count < 7 { confirmation.rate = (confirmation.rate == "0" ? "" : confirmation.rate) + String(c) }
            } else {
                confirmation.typed.append(c)
            }
            go = false
        case .backspace where confirmation.asksCount || confirmation.editingRate:
            if confirmation.editingRate {
                confirmation.rateUntouched = false
                if !confirmation.rate.isEmpty { confirmation.rate.removeLast() }
            } else if !confirmation.typed.isEmpty {
                confirmation.typed.removeLast()
            }
            go = false
        case .enter where confirmation.editingRate:
            confirmation.editingRate = false
            confirmation.rateUntouched = false
            go = false
        case .enter where confirmation.asksCount:
            guard confirmation.typed == String(preview.count) else {
                shared.notice = Notice(text: "type \(preview.count) (the exact count) then enter, or esc", isError: true)
                confirmation.typed = ""
                self.confirmation = confirmation
                return []
            }
            go = true
        default: go = false
        }
        guard go else {
            self.confirmation = confirmation
            return []
        }
        guard let rate = Int(confirmation.rate), rate >= 0 else {
            shared.notice = Notice(text: "the rate is letters per second, 0 for unthrottled: tab, then type it", isError: true)
            self.confirmation = confirmation
            return []
        }
        self.confirmation = nil
        // The set confirmed, and no more: none dead after the preview, at most the count shown.
        var selection = preview.selection
        if selection.messageIDs == nil, let last = preview.lastDeadAt {
            let bound = last + .microseconds(1)
            selection.deadUntil = selection.deadUntil.map { $0 < bound ? $0 : bound } ?? bound
        }
        let mutation: StoreMutation = switch preview.action {
        case .replay where confirmation.asJob: .createReplayJob(ReplayJobRequest(selection: selection, rate: rate, limit: preview.count))
        case .replay: .redrive(RedriveRequest(selection: selection, limit: preview.count))
        case .delete: .delete(DeleteRequest(selection: selection, limit: preview.count))
        }
        shared.notice = Notice(text: confirmation.asJob ? "starting a replay job of \(preview.count)…"
                               : "\(preview.action == .replay ? "replaying" : "deleting") \(preview.count)…", isError: false)
        return [.run(.mutate(mutation, for: Self.id))]
    }

    // MARK: Data

    public mutating func receive(_ snapshot: DataSnapshot, shared: inout Shared) {
        if snapshot.error != nil {
            // A read that failed is not waited for: ask again at the next poll (the header shows the error).
            askedGroups = nil
            askedFirst = nil
            askedNext = nil
            askedReplays = nil
            return
        }
        guard let queues = snapshot[StoreData.queueStats] else { return }
        // Dead letters made (a counter) and held now: either moving means the screen is out of date.
        let now = [queues.reduce(0) { $0 + $1.deadLettered }, Int64(queues.reduce(0) { $0 + $1.dead })]
        if counters != nil && counters != now { stale = true }
        counters = now
        jobsStale = true
    }

    public mutating func reads(_ shared: Shared) -> [Effect] {
        var effects: [Effect] = []
        if jobsStale && !askedJobs {
            askedJobs = true
            jobsStale = false
            effects.append(.read(.replayJobs(limit: Self.jobsShown), for: Self.id))
        }
        return effects + letterReads(shared)
    }

    mutating func letterReads(_ shared: Shared) -> [Effect] {
        guard filterParsed.error == nil, level != .jobs else { return [] }
        if level == .detail, let letter = selectedLetter, replays?.messageID != letter.messageID, askedReplays != letter.messageID,
           let correlation = letter.event.correlationID {
            askedReplays = letter.messageID
            return [.read(.messageReplays(messageID: letter.messageID, correlationID: correlation), for: Self.id)]
        }
        if level == .groups {
            let selection = filterParsed.selection
            guard (stale || groupsSelection != selection), askedGroups != selection else { return [] }
            askedGroups = selection
            stale = false
            // The hour up to the current minute's end, so the newest minute is in it.
            let end = Timestamp(micros: (shared.now.micros / 60_000_000 + 1) * 60_000_000)
            return [.read(.deadLetterGroups(selection), for: Self.id), .read(.deadLetterArrivals(since: end - Self.arrivalWindow), for: Self.id)]
        }
        let selection = listSelection
        if (stale || lettersSelection != selection) && askedFirst != selection {
            // Read again as far as the user had scrolled, so the selection stays where it was; a list
            // deeper than a page at most once a second while letters keep dying (each read decodes them all).
            let limit = lettersSelection == selection ? max(Self.pageSize, letters.count) : Self.pageSize
            if limit > Self.pageSize {
                if let last = lastDeepRead, (shared.now - last).micros < 1_000_000 { return [] }
                lastDeepRead = shared.now
            }
            askedFirst = selection
            stale = false
            askedNext = nil
            return [.read(.deadLetters(selection, page: PageRequest(limit: limit)), for: Self.id)]
        }
        // The next page as the selection nears the end of what was read.
        if lettersSelection == selection, askedFirst == nil, let next, askedNext == nil, letterIndex >= letters.count - visibleRows(shared) - 1 {
            askedNext = next
            return [.read(.deadLetters(selection, page: PageRequest(limit: Self.pageSize, after: next)), for: Self.id)]
        }
        return []
    }

    public mutating func receive(_ answer: StoreAnswer, shared: inout Shared) -> [Effect] {
        switch answer {
        case .deadLetterGroups(let read, let selection):
            if askedGroups == selection { askedGroups = nil }
            guard selection == filterParsed.selection else { return [] }
            // The selection follows its cause, not its position (counts re-sort the groups).
            let selected = groups.flatMap { $0.indices.contains(groupIndex) ? $0[groupIndex].selection : nil }
            groups = read
            groupsSelection = selection
            if let selected, let index = read.firstIndex(where: { $0.selection == selected }) { groupIndex = index }
            groupIndex = max(0, min(groupIndex, read.count - 1))
        case .deadLetters(let page, let count, let selection, let after):
            if after == nil {
                if askedFirst == selection { askedFirst = nil }
                guard selection == listSelection else { return [] }
                // The selection follows its letter, not its position (new letters arrive on top);
                // a letter that is gone is never swapped for another under an open detail.
                let selected = lettersSelection == selection ? selectedLetter?.messageID : nil
                letters = page.items
                lettersSelection = selection
                let present = Set(letters.map(\.messageID))
                marked = marked.filter { present.contains($0) }
                if let selected {
                    if let index = letters.firstIndex(where: { $0.messageID == selected }) {
                        letterIndex = index
                    } else if level == .detail {
                        level = .list
                        shared.notice = Notice(text: "dead letter \(selected) is no longer dead (replayed or deleted)", isError: false)
                    }
                }
                if level == .detail, selectedLetter == nil { level = .list }
            } else {
                if askedNext == after { askedNext = nil }
                guard selection == lettersSelection, after == next else { return [] }
                letters += page.items
            }
            next = page.next
            total = count
            letterIndex = max(0, min(letterIndex, letters.count - 1))
        case .exported(let path, let result):
            switch result {
            case .success(let count): shared.notice = Notice(text: "exported \(count) dead letter\(count == 1 ? "" : "s") to \(path.terminalSafe) (0600)", isError: false)
            case .failure(let failure): shared.notice = Notice(text: "export failed: \(failure.message)", isError: true)
            }
        case .messageReplays(let items, let id):
            if askedReplays == id { askedReplays = nil }
            replays = (id, items)
        case .deadLetterArrivals(let read, let since):
            arrivals = read
            arrivalsEnd = since + Self.arrivalWindow
        case .replayJobs(let read):
            askedJobs = false
            let selected = jobs.flatMap { $0.indices.contains(jobIndex) ? $0[jobIndex].id : nil }
            jobs = read
            if let selected, let index = read.firstIndex(where: { $0.id == selected }) { jobIndex = index }
            jobIndex = max(0, min(jobIndex, read.count - 1))
        case .replayJobChanged(let mutation, let result):
            stale = true
            jobsStale = true
            switch result {
            case .failure(let failure):
                shared.notice = Notice(text: "\(mutation.jobVerb) failed: \(failure.message)", isError: true)
            case .success(let job):
                if case .createReplayJob = mutation {
                    marked = []
                    let carried = shared.runtime?.isLive(at: shared.now) ?? false
                        ? "the runtime carries it" : "no runtime is running: this dashboard runs it while open"
                    shared.notice = Notice(
                        text: "replay job \(job.id): \(job.total) dead letter\(job.total == 1 ? "" : "s") at \(ReplayJob.rateText(job.rate)), the set fixed now; \(carried); J shows its progress",
                        isError: false)
                } else {
                    shared.notice = Notice(text: "replay job \(job.id): \(job.summary(now: shared.now))".terminalSafe, isError: false)
                }
            }
        case .deadLetterPreview(let preview):
            askedPreview = false
            guard preview.count > 0 else {
                shared.notice = Notice(text: "nothing to \(preview.action.rawValue): none of these are dead letters any more", isError: true)
                stale = true
                return []
            }
            confirmation = Confirmation(preview: preview, asJob: previewAsJob)
        case .mutated(let mutation, let result):
            stale = true
            switch result {
            case .failure(let failure):
                shared.notice = Notice(text: "\(mutation.name) failed: \(failure.message)", isError: true)
            case .success(let done):
                marked = []
                // The letter whose detail is open was moved by this: back to the list (the notice says what happened).
                if level == .detail, let id = selectedLetter?.messageID, done.messageIDs.contains(id) { level = .list }
                let plural = done.count == 1 ? "" : "s"
                switch mutation {
                case .redrive:
                    let waiting = shared.runtime.map { $0.stoppedAt != nil } ?? true ? " (no runtime is running: they wait for one)" : ""
                    shared.notice = Notice(text: "replayed \(done.count) dead letter\(plural): new deliveries with fresh attempt budgets; event id, correlation and causation kept\(waiting)", isError: false)
                case .delete:
                    shared.notice = Notice(text: "deleted \(done.count) dead letter\(plural)", isError: false)
                case .createReplayJob, .controlReplayJob:
                    break  // answered as .replayJobChanged
                case .edit(let request):
                    shared.notice = Self.edited(request, done, shared)
                }
            }
        case .editorClosed(let session, let saved):
            editorClosed(session, saved, &shared)
        case .history, .latest, .trace, .logMatches, .logCount, .queueMessages, .cpuSamples, .cpuRuns:
            break
        }
        return []
    }

    /// Rows of a table on screen (the header line, the table's header).
    func visibleRows(_ shared: Shared) -> Int { max(1, shared.size.height - 7) }

    public func draw(_ shared: Shared, into grid: inout Grid, _ body: Rect) -> ScreenStatus {
        DeadLettersView.draw(self, shared, into: &grid, body)
        var status = ScreenStatus()
        let theme = shared.theme
        switch level {
        case .groups: status.left.append(StatusSegment("GROUPS", theme[.statusAccent]))
        case .list: status.left.append(StatusSegment(group == nil ? "ALL" : "GROUP", theme[.statusAccent]))
        case .detail: status.left.append(StatusSegment("DETAIL", theme[.statusAccent]))
        case .jobs: status.left.append(StatusSegment("JOBS", theme[.statusAccent]))
        }
        if !marked.isEmpty { status.left.append(StatusSegment("\(marked.count) marked", theme[.statusPaused])) }
        switch level {
        case .groups:
            if let groups { status.right.append(StatusSegment(groups.isEmpty ? "0/0" : "\(groupIndex + 1)/\(groups.count)", theme[.status])) }
        case .list, .detail:
            if let total { status.right.append(StatusSegment(letters.isEmpty ? "0/\(total)" : "\(letterIndex + 1)/\(total)", theme[.status])) }
        case .jobs:
            if let jobs { status.right.append(StatusSegment(jobs.isEmpty ? "0/0" : "\(jobIndex + 1)/\(jobs.count)", theme[.status])) }
        }
        return status
    }
}

extension StoreMutation {
    /// What it does, in a word (for its notice).
    var name: String {
        switch self {
        case .redrive: "replay"
        case .delete: "delete"
        case .edit: "edit"
        case .createReplayJob: "replay job"
        case .controlReplayJob(_, let control): "\(control)"
        }
    }

    /// What a replay job mutation was, for its notice.
    var jobVerb: String {
        switch self {
        case .controlReplayJob(let id, let control): "\(control) of replay job \(id)"
        default: "the replay job"
        }
    }
}

extension AppState {
    public var deadLetters: DeadLettersScreen { screen(DeadLettersScreen.self) }
}
