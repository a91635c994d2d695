"""The HTTP front door: the public listener (JobRoutr, Intuit's redirect, health) and the admin API.

``app`` builds the two Litestar apps from settings and a store (the admin API's controllers are in
``admin``, the pull API's in ``pull``); ``server`` runs them on their listeners (TCP and a Unix
socket) in one process and stops them cleanly on SIGTERM.
"""
