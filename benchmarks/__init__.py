"""The engine's benchmarks: ``python -m benchmarks`` (see ``benchmarks/__main__.py``).

Importable, so that later work reruns the same measurements unchanged:
``benchmarks.harness.run(quick=True, out=Path("…"))``.
"""
