package buildinfo

import "testing"

func TestString(t *testing.T) {
	for _, tt := range []struct {
		info Info
		want string
	}{
		{Info{Version: "devel"}, "devel"},
		{Info{Version: "v1.2.0", Revision: "0123456789abcdef"}, "v1.2.0 (revision 0123456789ab)"},
		{Info{Version: "v0.0.0-20261201192317-0123456789ab+dirty", Revision: "0123456789abcdef", Modified: true}, "v0.0.0-20261201192317-0123456789ab+dirty"},
	} {
		if got := tt.info.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.info, got, tt.want)
		}
	}
}
