"""Command line: `python -m vitcourse list | run NAME | suite | bench | preflight | calibrate`
(the lab's CLI, `vitcourse.lab.cli`: the one place outside the lab that imports it)."""

import sys

from vitcourse.lab.cli import main

if __name__ == "__main__":
    sys.exit(main())
