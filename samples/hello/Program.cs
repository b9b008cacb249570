// hello: starts on Runtime.Base, allocates a string at run time, reports.
// {"app": "hello", ..., "message": "Hello from Runtime.Base", "cpu_count": N, "ok": true}
using System;
using RuntimeBase.Samples;

var report = new AppReport("hello", args);
string message = string.Join(' ', new[] { "Hello", "from", "Runtime.Base" });
return report
    .Add("message", message)
    .Add("cpu_count", Environment.ProcessorCount)
    .Finish(message == "Hello from Runtime.Base");
