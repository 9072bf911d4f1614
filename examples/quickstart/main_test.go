package main

import (
	"bytes"
	"encoding/json"
	"net"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a452aa33/allsourceauth"
	"github.com/seed-a452aa33/allsourceauth/allsourcetest"
)

// quickstartEnv is a getenv over a fixed map.
func quickstartEnv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// quickstartSecrets lists what the tour must never print: the Allsource API key, every
// session token, and every password hash, API-key hash and verification secret stored.
func quickstartSecrets(t *testing.T, srv *allsourcetest.Server) []string {
	t.Helper()
	secrets := []string{srv.APIKey}
	for _, ev := range srv.Events() {
		if token, ok := strings.CutPrefix(ev.EntityID, "auth-session:"); ok {
			secrets = append(secrets, token, token[:20])
		}
		var p struct {
			Password string `json:"password"`
			Key      string `json:"key"`   // an API key's hash
			Value    string `json:"value"` // a verification link's secret
		}
		require.NoError(t, json.Unmarshal(ev.Payload, &p))
		for _, s := range []string{p.Password, p.Key, p.Value} {
			if s != "" {
				secrets = append(secrets, s, s[len(s)-16:])
			}
		}
	}
	return secrets
}

func TestRunTellsTheWholeStory(t *testing.T) {
	t.Parallel()
	srv := allsourcetest.NewServer()
	t.Cleanup(srv.Close)
	store, err := allsourceauth.New(srv.URL, srv.QueryURL, srv.APIKey)
	require.NoError(t, err)

	var out bytes.Buffer
	require.NoError(t, run(t.Context(), &out, store))
	text := out.String()

	for _, want := range []string{
		"1. Sign-up", "2. Sign-in", "3. Email verification", "4. Profile change",
		"5. Organization", "6. API key", "7. Passkey", "8. Sign-out and account deletion",
		"password hash matches",
		"the same link again → refused (not found): single use",
		"old address → not found; new address → Ada Lovelace",
		"2 members, 1 owner",
		`→ "ci deploy" of user`,
		"signature counter is 1",
		"signed out: the token no longer resolves",
		"Audit trail: History(KindUser, ",
		"auth.user.created", "emailVerified: false → true", "name: Ada → Ada Lovelace",
		"auth.user.deleted   deleted (the tombstone keeps the last state)",
		"before the email change: GetUserByEmail(ada.",
		"before the deletion: GetUserByID → Ada Lovelace, still there",
		"UpdateUser → refused: a view of the past is read-only",
		"Ada Lovelace is back, email verified: true",
		"the last one v5 auth.user.restored",
	} {
		assert.Contains(t, text, want)
	}
	assert.Regexp(t, `email: ada\.\w{4}@example\.com → lovelace\.\w{4}@example\.com`, text, "the email change in the audit trail")
	assert.Regexp(t, `session_[A-Za-z0-9_-]{4}…`, text, "sessions are shown by a short prefix")
	assert.Len(t, regexp.MustCompile(`(?m)^  [1-4] +\d\d:\d\d:\d\d\.\d{6} auth\.user\.`).FindAllString(text, -1), 4,
		"four rows in the audit trail")

	for i, line := range strings.Split(text, "\n") {
		assert.LessOrEqual(t, utf8.RuneCountInString(line), lineWidth, "line %d is too wide: %q", i+1, line)
	}
	for _, secret := range quickstartSecrets(t, srv) {
		assert.NotContains(t, text, secret, "the output holds a secret")
	}
	assert.NotRegexp(t, `ak_[A-Za-z0-9_-]{8}`, text, "an API key is shown by its first characters only")
	assert.NotRegexp(t, `session_[A-Za-z0-9_-]{5}`, text)

	// The story left the store as it says: Ada restored (email lookup works), the
	// session gone, Charles a member.
	var adaID string
	for _, ev := range srv.Events() {
		if ev.EventType == "auth.user.restored" {
			adaID = strings.TrimPrefix(ev.EntityID, "auth-user:")
		}
	}
	require.NotEmpty(t, adaID, "Restore appended auth.user.restored")
	ada, err := store.GetUserByID(t.Context(), adaID)
	require.NoError(t, err)
	assert.Equal(t, "Ada Lovelace", ada.Name)
	assert.True(t, ada.EmailVerified)
	byEmail, err := store.GetUserByEmail(t.Context(), ada.Email)
	require.NoError(t, err)
	assert.Equal(t, adaID, byEmail.ID)
	sessions, err := store.GetUserSessions(t.Context(), adaID)
	require.NoError(t, err)
	assert.Empty(t, sessions)
	orgs, err := store.ListUserOrganizations(t.Context(), adaID)
	require.NoError(t, err)
	require.Len(t, orgs, 1)
	n, err := store.CountOrganizationMembers(t.Context(), orgs[0].ID)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
}

func TestRunTwiceOnOneAllsource(t *testing.T) {
	t.Parallel()
	srv := allsourcetest.NewServer()
	t.Cleanup(srv.Close)
	store, err := allsourceauth.New(srv.URL, srv.QueryURL, srv.APIKey)
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), &out, store))
	require.NoError(t, run(t.Context(), &out, store), "a second run must not collide with the first")
}

