"""Failures become tests: `convoload rerun` plays a run's conversations again (play.py), `convoload
export` writes one as a fixed user's config or a pytest test (export.py), both from the run's folder
(source.py)."""

from convoload.rerun.export import FORMATS, default_path, export_conversation
from convoload.rerun.play import RerunPlan, RerunResult, diverged_at, execute_rerun, plan_rerun
from convoload.rerun.source import SourceRun, find_run

__all__ = [
    "FORMATS",
    "RerunPlan",
    "RerunResult",
    "SourceRun",
    "default_path",
    "diverged_at",
    "execute_rerun",
    "export_conversation",
    "find_run",
    "plan_rerun",
]
