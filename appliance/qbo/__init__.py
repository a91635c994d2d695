"""The QuickBooks Online client: requests under one retry policy (``client``), OAuth (``oauth``),
access tokens refreshed once (``tokens``), Intuit's per-company limits (``limiter``), QBO's
faults as typed errors (``errors``, ``faults``) and query statements as data (``query``).

It never touches storage; saving tokens is a callback it is given.
"""