func TestRealMainEmbedded(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := realMain(t.Context(), &stdout, &stderr, quickstartEnv(nil))
	require.Equal(t, exitOK, code, "stderr: %s", stderr.String())
	assert.Empty(t, stderr.String())
	assert.Contains(t, stdout.String(), "in-process test server")
	assert.Contains(t, stdout.String(), "✓ Ping")
	assert.Contains(t, stdout.String(), "auth.user.restored")
	assert.Regexp(t, `\nDone in \d`, stdout.String())
}

func TestRealMainAllsourceUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now

	key := "ask_" + strings.Repeat("k", 43)
	var stdout, stderr bytes.Buffer
	code := realMain(t.Context(), &stdout, &stderr, quickstartEnv(map[string]string{
		"ALLSOURCE_CORE_URL": dead, "ALLSOURCE_QUERY_URL": dead, "ALLSOURCE_API_KEY": key,
	}))
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, stderr.String(), "cannot reach Allsource")
	assert.NotContains(t, stdout.String(), "Sign-up", "the tour does not start")
	assert.NotContains(t, stdout.String()+stderr.String(), key)
}

func TestRealMainKeyRejected(t *testing.T) {
	t.Parallel()
	srv := allsourcetest.NewServer()
	t.Cleanup(srv.Close)
	key := "ask_" + strings.Repeat("w", 43) // not a key the server knows
	var stdout, stderr bytes.Buffer
	code := realMain(t.Context(), &stdout, &stderr, quickstartEnv(map[string]string{
		"ALLSOURCE_CORE_URL": srv.URL, "ALLSOURCE_QUERY_URL": srv.QueryURL, "ALLSOURCE_API_KEY": key,
	}))
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, stderr.String(), "rejected the API key")
	assert.Contains(t, stderr.String(), "ALLSOURCE_API_KEY")
	assert.NotContains(t, stdout.String(), "Sign-up")
	assert.NotContains(t, stdout.String()+stderr.String(), key)
	assert.NotContains(t, stdout.String()+stderr.String(), srv.APIKey)
}

func TestRealMainRealAllsource(t *testing.T) {
	t.Parallel()
	srv := allsourcetest.NewServer(allsourcetest.WithAPIKey("ask_"+strings.Repeat("t", 43), "acme"))
	t.Cleanup(srv.Close)
	for name, env := range map[string]map[string]string{
		"core and query":      {"ALLSOURCE_CORE_URL": srv.URL, "ALLSOURCE_QUERY_URL": srv.QueryURL, "ALLSOURCE_API_KEY": srv.APIKey},
		"query defaults core": {"ALLSOURCE_CORE_URL": srv.URL, "ALLSOURCE_API_KEY": srv.APIKey},
		"tenant": {
			"ALLSOURCE_CORE_URL": srv.URL, "ALLSOURCE_QUERY_URL": srv.QueryURL,
			"ALLSOURCE_API_KEY": "ask_" + strings.Repeat("t", 43), "ALLSOURCE_TENANT": "acme",
		},
	} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := realMain(t.Context(), &stdout, &stderr, quickstartEnv(env))
			require.Equal(t, exitOK, code, "stderr: %s", stderr.String())
			assert.Contains(t, stdout.String(), "Allsource: "+srv.URL)
			assert.Contains(t, stdout.String(), "auth.user.restored")
			assert.NotContains(t, stdout.String(), env["ALLSOURCE_API_KEY"])
			if env["ALLSOURCE_TENANT"] != "" {
				assert.Contains(t, stdout.String(), "tenant acme")
			}
		})
	}
	// Three runs on one Allsource (each with fresh addresses); the tenant run wrote to
	// its tenant only.
	restored := map[string]int{}
	for _, ev := range srv.Events() {
		if ev.EventType == "auth.user.restored" {
			restored[ev.TenantID]++
		}
	}
	assert.Equal(t, map[string]int{allsourcetest.DefaultTenant: 2, "acme": 1}, restored)
}

func TestRealMainIncompleteConfiguration(t *testing.T) {
	t.Parallel()
	for name, env := range map[string]map[string]string{
		"key only":   {"ALLSOURCE_API_KEY": "ask_x"},
		"core only":  {"ALLSOURCE_CORE_URL": "http://localhost:3900"},
		"query only": {"ALLSOURCE_QUERY_URL": "http://localhost:3902"},
		"bad url":    {"ALLSOURCE_CORE_URL": "localhost:3900", "ALLSOURCE_API_KEY": "ask_x"},
		"bad tenant": {"ALLSOURCE_CORE_URL": "http://localhost:3900", "ALLSOURCE_API_KEY": "ask_x", "ALLSOURCE_TENANT": "no spaces"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := realMain(t.Context(), &stdout, &stderr, quickstartEnv(env))
			assert.Equal(t, exitUsage, code)
			assert.Regexp(t, regexp.MustCompile(`^quickstart: .+`), stderr.String())
			assert.Empty(t, stdout.String(), "nothing is attempted")
			assert.NotContains(t, stderr.String(), "ask_x")
		})
	}
}
