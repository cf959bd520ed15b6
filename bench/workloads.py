"""Workloads for the real-size benchmark, generated deterministically from a seed.

A workload is a git repository with a ``main`` branch and a ``feature`` branch (the pull
request) plus the fake LLM's latency law. Everything comes from ``random.Random(seed)``, so the
same seed gives byte-identical repositories and the same latency per request on every run (the
latency of a call is drawn from a hash of its prompt, not from a shared stream: the engine and
the in-process reviewer see the same latency for the same call, whatever their order).

- **realistic**: a ~50k-line repository of Python, JavaScript and TypeScript modules whose
  functions call each other across files; the pull request changes 40 files, ~2,000 changed
  lines; LLM latency log-normal with median 2 s and p95 8 s.
- **large**: the same repository with 200 changed files (the budgets say what was skipped).
- **balanced**: a smaller change, with a fixed LLM latency tuned so the three heavy stages take
  about the same time.
- **huge**: a ~1M-line repository (callers of the changed functions across it), for the AST
  branch alone.
- **push**: one more commit on the realistic pull request that changes one line.
"""

import hashlib
import math
import random
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

LANGUAGES = ("py", "js", "ts")


@dataclass(frozen=True)
class Shape:
    files: int  # modules in the repository
    functions: int  # functions per module
    body: int  # lines per function body
    changed_files: int
    changed_functions: int  # functions rewritten per changed file
    new_functions: int  # functions added per changed file


REALISTIC = Shape(
    files=330, functions=10, body=13, changed_files=40, changed_functions=1, new_functions=2
)
LARGE = Shape(
    files=330, functions=10, body=13, changed_files=200, changed_functions=1, new_functions=2
)
BALANCED = Shape(
    files=2000, functions=10, body=13, changed_files=12, changed_functions=1, new_functions=2
)
HUGE = Shape(
    files=6600, functions=10, body=13, changed_files=10, changed_functions=2, new_functions=1
)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _module(lang: str, index: int) -> str:
    return f"mod_{index:05d}.{lang}"


def _path(lang: str, index: int) -> str:
    return f"src/pkg_{index % 17:02d}/{_module(lang, index)}"


def _function(
    lang: str, name: str, callee: str | None, body: int, rng: random.Random, tag: str
) -> list[str]:
    """One function of ``body`` lines that calls ``callee`` (another module's function)."""
    ops = ["+", "-", "*"]
    lines: list[str] = []
    if lang == "py":
        lines.append(f"def {name}(value, scale=2):")
        lines.append(f'    """{tag} {name}."""')
        for k in range(body - 4):
            lines.append(f"    value = value {rng.choice(ops)} {rng.randint(1, 97)}  # step {k}")
        lines.append(f"    value = {callee}(value)" if callee else "    value = value * scale")
        lines.append("    return value")
        lines.append("")
    else:
        typed = lang == "ts"
        signature = "value: number, scale: number = 2): number" if typed else "value, scale = 2)"
        lines.append(f"export function {name}({signature} {{")
        lines.append(f"  // {tag} {name}")
        for k in range(body - 4):
            lines.append(f"  value = value {rng.choice(ops)} {rng.randint(1, 97)}; // step {k}")
        lines.append(f"  value = {callee}(value);" if callee else "  value = value * scale;")
        lines.append("  return value;")
        lines.append("}")
    return lines


def _fn_name(index: int, k: int) -> str:
    return f"f{index:05d}_{k}"


def _render(index: int, shape: Shape, seed: int, changed: bool, extra: int = 0) -> tuple[str, str]:
    """The text of module ``index`` on main, or on the feature branch when ``changed``."""
    lang = LANGUAGES[index % len(LANGUAGES)]
    rng = random.Random(f"{seed}:{index}")
    # callees: functions of the next few modules of the same language (callers across files)
    callees = []
    for _ in range(shape.functions):
        other = (index + len(LANGUAGES) * rng.randint(1, 40)) % shape.files
        other -= (other - index) % len(LANGUAGES)  # same language, so imports resolve
        callees.append((other % shape.files, rng.randrange(shape.functions)))
    lines: list[str] = []
    imports = sorted({c for c in callees if c[0] != index})
    for other, k in imports:
        name = _fn_name(other, k)
        if lang == "py":
            lines.append(f"from src.pkg_{other % 17:02d}.mod_{other:05d} import {name}")
        else:
            lines.append(f"import {{ {name} }} from '../pkg_{other % 17:02d}/mod_{other:05d}';")
    lines.append("")
    change_rng = random.Random(f"{seed}:{index}:change")
    rewritten = (
        set(change_rng.sample(range(shape.functions), shape.changed_functions))
        if changed
        else set()
    )
    for k in range(shape.functions):
        callee = _fn_name(*callees[k]) if callees[k][0] != index else None
        body_rng = random.Random(f"{seed}:{index}:{k}:{'new' if k in rewritten else 'old'}")
        tag = "Reworked" if k in rewritten else "Computes"
        lines += _function(lang, _fn_name(index, k), callee, shape.body, body_rng, tag)
    if changed:
        for k in range(shape.new_functions + extra):
            body_rng = random.Random(f"{seed}:{index}:added:{k}")
            lines += _function(
                lang, f"added{index:05d}_{k}", _fn_name(index, 0), shape.body, body_rng, "Adds"
            )
    return _path(lang, index), "\n".join(lines) + "\n"


def changed_indices(shape: Shape, seed: int) -> list[int]:
    return sorted(random.Random(f"{seed}:changed").sample(range(shape.files), shape.changed_files))


def make_repo(root: Path, shape: Shape, seed: int = 7) -> Path:
    """A repository with ``main`` and a ``feature`` branch that changes ``changed_files``
    modules (rewrites some functions, adds some)."""
    if (root / ".git").exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.email", "bench@example.com")
    _git(root, "config", "user.name", "Bench")
    for index in range(shape.files):
        path, text = _render(index, shape, seed, changed=False)
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    (root / "README.md").write_text(f"# generated repository (seed {seed})\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "Base")
    _git(root, "checkout", "-qb", "feature")
    for index in changed_indices(shape, seed):
        path, text = _render(index, shape, seed, changed=True)
        (root / path).write_text(text)
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "Rework some functions and add new ones")
    _git(root, "checkout", "-q", "main")
    return root


def push_one_line(repo: Path, shape: Shape, seed: int = 7) -> str:
    """One more commit on ``feature`` that changes one line of a changed file; its sha."""
    _git(repo, "checkout", "-q", "feature")
    index = changed_indices(shape, seed)[0]
    path = repo / _render(index, shape, seed, changed=True)[0]
    lines = path.read_text().split("\n")
    target = next(i for i, line in enumerate(lines) if "step 0" in line)
    lines[target] = lines[target].replace("step 0", "step 0 (pushed)")
    path.write_text("\n".join(lines))
    _git(repo, "commit", "-qam", "One-line follow-up")
    sha = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "-q", "main")
    return sha


def count_lines(repo: Path, ref: str = "main") -> int:
    out = _git(repo, "ls-files")
    total = 0
    for name in out.splitlines():
        total += (repo / name).read_text().count("\n") if (repo / name).exists() else 0
    return total


def diff_stat(repo: Path) -> tuple[int, int]:
    """(changed files, changed lines) of the pull request."""
    out = _git(repo, "diff", "--numstat", "main...feature")
    files = lines = 0
    for row in out.splitlines():
        added, removed, _ = row.split("\t", 2)
        files += 1
        lines += int(added) + int(removed)
    return files, lines


def lognormal_latency(median: float, p95: float, cap: float = 30.0) -> Callable[[str], float]:
    """A latency law: seconds for a request, from a hash of its text (deterministic)."""
    sigma = math.log(p95 / median) / NormalDist().inv_cdf(0.95)
    mu = math.log(median)
    normal = NormalDist()

    def latency(text: str) -> float:
        digest = hashlib.sha256(text.encode()).digest()
        u = (int.from_bytes(digest[:8], "big") + 0.5) / 2**64
        return min(cap, math.exp(mu + sigma * normal.inv_cdf(u)))

    return latency
