-- Whose session each record is (NULL before login), so a password change can end every
-- session of that user. The store fills it from the record's sign-in on every write.
ALTER TABLE sessions ADD COLUMN user_id TEXT;

CREATE INDEX sessions_user_id ON sessions (user_id);
