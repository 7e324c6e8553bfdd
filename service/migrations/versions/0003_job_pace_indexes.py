"""Indexes for the per-key pace check on every submission: a key's jobs of the last minute, and
its unfinished jobs, each read from an index rather than from all of the key's jobs.

Revision ID: 0003
Revises: 0002
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_owner_created_at", "jobs", ["owner", "created_at"])
    op.create_index("ix_jobs_owner_state", "jobs", ["owner", "state"])


def downgrade() -> None:
    op.drop_index("ix_jobs_owner_state", table_name="jobs")
    op.drop_index("ix_jobs_owner_created_at", table_name="jobs")
