// threads: several threads allocate (each with its own allocation context in the runtime) and
// contend on one lock; every increment must be counted and every thread seen once.
// {"app": "threads", ..., "threads": 8, "distinct_threads": 8, "increments": 80000, "ok": true}
using System;
using System.Collections.Generic;
using System.Threading;
using RuntimeBase.Samples;

const int ThreadCount = 8;
const int Rounds = 10_000;

var report = new AppReport("threads", args);
var gate = new object();
var seen = new HashSet<int>();
long increments = 0, allocated = 0;

var workers = new Thread[ThreadCount];
for (int t = 0; t < ThreadCount; t++)
{
    workers[t] = new Thread(() =>
    {
        long local = 0;
        for (int round = 0; round < Rounds; round++)
        {
            local += new int[1 + round % 16].Length;
            lock (gate)
                increments++;
        }
        Interlocked.Add(ref allocated, local);
        lock (gate)
            seen.Add(Environment.CurrentManagedThreadId);
    });
    workers[t].Start();
}
foreach (Thread worker in workers)
    worker.Join();

long expectedAllocated = 0;
for (int round = 0; round < Rounds; round++)
    expectedAllocated += 1 + round % 16;

bool ok = seen.Count == ThreadCount && increments == (long)ThreadCount * Rounds && allocated == expectedAllocated * ThreadCount;
return report
    .Add("threads", ThreadCount)
    .Add("distinct_threads", seen.Count)
    .Add("increments", increments)
    .Finish(ok);
