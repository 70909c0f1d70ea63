-- Name keys: models.NameKey now applies the PRECIS UsernameCaseMapped
-- profile and maps look-alike Cyrillic and Greek letters to Latin ones.
-- The rewrite of every users.name_key is a step in Go (store/migrate.go,
-- rekeyNames), run after this in the same transaction.
SELECT 1;
