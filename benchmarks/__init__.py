"""Benchmarks of xai-models-async against the clients users would pick instead.

Run everything with ``python -m benchmarks.run`` (``--smoke`` for a tiny run); see
``benchmarks/README.md`` for what each workload measures.
"""
