"""the OpenID Connect provider: clients that sign citizens in (redirect URIs, how they
authenticate, their keys, first-party or not), the browser's sign-in, authorization requests and
codes, consents, the private_key_jwt assertions seen, and which client a session belongs to

Revision ID: 2b27d0d773f7
Revises: 3c8e5f1a9b27
Create Date: 2026-12-14 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2b27d0d773f7"
down_revision: str | None = "3c8e5f1a9b27"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "authorization_request",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=False),
        sa.Column("scope", sa.String(length=1000), nullable=False),
        sa.Column("state", sa.String(length=500), nullable=True),
        sa.Column("nonce", sa.String(length=500), nullable=True),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("loa", sa.SmallInteger(), nullable=False),
        sa.Column("force_login", sa.Boolean(), nullable=False),
        sa.Column("force_consent", sa.Boolean(), nullable=False),
        sa.Column("max_age", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorization_request")),
    )
    with op.batch_alter_table("authorization_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_authorization_request_expires_at"), ["expires_at"], unique=False
        )
    op.create_table(
        "client_assertion",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("jti", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "jti", name=op.f("pk_client_assertion")),
    )
    with op.batch_alter_table("client_assertion", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_client_assertion_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "authorization_code",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=False),
        sa.Column("scope", sa.String(length=1000), nullable=False),
        sa.Column("nonce", sa.String(length=500), nullable=True),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("browser_session_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("login_session_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_authorization_code_account_id_account")
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_authorization_code")),
    )
    with op.batch_alter_table("authorization_code", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_authorization_code_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_authorization_code_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_authorization_code_browser_session_id"),
            ["browser_session_id"],
            unique=False,
        )

    op.create_table(
        "browser_session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_browser_session_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_browser_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_browser_session_token_hash")),
    )
    with op.batch_alter_table("browser_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_browser_session_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_browser_session_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "consent",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=1000), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_consent_account_id_account")
        ),
        sa.PrimaryKeyConstraint("account_id", "client_id", name=op.f("pk_consent")),
    )
    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("scope", sa.String(length=1000), nullable=True))

    with op.batch_alter_table("oauth_client", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "auth_method",
                sa.String(length=32),
                server_default="client_secret_basic",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("jwks", sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(
            sa.Column("redirect_uris", sa.JSON(), server_default="[]", nullable=False)
        )
        batch_op.add_column(
            sa.Column("post_logout_redirect_uris", sa.JSON(), server_default="[]", nullable=False)
        )
        batch_op.add_column(
            sa.Column("first_party", sa.Boolean(), server_default="0", nullable=False)
        )
        batch_op.alter_column("secret_hash", existing_type=sa.VARCHAR(length=255), nullable=True)


def downgrade() -> None:
    # A client without a secret cannot be kept as one: such clients go (their tokens expire).
    op.execute("DELETE FROM oauth_client WHERE secret_hash IS NULL")
    with op.batch_alter_table("oauth_client", schema=None) as batch_op:
        batch_op.alter_column("secret_hash", existing_type=sa.VARCHAR(length=255), nullable=False)
        batch_op.drop_column("first_party")
        batch_op.drop_column("post_logout_redirect_uris")
        batch_op.drop_column("redirect_uris")
        batch_op.drop_column("jwks")
        batch_op.drop_column("auth_method")

    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.drop_column("scope")
        batch_op.drop_column("client_id")

    op.drop_table("consent")
    with op.batch_alter_table("browser_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_browser_session_expires_at"))
        batch_op.drop_index(batch_op.f("ix_browser_session_account_id"))

    op.drop_table("browser_session")
    with op.batch_alter_table("authorization_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_authorization_code_browser_session_id"))
        batch_op.drop_index(batch_op.f("ix_authorization_code_created_at"))
        batch_op.drop_index(batch_op.f("ix_authorization_code_account_id"))

    op.drop_table("authorization_code")
    with op.batch_alter_table("client_assertion", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_client_assertion_expires_at"))

    op.drop_table("client_assertion")
    with op.batch_alter_table("authorization_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_authorization_request_expires_at"))

    op.drop_table("authorization_request")
