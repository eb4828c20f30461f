/// The order in which a cycle's `assignLicense` calls go out so that none is refused for lack
/// of a seat: seat waves.
///
/// Graph checks an add against the seats free at the moment the call runs, and the calls of
/// one parallel `$batch` run in no promised order. So a call may be sent only when every SKU it
/// adds has a seat counted from the seats free at the read plus the seats freed by calls
/// already **answered 2xx**, minus the seats reserved by calls sent before it:
///
/// 1. ``nextWave()`` returns the waiting calls whose adds all fit now, and reserves their seats.
/// 2. The caller sends them (in full batches) and reports each answer: ``succeeded(_:)`` adds
///    the seats the call freed; ``failed(_:)`` gives its reserved seats back;
///    ``exhausted(_:)`` records Graph saying a SKU has no seat left (someone else took it).
/// 3. Repeat until ``nextWave()`` is empty. Calls still ``waiting`` then wait for a seat no
///    answered call will free: the planner defers them before anything is sent (a seat cycle),
///    the engine reports them (`seats.short`) when a freeing call failed.
///
/// Worked example (no free seat of `VISIOCLIENT` or `SPE_E3` at the read):
///
/// | call | adds        | frees       | wave |
/// |------|-------------|-------------|------|
/// | B    |             | VISIOCLIENT | 1    |
/// | A    | VISIOCLIENT | SPE_E3      | 2 (after B's 2xx) |
/// | C    | SPE_E3      |             | 3 (after A's 2xx) |
///
/// Serving order within a wave: calls that free seats first (they unlock others), then in the
/// order given (the caller passes users by id). Priorities are not needed here: the planner
/// has already served every add it keeps (by priority, while seats last), so each call in the
/// schedule gets its seat in some wave; the order only decides which wave. Pure: no clock, no
/// I/O; the planner runs it assuming every call succeeds, the engine with the real answers,
/// and both see the same waves when all succeed.
public struct SeatSchedule: Sendable {
    /// One user's call, as far as seats are concerned.
    public struct Call: Sendable, Hashable {
        /// SKUs (indices) the call adds: one seat each.
        public var needs: SkuMask
        /// SKUs (indices) whose direct removal frees a seat once the call succeeds.
        public var frees: SkuMask

        public init(needs: SkuMask, frees: SkuMask) {
            self.needs = needs
            self.frees = frees
        }
    }

    public let calls: [Call]
    /// Per SKU index: seats free for this cycle's calls now.
    public private(set) var available: [Int]
    /// Calls not sent yet, in serving order.
    public private(set) var waiting: [Int]

    /// - Parameters:
    ///   - calls: in tie-break order (by user id).
    ///   - available: per SKU index, the seats free at the read: prepaid minus consumed, below
    ///     zero when the tenant holds more than it has paid for.
    public init(calls: [Call], available: [Int]) {
        self.calls = calls
        self.available = available
        waiting = calls.indices.filter { !calls[$0].frees.isEmpty } + calls.indices.filter { calls[$0].frees.isEmpty }
    }

    /// The schedule of a plan's changes, in their order (by user id), with the seats free at the
    /// read (`seats` is the plan's ``Plan/seats``: SKU indices are positions there).
    public init(changes: [UserChange], seats: [SeatCount]) {
        var indexOfSku: [GUID: Int] = [:]
        for (index, seat) in seats.enumerated() { indexOfSku[seat.skuId] = index }
        let calls = changes.map { change in
            var needs = SkuMask()
            for add in change.adds { if let index = indexOfSku[add.skuId] { needs.insert(index) } }
            var frees = SkuMask()
            for removal in change.removals where removal.freesSeat {
                if let index = indexOfSku[removal.skuId] { frees.insert(index) }
            }
            return Call(needs: needs, frees: frees)
        }
        self.init(calls: calls, available: seats.map { $0.prepaid - $0.consumedBefore })
    }

