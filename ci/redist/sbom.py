"""A CycloneDX SBOM per package (dist/runtime-base-<version>-<rid>.cdx.json), made with cyclonedx-python-lib.

It names the runtime (with the library's sha256), its source (the fork or the reference runtime, with
the commit as pedigree), the toolchain that built it, and what was linked in statically. No clock
and no random serial number: the same build gives the same bytes, so SHA256SUMS and provenance can
cover it like the archives.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

from cyclonedx.model import ExternalReference, ExternalReferenceType, HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Commit, Component, ComponentType, Pedigree
from cyclonedx.output import make_outputter
from cyclonedx.schema import OutputFormat, SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from ci.core.errors import CiError
from ci.core.fs import atomic_write_text
from ci.runtime.output import BuildOutput

SCHEMA = SchemaVersion.V1_6
#: Where each source lives; the reference runtime is part of this repository.
_SOURCES = {"fork": ("AustinWise/runtime (split-runtime fork)", "https://github.com/AustinWise/runtime"),
            "reference": ("runtime-base-ci reference runtime", None)}
_KINDS = {"source": ComponentType.FILE, "library": ComponentType.LIBRARY, "object": ComponentType.FILE}


def _sha256(value: str) -> HashType:
    return HashType(alg=HashAlgorithm.SHA_256, content=value)


def _tool(line: str) -> Component:
    """A tool from its `--version` line, e.g. 'x86_64-linux-gnu-gcc (Debian 12.2.0-14) 12.2.0' or
    'Debian LLD 14.0.6 (compatible with GNU linkers)': the version is the last dotted number outside
    parentheses, the name what precedes it; the whole line stays as the description."""
    bare = re.sub(r"\([^)]*\)", " ", line)
    numbers = list(re.finditer(r"\b\d+(?:\.\d+)+\b", bare))
    version = numbers[-1][0] if numbers else None
    name = " ".join(bare[: numbers[-1].start()].split()).removesuffix(" version") if numbers else line
    return Component(type=ComponentType.APPLICATION, name=name or line, version=version, description=line,
                     bom_ref=f"tool:{name or line}")


def _library_sha256(manifest: dict) -> str:
    return next(f["sha256"] for f in manifest["files"] if f["path"] == manifest["library"])


def _runtime(build: BuildOutput, manifest: dict) -> Component:
    source_name, vcs = _SOURCES[build.source.kind]
    commit = build.source.commit
    return Component(
        type=ComponentType.LIBRARY, name=manifest["name"], version=manifest["version"],
        bom_ref=f"runtime:{manifest['rid']}", hashes=[_sha256(_library_sha256(manifest))],
        description=f"{manifest['library']} for {manifest['rid']} ({manifest['configuration']})",
        properties=[Property(name=f"runtime-base:{key}", value=str(value)) for key, value in (
            ("rid", manifest["rid"]), ("configuration", manifest["configuration"]), ("soname", manifest["soname"]),
            ("major", manifest["major"]), ("abi_hash", manifest["abi_hash"]), ("source", build.source.kind),
            ("source_dirty", build.source.dirty), ("floor_glibc", manifest["floor"]["glibc"]))],
        pedigree=Pedigree(commits=[Commit(uid=commit, url=XsUri(f"{vcs}/commit/{commit}") if vcs else None,
                                          message=source_name)]) if commit else None,
        external_references=[ExternalReference(type=ExternalReferenceType.VCS, url=XsUri(vcs),
                                               comment=source_name)] if vcs else [],
    )


def make_sbom(build: BuildOutput, manifest: dict) -> str:
    """The SBOM as CycloneDX JSON, checked against the CycloneDX schema."""
    runtime = _runtime(build, manifest)
    inputs = [Component(type=_KINDS[i["kind"]], name=i["name"], hashes=[_sha256(i["sha256"])],
                        bom_ref=f"static:{i['name']}", description=f"{i['kind']} built or linked into {manifest['library']}")
              for i in build.static_inputs]
    epoch = datetime.fromtimestamp(manifest["source_date_epoch"], tz=UTC)
    metadata = BomMetaData(component=runtime, timestamp=epoch)
    metadata.tools.components.update(_tool(line) for line in build.toolchain)
    # The serial number names this exact package, not a random draw.
    serial = uuid.uuid5(uuid.NAMESPACE_URL, f"runtime-base:{manifest['rid']}:{_library_sha256(manifest)}")
    bom = Bom(components=inputs, metadata=metadata, serial_number=serial)
    bom.register_dependency(runtime, inputs)
    text = make_outputter(bom, OutputFormat.JSON, SCHEMA).output_as_string(indent=2) + "\n"
    if error := JsonStrictValidator(SCHEMA).validate_str(text):
        raise CiError(f"SBOM for {manifest['rid']} fails the CycloneDX {SCHEMA.to_version()} schema: {error}")
    return text


def write_sbom(build: BuildOutput, manifest: dict, dest: Path) -> Path:
    atomic_write_text(dest, make_sbom(build, manifest))
    return dest
