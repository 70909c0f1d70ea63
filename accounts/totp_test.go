package accounts

import (
	"bytes"
	"testing"

	"userhub/models"
)

// TestSealedSecrets: a sealed secret opens with its key for its user only,
// and its sealed form does not hold it in clear.
func TestSealedSecrets(t *testing.T) {
	key, _ := SealKey([]byte("one session secret, long enough to use"))
	other, _ := SealKey([]byte("another session secret, just as long"))
	s := &Service{sealKey: key}
	sealed, err := s.seal(7, "JBSWY3DPEHPK3PXP")
	if err != nil || bytes.Contains(sealed, []byte("JBSWY3DPEHPK3PXP")) {
		t.Fatalf("sealed %q, %v", sealed, err)
	}
	tests := []struct {
		name   string
		key    []byte
		userID int64
		opens  bool
	}{
		{"its key, its user", key, 7, true},
		{"another user's row", key, 8, false},
		{"another session secret", other, 7, false},
		{"no key", nil, 7, false},
	}
	for _, tt := range tests {
		got, err := (&Service{sealKey: tt.key}).unseal(models.TOTP{UserID: tt.userID, Sealed: sealed})
		if (err == nil) != tt.opens || (tt.opens && got != "JBSWY3DPEHPK3PXP") {
			t.Errorf("%s: %q, %v", tt.name, got, err)
		}
	}
}
