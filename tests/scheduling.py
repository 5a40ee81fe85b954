"""The order pytest-xdist gets the tests in, so that the long ones spread over the workers.

``--dist worksteal`` hands each worker an equal, contiguous share of the collected tests, and
an idle worker later takes the second half of the longest queue. Collected as written, the
long tests (fault injection, fuzzing, browsers) cluster in a few modules and so in one or two
workers' shares, and the run ends with one worker going through them alone. Here each share
gets its long tests first, dealt longest-first to the share with the least work so far, and
is then filled with the short tests, so that what is stolen later is short.

How long each test takes comes from ``tests/durations.json`` (``make durations`` writes it
from a whole run); a test not listed counts as short, one marked ``slow`` as long.
"""

import json
from collections import defaultdict
from pathlib import Path

import pytest

DURATIONS_FILE = Path(__file__).with_name("durations.json")
SHORT = 0.3  # seconds, for a test not in the file
SLOW = 15.0  # seconds, for a test marked slow but not in the file


def load_durations() -> dict[str, float]:
    try:
        return json.loads(DURATIONS_FILE.read_text())
    except (OSError, ValueError):
        return {}


def share_sizes(count: int, workers: int) -> list[int]:
    """The sizes of the first shares pytest-xdist's worksteal scheduler sends (in order)."""
    sizes = []
    for i in range(workers):
        size = count // (workers - i)
        sizes.append(size)
        count -= size
    return sizes


def _units(items: list[pytest.Item]) -> list[list[pytest.Item]]:
    """Tests that share a module-scoped fixture stay together (they share its set-up)."""
    units: dict[object, list[pytest.Item]] = defaultdict(list)
    for item in items:
        defs = getattr(item, "_fixtureinfo", None)
        shared = defs and any(
            fixture.scope == "module"
            for fixtures in defs.name2fixturedefs.values()
            for fixture in fixtures
        )
        units[item.module.__name__ if shared else item.nodeid].append(item)
    return list(units.values())


def balanced_order(
    items: list[pytest.Item], workers: int, durations: dict[str, float]
) -> list[pytest.Item]:
    def seconds(item: pytest.Item) -> float:
        if item.nodeid in durations:
            return durations[item.nodeid]
        return SLOW if item.get_closest_marker("slow") else SHORT

    sizes = share_sizes(len(items), workers)
    shares: list[list[pytest.Item]] = [[] for _ in range(workers)]
    load = [0.0] * workers

    def least_loaded_with_room(need: int) -> int:
        open_ = [i for i in range(workers) if len(shares[i]) + need <= sizes[i]]
        return min(open_, key=lambda i: (load[i], i))

    units = _units(items)
    long_units = [unit for unit in units if sum(map(seconds, unit)) >= 2 * SHORT]
    short_units = [unit for unit in units if sum(map(seconds, unit)) < 2 * SHORT]
    for unit in sorted(long_units, key=lambda unit: -sum(map(seconds, unit))):
        i = least_loaded_with_room(len(unit))
        shares[i] += unit
        load[i] += sum(map(seconds, unit))
    for unit in short_units:  # in collection order: a module's tests stay mostly together
        i = least_loaded_with_room(len(unit))
        shares[i] += unit
        load[i] += sum(map(seconds, unit))
    return [item for share in shares for item in share]
