"""Test-session environment: an isolated state directory and short retry backoff, set before
any worker settings are read."""

import os
import tempfile

os.environ.setdefault("REVIEWFLOW_STATE_DIR", tempfile.mkdtemp(prefix="reviewflow-test-state-"))
os.environ.setdefault("REVIEWFLOW_RETRY_BACKOFF_MS", "200")
for name in ("REVIEWFLOW_LLM_BASE_URL", "REVIEWFLOW_LLM_API_KEY", "REVIEWFLOW_LLM_MODEL"):
    # the offline reviewer is the default under test; LLM tests configure their own server
    os.environ.pop(name, None)
