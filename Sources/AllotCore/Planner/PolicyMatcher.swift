/// The planner's hot loop: which policies, and so which licensing effects, match each user.
///
/// Every clause is turned into tables of policy bitmasks at compile time, so that matching
/// a user is a few loads and ANDs, with no branch per policy:
/// - per attribute column that some policy tests, and per distinct value of that column, the
///   policies whose tests on that column all hold for the value and whose `exclude.attributes`
///   conditions on that column all fail (a user excluded by any one condition is excluded, so
///   exclusions split by column like the tests);
/// - per date column, the instants where some policy's date test starts or stops holding cut
///   time into a few segments, with a mask each: a user whose date is kept as an instant
///   (``AttributeColumns/instants``, read in user order) finds its segment among a handful of
///   boundaries, and no table of a million dates is read at random;
/// - per interned group set (the groups a user belongs to), the policies whose `groups`
///   clause holds and whose `exclude.groups` does not exclude the set;
/// - the few users excluded by name are patched afterwards.
///
/// Bit `i` of a mask stands for the `i`-th policy in evaluation order, which sorts policies
/// by effect (see ``CompiledPolicies``). Walking a user's bits in order thus yields its
/// effects in order, and a trie over effect sets, walked through a flat transition table,
/// gives the user a node: users with the same effects share a node, and the desired
/// licenses are computed once per node.
struct PolicyMatcher {
    private let effectCount: Int
    /// 64-bit words per mask.
    private let wordCount: Int
    private let width: Int
    /// Policy index at each bit position, and its effect.
    private let policyAt: [Int]
    private let effectAt: [Int32]
    /// The attribute columns some policy tests, and where each one's masks start in `attributeMasks`.
    private let testedColumns: [Int]
    private let maskOffset: [Int]
    /// `attributeMasks[maskOffset[k] + value * wordCount + word]`; for a classed column,
    /// `attributeMasks[classMaskOffset[k] + class * wordCount + word]`.
    private let attributeMasks: [UInt64]
    /// Tested columns with many distinct values (an attribute unique per user, such as an
    /// employee id) but few distinct masks: each value maps to a one-byte class, and the class to
    /// its mask. A million-entry mask table is 8 MB a column that every user reads at random; the
    /// classes are 1 MB, which the cache holds. (Dates are not interned: see the segments below.)
    private let classedColumns: [Int]
    /// `valueClasses[classOffset[k] + value]`.
    private let classOffset: [Int]
    private let classMaskOffset: [Int]
    private let valueClasses: [UInt8]
    /// Tested date columns: each one's slot among the tenant's date columns, where its segment
    /// boundaries start in `boundaries` and how many there are (the first is always
    /// `noInstant + 1`, so segment 0 holds only `noInstant`), and where its segment masks start
    /// in `attributeMasks` (`segmentMaskOffset[k] + segment * wordCount + word`).
    private let dateSlots: [Int]
    private let boundaryStart: [Int]
    private let boundaryCount: [Int]
    private let segmentMaskOffset: [Int]
    private let boundaries: [Int64]
    private let dateWidth: Int
    /// `groupMasks[set * wordCount + word]`.
    private let groupMasks: [UInt64]
    /// (user, bit position) pairs to clear, sorted by user.
    private let exclusions: [(user: Int, position: Int)]

