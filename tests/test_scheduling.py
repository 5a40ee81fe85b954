"""The order the tests are handed to pytest-xdist in (tests/scheduling.py)."""

from dataclasses import dataclass, field
from types import SimpleNamespace

from xdist.scheduler.worksteal import WorkStealingScheduling

from tests.scheduling import balanced_order, share_sizes


@dataclass
class FakeItem:
    nodeid: str
    module_name: str
    slow: bool = False
    module_fixture: bool = False
    module: SimpleNamespace = field(init=False)
    _fixtureinfo: SimpleNamespace = field(init=False)

    def __post_init__(self):
        self.module = SimpleNamespace(__name__=self.module_name)
        scope = "module" if self.module_fixture else "function"
        self._fixtureinfo = SimpleNamespace(
            name2fixturedefs={"book": [SimpleNamespace(scope=scope)]}
        )

    def get_closest_marker(self, name):
        return self.slow if name == "slow" else None


@dataclass
class FakeNode:
    """A pytest-xdist worker as its scheduler sees it: it only records what it was sent."""

    name: str
    sent: list = field(default_factory=list)
    shutting_down: bool = False

    @property
    def gateway(self):
        return SimpleNamespace(id=self.name)

    def send_runtest_some(self, indices):
        self.sent.append(list(indices))

    def __hash__(self):
        return hash(self.name)


def test_the_shares_are_the_ones_xdist_worksteal_sends_first():
    """Each worker's first share is as long as the real worksteal scheduler makes it."""
    config = SimpleNamespace(getvalue=lambda name: ["6*popen"])
    scheduler = WorkStealingScheduling(config)
    nodes = [FakeNode(f"gw{n}") for n in range(6)]
    collection = [f"tests/test_a.py::test_{n}" for n in range(103)]
    for node in nodes:
        scheduler.add_node(node)
    for node in nodes:
        scheduler.add_node_collection(node, collection)
    scheduler.schedule()

    assert [len(node.sent[0]) for node in nodes] == share_sizes(103, 6)
    assert [index for node in nodes for index in node.sent[0]] == list(range(103))


def test_long_tests_are_dealt_longest_first_to_the_least_loaded_share_and_start_it():
    items = [FakeItem(f"tests/test_a.py::test_{n}", "a") for n in range(54)]
    long_ones = {f"tests/test_b.py::test_long_{n}": 10.0 * (n + 1) for n in range(6)}
    items[10:10] = [FakeItem(nodeid, "b") for nodeid in long_ones]

    order = balanced_order(items, 6, long_ones)

    assert sorted(item.nodeid for item in order) == sorted(item.nodeid for item in items)
    shares = [order[i * 10 : (i + 1) * 10] for i in range(6)]
    firsts = [share[0].nodeid for share in shares]
    assert firsts == sorted(long_ones, key=lambda nodeid: -long_ones[nodeid])
    assert all(item.nodeid not in long_ones for share in shares for item in share[1:])


def test_a_test_marked_slow_counts_as_long_and_a_module_fixture_keeps_its_tests_together():
    items = [FakeItem(f"tests/test_a.py::test_{n}", "a") for n in range(20)]
    items += [FakeItem(f"tests/test_s.py::test_{n}", "s", slow=True) for n in range(2)]
    items += [
        FakeItem(f"tests/test_book.py::test_{n}", "book", module_fixture=True) for n in range(3)
    ]
    durations = {f"tests/test_book.py::test_{n}": 5.0 for n in range(3)}

    order = balanced_order(items, 5, durations)
    shares = [order[i * 5 : (i + 1) * 5] for i in range(5)]

    book_shares = {
        i for i, share in enumerate(shares) for item in share if item.module_name == "book"
    }
    assert len(book_shares) == 1
    slow_shares = {i for i, share in enumerate(shares) for item in share if item.slow}
    assert len(slow_shares) == 2 and not slow_shares & book_shares
    assert [share[0].module_name for share in shares].count("a") == 2
