"""The demo pack's conversation-judge rubrics, registered under `convoload.rubrics` (see pyproject.toml).

Each bundled agent has a rubric (rubrics/<agent>.yaml), reference facts the judge checks replies
against (`reference`), and a labelled set of transcripts for `convoload judge calibrate`
(labels/<agent>.jsonl, written by `python -m convoload_demo.judge.labelled`).
"""

from __future__ import annotations

from importlib.resources import files

from convoload.judge.rubric import ShippedRubric

_HERE = files("convoload_demo.judge")

TICKETS = ShippedRubric(rubric=_HERE / "rubrics" / "tickets.yaml", labels=_HERE / "labels" / "tickets.jsonl")
REALESTATE = ShippedRubric(
    rubric=_HERE / "rubrics" / "realestate.yaml", labels=_HERE / "labels" / "realestate.jsonl"
)
