"""`python -m ci` and the `runtime-base-ci` command."""

import sys

from ci.cli import main

if __name__ == "__main__":
    sys.exit(main())