    init(policies: CompiledPolicies, tenant: TenantModel) {
        let compiled = policies.compiled
        effectCount = policies.effects.count
        wordCount = max(1, (compiled.count + 63) / 64)
        width = tenant.columns.paths.count
        let order = compiled.indices.sorted { (policies.effectOfPolicy[$0], $0) < (policies.effectOfPolicy[$1], $1) }
        policyAt = order
        effectAt = order.map { Int32(policies.effectOfPolicy[$0]) }
        let words = wordCount

        func setBit(_ position: Int, in masks: inout [UInt64], entry: Int) {
            masks[entry * words + position / 64] |= 1 << UInt64(position % 64)
        }

        var testedColumns: [Int] = []
        var maskOffset: [Int] = []
        var attributeMasks: [UInt64] = []
        var classedColumns: [Int] = []
        var classOffset: [Int] = []
        var classMaskOffset: [Int] = []
        var valueClasses: [UInt8] = []
        var dateSlots: [Int] = []
        var boundaryStart: [Int] = []
        var boundaryCount: [Int] = []
        var segmentMaskOffset: [Int] = []
        var boundaries: [Int64] = []
        for column in Set(compiled.flatMap { ($0.tests + $0.excludeTests).map(\.column) }).sorted() {
            let valueCount = tenant.columns.values[column].count
            // Policies that test no condition on the column pass every value: one pattern, repeated.
            var untested = [UInt64](repeating: 0, count: words)
            var masks = [UInt64](repeating: 0, count: valueCount * words)
            for (position, index) in order.enumerated() {
                let tests = compiled[index].tests.filter { $0.column == column }.map(\.table)
                let excludeTests = compiled[index].excludeTests.filter { $0.column == column }.map(\.table)
                guard !tests.isEmpty || !excludeTests.isEmpty else {
                    setBit(position, in: &untested, entry: 0)
                    continue
                }
                // Whether the policy passes each value: tests all hold, exclusions all fail.
                var passes = tests.first ?? [Bool](repeating: true, count: valueCount)
                for table in tests.dropFirst() {
                    for value in 0..<valueCount { passes[value] = passes[value] && table[value] }
                }
                for table in excludeTests {
                    for value in 0..<valueCount { passes[value] = passes[value] && !table[value] }
                }
                for value in 0..<valueCount where passes[value] { setBit(position, in: &masks, entry: value) }
            }
            for value in 0..<valueCount {
                for word in 0..<words { masks[value &* words &+ word] |= untested[word] }
            }
            if let slot = tenant.columns.dateSlot[column] {
                // Dates kept as instants pass here and are tested by their segment.
                let row = Int(AttributeColumns.dateIndex) * words
                for word in 0..<words { masks[row + word] = ~0 }
                let segments = Self.segments(
                    column: column,
                    order: order,
                    compiled: compiled,
                    words: words,
                    untested: untested
                )
                dateSlots.append(slot)
                boundaryStart.append(boundaries.count)
                boundaryCount.append(segments.boundaries.count)
                boundaries += segments.boundaries
                segmentMaskOffset.append(attributeMasks.count)
                attributeMasks += segments.masks
            }
            if valueCount > Self.classingThreshold, let classes = Self.classes(of: masks, words: words) {
                classedColumns.append(column)
                classOffset.append(valueClasses.count)
                valueClasses += classes.ofValue
                classMaskOffset.append(attributeMasks.count)
                attributeMasks += classes.masks
            } else {
                testedColumns.append(column)
                maskOffset.append(attributeMasks.count)
                attributeMasks += masks
            }
        }
        self.testedColumns = testedColumns
        self.maskOffset = maskOffset
        self.attributeMasks = attributeMasks
        self.classedColumns = classedColumns
        self.classOffset = classOffset
        self.classMaskOffset = classMaskOffset
        self.valueClasses = valueClasses
        self.dateSlots = dateSlots
        self.boundaryStart = boundaryStart
        self.boundaryCount = boundaryCount
        self.segmentMaskOffset = segmentMaskOffset
        self.boundaries = boundaries
        dateWidth = tenant.columns.dateColumns.count

        var groupMasks = [UInt64](repeating: 0, count: tenant.groupSets.count * words)
        for (set, groups) in tenant.groupSets.enumerated() {
            let members = Set(groups.map(Int.init))
            for (position, index) in order.enumerated() {
                let policy = compiled[index]
                let passes = policy.groupFilter.map { !$0.isDisjoint(with: members) } ?? true
                if passes, policy.excludedGroups.isDisjoint(with: members) {
                    setBit(position, in: &groupMasks, entry: set)
                }
            }
        }
        self.groupMasks = groupMasks
        exclusions = order.enumerated()
            .flatMap { position, index in compiled[index].excludedUsers.map { (user: $0, position: position) } }
            .sorted { $0.user < $1.user }
    }

