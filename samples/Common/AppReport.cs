// The one JSON line every sample app prints, the contract of reference/apps/app_common.h:
//   {"app", "pid", "instance", "runtime_path", "version", then the app's own keys in a fixed order}
// "instance" is the load address of the Runtime.Base module in this process (16 hex digits); built
// as a stock NativeAOT app (STOCK_NATIVEAOT, Directory.Build.props) the runtime is linked into the
// executable itself, so that is the runtime's module.
// --hold: after the line is printed, read stdin to its end, so a caller can hold many processes
// alive at once (the share stage) and release them by closing the pipe.
// Exit codes: 0 success, 1 a check failed, 2 runtime failure or bad usage.
using System;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO;
using System.Reflection;
using System.Text;

namespace RuntimeBase.Samples;

internal sealed class AppReport
{
    private static readonly string[] RuntimeFiles = { "Runtime.Base.dll", "libRuntime.Base.so" };

    private readonly StringBuilder _json = new();
    private readonly string _name;
    private readonly bool _hold;

    public AppReport(string name, string[] args)
    {
        _name = name;
        foreach (string arg in args)
        {
            if (arg == "--hold")
                _hold = true;
            else
                Fail(2, $"unknown argument {arg} (usage: {name} [--hold])");
        }
        ProcessModule? runtime = RuntimeModule();
        if (runtime is null)
            Fail(2, "Runtime.Base is not loaded in this process");
        _json.Append('{');
        Add("app", name);
        Add("pid", Environment.ProcessId);
        Add("instance", runtime.BaseAddress.ToInt64().ToString("x16", CultureInfo.InvariantCulture));
        Add("runtime_path", runtime.FileName);
        Add("version", PackageVersion() ?? Environment.Version.ToString());
    }

    public AppReport Add(string key, string value)
    {
        Key(key);
        Quoted(value);
        return this;
    }

    public AppReport Add(string key, long value)
    {
        Key(key);
        _json.Append(value.ToString(CultureInfo.InvariantCulture));
        return this;
    }

    public AppReport Add(string key, bool value)
    {
        Key(key);
        _json.Append(value ? "true" : "false");
        return this;
    }

    /// <summary>Print the line; with --hold wait for stdin to close. Returns the exit code.</summary>
    public int Finish(bool ok = true)
    {
        Add("ok", ok);
        _json.Append('}');
        Console.Out.WriteLine(_json.ToString());
        Console.Out.Flush();
        if (_hold)
            Console.In.ReadToEnd();
        return ok ? 0 : 1;
    }

    [DoesNotReturn]
    public void Fail(int code, string message)
    {
        Console.Error.WriteLine($"{_name}: {message}");
        Environment.Exit(code);
    }

    /// <summary>The runtime package's version the app was built against (Directory.Build.props).</summary>
    private static string? PackageVersion()
    {
        foreach (AssemblyMetadataAttribute metadata in typeof(AppReport).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>())
        {
            if (metadata.Key == "RuntimeBaseVersion")
                return metadata.Value;
        }
        return null;
    }

    private static ProcessModule? RuntimeModule()
    {
#if STOCK_NATIVEAOT
        return Process.GetCurrentProcess().MainModule;
#else
        foreach (ProcessModule module in Process.GetCurrentProcess().Modules)
        {
            string file = Path.GetFileName(module.FileName);
            foreach (string runtime in RuntimeFiles)
            {
                if (string.Equals(file, runtime, StringComparison.OrdinalIgnoreCase))
                    return module;
            }
        }
        return null;
#endif
    }

    private void Key(string key)
    {
        if (_json.Length > 1)
            _json.Append(", ");
        Quoted(key);
        _json.Append(": ");
    }

    private void Quoted(string value)
    {
        _json.Append('"');
        foreach (char c in value)
        {
            if (c == '"' || c == '\\')
                _json.Append('\\').Append(c);
            else if (c < ' ')
                _json.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            else
                _json.Append(c);
        }
        _json.Append('"');
    }
}
