-- Prefix searches of names are ranges of name keys in byte order: an index
-- in that order serves them, whatever the database's collation.
CREATE INDEX users_name_key_bytes ON users (name_key COLLATE "C");