    /// A date column's segments: the sorted instants where some policy's date test on it starts
    /// or stops holding (with `noInstant + 1` first), and per segment the policies that pass;
    /// segment 0 (`noInstant`: the value is not kept as an instant) passes all, its value's mask
    /// decides.
    private static func segments(
        column: Int,
        order: [Int],
        compiled: [CompiledPolicy],
        words: Int,
        untested: [UInt64]
    ) -> (boundaries: [Int64], masks: [UInt64]) {
        var cuts: Set<Int64> = [AttributeColumns.noInstant + 1]
        for policy in compiled {
            for test in policy.tests + policy.excludeTests where test.column == column {
                for range in test.dates ?? [] {
                    cuts.insert(range.lowerBound)
                    if range.upperBound < Int64.max { cuts.insert(range.upperBound + 1) }
                }
            }
        }
        let boundaries = cuts.sorted()
        var masks = [UInt64](repeating: 0, count: (boundaries.count + 1) * words)
        for word in 0..<words { masks[word] = ~0 }
        for segment in 1...boundaries.count {
            // Every range starts at a boundary and ends before one, so its first instant decides.
            let instant = boundaries[segment - 1]
            for word in 0..<words { masks[segment * words + word] = untested[word] }
            for (position, index) in order.enumerated() {
                let tests = compiled[index].tests.filter { $0.column == column }
                let excludeTests = compiled[index].excludeTests.filter { $0.column == column }
                guard !tests.isEmpty || !excludeTests.isEmpty else { continue }
                let passes =
                    tests.allSatisfy { test in test.dates!.contains { $0.contains(instant) } }
                    && !excludeTests.contains { test in test.dates!.contains { $0.contains(instant) } }
                if passes { masks[segment * words + position / 64] |= 1 << UInt64(position % 64) }
            }
        }
        return (boundaries, masks)
    }

    /// Columns with more distinct values than this are classed when their masks allow.
    private static let classingThreshold = 4_096

    /// The distinct masks of a column (at most ``maxClasses`` of them) and each value's class,
    /// or `nil` when there are more. A linear search per value: a column's tests split its
    /// values into a handful of classes.
    private static func classes(of masks: [UInt64], words: Int) -> (ofValue: [UInt8], masks: [UInt64])? {
        var classMasks: [UInt64] = []
        var ofValue = [UInt8](repeating: 0, count: masks.count / words)
        for value in ofValue.indices {
            let row = value * words
            var found = 0
            while found * words < classMasks.count {
                let start = found * words
                if words == 1
                    ? classMasks[start] == masks[row]
                    : classMasks[start..<(start + words)].elementsEqual(masks[row..<(row + words)])
                {
                    break
                }
                found += 1
            }
            if found * words == classMasks.count {
                guard found < maxClasses else { return nil }
                classMasks += masks[row..<(row + words)]
            }
            ofValue[value] = UInt8(found)
        }
        return (ofValue, classMasks)
    }

    /// Classes a column may have: its values are searched linearly for theirs.
    private static let maxClasses = 16

    /// A user's policy mask (one bit per policy in evaluation order) into `mask`.
    @inline(__always)
    private func mask(
        user: Int,
        into mask: UnsafeMutableBufferPointer<UInt64>,
        values: UnsafeBufferPointer<UInt32>,
        groupSets: UnsafeBufferPointer<UInt32>,
        attributeMasks: UnsafeBufferPointer<UInt64>,
        groupMasks: UnsafeBufferPointer<UInt64>,
        testedColumns: UnsafeBufferPointer<Int>,
        maskOffset: UnsafeBufferPointer<Int>,
        classes: ClassTables,
        dates: DateTables
    ) {
        let row = user &* width
        let groupBase = Int(groupSets[user]) &* wordCount
        let dateRow = user &* dateWidth
        if wordCount == 1 {
            // Up to 64 policies, the common case: one word, no inner loop.
            var word = groupMasks[groupBase]
            for column in 0..<testedColumns.count {
                word &= attributeMasks[maskOffset[column] &+ Int(values[row &+ testedColumns[column]])]
            }
            for column in 0..<classes.columns.count {
                let value = Int(values[row &+ classes.columns[column]])
                word &=
                    attributeMasks[classes.maskOffset[column] &+ Int(classes.ofValue[classes.offset[column] &+ value])]
            }
            for column in 0..<dates.slots.count {
                let segment = dates.segment(of: dates.instants[dateRow &+ dates.slots[column]], column: column)
                word &= attributeMasks[dates.maskOffset[column] &+ segment]
            }
            mask[0] = word
            return
        }
        for word in 0..<wordCount { mask[word] = groupMasks[groupBase &+ word] }
        for column in 0..<testedColumns.count {
            let base = maskOffset[column] &+ Int(values[row &+ testedColumns[column]]) &* wordCount
            for word in 0..<wordCount { mask[word] &= attributeMasks[base &+ word] }
        }
        for column in 0..<classes.columns.count {
            let value = Int(values[row &+ classes.columns[column]])
            let base = classes.maskOffset[column] &+ Int(classes.ofValue[classes.offset[column] &+ value]) &* wordCount
            for word in 0..<wordCount { mask[word] &= attributeMasks[base &+ word] }
        }
        for column in 0..<dates.slots.count {
            let segment = dates.segment(of: dates.instants[dateRow &+ dates.slots[column]], column: column)
            let base = dates.maskOffset[column] &+ segment &* wordCount
            for word in 0..<wordCount { mask[word] &= attributeMasks[base &+ word] }
        }
    }

