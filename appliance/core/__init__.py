"""Plain domain types and the admin-API schemas shared by the gateway, the CLI and the console."""
