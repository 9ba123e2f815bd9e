"""`flashctl loadtest`: concurrent requests against one route, percentiles, and the SLO gate.

`stats` and `slo` are pure (samples in, numbers out); `runner` sends the requests (threads and
`requests` sessions); `target` finds the URL and key; `report` prints; `command` wires them below
click.
"""
