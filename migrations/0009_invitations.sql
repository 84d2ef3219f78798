-- Invitations to join a customer account as a member. The owner is shown the code once and
-- passes it on; only its SHA-256 is kept. Accepting or revoking an invitation deletes it (the
-- audit log keeps what happened).
CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    email TEXT NOT NULL,
    email_normalized TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    invited_by_email TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE UNIQUE INDEX invitations_code_hash ON invitations (code_hash);
-- One invitation per address and account: inviting again replaces it.
CREATE UNIQUE INDEX invitations_account_email ON invitations (account_id, email_normalized);
