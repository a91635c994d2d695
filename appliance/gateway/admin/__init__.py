"""The admin API (Unix socket only), one controller per area: the console's and the CLI's way in.

Each controller sets its path, its tag and the ``operator`` dependency (who asked, for the audit
log) once; its handlers check what they are sent, call sync/ or storage/, and tell the runtime
what changed.
"""

from __future__ import annotations

from appliance.gateway.admin.connect import ConnectController
from appliance.gateway.admin.events import EventsController
from appliance.gateway.admin.imports import ImportsController
from appliance.gateway.admin.service import ServiceController
from appliance.gateway.admin.setup import SetupController
from appliance.gateway.admin.taxes import TaxesController

CONTROLLERS = [
    ServiceController,
    ConnectController,
    ImportsController,
    SetupController,
    EventsController,
    TaxesController,
]

__all__ = [
    "CONTROLLERS",
    "ConnectController",
    "EventsController",
    "ImportsController",
    "ServiceController",
    "SetupController",
    "TaxesController",
]
