import BulkheadModel
import Testing

struct RedTeamFinalModelTests {
    @Test("Every other user's subordinate range is reserved: bulkhead's own line and malformed lines are not, a range past 2^32 is cut")
    func delegatedRanges() {
        let text = "alice:100000:65536\nbulkhead:2000000000:65536\n# comment\nbob:x:1\n1001:165536:65536\ncarol:4294967000:1000\nzero:5:0\n"
        let d = SubordinateIDs.delegated(in: text)
        #expect(d.map(\.line) == [1, 5, 6])
        #expect(d.map(\.range) == [IDRange(hostStart: 100000, count: 65536), IDRange(hostStart: 165536, count: 65536),
                                   IDRange(hostStart: 4294967000, count: 296)])
        #expect(IDRange(hostStart: 131072, count: 65536).overlaps(d[0].range) && !IDRange(hostStart: 231072, count: 1).overlaps(d[1].range))
    }
}
