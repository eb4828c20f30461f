import AllotCore
import Testing

@testable import AllotDaemon

@Suite("ReloadState: what each read of the policies means")
struct ReloadStateTests {
    static let brokenPolicy = [Diagnostic("unknown key 'grnats'", at: nil)]
    static let otherBrokenPolicy = [Diagnostic("'E5' is not a SKU of this tenant", at: nil)]
    static let brokenConfiguration = [Diagnostic("reconcile.interval: not a duration", at: nil)]

    @Test("a changed valid directory is installed; an unchanged one is left alone")
    func changedAndUnchanged() {
        var state = ReloadState()
        let answer1 = state.policiesRead(revision: "b", running: "a")
        #expect(answer1 == .install(standingProblems: nil))
        let answer2 = state.policiesRead(revision: "b", running: "b")
        #expect(answer2 == .unchanged)
        #expect(state.lastRejected == nil)
    }

    @Test("a broken directory is reported once, new problems again, and undoing the change restores the running set")
    func brokenDirectory() {
        var state = ReloadState()
        let answer3 = state.rejected(Self.brokenPolicy)
        #expect(answer3)
        let answer4 = state.rejected(Self.brokenPolicy)
        #expect(!answer4, "the same problems before the next cycle are not reported again")
        let answer5 = state.rejected(Self.otherBrokenPolicy)
        #expect(answer5)
        let answer6 = state.policiesRead(revision: "a", running: "a")
        #expect(answer6 == .restored)
        #expect(state.lastRejected == nil)
        let answer7 = state.policiesRead(revision: "a", running: "a")
        #expect(answer7 == .unchanged)
        let answer8 = state.rejected(Self.brokenPolicy)
        #expect(answer8, "broken again after the fix: reported again")
    }

    @Test("a broken directory fixed by a new valid set installs it")
    func brokenThenFixed() {
        var state = ReloadState()
        let answer9 = state.rejected(Self.brokenPolicy)
        #expect(answer9)
        let answer10 = state.policiesRead(revision: "b", running: "a")
        #expect(answer10 == .install(standingProblems: nil))
        #expect(state.lastRejected == nil)
    }

    @Test("allot.yaml's problems stand through directory changes until a reload accepts it")
    func brokenConfiguration() {
        var state = ReloadState()
        state.reloadRequested()
        let answer11 = state.rejected(Self.brokenConfiguration, inConfiguration: true)
        #expect(answer11)
        let answer12 = state.policiesRead(revision: "a", running: "a")
        #expect(answer12 == .unchanged, "the running set was never in question")
        let answer13 = state.policiesRead(revision: "b", running: "a")
        #expect(answer13 == .install(standingProblems: Self.brokenConfiguration))
        #expect(state.lastRejected == .init(diagnostics: Self.brokenConfiguration, inConfiguration: true))
        state.reloadRequested()
        #expect(state.lastRejected == nil)
    }

    @Test("a reload reports what it finds even when the same problems were reported before the cycle")
    func reloadAlwaysReports() {
        var state = ReloadState()
        let answer14 = state.rejected(Self.brokenPolicy)
        #expect(answer14)
        state.reloadRequested()
        let answer15 = state.rejected(Self.brokenPolicy)
        #expect(answer15)
    }
}
