"""Two indexes of the jobs table that no statement needs: every read by owner uses one of the
(owner, created_at) and (owner, state) indexes of 0003, and the runner reads its queue through the
state index. Each index is a B-tree a submission's insert writes to and, on SQLite, pages of the
write-ahead log that the next checkpoint copies: seven trees per submission became five.

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_jobs_owner", table_name="jobs")
    op.drop_index("ix_jobs_created_at", table_name="jobs")


def downgrade() -> None:
    op.create_index("ix_jobs_created_at", "jobs", ["created_at"])
    op.create_index("ix_jobs_owner", "jobs", ["owner"])
