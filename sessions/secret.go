package sessions

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"userhub/config"
)

// SecretFile is where a generated session secret is kept, in the data dir.
const SecretFile = "session.key"

// SecretKeeper keeps a secret every instance sharing a database agrees on
// (store.Store on PostgreSQL).
type SecretKeeper interface {
	SharedSecret(ctx context.Context, name string, fresh []byte) ([]byte, error)
}

// Secret returns the configured session secret. Without one: with a
// keeper (PostgreSQL, which instances on several machines share), the one
// kept in the database, made (32 random bytes) by the first instance to
// start; otherwise (SQLite, one machine) the one kept in the data
// directory, creating it (mode 0600) on first use. Several processes may
// call it at once (cluster workers, instances): one creates the secret,
// the others read it.
func Secret(ctx context.Context, cfg config.Config, keeper SecretKeeper) ([]byte, error) {
	if cfg.Session.Secret != "" {
		return []byte(cfg.Session.Secret), nil
	}
	if keeper != nil {
		fresh := make([]byte, 32)
		_, _ = rand.Read(fresh)
		secret, err := keeper.SharedSecret(ctx, "session", fresh)
		if err != nil {
			return nil, fmt.Errorf("the session secret kept in the database (set session.secret to use one of your own): %w", err)
		}
		return secret, nil
	}
	path := filepath.Join(cfg.DataDir, SecretFile)
	for range 2 {
		data, err := os.ReadFile(path)
		if err == nil {
			secret, err := hex.DecodeString(strings.TrimSpace(string(data)))
			if err != nil || len(secret) < 32 {
				return nil, fmt.Errorf("%s is not a session secret (64 hex digits); delete it to have a new one made (everyone is logged out)", path)
			}
			return secret, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if err := createSecret(path); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%s: could not be created", path)
}

// createSecret writes a new secret to a temporary file and links it into
// place, so that no process ever reads a half-written secret.
func createSecret(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".session-key-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(hex.EncodeToString(secret) + "\n"); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Link(tmp.Name(), path) // fails with ErrExist if another process won
}

// Keys derives the cookie's authentication (HMAC-SHA256) and encryption
// (AES-256) keys from the secret, each for its own purpose, so that one
// secret in the configuration gives two independent keys.
func Keys(secret []byte) (hashKey, blockKey []byte, err error) {
	if hashKey, err = hkdf.Key(sha256.New, secret, nil, "userhub session cookie authentication", 32); err != nil {
		return nil, nil, err
	}
	if blockKey, err = hkdf.Key(sha256.New, secret, nil, "userhub session cookie encryption", 32); err != nil {
		return nil, nil, err
	}
	return hashKey, blockKey, nil
}

// SetupToken is the token of the setup link, derived from the secret so
// that every process sharing it (cluster workers, instances on one
// database) accepts the same link. It opens the setup page only while no
// user exists.
func SetupToken(secret []byte) string {
	key, err := hkdf.Key(sha256.New, secret, nil, "userhub setup link", 18)
	if err != nil {
		panic(err) // only for lengths hkdf cannot give
	}
	return base64.RawURLEncoding.EncodeToString(key)
}
