"""Write tests/durations.json from a JUnit XML report of a whole run (``make durations``).

Only tests that take a second or more are kept: tests/scheduling.py counts the rest as short.
"""

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "durations.json"


def main(report: str) -> None:
    durations = {}
    root = ET.parse(report).getroot()  # noqa: S314 - our own test report
    for case in root.iter("testcase"):
        module = case.get("classname", "").replace(".", "/")
        nodeid = f"{module}.py::{case.get('name')}"
        seconds = float(case.get("time", 0))
        if seconds >= 1:
            durations[nodeid] = round(seconds, 1)
    OUT.write_text(json.dumps(dict(sorted(durations.items())), indent=1) + "\n")
    print(f"{len(durations)} tests of a second or more written to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
