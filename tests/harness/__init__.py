"""What the tests share, by topic: a test file imports helpers from here, never from another test.

    processes   free ports, waiting, the `appliance` executable and its environment, ../shared
    emulator    the bundled QBO emulator in a thread, and the operator's consent in its browser
    service     `appliance serve` as a real process: start it, read what it logged
    cli         the operator's commands in a shell (subprocess) or in-process (click's CliRunner)
    gateway     a whole appliance ready to push (`running_gateway`, `connected_appliance`)
    jobroutr    JobRoutr's side: its example documents, generated histories, a retrying sender
    judge       the emulator's books against what JobRoutr sent: every record once, latest version
    store       ways into the store only tests take (webhook secret, queue, rows, audit log)
    runtime     the service's own wiring (Runtime) in-process
    qr          reading a QR code drawn in text back with a real decoder

Fixtures live in the ``conftest.py`` of the level that uses them; these are plain functions and
classes that fixtures and tests call.
"""
