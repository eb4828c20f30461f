/// The planner's hot loop: which policies match each user.
///
/// Everything a match needs is flattened into a few arrays so that the loop over a
/// million users touches contiguous memory only: per test a column and a yes/no table
/// over that column's distinct values, per policy an optional group-membership filter and
/// an optional exclusion, both bitsets. The result per user is a node of a trie over the
/// sorted list of matched policies: users matching the same policies share a node, and a
/// node is what the desired licenses are computed from (once per node, not per user).
struct PolicyMatcher {
    let policyCount: Int
    private let width: Int
    /// Policy `p`'s tests are `testStart[p]..<testStart[p + 1]`.
    private let testStart: [Int32]
    private let testColumn: [Int32]
    /// Offset of each test's table in `tables`.
    private let testTable: [Int32]
    private let tables: [Bool]
    /// Offset of each policy's group filter / exclusion in `words`, or -1 for none.
    private let groupFilter: [Int32]
    private let exclusion: [Int32]
    private let words: [UInt64]

    init(policies: [CompiledPolicy], attributeColumns: Int) {
        policyCount = policies.count
        width = attributeColumns
        var testStart: [Int32] = [0]
        var testColumn: [Int32] = []
        var testTable: [Int32] = []
        var tables: [Bool] = []
        var groupFilter: [Int32] = []
        var exclusion: [Int32] = []
        var words: [UInt64] = []
        func append(_ bitset: Bitset?) -> Int32 {
            guard let bitset else { return -1 }
            defer { words.append(contentsOf: bitset.words) }
            return Int32(words.count)
        }
        for policy in policies {
            for test in policy.tests {
                testColumn.append(Int32(test.column))
                testTable.append(Int32(tables.count))
                tables.append(contentsOf: test.table)
            }
            testStart.append(Int32(testColumn.count))
            groupFilter.append(append(policy.groupFilter))
            exclusion.append(append(policy.exclusion))
        }
        self.testStart = testStart
        self.testColumn = testColumn
        self.testTable = testTable
        self.tables = tables
        self.groupFilter = groupFilter
        self.exclusion = exclusion
        self.words = words
    }

    /// Whether one policy matches one user (the slow path, for `explain`).
    func matches(policy: Int, user: Int, values: [UInt32]) -> Bool {
        let row = user * width
        for test in Int(testStart[policy])..<Int(testStart[policy + 1])
        where !tables[Int(testTable[test]) + Int(values[row + Int(testColumn[test])])] {
            return false
        }
        if groupFilter[policy] >= 0, !Self.bit(user, in: words, at: Int(groupFilter[policy])) { return false }
        if exclusion[policy] >= 0, Self.bit(user, in: words, at: Int(exclusion[policy])) { return false }
        return true
    }

    @inline(__always)
    private static func bit<Words: RandomAccessCollection<UInt64>>(_ user: Int, in words: Words, at offset: Int) -> Bool
    where Words.Index == Int {
        words[offset &+ (user &>> 6)] & (1 &<< UInt64(user & 63)) != 0
    }

    /// The trie node of every user, and the matched policies of every node (node 0: none).
    func matchAll(userCount: Int, values: [UInt32]) -> (nodeOfUser: [UInt32], policiesOfNode: [[Int]]) {
        var nodeOfUser = [UInt32](repeating: 0, count: userCount)
        var children: [UInt64: UInt32] = [:]
        var policiesOfNode: [[Int]] = [[]]
        let width = self.width
        let policyCount = self.policyCount
        values.withUnsafeBufferPointer { values in
        testStart.withUnsafeBufferPointer { testStart in
        testColumn.withUnsafeBufferPointer { testColumn in
        testTable.withUnsafeBufferPointer { testTable in
        tables.withUnsafeBufferPointer { tables in
        groupFilter.withUnsafeBufferPointer { groupFilter in
        exclusion.withUnsafeBufferPointer { exclusion in
        words.withUnsafeBufferPointer { words in
        nodeOfUser.withUnsafeMutableBufferPointer { nodeOfUser in
            for user in 0..<userCount {
                let row = user &* width
                var node: UInt32 = 0
                policies: for policy in 0..<policyCount {
                    var test = Int(testStart[policy])
                    let end = Int(testStart[policy &+ 1])
                    while test < end {
                        if !tables[Int(testTable[test]) &+ Int(values[row &+ Int(testColumn[test])])] { continue policies }
                        test &+= 1
                    }
                    let filter = groupFilter[policy]
                    if filter >= 0, !Self.bit(user, in: words, at: Int(filter)) { continue }
                    let excluded = exclusion[policy]
                    if excluded >= 0, Self.bit(user, in: words, at: Int(excluded)) { continue }
                    let key = UInt64(node) &<< 32 | UInt64(policy)
                    if let child = children[key] {
                        node = child
                    } else {
                        let child = UInt32(policiesOfNode.count)
                        policiesOfNode.append(policiesOfNode[Int(node)] + [policy])
                        children[key] = child
                        node = child
                    }
                }
                nodeOfUser[user] = node
            }
        }}}}}}}}}
        return (nodeOfUser, policiesOfNode)
    }
}
