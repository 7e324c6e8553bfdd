"""Benchmarks over the public API: the harnesses behind ``itu bench`` (darp.py, day.py, roads.py,
service_load.py), search parameters from ``--set`` text (parameters.py), and two scripts for pairs
of runs on a day split by duty (duty_side.py, second_phase.py; run them as ``python -m``).

Each harness is a function returning its figures; ``itu bench`` prints them, and BENCHMARKS.md
says what they were on this machine."""
