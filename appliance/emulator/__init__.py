"""The bundled QuickBooks Online emulator: a local stand-in for the QBO v3 API."""
