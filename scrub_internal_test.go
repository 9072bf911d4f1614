package allsourceauth

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestScrub(t *testing.T) {
	t.Parallel()
	key := "ask_" + strings.Repeat("K", 43)
	token := "session_" + strings.Repeat("T", 43)
	c := &client{apiKey: key}
	tests := []struct {
		name, msg, entity string
		absent            []string // substrings that must not survive
		present           string
	}{
		{"key", "bad key " + key, "", []string{key}, "bad key [redacted]"},
		{"token", "entity auth-session:" + token + " rejected", "auth-session:" + token, []string{token}, "[redacted]"},
		{"short ids are not secrets", "This node is a read-only follower", "auth-user:y", nil, "read-only follower"},
		// A key straddling the cut would leave a prefix of itself behind if cut first.
		{"key at the cut", strings.Repeat("x", maxMessage-10) + key, "", []string{key[:10]}, "[red"},
		{"cut on a rune boundary", strings.Repeat("é", maxMessage), "", nil, "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := c.scrub(tt.msg, tt.entity)
			for _, s := range tt.absent {
				require.NotContains(t, got, s)
			}
			require.Contains(t, got, tt.present)
			require.True(t, utf8.ValidString(got))
			require.LessOrEqual(t, len(got), maxMessage+len("…"))
		})
	}
}
