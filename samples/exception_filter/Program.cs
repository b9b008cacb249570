// exception_filter: an exception thrown inside an exception filter is swallowed by the runtime and
// the filter counts as false, so the search goes on and the outer handler catches the original
// exception (ECMA-335 II.19). A control filter that returns true still decides normally.
// {"app": "exception_filter", ..., "filter_runs": 1, "inner_catch_ran": false,
//  "outer_caught_original": true, "filter_exception_escaped": false, "control_filter_caught": true, "ok": true}
using System;
using RuntimeBase.Samples;

var report = new AppReport("exception_filter", args);
var original = new ApplicationException("original");
int filterRuns = 0;
bool innerCatchRan = false, outerCaughtOriginal = false, filterExceptionEscaped = false;

bool ThrowingFilter()
{
    filterRuns++;
    throw new InvalidOperationException("thrown inside the filter");
}

try
{
    try
    {
        throw original;
    }
    catch (ApplicationException) when (ThrowingFilter())
    {
        innerCatchRan = true;
    }
}
catch (ApplicationException e) when (ReferenceEquals(e, original))
{
    outerCaughtOriginal = true;
}
catch (InvalidOperationException)
{
    filterExceptionEscaped = true;
}

bool controlFilterCaught = false;
try
{
    throw new ApplicationException("control");
}
catch (ApplicationException e) when (e.Message == "control")
{
    controlFilterCaught = true;
}

bool ok = filterRuns == 1 && !innerCatchRan && outerCaughtOriginal && !filterExceptionEscaped && controlFilterCaught;
return report
    .Add("filter_runs", filterRuns)
    .Add("inner_catch_ran", innerCatchRan)
    .Add("outer_caught_original", outerCaughtOriginal)
    .Add("filter_exception_escaped", filterExceptionEscaped)
    .Add("control_filter_caught", controlFilterCaught)
    .Finish(ok);
