"""pyzeebe job workers: ``workers.light`` (fast stages) and ``workers.heavy`` (dispatch and
run the heavy stages, then publish their completion messages)."""
