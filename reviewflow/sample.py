"""A small sample repository with a planted bug, for trying reviewflow and for its tests."""

import subprocess
from pathlib import Path

BASE_FILES = {
    "inventory/stock.py": '''"""Stock keeping."""


def total_quantity(items):
    return sum(item["qty"] for item in items)


def restock(item, amount):
    item["qty"] += amount
    return item
''',
    "inventory/report.py": """from inventory.stock import total_quantity


def summary(items):
    return f"{len(items)} items, {total_quantity(items)} units"
""",
    "README.md": "# inventory\n",
}

FEATURE_FILES = {
    # the planted bugs: a mutable default argument shared across calls, and an identity
    # comparison with a string literal
    "inventory/orders.py": '''"""Orders."""


def add_order(order, pending=[]):
    pending.append(order)
    return pending


def is_express(order):
    return order["kind"] is "express"


def order_total(order):
    return sum(line["price"] * line["qty"] for line in order["lines"])
''',
    "inventory/stock.py": '''"""Stock keeping."""


def total_quantity(items):
    return sum(item["qty"] for item in items)


def restock(item, amount):
    if amount < 0:
        raise ValueError("amount must not be negative")
    item["qty"] += amount
    return item
''',
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def write(repo: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def make_sample_repo(repo: Path) -> Path:
    """Create ``repo`` with branch ``main`` and a branch ``feature`` that adds the bugs."""
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "sample@example.com")
    git(repo, "config", "user.name", "Sample Author")
    write(repo, BASE_FILES)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Inventory basics")
    git(repo, "checkout", "-qb", "feature")
    write(repo, FEATURE_FILES)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Add orders and validate restock amounts")
    return repo
