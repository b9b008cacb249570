// alloc: allocation-heavy GC test. Many short-lived objects of mixed sizes, a few large ones, and a
// set of survivors whose contents are checked after forced full collections (objects moved by a
// compacting GC must arrive intact).
// {"app": "alloc", ..., "rounds": 200, "allocated_bytes": N, "gen0_collections": N,
//  "gen2_collections": N, "survivors_intact": true, "ok": true}
using System;
using System.Collections.Generic;
using RuntimeBase.Samples;

const int Rounds = 200;
const int PerRound = 10_000;
const int SurvivorSize = 1024;

var report = new AppReport("alloc", args);
int gen0Before = GC.CollectionCount(0), gen2Before = GC.CollectionCount(2);
long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
var survivors = new List<byte[]>();
long expected = 0;

for (int round = 0; round < Rounds; round++)
{
    var garbage = new object[PerRound];
    for (int i = 0; i < PerRound; i++)
        garbage[i] = i % 100 == 0 ? new byte[100_000] : new byte[16 + i % 64];
    var survivor = new byte[SurvivorSize];
    survivor.AsSpan().Fill((byte)round);
    survivors.Add(survivor);
    expected += (long)(byte)round * SurvivorSize;
    if (round % 50 == 49)
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
}
GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);

long checksum = 0;
foreach (byte[] survivor in survivors)
    foreach (byte b in survivor)
        checksum += b;

int gen0 = GC.CollectionCount(0) - gen0Before, gen2 = GC.CollectionCount(2) - gen2Before;
long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
bool intact = checksum == expected;
return report
    .Add("rounds", Rounds)
    .Add("allocated_bytes", allocated)
    .Add("gen0_collections", gen0)
    .Add("gen2_collections", gen2)
    .Add("survivors_intact", intact)
    .Finish(intact && gen2 >= Rounds / 50 && allocated > (long)Rounds * PerRound * 16);
