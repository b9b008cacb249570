"""`packaging/` defines the redistributable and is read as data, never imported as a package."""

from __future__ import annotations

import subprocess
import sys

from ci.core import resources
from tests.conftest import REPO


def test_packaging_is_data_not_a_package():
    assert not (REPO / "packaging" / "__init__.py").exists()
    # From the checkout root (sys.path[0] == ""), `import packaging` is still PyPA's.
    done = subprocess.run([sys.executable, "-c", "import packaging.version, sys; print(packaging.version.Version('1.0'))"],
                          cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "1.0"


def test_packaging_files_come_from_packaging():
    for name in ("manifest.schema.json", "runtime-base-exports.txt", "layout.json"):
        assert resources.packaging_file(name) == REPO / "packaging" / name
    assert resources.data_file("fork-facts.json") == REPO / "ci" / "data" / "fork-facts.json"