    /// The classed columns' tables, as buffers for the hot loop.
    private struct ClassTables {
        let columns: UnsafeBufferPointer<Int>
        let offset: UnsafeBufferPointer<Int>
        let maskOffset: UnsafeBufferPointer<Int>
        let ofValue: UnsafeBufferPointer<UInt8>
    }

    /// The tested date columns' tables and the users' instants, as buffers for the hot loop.
    private struct DateTables {
        let instants: UnsafeBufferPointer<Int64>
        let slots: UnsafeBufferPointer<Int>
        let boundaryStart: UnsafeBufferPointer<Int>
        let boundaryCount: UnsafeBufferPointer<Int>
        let maskOffset: UnsafeBufferPointer<Int>
        let boundaries: UnsafeBufferPointer<Int64>

        /// The segment of an instant in a tested date column: how many of its boundaries lie at or
        /// below it. A count of comparisons, without branches, for the few boundaries of real
        /// policies; a binary search when a text test on dates made many.
        @inline(__always)
        func segment(of instant: Int64, column: Int) -> Int {
            let start = boundaryStart[column]
            let count = boundaryCount[column]
            if count <= 16 {
                var segment = 0
                for index in start..<(start &+ count) { segment &+= instant >= boundaries[index] ? 1 : 0 }
                return segment
            }
            var low = start
            var high = start &+ count
            while low < high {
                let middle = (low &+ high) >> 1
                if boundaries[middle] <= instant { low = middle &+ 1 } else { high = middle }
            }
            return low &- start
        }
    }

    /// Every policy (index, ascending) that matches the user.
    func matchedPolicies(user: Int, tenant: TenantModel) -> [Int] {
        var words = [UInt64](repeating: 0, count: wordCount)
        words.withUnsafeMutableBufferPointer { words in
            withTables(tenant) {
                values,
                groupSets,
                attributeMasks,
                groupMasks,
                testedColumns,
                maskOffset,
                classes,
                dates in
                mask(
                    user: user,
                    into: words,
                    values: values,
                    groupSets: groupSets,
                    attributeMasks: attributeMasks,
                    groupMasks: groupMasks,
                    testedColumns: testedColumns,
                    maskOffset: maskOffset,
                    classes: classes,
                    dates: dates
                )
            }
        }
        for exclusion in exclusions where exclusion.user == user {
            words[exclusion.position / 64] &= ~(1 << UInt64(exclusion.position % 64))
        }
        var matched: [Int] = []
        for (word, bits) in words.enumerated() {
            var remaining = bits
            while remaining != 0 {
                matched.append(policyAt[word * 64 + remaining.trailingZeroBitCount])
                remaining &= remaining - 1
            }
        }
        return matched.sorted()
    }

