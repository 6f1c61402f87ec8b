"""`pytest -p convoload.testing.patched`: gevent's monkey-patching before any other pytest plugin loads.

convoload holds conversations in gevent greenlets, and gevent must patch `ssl` and `socket` before
anything imports them. pytest loads the plugins installed in the environment (anyio's, which comes
with httpx, imports `ssl`) before a project's conftest, but `-p` plugins before those: name this
module in `addopts` of a suite that uses convoload's fixtures.
"""

from gevent import monkey

monkey.patch_all()
