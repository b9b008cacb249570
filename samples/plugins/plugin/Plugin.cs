// plugin_report(buffer, size): allocates on this library's own GC heap, collects, and writes one
// JSON object into `buffer` (NUL-terminated); returns its length, or -1 if `size` is too small.
//   {"object_address": "<16 hex>", "gc_committed_bytes": N, "gc_heap_bytes": N, "collections": N,
//    "gc_region_range": N, "server_gc": false}
// "object_address" is where a pinned array of this GC lives, "gc_region_range" the size of the
// address range the GC reserves for its regions (its own setting): from both, the host's caller
// finds this GC's reservation in /proc/PID/maps.
using System;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace RuntimeBase.Samples;

public static unsafe class Plugin
{
    private const int Retained = 4 << 20;  // kept alive, so each heap holds the same live data
    private static byte[]? s_kept;
    private static GCHandle s_pin;

    [UnmanagedCallersOnly(EntryPoint = "plugin_report")]
    public static int Report(byte* buffer, int size)
    {
        if (s_kept is null)
        {
            s_kept = new byte[Retained];
            for (int i = 0; i < 64; i++)
                _ = new byte[64 << 10];  // garbage for the collection below
            s_pin = GCHandle.Alloc(s_kept, GCHandleType.Pinned);
            GC.Collect();
        }
        GCMemoryInfo info = GC.GetGCMemoryInfo();
        string json = string.Create(CultureInfo.InvariantCulture,
            $"{{\"object_address\": \"{s_pin.AddrOfPinnedObject().ToInt64():x16}\", " +
            $"\"gc_committed_bytes\": {info.TotalCommittedBytes}, \"gc_heap_bytes\": {info.HeapSizeBytes}, " +
            $"\"collections\": {GC.CollectionCount(0)}, \"gc_region_range\": {Config("GCRegionRange")}, " +
            $"\"server_gc\": {(System.Runtime.GCSettings.IsServerGC ? "true" : "false")}}}");
        int length = Encoding.UTF8.GetByteCount(json);
        if (length + 1 > size)
            return -1;
        Encoding.UTF8.GetBytes(json, new Span<byte>(buffer, length));
        buffer[length] = 0;
        return length;
    }

    /// <summary>One of the GC's own settings as JSON (GC.GetConfigurationVariables), null if it has none.</summary>
    private static string Config(string name) =>
        GC.GetConfigurationVariables().TryGetValue(name, out object? value)
            ? Convert.ToString(value, CultureInfo.InvariantCulture) ?? "null" : "null";
}
