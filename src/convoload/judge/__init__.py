"""The conversation judge: rubrics, an LLM judge with its own provider chain, judging a finished run
from its journal, and calibration against human labels.

    rubric      Rubric, Criterion, PassRule; YAML loading; the `convoload.rubrics` registry
    prompt      the request the judge gets and the JSON schema of its answer
    judge       Judge: one conversation in, one Judgement out (never an exception)
    setup       the judge built from the config; which rubric judges which persona
    runner      `convoload judge RUN`: judgements.jsonl and judgement.json in the run folder
    calibrate   `convoload judge calibrate`: agreement and Cohen's kappa against labels

The typed results (Judgement, JudgementSummary) are in convoload.model.judgement.
"""
