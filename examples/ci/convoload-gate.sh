#!/usr/bin/env bash
# convoload's CI gate: the same steps in the GitHub Actions workflow and the GitLab CI job beside it.
#   1. Hold the conversations with the agent; write JUnit XML, a Markdown summary (appended to the GitHub
#      job summary too) and the run's records; exit 1 below the grade floor.
#   2. Export the run (run.json): the artifact the main branch keeps as the next baseline.
#   3. With a baseline (main's run.json), compare the run with it: exit 1 on a regression.
# Every output is written before the exit code is decided, so the CI job can upload them in any case.
#
# Settings, from the environment:
#   CONVOLOAD_CONFIG       the convoload config (default: examples/ci/convoload.yaml)
#   AGENT_URL              the agent's chat URL, over the config's target.url (optional)
#   CONVOLOAD_BASELINE     main's exported run file (optional: none, or no such file, compares nothing)
#   CONVOLOAD_OUT          the folder for the outputs (default: convoload-out)
#   CONVOLOAD_GRADE_FLOOR  the lowest grade that passes (default: C)
set -uo pipefail

out="${CONVOLOAD_OUT:-convoload-out}"
config="${CONVOLOAD_CONFIG:-examples/ci/convoload.yaml}"
baseline="${CONVOLOAD_BASELINE:-}"
# The job keeps its own results store, in its runs folder: `latest` below is this job's run.
unset CONVOLOAD_DB_URL
mkdir -p "$out"

args=(run -f "$config" --runs-dir "$out/runs" --grade-floor "${CONVOLOAD_GRADE_FLOOR:-C}"
      --junit-xml "$out/junit.xml" --summary-md "$out/summary.md")
if [ -n "${AGENT_URL:-}" ]; then
  args+=(--url "$AGENT_URL")
fi
if [ -n "$baseline" ] && [ ! -f "$baseline" ]; then
  echo "no baseline at $baseline (main has none yet): nothing to compare"
  baseline=""
fi
if [ -n "$baseline" ]; then
  args+=(--baseline "$baseline")
fi

status=0
convoload "${args[@]}" || status=$?
if [ "$status" -gt 1 ]; then
  exit "$status"  # bad input (2) or a signal (130, 143): no finished run to export or compare
fi
convoload runs export latest --runs-dir "$out/runs" -o "$out/run.json" || exit $?
if [ -n "$baseline" ]; then
  compared=0
  convoload runs compare "$baseline" latest --runs-dir "$out/runs" || compared=$?
  if [ "$compared" -gt "$status" ]; then
    status=$compared
  fi
fi
exit "$status"
