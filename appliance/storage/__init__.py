"""The store: the only code that imports sqlmodel.

``db`` opens the database (SQLite pragmas, owner-only files), ``models`` declares the tables,
``migrate`` runs Alembic, ``keyring`` and ``vault`` seal secrets at rest, ``credentials`` keeps the
JobRoutr API keys (hashes only) and webhook secret, ``audit`` appends the operator's actions.
"""
