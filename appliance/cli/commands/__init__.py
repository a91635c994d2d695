"""The ``appliance`` commands, one module per group: service, emulator, company, events."""
