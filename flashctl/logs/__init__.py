"""`flashctl logs`: the workers' log streams of one endpoint, merged in time order.

- `flows.py`: `run_logs`, below click: resolves the endpoint, lists its workers, reads.
- `streams.py`: one reader thread per worker's SSE stream (reconnecting with Last-Event-ID),
  the merge in time order, following new workers.
- `sse.py`: the server-sent events parser. `lines.py`: how an event is shown.
"""
