"""Time `seed_demo` at a given scale on PostgreSQL and print the figures: what was seeded
(subscriptions, ledger events, cases, lost customers, outreach, comebacks) and how long it
took, start to commit.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/tack_bench \
       .venv/bin/python bench/seed_demo.py [customers]
"""

import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    customers = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    env = {**os.environ, "DJANGO_DEBUG": "1"}
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tack_bench")
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    started = time.monotonic()
    seeded = subprocess.run(
        [python, "manage.py", "seed_demo", f"--customers={customers}", "--flush", "--seed=1"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    elapsed = time.monotonic() - started
    summary = next(line for line in seeded.stdout.splitlines() if line.startswith("Seeded"))
    print(summary)
    print(f"| seed_demo | {customers:,} subscriptions | {elapsed:.1f} s |")


if __name__ == "__main__":
    main()
