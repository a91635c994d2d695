"""JobRoutr QuickBooks Gateway: a self-hosted appliance between JobRoutr and QuickBooks Online."""

__version__ = "0.1.0"
