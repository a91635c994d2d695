"""The bundled QuickBooks Online emulator: a local stand-in for the QBO v3 API.

app.py            create_emulator_app (one ASGI app) and run; service.py holds the state
oauth_routes.py   Intuit's OAuth/OpenID endpoints (the rules are oauth.py's)
control.py        the control API, /_emulator/...
gateway.py        /v3/company/...: injected faults, limits (limits.py), token, requestid
api.py            the v3 API: routing, reads, writes, batch, CDC; query/ its query language
company.py        one company's records and writes; RULES maps each writable entity to
                  its module: people.py, items.py, accounts.py, invoices.py, payments.py
entities.py       the entity tables; fields.py the field rules every record kind shares
books.py          sales tax and discounts; currency.py currencies and home amounts
seed.py           the seeded companies (the emulator's data); webhooks.py, clock.py, faults.py
"""