    /// The waiting calls whose adds all have a seat now, in serving order; their seats are reserved.
    public mutating func nextWave() -> [Int] {
        var wave: [Int] = []
        var stillWaiting: [Int] = []
        for call in waiting {
            if missingSeats(of: call).isEmpty {
                for sku in calls[call].needs { available[sku] -= 1 }
                wave.append(call)
            } else {
                stillWaiting.append(call)
            }
        }
        waiting = stillWaiting
        return wave
    }

    /// A sent call was answered 2xx: the seats it frees are free.
    public mutating func succeeded(_ call: Int) {
        for sku in calls[call].frees { available[sku] += 1 }
    }

    /// A sent call failed or was never delivered: it took no seat and freed none.
    public mutating func failed(_ call: Int) {
        for sku in calls[call].needs { available[sku] += 1 }
    }

    /// Graph answered that a SKU has no seat left: nothing more is sent for it this cycle.
    public mutating func exhausted(_ sku: Int) {
        available[sku] = min(available[sku], 0)
    }

    /// The SKUs a waiting call lacks a seat of now.
    public func missingSeats(of call: Int) -> SkuMask {
        var missing = SkuMask()
        var remaining = calls[call].needs.rawValue
        while remaining != 0 {
            let sku = remaining.trailingZeroBitCount
            if available[sku] < 1 { missing.insert(sku) }
            remaining &= remaining &- 1
        }
        return missing
    }

    /// The waiting calls on a seat cycle: each waits for a seat that only waiting calls free,
    /// and following "waits for a seat freed by" from it leads back to it. Nothing the other
    /// calls do can release them; every other waiting call waits, directly or not, on one of these.
    ///
    /// Strongly connected components (Tarjan's algorithm, iterative) of the graph with an edge
    /// from each waiting call to each SKU it lacks, and from each SKU to each waiting call that frees it.
    public func waitingOnCycles() -> [Int] {
        let skuCount = available.count
        // Nodes: 0..<skuCount are SKUs, skuCount + position in `waiting` are the waiting calls.
        var freeing = [[Int]](repeating: [], count: skuCount)
        for (position, call) in waiting.enumerated() {
            for sku in calls[call].frees { freeing[sku].append(skuCount + position) }
        }
        let nodeCount = skuCount + waiting.count
        func successors(_ node: Int) -> [Int] {
            node < skuCount ? freeing[node] : Array(missingSeats(of: waiting[node - skuCount]))
        }
        var index = [Int](repeating: -1, count: nodeCount)
        var lowLink = [Int](repeating: 0, count: nodeCount)
        var onStack = [Bool](repeating: false, count: nodeCount)
        var stack: [Int] = []
        var nextIndex = 0
        var onCycles: [Int] = []
        for root in 0..<nodeCount where index[root] < 0 {
            var work: [(node: Int, successors: [Int], next: Int)] = [(root, successors(root), 0)]
            index[root] = nextIndex
            lowLink[root] = nextIndex
            nextIndex += 1
            stack.append(root)
            onStack[root] = true
            while var frame = work.popLast() {
                if frame.next < frame.successors.count {
                    let successor = frame.successors[frame.next]
                    frame.next += 1
                    work.append(frame)
                    if index[successor] < 0 {
                        index[successor] = nextIndex
                        lowLink[successor] = nextIndex
                        nextIndex += 1
                        stack.append(successor)
                        onStack[successor] = true
                        work.append((successor, successors(successor), 0))
                    } else if onStack[successor] {
                        lowLink[frame.node] = min(lowLink[frame.node], index[successor])
                    }
                    continue
                }
                if let parent = work.indices.last {
                    lowLink[work[parent].node] = min(lowLink[work[parent].node], lowLink[frame.node])
                }
                guard lowLink[frame.node] == index[frame.node] else { continue }
                var component: [Int] = []
                while let member = stack.popLast() {
                    onStack[member] = false
                    component.append(member)
                    if member == frame.node { break }
                }
                // A component with more than one node holds a cycle (a call cannot free what it adds).
                if component.count > 1 {
                    onCycles += component.filter { $0 >= skuCount }.map { waiting[$0 - skuCount] }
                }
            }
        }
        return onCycles.sorted()
    }
}
