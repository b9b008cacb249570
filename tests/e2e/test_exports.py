"""The export list: one source, written as a GNU version script and a Windows .def."""

from __future__ import annotations

import subprocess

import pytest

from ci.core.errors import CiError, InputError
from ci.runtime.exports import EXPORT_LIST, def_file, read_exports, version_script


def test_the_list_has_the_runtime_surface():
    exports = read_exports()
    names = [e.name for e in exports]
    assert names[0] == "InitializeRuntimeBase" and len(names) == 84
    assert {e.name for e in exports if e.data} == {"DotNetRuntimeDebugHeader", "g_cpuFeatures"}


def test_version_script_has_no_data_suffix_and_ld_accepts_it(tmp_path):
    script = version_script(read_exports(), 10, 0)
    assert script.startswith("RUNTIME_BASE_10.0 {") and "DATA" not in script and script.rstrip().endswith("};")
    (tmp_path / "exports.map").write_text(script)
    (tmp_path / "empty.c").write_text("int InitializeRuntimeBase(void) { return 0; }\n")
    done = subprocess.run(["gcc", "-shared", "-fPIC", "-o", tmp_path / "lib.so", tmp_path / "empty.c",
                           f"-Wl,--version-script={tmp_path / 'exports.map'}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_one_node_per_minor_each_inheriting_the_last_as_readelf_reads_it(tmp_path):
    """10.2 with an export added in 10.1: nodes 10.0, 10.1 (holding it), 10.2 (empty), chained."""
    (tmp_path / "list.txt").write_text("Old\nNew @10.1\n")
    listed = read_exports(tmp_path / "list.txt")
    assert [(e.name, e.minor) for e in listed] == [("Old", 0), ("New", 1)]
    (tmp_path / "v.map").write_text(version_script(listed, 10, 2))
    (tmp_path / "f.c").write_text("int Old(void) { return 0; }\nint New(void) { return 1; }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", tmp_path / "lib.so", tmp_path / "f.c",
                    f"-Wl,--version-script={tmp_path / 'v.map'}"], check=True)
    readelf = subprocess.run(["readelf", "-V", "--dyn-syms", "-W", tmp_path / "lib.so"], capture_output=True,
                             text=True, check=True).stdout
    assert "Name: RUNTIME_BASE_10.1" in readelf and "Parent 1: RUNTIME_BASE_10.0" in readelf
    assert "Parent 1: RUNTIME_BASE_10.1" in readelf  # 10.2's parent
    symbols = {line.split()[-1] for line in readelf.splitlines() if " FUNC " in line}
    assert {"Old@@RUNTIME_BASE_10.0", "New@@RUNTIME_BASE_10.1"} <= symbols
    with pytest.raises(CiError, match=r"New added after 10.0, the version being built"):
        version_script(listed, 10, 0)


def test_def_file_marks_data():
    text = def_file(read_exports(), "Runtime.Base.dll")
    lines = text.splitlines()
    assert lines[:2] == ["LIBRARY Runtime.Base.dll", "EXPORTS"]
    assert "    g_cpuFeatures DATA" in lines and "    RhpNewFast" in lines


@pytest.mark.parametrize("content, problem", [
    ("Foo BAR\n", "line 1: expected 'NAME [DATA] [@<major>.<minor>]'"),
    ("Foo @10\n", "line 1: expected 'NAME [DATA] [@<major>.<minor>]'"),
    ("Foo\nFoo\n", "Foo is listed twice"),
    ("# only a comment\n", "lists no exports"),
    ("Foo-Bar\n", "line 1"),
])
def test_bad_lists_are_named(tmp_path, content, problem):
    path = tmp_path / "exports.txt"
    path.write_text(content)
    with pytest.raises(InputError) as caught:
        read_exports(path)
    assert str(caught.value).startswith(f"{path}: ") and problem in str(caught.value)


def test_list_is_kept_in_one_place():
    assert EXPORT_LIST.name == "runtime-base-exports.txt" and EXPORT_LIST.parent.name in ("packaging", "_packaging")
