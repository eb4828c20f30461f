import AllotCore
import AllotGraph

/// The engine's side of seat waves (``SeatSchedule``): which calls go next, as Graph writes,
/// and what each answer means for the seats of the calls still waiting. Pure: it is given
/// answers and returns writes, with no I/O.
///
/// - A call goes out only when every SKU it adds has a seat counted from the seats free at the
///   read plus the seats freed by calls already answered 2xx. The calls that are ready go out
///   together, as one wave (``nextWave()``), in full batches; the calls their answers unlock
///   form the next wave.
/// - A user's usage-location PATCH travels with the user's license call (the client sends the
///   PATCH first and the license call once the PATCH succeeded).
/// - A call that failed frees no seat: the calls that waited for it stay ``blocked()``, named
///   with the call that did not free their seat. Graph refusing an add for lack of seats
///   (someone took the seat since the read) stops further adds of that SKU this cycle.
struct ApplySchedule {
    /// A call that will not go out this cycle because a seat it needs never came.
    struct Blocked {
        var change: UserChange
        /// The SKUs it lacks a seat of.
        var missing: [GUID]
        /// The calls that were to free such a seat and failed.
        var failedFreeing: [UserChange]
    }

    let changes: [UserChange]
    private var seats: SeatSchedule
    private let skuIds: [GUID]
    /// Calls that failed: their seats never came free.
    private var failed: [Int] = []

    /// - Parameters:
    ///   - changes: the plan's changes, by user id.
    ///   - seats: the plan's seats, which say what was free at the read.
    init(changes: [UserChange], seats: [SeatCount]) {
        self.changes = changes
        self.seats = SeatSchedule(changes: changes, seats: seats)
        skuIds = seats.map(\.skuId)
    }

    /// The calls that may go now, and their writes (a user's PATCH before the user's license
    /// call); empty when no call can go until more answers arrive, or none is left.
    mutating func nextWave() -> (calls: [Int], writes: [GraphWrite]) {
        let calls = seats.nextWave()
        var writes: [GraphWrite] = []
        for call in calls {
            let change = changes[call]
            if let code = change.setUsageLocation { writes.append(.setUsageLocation(user: change.userId, code: code)) }
            if let body = change.assignLicense { writes.append(.assignLicense(user: change.userId, body: body)) }
        }
        return (calls, writes)
    }

    /// Records the answers to a wave's writes: a call succeeded when its license call (or its
    /// only write) was applied.
    mutating func record(_ results: [GraphWriteResult], for calls: [Int]) {
        var outcomeOfUser: [GUID: GraphWriteResult.Outcome] = [:]
        for result in results {
            // The license call decides; a PATCH decides only for a user who has no license call.
            if case .assignLicense = result.write {
                outcomeOfUser[result.write.user] = result.outcome
            } else if outcomeOfUser[result.write.user] == nil {
                outcomeOfUser[result.write.user] = result.outcome
            }
        }
        for call in calls {
            switch outcomeOfUser[changes[call].userId] {
            case .applied?:
                seats.succeeded(call)
            case .failed(let error)?:
                seats.failed(call)
                failed.append(call)
                if error.kind == .noSeats { exhaust(named: error.message, call: call) }
            case .notSent?, nil:
                seats.failed(call)
            }
        }
    }

    /// Graph said a SKU has no seat left: the SKU named in its message, or every SKU the call adds.
    private mutating func exhaust(named message: String, call: Int) {
        let named = GUID.all(in: message).compactMap { skuIds.firstIndex(of: $0) }
        let skus = named.isEmpty ? Array(seats.calls[call].needs) : named
        for sku in skus { seats.exhausted(sku) }
    }

    /// Calls never sent: those waiting for a seat.
    var unsent: [Int] { seats.waiting }

    /// The waiting calls whose seat will not come this cycle, with the failed calls that did not free it.
    func blocked() -> [Blocked] {
        seats.waiting.map { call in
            let missing = seats.missingSeats(of: call)
            let failedFreeing = failed.filter { !(seats.calls[$0].frees & missing).isEmpty }.map { changes[$0] }
            return Blocked(change: changes[call], missing: missing.map { skuIds[$0] }, failedFreeing: failedFreeing)
        }
    }
}

extension GUID {
    /// Every GUID written in `text`, in order (Graph names SKUs and plans by id in its messages).
    static func all(in text: String) -> [GUID] {
        text.split { !($0.isHexDigit || $0 == "-") }.compactMap { GUID(String($0)) }
    }
}
