"""`convoload capacity` (named `knee` so as not to shadow `convoload.capacity`, the API function): step
load over concurrency, SLOs checked per step, the knee found and drawn.

- plan: the steps and SLOs of a run, from the config's `capacity:` section and the flags;
- shape: the steps as a Locust load shape, with their real boundaries;
- tally: each conversation counted in the step it started in, SLOs checked live for --abort-after;
- verdict: the highest concurrency that met every SLO and the first that broke one;
- run: a capacity run over the run loop (`convoload.api.execute`), then capacity.json, the page, the store;
- html: capacity.html; store: the verdict in the results store;
- distributed, locustfile: `--workers N`, the steps as the shape of Locust's master.
"""
