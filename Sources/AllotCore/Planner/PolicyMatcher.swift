/// The planner's hot loop: which policies, and so which licensing effects, match each user.
///
/// Every clause is turned into tables of policy bitmasks at compile time, so that matching
/// a user is a few loads and ANDs, with no branch per policy:
/// - per attribute column that some policy tests, and per distinct value of that column, the
///   policies whose tests on that column all hold for the value and whose `exclude.attributes`
///   conditions on that column all fail (a user excluded by any one condition is excluded, so
///   exclusions split by column like the tests);
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
    /// Tested columns with many distinct values (sign-in times: up to one per user) but few
    /// distinct masks: each value maps to a one-byte class, and the class to its mask. A
    /// million-entry mask table is 8 MB a column that every user reads at random; the classes
    /// are 1 MB, which the cache holds.
    private let classedColumns: [Int]
    /// `valueClasses[classOffset[k] + value]`.
    private let classOffset: [Int]
    private let classMaskOffset: [Int]
    private let valueClasses: [UInt8]
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

        var groupMasks = [UInt64](repeating: 0, count: tenant.groupSets.count * words)
        for (set, groups) in tenant.groupSets.enumerated() {
            let members = Set(groups.map(Int.init))
            for (position, index) in order.enumerated() {
                let policy = compiled[index]
                let passes = policy.groupFilter.map { !$0.isDisjoint(with: members) } ?? true
                if passes, policy.excludedGroups.isDisjoint(with: members) { setBit(position, in: &groupMasks, entry: set) }
            }
        }
        self.groupMasks = groupMasks
        exclusions = order.enumerated()
            .flatMap { position, index in compiled[index].excludedUsers.map { (user: $0, position: position) } }
            .sorted { $0.user < $1.user }
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
                if words == 1 ? classMasks[start] == masks[row] : classMasks[start..<(start + words)].elementsEqual(masks[row..<(row + words)]) {
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
        user: Int, into mask: UnsafeMutableBufferPointer<UInt64>, values: UnsafeBufferPointer<UInt32>,
        groupSets: UnsafeBufferPointer<UInt32>, attributeMasks: UnsafeBufferPointer<UInt64>, groupMasks: UnsafeBufferPointer<UInt64>,
        testedColumns: UnsafeBufferPointer<Int>, maskOffset: UnsafeBufferPointer<Int>, classes: ClassTables
    ) {
        let row = user &* width
        let groupBase = Int(groupSets[user]) &* wordCount
        if wordCount == 1 {
            // Up to 64 policies, the common case: one word, no inner loop.
            var word = groupMasks[groupBase]
            for column in 0..<testedColumns.count {
                word &= attributeMasks[maskOffset[column] &+ Int(values[row &+ testedColumns[column]])]
            }
            for column in 0..<classes.columns.count {
                let value = Int(values[row &+ classes.columns[column]])
                word &= attributeMasks[classes.maskOffset[column] &+ Int(classes.ofValue[classes.offset[column] &+ value])]
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
    }

    /// The classed columns' tables, as buffers for the hot loop.
    private struct ClassTables {
        let columns: UnsafeBufferPointer<Int>
        let offset: UnsafeBufferPointer<Int>
        let maskOffset: UnsafeBufferPointer<Int>
        let ofValue: UnsafeBufferPointer<UInt8>
    }

    /// Every policy (index, ascending) that matches the user.
    func matchedPolicies(user: Int, tenant: TenantModel) -> [Int] {
        var words = [UInt64](repeating: 0, count: wordCount)
        words.withUnsafeMutableBufferPointer { words in
            withTables(tenant) { values, groupSets, attributeMasks, groupMasks, testedColumns, maskOffset, classes in
                mask(user: user, into: words, values: values, groupSets: groupSets, attributeMasks: attributeMasks, groupMasks: groupMasks,
                     testedColumns: testedColumns, maskOffset: maskOffset, classes: classes)
            }
        }
        for exclusion in exclusions where exclusion.user == user { words[exclusion.position / 64] &= ~(1 << UInt64(exclusion.position % 64)) }
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
        _ body: (UnsafeBufferPointer<UInt32>, UnsafeBufferPointer<UInt32>, UnsafeBufferPointer<UInt64>, UnsafeBufferPointer<UInt64>,
            UnsafeBufferPointer<Int>, UnsafeBufferPointer<Int>, ClassTables) -> Result
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
            body(values, groupSets, attributeMasks, groupMasks, testedColumns, maskOffset,
                 ClassTables(columns: classedColumns, offset: classOffset, maskOffset: classMaskOffset, ofValue: valueClasses))
        }}}}}}}}}}
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
        withTables(tenant) { values, groupSets, attributeMasks, groupMasks, testedColumns, maskOffset, classes in
        effectAt.withUnsafeBufferPointer { effectAt in
        scratch.withUnsafeMutableBufferPointer { words in
            let count = subset?.count ?? userCount
            for position in 0..<count {
                let user = subset?[position] ?? position
                mask(user: user, into: words, values: values, groupSets: groupSets, attributeMasks: attributeMasks, groupMasks: groupMasks,
                     testedColumns: testedColumns, maskOffset: maskOffset, classes: classes)
                while nextExclusion < exclusions.count, exclusions[nextExclusion].user <= user {
                    let exclusion = exclusions[nextExclusion]
                    if exclusion.user == user { words[exclusion.position / 64] &= ~(1 << UInt64(exclusion.position % 64)) }
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
        }}}
        return (nodeOfUser, effectsOfNode)
    }
}
