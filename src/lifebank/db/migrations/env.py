"""Alembic environment: runs on the connection of the LifeBank `Database` it is handed."""

from alembic import context

from lifebank.db.base import Base

config = context.config
database = config.attributes["database"]

with database.write_engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
