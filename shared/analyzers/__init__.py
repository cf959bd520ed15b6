"""Trusted third-party analyzers run on the changed files of a review: Ruff (Python), oxlint
(JavaScript/TypeScript) and detect-secrets (any text file), each pinned in pyproject.toml,
each in a subprocess without a shell, in a temporary tree, with a time and memory limit.

:mod:`catalog` knows the tools' rules (which run by default, how each maps to our category
and severity, a short plain-language message); :mod:`selection` turns ``.reviewflow.yml`` into
the rules each tool runs per path; :mod:`parsers` turns each tool's JSON output into
:class:`shared.models.Suggestion`; :mod:`runner` builds the tree and runs the tools.
"""
