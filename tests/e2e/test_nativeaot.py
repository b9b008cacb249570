"""The C# samples as stock NativeAOT apps (ci.checks.nativeaot): published once per session by the
real SDK and ILCompiler, then run and measured."""

import json
import subprocess
from pathlib import Path

import pytest

from ci.checks import nativeaot, savings
from ci.checks.csharp_apps import default_dotnet
from ci.core import schemas
from ci.platforms import get_platform

pytestmark = pytest.mark.e2e

PLATFORM = get_platform("linux-x64")


@pytest.fixture(scope="session")
def published(tmp_path_factory):
    dotnet = default_dotnet()
    assert dotnet is not None, "the NativeAOT twins need dotnet on PATH"
    out = tmp_path_factory.mktemp("nativeaot") / "linux-x64"
    aot, rebuilt = nativeaot.publish_all(PLATFORM, out, dotnet)
    assert rebuilt
    return aot


@pytest.fixture(scope="session")
def measured(published):
    return nativeaot.measure(PLATFORM, published, None)


def test_unchanged_inputs_publish_nothing(published):
    again, rebuilt = nativeaot.publish_all(PLATFORM, published.root, default_dotnet())
    assert not rebuilt and again.apps == published.apps


def test_each_binary_embeds_a_runtime(published):
    for app in published.apps:
        sections = subprocess.run(["readelf", "-SW", published.path(app.path)], capture_output=True, text=True,
                                  check=True).stdout
        assert "__managedcode" in sections and "__modules" in sections, app.name
        assert "libRuntime" not in subprocess.run(["readelf", "-d", published.path(app.path)], capture_output=True,
                                                  text=True, check=True).stdout


def test_apps_run_and_report_themselves_as_their_runtime(published):
    for app in published.exes:
        done = subprocess.run([published.path(app.path)], capture_output=True, text=True, timeout=60)
        report = json.loads(done.stdout.splitlines()[0])
        assert done.returncode == 0 and report["ok"] is True and report["app"] == app.name
        assert Path(report["runtime_path"]).samefile(published.path(app.path))


def test_floor_is_non_zero_and_below_the_binary(measured):
    assert measured["problems"] == []
    for app in measured["apps"]:
        assert 0 < app["floor"]["runtime_code_bytes"] <= app["floor"]["bytes"] < app["bytes"]
        assert app["floor"]["by_library"]["libRuntime.WorkstationGC.a"] > 0
        assert app["floor"]["managed_code_bytes"] > 0


def test_n_plugins_give_n_runtimes_and_n_gc_heaps(measured):
    hosts = measured["plugin_hosts"]
    assert [h["n"] for h in hosts] == list(nativeaot.PLUGIN_COUNTS)
    for h in hosts:
        assert h["runtimes"] == h["n"] and h["gc_heaps"] == h["n"]
        assert h["runtime_threads"].get(".NET Finalizer") == h["n"]
    assert hosts[-1]["gc_reserved_kib"] > hosts[0]["gc_reserved_kib"] * 3


def test_entry_is_schema_valid_and_tabled(measured, tmp_path):
    entry = {"nativeaot": measured, "plugin_host": None}
    doc_entry = {"rid": "linux-x64", "package": "p.tar.gz", "version": "1", "how": "native",
                 "disk": {"runtime_bytes": 1, "binaries": [{"app": "hello", "kind": "exe", "split_bytes": 1, "self_contained_bytes": 2}], "split_total_bytes": 1, "self_contained_total_bytes": 1,
                          "mean_split_bytes": 1, "mean_self_contained_bytes": 1, "private_runtime_bytes": 0,
                          "break_even_n": None, "by_n": [{"n": 1, "split_bytes": 1, "self_contained_bytes": 1}]},
                 "memory": None, "plugin_host": None, "problems": [], "ok": True,
                 "nativeaot": {k: v for k, v in measured.items() if k != "problems"}}
    schemas.dump("savings", {"schema_version": 1, "platforms": {"linux-x64": doc_entry}}, tmp_path / "s.json")
    rows = savings.nativeaot_rows(entry)
    assert any("real SDK, real ILC, real link" in r[2] for r in rows)
    assert any(r[0].startswith("NativeAOT plugin host, 4 plugins") for r in rows)
