#!/usr/bin/env bash
# convoload's CI gate: the same steps in the GitHub Actions workflow and the GitLab CI job beside it.
#   1. Hold the conversations with the agent; write JUnit XML, a Markdown summary (appended to the GitHub
#      job summary too) and the run's records; exit 1 below the grade floor.
#   2. Export the run (run.json): the artifact the main branch keeps as the next baseline.
#   3. With a baseline (main's run.json), compare the run with it: exit 1 on a regression.
#   4. Run the scenario suite (suite.py beside this script: your scenarios and domain checks) against
#      the same agent with `convoload pipeline`: its own JUnit XML and summary, exit 1 below the grade
#      floor; with main's pipeline.json, exit 1 when a scenario regressed against it.
#   5. Keep the pipeline's results (pipeline.json): main's next pipeline baseline.
# Every output is written before the exit code is decided, so the CI job can upload them in any case.
#
# Settings, from the environment:
#   CONVOLOAD_CONFIG             the convoload config (default: examples/ci/convoload.yaml)
#   AGENT_URL                    the agent's chat URL, over the config's target.url (optional)
#   CONVOLOAD_BASELINE           main's exported run file (optional: none, or no such file, compares nothing)
#   CONVOLOAD_SUITE              the pipeline's scenario suite, module:attr (default: suite:SUITE, the
#                                suite.py beside this script, which is put on PYTHONPATH)
#   CONVOLOAD_PIPELINE_BASELINE  main's pipeline.json (optional: as CONVOLOAD_BASELINE)
#   CONVOLOAD_OUT                the folder for the outputs (default: convoload-out)
#   CONVOLOAD_GRADE_FLOOR        the lowest grade that passes, for the run and the pipeline (default: C)
set -uo pipefail

out="${CONVOLOAD_OUT:-convoload-out}"
config="${CONVOLOAD_CONFIG:-examples/ci/convoload.yaml}"
floor="${CONVOLOAD_GRADE_FLOOR:-C}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The job keeps its own results store, in its runs folder: `latest` below is this job's run.
unset CONVOLOAD_DB_URL
mkdir -p "$out"

# A baseline main does not have yet (its first run) compares nothing.
existing() {
  if [ -n "$2" ] && [ ! -e "$2" ]; then
    echo "no $1 baseline at $2 (main has none yet): nothing to compare" >&2
    return 0
  fi
  printf '%s' "$2"
}
baseline="$(existing run "${CONVOLOAD_BASELINE:-}")"
pipeline_baseline="$(existing pipeline "${CONVOLOAD_PIPELINE_BASELINE:-}")"

args=(run -f "$config" --runs-dir "$out/runs" --grade-floor "$floor"
      --junit-xml "$out/junit.xml" --summary-md "$out/summary.md")
if [ -n "${AGENT_URL:-}" ]; then
  args+=(--url "$AGENT_URL")
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

# The pipeline's scenario runs go to a results store of their own, so that `latest` above stays the run.
pipeline_args=(pipeline --suite "${CONVOLOAD_SUITE:-suite:SUITE}" --runs-dir "$out/pipeline-runs"
               --grade-floor "$floor" --junit-xml "$out/pipeline-junit.xml"
               --summary-md "$out/pipeline-summary.md")
if [ -n "$pipeline_baseline" ]; then
  pipeline_args+=(--baseline "$pipeline_baseline" --fail-on-regression)
fi
piped=0
CONVOLOAD_CONFIG="$config" PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" \
  convoload "${pipeline_args[@]}" || piped=$?
# The pipeline's results, whatever its grade: main's next pipeline baseline.
results=$(ls -d "$out"/pipeline-runs/pipeline-*/real_test_results.json 2>/dev/null | tail -n 1)
if [ -n "$results" ]; then
  cp "$results" "$out/pipeline.json"
fi
if [ "$piped" -gt 1 ]; then
  exit "$piped"  # bad input (2) or a signal (130, 143)
fi
if [ "$piped" -gt "$status" ]; then
  status=$piped
fi
exit "$status"
