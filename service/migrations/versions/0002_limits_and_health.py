"""What the limits need to know without reading a file again (a trip set's places, a fleet's
vehicles), and the row the health check writes to prove the database takes writes.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trip_sets") as batch:
        batch.add_column(sa.Column("location_count", sa.Integer(), nullable=True))
    with op.batch_alter_table("fleets") as batch:
        batch.add_column(sa.Column("vehicle_count", sa.Integer(), nullable=True))
    op.create_table(
        "health_checks",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("health_checks")
    with op.batch_alter_table("fleets") as batch:
        batch.drop_column("vehicle_count")
    with op.batch_alter_table("trip_sets") as batch:
        batch.drop_column("location_count")
