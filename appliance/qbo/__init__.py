"""The QuickBooks Online client: HTTP, OAuth and faults.

It never touches storage; saving tokens is a callback it is given. Filled in by the connect issue.
"""
