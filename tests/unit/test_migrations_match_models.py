"""The migrations build exactly the tables the models declare: a column added to a model without
a migration (or the other way round) would fail on a real store, not in tests that create tables
from the models."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import appliance.storage.models  # noqa: F401 - the tables
from appliance.storage import migrate


def test_a_migrated_store_has_the_models_tables_and_columns(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate.upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []
