"""What a release's version means to the loader: the major in the ELF soname, the numbers in a
Windows VERSIONINFO resource. The version itself has one source per runtime: reference/runtime/VERSION
for the reference runtime, eng/Versions.props (ci.runtime.fork.link.version) for the fork.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ci.core.errors import CiError

# <major>.<minor>.<patch> and an optional -label / +build, as both version sources write it.
# Hand-written: packaging.version rejects "10.0.0-ref.1" style labels, and only three numbers matter.
_VERSION = re.compile(r"(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)(?:[-+][0-9A-Za-z.+-]*)?")

#: VS_FIXEDFILEINFO values (winver.h): VOS_NT_WINDOWS32 and VFT_DLL.
_VOS_NT_WINDOWS32 = 0x40004
_VFT_DLL = 0x2


@dataclass(frozen=True)
class Version:
    text: str
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _VERSION.fullmatch(text)
        if match is None:
            raise CiError(f"version {text!r} is not <major>.<minor>.<patch>[-label]")
        return cls(text, int(match["major"]), int(match["minor"]), int(match["patch"]))


def _rc_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def version_resource(version: Version, file_name: str, description: str) -> str:
    """A VERSIONINFO resource script (resource id 1), readable by windres and llvm-rc alike."""
    numbers = f"{version.major},{version.minor},{version.patch},0"
    strings = {"CompanyName": "Runtime.Base", "FileDescription": description, "FileVersion": version.text,
               "InternalName": file_name.rsplit(".", 1)[0], "OriginalFilename": file_name,
               "ProductName": "Runtime.Base", "ProductVersion": version.text}
    values = "".join(f"      VALUE {_rc_string(k)}, {_rc_string(v)}\n" for k, v in strings.items())
    return (f"1 VERSIONINFO\nFILEVERSION {numbers}\nPRODUCTVERSION {numbers}\nFILEFLAGSMASK 0x3f\nFILEFLAGS 0x0\n"
            f"FILEOS {_VOS_NT_WINDOWS32:#x}\nFILETYPE {_VFT_DLL:#x}\nFILESUBTYPE 0x0\nBEGIN\n"
            f'  BLOCK "StringFileInfo"\n  BEGIN\n    BLOCK "040904b0"\n    BEGIN\n{values}    END\n  END\n'
            f'  BLOCK "VarFileInfo"\n  BEGIN\n    VALUE "Translation", 0x409, 1200\n  END\nEND\n')