    private func withTables<Result>(
        _ tenant: TenantModel,
        _ body: (
            UnsafeBufferPointer<UInt32>, UnsafeBufferPointer<UInt32>, UnsafeBufferPointer<UInt64>,
            UnsafeBufferPointer<UInt64>,
            UnsafeBufferPointer<Int>, UnsafeBufferPointer<Int>, ClassTables, DateTables
        ) -> Result
    ) -> Result {
        tenant.columns.indices.withUnsafeBufferPointer { values in
            tenant.groupSetOfUser.withUnsafeBufferPointer { groupSets in
                attributeMasks.withUnsafeBufferPointer { attributeMasks in
                    groupMasks.withUnsafeBufferPointer { groupMasks in
                        testedColumns.withUnsafeBufferPointer { testedColumns in
                            maskOffset.withUnsafeBufferPointer { maskOffset in
                                classedColumns.withUnsafeBufferPointer { classedColumns in
                                    classOffset.withUnsafeBufferPointer { classOffset in
                                        classMaskOffset.withUnsafeBufferPointer { classMaskOffset in
                                            valueClasses.withUnsafeBufferPointer { valueClasses in
                                                tenant.columns.instants.withUnsafeBufferPointer { instants in
                                                    dateSlots.withUnsafeBufferPointer { dateSlots in
                                                        boundaryStart.withUnsafeBufferPointer { boundaryStart in
                                                            boundaryCount.withUnsafeBufferPointer { boundaryCount in
                                                                segmentMaskOffset.withUnsafeBufferPointer {
                                                                    segmentMaskOffset in
                                                                    boundaries.withUnsafeBufferPointer { boundaries in
                                                                        body(
                                                                            values,
                                                                            groupSets,
                                                                            attributeMasks,
                                                                            groupMasks,
                                                                            testedColumns,
                                                                            maskOffset,
                                                                            ClassTables(
                                                                                columns: classedColumns,
                                                                                offset: classOffset,
                                                                                maskOffset: classMaskOffset,
                                                                                ofValue: valueClasses
                                                                            ),
                                                                            DateTables(
                                                                                instants: instants,
                                                                                slots: dateSlots,
                                                                                boundaryStart: boundaryStart,
                                                                                boundaryCount: boundaryCount,
                                                                                maskOffset: segmentMaskOffset,
                                                                                boundaries: boundaries
                                                                            )
                                                                        )
                                                                    }
                                                                }
                                                            }
                                                        }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The trie node of every user (or of `only` these users, ascending; the others get node 0),
    /// and the matched effects of every node (node 0: none).
    func matchAll(tenant: TenantModel, only subset: [Int]? = nil) -> (nodeOfUser: [UInt32], effectsOfNode: [[Int]]) {
        let userCount = tenant.userCount
        var nodeOfUser = [UInt32](repeating: 0, count: userCount)
        // transitions[node * effectCount + effect]: the child node, or 0 when not made yet.
        var transitions = [UInt32](repeating: 0, count: effectCount)
        var effectsOfNode: [[Int]] = [[]]
        var scratch = [UInt64](repeating: 0, count: wordCount)
        var nextExclusion = 0
        let effectCount = self.effectCount
        let wordCount = self.wordCount
        withTables(tenant) { values, groupSets, attributeMasks, groupMasks, testedColumns, maskOffset, classes, dates in
            effectAt.withUnsafeBufferPointer { effectAt in
                scratch.withUnsafeMutableBufferPointer { words in
                    let count = subset?.count ?? userCount
                    for position in 0..<count {
                        let user = subset?[position] ?? position
                        mask(
                            user: user,
                            into: words,
                            values: values,
                            groupSets: groupSets,
                            attributeMasks: attributeMasks,
                            groupMasks: groupMasks,
                            testedColumns: testedColumns,
                            maskOffset: maskOffset,
                            classes: classes,
                            dates: dates
                        )
                        while nextExclusion < exclusions.count, exclusions[nextExclusion].user <= user {
                            let exclusion = exclusions[nextExclusion]
                            if exclusion.user == user {
                                words[exclusion.position / 64] &= ~(1 << UInt64(exclusion.position % 64))
                            }
                            nextExclusion += 1
                        }
                        var node = 0
                        var lastEffect = -1
                        for word in 0..<wordCount {
                            var bits = words[word]
                            while bits != 0 {
                                let effect = Int(effectAt[word &* 64 &+ bits.trailingZeroBitCount])
                                bits &= bits &- 1
                                guard effect != lastEffect else { continue }
                                lastEffect = effect
                                let slot = node &* effectCount &+ effect
                                var child = Int(transitions[slot])
                                if child == 0 {
                                    child = effectsOfNode.count
                                    effectsOfNode.append(effectsOfNode[node] + [effect])
                                    transitions[slot] = UInt32(child)
                                    transitions.append(contentsOf: repeatElement(0, count: effectCount))
                                }
                                node = child
                            }
                        }
                        nodeOfUser[user] = UInt32(node)
                    }
                }
            }
        }
        return (nodeOfUser, effectsOfNode)
    }
}
