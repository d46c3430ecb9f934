"""The benchmark: `python -m vad_core bench` (vad_core.cli.bench) and the figures it reports.

from vad_core.bench.run import BenchConfig, run_bench
from vad_core.bench.report import format_report

Modules: run (the model's speed: reference, optimized, analyze, training; then the figures asked for),
memory (long videos in fresh processes), live (a camera at rising rates through LiveRun), whole (the analyze
command as a user runs it), scaling (batch frames/s per worker count, `batch --scaling`), report (as text);
shared by them: clips (what is measured on), speed (frames/s of the model's paths), models, machine.
"""
