package allsourceauth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a452aa33/allsourceauth"
	"github.com/seed-a452aa33/allsourceauth/allsourcetest"
)

const (
	clAppendPath = "/api/v1/events"
	clQueryPath  = "/api/v1/events/query"
)

// clRecord is one request as it left the client.
type clRecord struct {
	Method, Host, Path, RawQuery string
	Header                       http.Header
	Body                         []byte
}

// clRecorder is an http.RoundTripper that records every request it forwards.
type clRecorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	recs []clRecord
}

func (r *clRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	// Headers as they go on the wire: names are case-insensitive, so canonicalise them
	// (the client may set a non-canonical name such as X-API-Key directly).
	h := make(http.Header, len(req.Header))
	for k, v := range req.Header {
		for _, x := range v {
			h.Add(k, x)
		}
	}
	rec := clRecord{Method: req.Method, Host: req.URL.Host, Path: req.URL.Path, RawQuery: req.URL.RawQuery, Header: h}
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		rec.Body = b
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	r.mu.Lock()
	r.recs = append(r.recs, rec)
	r.mu.Unlock()
	base := r.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(req)
}

func (r *clRecorder) all() []clRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]clRecord(nil), r.recs...)
}

func clHost(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u.Host
}

func clNewKey(t *testing.T) string {
	t.Helper()
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "ask_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// ---------------------------------------------------------------------------------------
// Authentication headers

func TestAuthHeadersAPIKey(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	rec := &clRecorder{}
	a := newAdapter(t, srv, allsourceauth.WithHTTPClient(&http.Client{Transport: rec}))
	ctx := t.Context()

	// The fake accepts only the right header on each listener: these calls succeeding
	// already proves it; the recorder shows exactly what was sent.
	require.NoError(t, a.Ping(ctx))
	u, err := a.CreateUser(ctx, allsourceauth.CreateUser{Email: "hdr@example.com"})
	require.NoError(t, err)
	got, err := a.GetUserByEmail(ctx, "hdr@example.com")
	require.NoError(t, err)
	assert.Equal(t, u.ID, got.ID)

	coreHost, queryHost := clHost(t, srv.URL), clHost(t, srv.QueryURL)
	var nCore, nQuery int
	for _, r := range rec.all() {
		if r.Path == "/health" {
			continue
		}
		switch r.Host {
		case coreHost:
			nCore++
			assert.Equal(t, []string{"Bearer " + srv.APIKey}, r.Header.Values("Authorization"), "%s %s", r.Method, r.Path)
			assert.Empty(t, r.Header.Values("X-API-Key"), "%s %s", r.Method, r.Path)
			if r.Method == http.MethodPost {
				assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
			}
		case queryHost:
			nQuery++
			assert.Equal(t, []string{srv.APIKey}, r.Header.Values("X-API-Key"), "%s %s", r.Method, r.Path)
			assert.Empty(t, r.Header.Values("Authorization"), "%s %s", r.Method, r.Path)
		default:
			t.Errorf("request to an unknown host %q", r.Host)
		}
	}
	assert.Positive(t, nCore, "writes went to Core")
	assert.Positive(t, nQuery, "reads went to the Query Service")
}

// Reading straight from Core: the Bearer header goes to both.
func TestAuthHeadersQueryURLIsCore(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	rec := &clRecorder{}
	a, err := allsourceauth.New(srv.URL, srv.URL, srv.APIKey, allsourceauth.WithHTTPClient(&http.Client{Transport: rec}))
	require.NoError(t, err)
	s := createSession(t, a, "u1", time.Now().Add(time.Hour))
	_, err = a.GetSession(t.Context(), s.Token)
	require.NoError(t, err)
	for _, r := range rec.all() {
		assert.Equal(t, "Bearer "+srv.APIKey, r.Header.Get("Authorization"), "%s %s", r.Method, r.Path)
	}
}

func TestAuthHeadersJWT(t *testing.T) {
	t.Parallel()
	const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJl"
	srv := newServer(t, allsourcetest.WithAPIKey(jwt, allsourcetest.DefaultTenant))
	rec := &clRecorder{}
	a := newAdapterWithKey(t, srv, jwt, allsourceauth.WithHTTPClient(&http.Client{Transport: rec}))
	ctx := t.Context()

	require.NoError(t, a.Ping(ctx))
	u, err := a.CreateUser(ctx, allsourceauth.CreateUser{Email: "jwt@example.com"})
	require.NoError(t, err)
	got, err := a.GetUserByEmail(ctx, "jwt@example.com")
	require.NoError(t, err)
	assert.Equal(t, u.ID, got.ID)

	queryHost := clHost(t, srv.QueryURL)
	sawQuery := false
	for _, r := range rec.all() {
		if r.Path == "/health" {
			continue
		}
		sawQuery = sawQuery || r.Host == queryHost
		assert.Equal(t, []string{"Bearer " + jwt}, r.Header.Values("Authorization"), "%s %s %s", r.Host, r.Method, r.Path)
		assert.Empty(t, r.Header.Values("X-API-Key"))
	}
	assert.True(t, sawQuery)
}

// ---------------------------------------------------------------------------------------
// Tenants

func TestTenantSentOnWritesAndReads(t *testing.T) {
	t.Parallel()
	keyA := clNewKey(t)
	srv := newServer(t, allsourcetest.WithAPIKey(keyA, "acme"))
	rec := &clRecorder{}
	a := newAdapterWithKey(t, srv, keyA, allsourceauth.WithTenant("acme"), allsourceauth.WithHTTPClient(&http.Client{Transport: rec}))
	ctx := t.Context()
	u, err := a.CreateUser(ctx, allsourceauth.CreateUser{Email: "t@example.com", Username: "tee"})
	require.NoError(t, err)
	_, err = a.UpdateUser(ctx, u.ID, allsourceauth.UpdateUser{Name: allsourceauth.Ptr("T")})
	require.NoError(t, err)
	_, err = a.GetUserByEmail(ctx, "t@example.com")
	require.NoError(t, err)
	_, err = a.GetUserSessions(ctx, u.ID)
	require.NoError(t, err)

	var writes, reads int
	for _, r := range rec.all() {
		switch r.Path {
		case clAppendPath:
			writes++
			var body struct {
				TenantID string `json:"tenant_id"`
			}
			require.NoError(t, json.Unmarshal(r.Body, &body))
			assert.Equal(t, "acme", body.TenantID)
		case clQueryPath:
			reads++
			q, err := url.ParseQuery(r.RawQuery)
			require.NoError(t, err)
			assert.Equal(t, []string{"acme"}, q["tenant_id"], r.RawQuery)
		}
	}
	assert.Positive(t, writes)
	assert.Positive(t, reads)
	for _, e := range srv.Events() {
		assert.Equal(t, "acme", e.TenantID, "%s %s", e.EventType, e.EntityID)
	}
}

func TestNoTenantSendsNoTenantID(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	rec := &clRecorder{}
	a := newAdapter(t, srv, allsourceauth.WithHTTPClient(&http.Client{Transport: rec}))
	s := createSession(t, a, "u1", time.Now().Add(time.Hour))
	_, err := a.GetSession(t.Context(), s.Token)
	require.NoError(t, err)
	for _, r := range rec.all() {
		assert.NotContains(t, string(r.Body), "tenant_id")
		assert.NotContains(t, r.RawQuery, "tenant_id")
	}
	for _, e := range srv.Events() {
		assert.Equal(t, allsourcetest.DefaultTenant, e.TenantID)
	}
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	keyA, keyB := clNewKey(t), clNewKey(t)
	srv := newServer(t, allsourcetest.WithAPIKey(keyA, "tenant-a"), allsourcetest.WithAPIKey(keyB, "tenant_b"))
	ctx := t.Context()
	a := newAdapterWithKey(t, srv, keyA, allsourceauth.WithTenant("tenant-a"))
	b := newAdapterWithKey(t, srv, keyB, allsourceauth.WithTenant("tenant_b"))
	def := newAdapter(t, srv)

	u, err := a.CreateUser(ctx, allsourceauth.CreateUser{Email: "iso@example.com", Username: "iso"})
	require.NoError(t, err)
	s, err := a.CreateSession(ctx, allsourceauth.CreateSession{UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)

	// Visible in its tenant.
	_, err = a.GetUserByID(ctx, u.ID)
	require.NoError(t, err)
	_, err = a.GetUserByEmail(ctx, "iso@example.com")
	require.NoError(t, err)
	_, err = a.GetSession(ctx, s.Token)
	require.NoError(t, err)

	for name, other := range map[string]*allsourceauth.Adapter{"tenant_b": b, "default": def} {
		_, err := other.GetUserByID(ctx, u.ID)
		assert.ErrorIs(t, err, allsourceauth.ErrNotFound, name)
		_, err = other.GetUserByEmail(ctx, "iso@example.com")
		assert.ErrorIs(t, err, allsourceauth.ErrNotFound, name)
		_, err = other.GetUserByUsername(ctx, "iso")
		assert.ErrorIs(t, err, allsourceauth.ErrNotFound, name)
		_, err = other.GetSession(ctx, s.Token)
		assert.ErrorIs(t, err, allsourceauth.ErrNotFound, name)
		sessions, err := other.GetUserSessions(ctx, u.ID)
		require.NoError(t, err, name)
		assert.Empty(t, sessions, name)
		users, total, err := other.ListUsers(ctx, allsourceauth.ListUsersParams{})
		require.NoError(t, err, name)
		assert.Zero(t, total, name)
		assert.Empty(t, users, name)
	}

	// The same email is free in another tenant (claims include the tenant).
	ub, err := b.CreateUser(ctx, allsourceauth.CreateUser{Email: "iso@example.com", Username: "iso"})
	require.NoError(t, err)
	gotB, err := b.GetUserByEmail(ctx, "iso@example.com")
	require.NoError(t, err)
	assert.Equal(t, ub.ID, gotB.ID)
	gotA, err := a.GetUserByEmail(ctx, "iso@example.com")
	require.NoError(t, err)
	assert.Equal(t, u.ID, gotA.ID)
}

// One key, two tenants: WithTenant alone scopes writes and reads, through the Query
// Service as through Core.
func TestTenantWithOneKey(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	ctx := t.Context()
	for _, queryURL := range []string{srv.QueryURL, srv.URL} {
		a, err := allsourceauth.New(srv.URL, queryURL, srv.APIKey, allsourceauth.WithTenant("one"))
		require.NoError(t, err)
		b, err := allsourceauth.New(srv.URL, queryURL, srv.APIKey, allsourceauth.WithTenant("two"))
		require.NoError(t, err)
		email := "shared@" + strings.TrimPrefix(queryURL, "http://")
		ua, err := a.CreateUser(ctx, allsourceauth.CreateUser{Email: email})
		require.NoError(t, err)
		_, err = b.GetUserByID(ctx, ua.ID)
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
		ub, err := b.CreateUser(ctx, allsourceauth.CreateUser{Email: email})
		require.NoError(t, err, "the email is free in the other tenant")
		got, err := a.GetUserByEmail(ctx, email)
		require.NoError(t, err)
		require.Equal(t, ua.ID, got.ID)
		got, err = b.GetUserByEmail(ctx, email)
		require.NoError(t, err)
		require.Equal(t, ub.ID, got.ID)
	}
	for _, ev := range srv.Events() {
		require.Contains(t, []string{"one", "two"}, ev.TenantID)
	}
}

// ---------------------------------------------------------------------------------------
// Query encoding and paging

func TestPayloadFilterSpecialCharacters(t *testing.T) {
	t.Parallel()
	a, _ := newStore(t)
	ctx := t.Context()
	special := []string{
		`u&x=1+2`,
		`a b%20c#frag?q=1;`,
		`"quoted" 'single' \back\slash`,
		`Zoë 日本語 🚀`,
		`{"json":"inside"}`,
		`a+b`,
	}
	// Decoys that a broken encoding (& splitting, + as space, %XX decoding) would match.
	decoys := []string{`u`, `u&x=1 2`, `a b c#frag?q=1;`, `a b`, `ab`}
	for _, id := range append(append([]string(nil), special...), decoys...) {
		createSession(t, a, id, time.Now().Add(time.Hour))
	}
	for _, id := range special {
		got, err := a.GetUserSessions(ctx, id)
		require.NoError(t, err, id)
		require.Len(t, got, 1, id)
		assert.Equal(t, id, got[0].UserID)
	}

	// Emails with the same characters through ListUserInvitations and GetPendingInvitation.
	email := `o'neil+tag&x=y"é"@example.com`
	inv, err := a.CreateInvitation(ctx, allsourceauth.CreateInvitation{OrganizationID: "org&1=2", Email: email,
		InviterID: "u1", Role: "member", ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	_, err = a.CreateInvitation(ctx, allsourceauth.CreateInvitation{OrganizationID: "org&1=2", Email: "o'neil tag@example.com",
		InviterID: "u1", ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	list, err := a.ListUserInvitations(ctx, email)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, inv.ID, list[0].ID)
	got, err := a.GetPendingInvitation(ctx, "org&1=2", strings.ToUpper(email))
	require.NoError(t, err)
	assert.Equal(t, inv.ID, got.ID)

	// Two filter keys at once (provider + account id).
	acc, err := a.CreateAccount(ctx, allsourceauth.CreateAccount{UserID: "u1", ProviderID: "p&q", AccountID: "id=1+2 ü"})
	require.NoError(t, err)
	gotAcc, err := a.GetAccount(ctx, "p&q", "id=1+2 ü")
	require.NoError(t, err)
	assert.Equal(t, acc.ID, gotAcc.ID)
	_, err = a.GetAccount(ctx, "p&q", "id=1 2 ü")
	assert.ErrorIs(t, err, allsourceauth.ErrNotFound)
}

func TestScanFollowsHasMore(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t, allsourceauth.WithPageSize(2))
	ctx := t.Context()
	want := map[string]bool{}
	for range 7 {
		want[createSession(t, a, "pager", time.Now().Add(time.Hour)).Token] = true
	}
	createSession(t, a, "someone-else", time.Now().Add(time.Hour))

	before := srv.Requests()
	got, err := a.GetUserSessions(ctx, "pager")
	require.NoError(t, err)
	assert.Equal(t, int64(4), srv.Requests()-before, "7 events in pages of 2: 4 requests")
	require.Len(t, got, 7)
	for _, s := range got {
		assert.True(t, want[s.Token], s.Token)
	}

	for i := range 7 {
		_, err := a.CreateUser(ctx, allsourceauth.CreateUser{Name: "user", ID: "pager-user-" + string(rune('a'+i))})
		require.NoError(t, err)
	}
	before = srv.Requests()
	users, total, err := a.ListUsers(ctx, allsourceauth.ListUsersParams{Limit: 3})
	require.NoError(t, err)
	assert.Equal(t, 7, total)
	assert.Len(t, users, 3)
	assert.Equal(t, int64(4), srv.Requests()-before)
}

// clOldGateway is a Query Service in front of srv's that drops the given query
// parameters, like older Allsource Query Services that ignored order (answering oldest
// first), payload_filter and event_type_prefix.
func clOldGateway(t *testing.T, srv *allsourcetest.Server, drop ...string) string {
	t.Helper()
	target, err := url.Parse(srv.QueryURL)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	director := proxy.Director
	proxy.Director = func(r *http.Request) {
		director(r)
		q := r.URL.Query()
		for _, p := range drop {
			q.Del(p)
		}
		r.URL.RawQuery = q.Encode()
	}
	gw := httptest.NewServer(proxy)
	t.Cleanup(gw.Close)
	return gw.URL
}

// A gateway that ignores payload_filter and event_type_prefix answers every event: the
// adapter must still return (and delete) only what matches.
func TestGatewayIgnoringFilters(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	a, err := allsourceauth.New(srv.URL, clOldGateway(t, srv, "order", "payload_filter", "event_type_prefix"), srv.APIKey,
		allsourceauth.WithPageSize(3))
	require.NoError(t, err)
	ctx := t.Context()

	alice, err := a.CreateUser(ctx, allsourceauth.CreateUser{Email: "alice@example.com", Name: "Alice"})
	require.NoError(t, err)
	bob, err := a.CreateUser(ctx, allsourceauth.CreateUser{Email: "bob@example.com", Name: "Bob"})
	require.NoError(t, err)
	mine := map[string]bool{}
	for range 2 {
		mine[createSession(t, a, alice.ID, time.Now().Add(time.Hour)).Token] = true
	}
	bobs := createSession(t, a, bob.ID, time.Now().Add(time.Hour))
	_, err = a.CreateAccount(ctx, allsourceauth.CreateAccount{UserID: alice.ID, ProviderID: "github", AccountID: "1"})
	require.NoError(t, err)
	_, err = a.CreateAccount(ctx, allsourceauth.CreateAccount{UserID: bob.ID, ProviderID: "github", AccountID: "2"})
	require.NoError(t, err)

	got, err := a.GetUserSessions(ctx, alice.ID)
	require.NoError(t, err)
	require.Len(t, got, 2)
	for _, s := range got {
		assert.True(t, mine[s.Token])
	}
	acc, err := a.GetAccount(ctx, "github", "2")
	require.NoError(t, err)
	assert.Equal(t, bob.ID, acc.UserID)
	users, total, err := a.ListUsers(ctx, allsourceauth.ListUsersParams{})
	require.NoError(t, err)
	assert.Equal(t, 2, total, "only user events are users")
	assert.Len(t, users, 2)

	require.NoError(t, a.DeleteUserSessions(ctx, alice.ID))
	_, err = a.GetSession(ctx, bobs.Token)
	require.NoError(t, err, "another user's session survives")
	got, err = a.GetUserSessions(ctx, alice.ID)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestLatestWhenGatewayIgnoresOrder(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	a, err := allsourceauth.New(srv.URL, clOldGateway(t, srv, "order"), srv.APIKey, allsourceauth.WithPageSize(2))
	require.NoError(t, err)
	ctx := t.Context()

	u, err := a.CreateUser(ctx, allsourceauth.CreateUser{Name: "v1"})
	require.NoError(t, err)
	for _, name := range []string{"v2", "v3", "v4", "v5"} {
		_, err := a.UpdateUser(ctx, u.ID, allsourceauth.UpdateUser{Name: allsourceauth.Ptr(name)})
		require.NoError(t, err, name)
	}
	got, err := a.GetUserByID(ctx, u.ID)
	require.NoError(t, err)
	assert.Equal(t, "v5", got.Name, "the highest version, not the first event the gateway sent")
	require.Len(t, eventsOf(srv, "auth-user:"+u.ID), 5, "each update expected the right version")

	require.NoError(t, a.DeleteUser(ctx, u.ID))
	_, err = a.GetUserByID(ctx, u.ID)
	assert.ErrorIs(t, err, allsourceauth.ErrNotFound, "the newest event is the tombstone")

	s := createSession(t, a, "u1", time.Now().Add(time.Hour))
	later := s.ExpiresAt.Add(time.Hour)
	require.NoError(t, a.UpdateSessionExpiry(ctx, s.Token, later))
	gs, err := a.GetSession(ctx, s.Token)
	require.NoError(t, err)
	assert.True(t, gs.ExpiresAt.Equal(later))
}

// ---------------------------------------------------------------------------------------
// Retries

func TestRetryableFailuresAreRetried(t *testing.T) {
	t.Parallel()
	retryAfter := http.Header{"Retry-After": []string{"1"}}
	tests := []struct {
		name     string
		fault    allsourcetest.Fault
		minWait  time.Duration
		noReuse  bool // keep-alive off, so Go's Transport cannot retry a dropped GET itself
		isCreate bool // fault the append of CreateSession instead of a read
	}{
		{name: "503", fault: allsourcetest.Fault{Status: 503, Body: `{"error":"Queue full: try later"}`}},
		{name: "500", fault: allsourcetest.Fault{Status: 500, Body: `{"error":"Storage error: disk"}`}},
		{name: "502 text", fault: allsourcetest.Fault{Status: 502, Body: "Bad Gateway"}},
		{name: "429 Retry-After", fault: allsourcetest.Fault{Status: 429, Body: "Too Many Requests", Header: retryAfter}, minWait: 900 * time.Millisecond},
		{name: "408", fault: allsourcetest.Fault{Status: 408, Body: "Request Timeout"}},
		{name: "dropped GET", fault: allsourcetest.Fault{Drop: true}, noReuse: true},
		{name: "503 on append", fault: allsourcetest.Fault{Status: 503, Body: `{"error":"Store is read-only: x"}`}, isCreate: true},
		{name: "dropped POST", fault: allsourcetest.Fault{Drop: true}, isCreate: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var opts []allsourceauth.Option
			if tc.noReuse {
				opts = append(opts, allsourceauth.WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}))
			}
			a, srv := newStore(t, opts...)
			ctx := t.Context()
			f := tc.fault
			if tc.isCreate {
				f.Method, f.Path = http.MethodPost, clAppendPath
				before := srv.Requests()
				srv.Inject(f)
				start := time.Now()
				s, err := a.CreateSession(ctx, allsourceauth.CreateSession{UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)})
				require.NoError(t, err)
				assert.GreaterOrEqual(t, time.Since(start), tc.minWait)
				assert.Equal(t, int64(2), srv.Requests()-before, "one failure, one retry")
				assert.Len(t, eventsOf(srv, "auth-session:"+s.Token), 1)
				return
			}
			s := createSession(t, a, "u1", time.Now().Add(time.Hour))
			f.Method, f.Path = http.MethodGet, clQueryPath
			before := srv.Requests()
			srv.Inject(f)
			start := time.Now()
			got, err := a.GetSession(ctx, s.Token)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, time.Since(start), tc.minWait, "Retry-After is honoured")
			assert.Equal(t, s.ID, got.ID)
			assert.Equal(t, int64(2), srv.Requests()-before, "one failure, one retry")
		})
	}
}

func TestRetriesExhausted(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t, allsourceauth.WithRetries(2))
	srv.Inject(allsourcetest.Fault{Path: clQueryPath, Status: 503, Body: `{"error":"Queue full: x"}`, Times: 10})
	before := srv.Requests()
	_, err := a.GetUserByID(t.Context(), "u1")
	var ae *allsourceauth.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 503, ae.StatusCode)
	assert.Equal(t, "Queue full: x", ae.Message)
	assert.Equal(t, int64(3), srv.Requests()-before, "one attempt and two retries")
}

func TestRetriesZeroFailsAtOnce(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t, allsourceauth.WithRetries(0))
	srv.Inject(allsourcetest.Fault{Path: clQueryPath, Status: 503, Body: `{"error":"Queue full: x"}`})
	before := srv.Requests()
	_, err := a.GetUserByID(t.Context(), "u1")
	var ae *allsourceauth.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 503, ae.StatusCode)
	assert.Equal(t, int64(1), srv.Requests()-before)
	// The fault is used up: the next call works.
	_, err = a.GetUserByID(t.Context(), "u1")
	assert.ErrorIs(t, err, allsourceauth.ErrNotFound)
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	for _, status := range []int{400, 401, 403, 404, 409, 413, 415, 422} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			a, srv := newStore(t)
			ctx := t.Context()

			srv.Inject(allsourcetest.Fault{Path: clQueryPath, Status: status, Body: `{"error":"Invalid input: no"}`})
			before := srv.Requests()
			_, err := a.GetUserByID(ctx, "u1")
			var ae *allsourceauth.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, status, ae.StatusCode)
			assert.Equal(t, int64(1), srv.Requests()-before, "read")

			srv.Inject(allsourcetest.Fault{Path: clAppendPath, Status: status, Body: `{"error":"Validation error: no"}`})
			before = srv.Requests()
			_, err = a.CreateSession(ctx, allsourceauth.CreateSession{UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)})
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, status, ae.StatusCode)
			assert.False(t, errors.Is(err, allsourceauth.ErrConflict), "a 409 without version_conflict is not a version conflict")
			assert.Equal(t, int64(1), srv.Requests()-before, "append")
			assert.Empty(t, srv.Events())
		})
	}
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	long := http.Header{"Retry-After": []string{"30"}}

	t.Run("deadline", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t)
		srv.Inject(allsourcetest.Fault{Path: clQueryPath, Status: 503, Header: long, Times: 5})
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := a.GetUserByID(ctx, "u1")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		// Generous bound: the backoff asked for 30s; returning well before proves it stopped.
		assert.Less(t, time.Since(start), 10*time.Second)
		assert.Equal(t, int64(1), srv.Requests())
	})

	t.Run("cancel", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t)
		srv.Inject(allsourcetest.Fault{Path: clAppendPath, Status: 429, Header: long, Times: 5})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			_, err := a.CreateSession(ctx, allsourceauth.CreateSession{UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)})
			done <- err
		}()
		// Cancel once the first attempt has been answered and the client is backing off.
		for srv.Requests() < 1 {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			require.ErrorIs(t, err, context.Canceled)
		case <-time.After(10 * time.Second):
			t.Fatal("the call kept waiting for Retry-After after its context was cancelled")
		}
		assert.Equal(t, int64(1), srv.Requests())
	})

	t.Run("deadline during a slow attempt", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t)
		srv.Inject(allsourcetest.Fault{Path: clQueryPath, Delay: 30 * time.Second})
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		_, err := a.GetUserByID(ctx, "u1")
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

func TestPerAttemptTimeout(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t, allsourceauth.WithTimeout(300*time.Millisecond))
	s := createSession(t, a, "u1", time.Now().Add(time.Hour))
	srv.Inject(allsourcetest.Fault{Path: clQueryPath, Delay: 30 * time.Second})
	before := srv.Requests()
	got, err := a.GetSession(t.Context(), s.Token)
	require.NoError(t, err, "the slow attempt timed out and the retry succeeded")
	assert.Equal(t, s.Token, got.Token)
	assert.Equal(t, int64(2), srv.Requests()-before)

	// Every attempt slow: the call fails (after its retries) with the per-attempt deadline.
	srv.Inject(allsourcetest.Fault{Path: clQueryPath, Delay: 30 * time.Second, Times: 4})
	before = srv.Requests()
	_, err = a.GetSession(t.Context(), s.Token)
	require.Error(t, err)
	var ae *allsourceauth.APIError
	assert.False(t, errors.As(err, &ae))
	assert.Equal(t, int64(4), srv.Requests()-before, "timeouts are retried")
}

// ---------------------------------------------------------------------------------------
// Lost answers to appends that landed

func TestLostAppendAnswer(t *testing.T) {
	t.Parallel()
	lost := func(times int) allsourcetest.Fault {
		return allsourcetest.Fault{Method: http.MethodPost, Path: clAppendPath, AfterApply: true, Drop: true, Times: times}
	}

	t.Run("CreateSession", func(t *testing.T) {
		t.Parallel()
		for _, times := range []int{1, 2} {
			a, srv := newStore(t)
			srv.Inject(lost(times))
			s, err := a.CreateSession(t.Context(), allsourceauth.CreateSession{UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)})
			require.NoError(t, err, "times=%d", times)
			assert.Len(t, eventsOf(srv, "auth-session:"+s.Token), 1, "times=%d", times)
			got, err := a.GetSession(t.Context(), s.Token)
			require.NoError(t, err)
			assert.Equal(t, s, got)
		}
	})

	t.Run("CreateUser without unique values", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t)
		srv.Inject(lost(1))
		u, err := a.CreateUser(t.Context(), allsourceauth.CreateUser{Name: "Ann"})
		require.NoError(t, err)
		assert.Len(t, eventsOf(srv, "auth-user:"+u.ID), 1)
		assert.Len(t, srv.Events(), 1)
	})

	t.Run("CreateUser claim answer lost", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t)
		srv.Inject(lost(1)) // the first append: the email claim
		u, err := a.CreateUser(t.Context(), allsourceauth.CreateUser{Email: "lost@example.com", Username: "lost"})
		require.NoError(t, err)
		assert.Len(t, eventsOf(srv, "auth-user:"+u.ID), 1)
		assert.Len(t, eventsOfType(srv, "auth.claim.acquired"), 2, "one claim per value")
		assert.Len(t, srv.Events(), 3)
		got, err := a.GetUserByEmail(t.Context(), "LOST@example.com")
		require.NoError(t, err)
		assert.Equal(t, u, got)
	})

	t.Run("CreateUser every answer lost", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t)
		lt := &clLoseFirst{}
		a := newAdapter(t, srv, allsourceauth.WithHTTPClient(&http.Client{Transport: lt}))
		u, err := a.CreateUser(t.Context(), allsourceauth.CreateUser{Email: "all@example.com", Username: "all"})
		require.NoError(t, err)
		assert.Equal(t, int64(3), lt.lost.Load(), "the two claims and the user each lost an answer")
		assert.Len(t, eventsOf(srv, "auth-user:"+u.ID), 1)
		assert.Len(t, eventsOfType(srv, "auth.claim.acquired"), 2)
		assert.Len(t, srv.Events(), 3)
		got, err := a.GetUserByUsername(t.Context(), "ALL")
		require.NoError(t, err)
		assert.Equal(t, u, got)

		// An email change: the new claim, the update and the old claim's release.
		lt.reset()
		got, err = a.UpdateUser(t.Context(), u.ID, allsourceauth.UpdateUser{Email: allsourceauth.Ptr("moved@example.com")})
		require.NoError(t, err)
		assert.Equal(t, "moved@example.com", got.Email)
		assert.Positive(t, lt.lost.Load())
		assert.Len(t, eventsOf(srv, "auth-user:"+u.ID), 2, "exactly one update")
		_, err = a.GetUserByEmail(t.Context(), "moved@example.com")
		require.NoError(t, err)
		_, err = a.GetUserByEmail(t.Context(), "all@example.com")
		assert.ErrorIs(t, err, allsourceauth.ErrNotFound)
		// The old email is free again.
		_, err = a.CreateUser(t.Context(), allsourceauth.CreateUser{Email: "all@example.com"})
		require.NoError(t, err)
	})

	t.Run("UpdateUser", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t)
		u, err := a.CreateUser(t.Context(), allsourceauth.CreateUser{Email: "upd@example.com"})
		require.NoError(t, err)
		srv.Inject(lost(1))
		got, err := a.UpdateUser(t.Context(), u.ID, allsourceauth.UpdateUser{Name: allsourceauth.Ptr("New")})
		require.NoError(t, err)
		assert.Equal(t, "New", got.Name)
		evs := eventsOf(srv, "auth-user:"+u.ID)
		require.Len(t, evs, 2, "created + exactly one updated")
		assert.Equal(t, "auth.user.updated", evs[1].EventType)
		read, err := a.GetUserByID(t.Context(), u.ID)
		require.NoError(t, err)
		assert.Equal(t, got, read)
	})

	t.Run("UpdateUser email", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t)
		u, err := a.CreateUser(t.Context(), allsourceauth.CreateUser{Email: "old@example.com"})
		require.NoError(t, err)
		srv.Inject(lost(2)) // the new email's claim, then its retry's 409
		got, err := a.UpdateUser(t.Context(), u.ID, allsourceauth.UpdateUser{Email: allsourceauth.Ptr("new@example.com")})
		require.NoError(t, err)
		assert.Equal(t, "new@example.com", got.Email)
		assert.Len(t, eventsOf(srv, "auth-user:"+u.ID), 2)
		_, err = a.GetUserByEmail(t.Context(), "new@example.com")
		require.NoError(t, err)
		_, err = a.GetUserByEmail(t.Context(), "old@example.com")
		assert.ErrorIs(t, err, allsourceauth.ErrNotFound)
	})

	t.Run("DeleteSession", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t)
		s := createSession(t, a, "u1", time.Now().Add(time.Hour))
		srv.Inject(lost(1))
		require.NoError(t, a.DeleteSession(t.Context(), s.Token))
		assert.Len(t, eventsOf(srv, "auth-session:"+s.Token), 2)
		_, err := a.GetSession(t.Context(), s.Token)
		assert.ErrorIs(t, err, allsourceauth.ErrNotFound)
	})

	t.Run("ConsumeVerification", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t)
		v, err := a.CreateVerification(t.Context(), allsourceauth.CreateVerification{Identifier: "email:x", Value: "code", ExpiresAt: time.Now().Add(time.Hour)})
		require.NoError(t, err)
		srv.Inject(lost(1))
		got, err := a.ConsumeVerification(t.Context(), "email:x", "code")
		require.NoError(t, err, "the consume landed: the caller gets the verification")
		assert.Equal(t, v.ID, got.ID)
		assert.Len(t, eventsOf(srv, "auth-verification:"+v.ID), 2)
		_, err = a.ConsumeVerification(t.Context(), "email:x", "code")
		assert.ErrorIs(t, err, allsourceauth.ErrNotFound)
	})
}

// clLoseFirst delivers every append, but loses the answer to the first append of each
// entity (a connection reset after the event landed), the way a flaky network does.
type clLoseFirst struct {
	mu   sync.Mutex
	seen map[string]bool
	lost atomic.Int64
}

func (l *clLoseFirst) reset() {
	l.mu.Lock()
	l.seen = nil
	l.mu.Unlock()
}

func (l *clLoseFirst) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || req.URL.Path != clAppendPath {
		return http.DefaultTransport.RoundTrip(req)
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	_ = req.Body.Close()
	var ev struct {
		EntityID string `json:"entity_id"`
	}
	_ = json.Unmarshal(b, &ev)
	req = req.Clone(req.Context())
	req.Body = io.NopCloser(bytes.NewReader(b))
	l.mu.Lock()
	first := !l.seen[ev.EntityID]
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	l.seen[ev.EntityID] = true
	l.mu.Unlock()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || !first || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	l.lost.Add(1)
	return nil, errors.New("read: connection reset by peer")
}

// ---------------------------------------------------------------------------------------
// Garbled, truncated and oversized answers

func TestGarbledAnswers(t *testing.T) {
	t.Parallel()
	const ev = `{"id":"e1","event_type":"auth.user.created","entity_id":"auth-user:u1","tenant_id":"default",` +
		`"timestamp":"2026-09-21T10:00:00Z","metadata":null,"version":1,"payload":`
	page := func(payload string) string {
		return `{"events":[` + ev + payload + `}],"count":1,"total_count":1,"has_more":false,"entity_version":1}`
	}
	tests := map[string]string{
		"not json":               "{not json",
		"truncated":              `{"events":[` + ev + `{"id":"u1","name":"An`,
		"empty body":             "",
		"events not a list":      `{"events":{},"count":0,"total_count":0,"has_more":false}`,
		"payload is a string":    page(`"hello"`),
		"payload is a list":      page(`[1,2,3]`),
		"payload is null":        page(`null`),
		"payload is a number":    page(`42`),
		"payload field mistyped": page(`{"id":"u1","name":5,"createdAt":"2026-09-21T10:00:00Z"}`),
		"payload bad time":       page(`{"id":"u1","createdAt":"yesterday"}`),
		"count disagrees":        `{"events":[],"count":3,"total_count":3,"has_more":false}`,
		"version not a number":   `{"events":[` + strings.Replace(ev, `"version":1`, `"version":"one"`, 1) + `{}}],"count":1,"total_count":1,"has_more":false}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, srv := newStore(t)
			srv.Inject(allsourcetest.Fault{Path: clQueryPath, Status: http.StatusOK, Body: body})
			u, err := a.GetUserByID(t.Context(), "u1")
			require.Error(t, err)
			assert.Nil(t, u, "never a half-filled entity")
			assert.False(t, errors.Is(err, allsourceauth.ErrNotFound), "a bad answer is not a missing entity: %v", err)
		})
	}

	t.Run("has_more without events", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t)
		srv.Inject(allsourcetest.Fault{Path: clQueryPath, Status: http.StatusOK,
			Body: `{"events":[],"count":0,"total_count":5,"has_more":true}`})
		got, err := a.GetUserSessions(t.Context(), "u1")
		require.Error(t, err, "no endless loop, no silent truncation")
		assert.Nil(t, got)
	})

	t.Run("garbled append answer", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t)
		srv.Inject(allsourcetest.Fault{Path: clAppendPath, Status: http.StatusOK, Body: "{not json"})
		s, err := a.CreateSession(t.Context(), allsourceauth.CreateSession{UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)})
		require.Error(t, err)
		assert.Nil(t, s)
	})

	t.Run("payload not an object in a scan", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t)
		_, err := srv.Append("", "auth-session:session_bad", "auth.session.created", json.RawMessage(`["not","an","object"]`), nil)
		require.NoError(t, err)
		_, err = a.DeleteExpiredSessions(t.Context())
		require.Error(t, err)
		_, err = a.GetSession(t.Context(), "session_bad")
		require.Error(t, err)
		assert.False(t, errors.Is(err, allsourceauth.ErrNotFound))
	})
}

func TestOversizedErrorBodyIsBounded(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t, allsourceauth.WithRetries(0))
	huge := strings.Repeat("x", 3<<20)
	for name, body := range map[string]string{
		"text": huge,
		"json": `{"error":"` + huge + `"}`,
	} {
		srv.Inject(allsourcetest.Fault{Path: clQueryPath, Status: 500, Body: body})
		_, err := a.GetUserByID(t.Context(), "u1")
		var ae *allsourceauth.APIError
		require.ErrorAs(t, err, &ae, name)
		assert.Equal(t, 500, ae.StatusCode, name)
		assert.Less(t, len(ae.Message), 4<<10, name)
		assert.Less(t, len(err.Error()), 8<<10, name)
	}
	// The connection survived (or was replaced): the next call works.
	_, err := a.GetUserByID(t.Context(), "u1")
	assert.ErrorIs(t, err, allsourceauth.ErrNotFound)
}

// ---------------------------------------------------------------------------------------
// APIError decoding

func TestAPIErrorDecoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		body      string
		code, msg string
	}{
		{"core json", 400, `{"error":"Invalid input: x"}`, "", "Invalid input: x"},
		{"gateway json", 401, `{"error":{"code":"unauthorized","message":"m"}}`, "unauthorized", "m"},
		{"plain text", 401, "Invalid API key", "", "Invalid API key"},
		{"plain text padded", 402, "  Payment Required\n", "", "Payment Required"},
		{"code and message", 409, `{"error":"read_only","message":"This node is a read-only follower"}`, "read_only", "This node is a read-only follower"},
		{"json without error", 400, `{"detail":"x"}`, "", `{"detail":"x"}`},
		{"empty", 404, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, srv := newStore(t, allsourceauth.WithRetries(0))
			srv.Inject(allsourcetest.Fault{Path: clQueryPath, Status: tc.status, Body: tc.body})
			_, err := a.GetUserByEmail(t.Context(), "who@example.com")
			var ae *allsourceauth.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tc.status, ae.StatusCode)
			assert.Equal(t, tc.code, ae.Code)
			assert.Equal(t, tc.msg, ae.Message)
			assert.Equal(t, http.MethodGet, ae.Method)
			assert.Equal(t, clQueryPath, ae.Path, "path only, no query string")
			assert.NotContains(t, err.Error(), "?")
			assert.NotContains(t, err.Error(), "entity_id")
			assert.Contains(t, err.Error(), "get user by email")
		})
	}
}

func TestAPIErrorFromRealAnswers(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	wrong := clNewKey(t)
	a := newAdapterWithKey(t, srv, wrong)
	ctx := t.Context()

	_, err := a.GetUserByID(ctx, "u1") // Query Service: JSON {"error":{"code","message"}}
	var ae *allsourceauth.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 401, ae.StatusCode)
	assert.Equal(t, "unauthorized", ae.Code)
	assert.NotEmpty(t, ae.Message)

	_, err = a.CreateSession(ctx, allsourceauth.CreateSession{UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)}) // Core: text/plain
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 401, ae.StatusCode)
	assert.Equal(t, "Invalid API key", ae.Message)
	assert.Equal(t, http.MethodPost, ae.Method)
	assert.Equal(t, clAppendPath, ae.Path)
	assert.Equal(t, int64(2), srv.Requests(), "401s are not retried")
}

// A version conflict on an explicit ID is ErrConflict, and its *APIError is reachable.
func TestVersionConflictIsConflict(t *testing.T) {
	t.Parallel()
	a, _ := newStore(t)
	_, err := a.CreateUser(t.Context(), allsourceauth.CreateUser{ID: "dup"})
	require.NoError(t, err)
	_, err = a.CreateUser(t.Context(), allsourceauth.CreateUser{ID: "dup"})
	require.ErrorIs(t, err, allsourceauth.ErrConflict)
}

// ---------------------------------------------------------------------------------------
// Secrets

func TestSecretsStayOutOfErrorsAndLogs(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// Keep-alive off: a dropped GET is then never replayed by the Transport itself, so each
	// fault below is used up by exactly the attempts of its call.
	a := newAdapter(t, srv, allsourceauth.WithLogger(logger), allsourceauth.WithRetries(2), allsourceauth.WithTimeout(150*time.Millisecond),
		allsourceauth.WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}))
	ctx := t.Context()

	const (
		email    = "secret.person+x@example.com"
		hash     = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$SECRETHASHSECRETHASH"
		totp     = "JBSWY3DPEHPK3PXPSECRET"
		oauthTok = "ya29.OAUTHACCESSTOKENSECRET"
	)
	u, err := a.CreateUser(ctx, allsourceauth.CreateUser{Email: email})
	require.NoError(t, err)
	s := createSession(t, a, u.ID, time.Now().Add(time.Hour))
	secrets := map[string]string{"api key": srv.APIKey, "session token": s.Token, "email": email,
		"password hash": hash, "2fa secret": totp, "oauth token": oauthTok}
	// What a server might echo: the key, the entity id (holding the token), the secrets.
	echo := "failed for auth-session:" + s.Token + " with key " + srv.APIKey + " Bearer " + srv.APIKey

	var errs []error
	collect := func(err error) {
		t.Helper()
		require.Error(t, err)
		errs = append(errs, err)
	}

	// Wrong key, with a server echoing it.
	wrongKey := clNewKey(t)
	secrets["wrong api key"] = wrongKey
	wrong := newAdapterWithKey(t, srv, wrongKey, allsourceauth.WithLogger(logger))
	_, err = wrong.GetSession(ctx, s.Token)
	collect(err)
	srv.Inject(allsourcetest.Fault{Path: clQueryPath, Status: 401, Body: "Invalid API key " + srv.APIKey})
	_, err = a.GetSession(ctx, s.Token)
	collect(err)

	// 500s echoing the key and the token, on reads and writes (retried, so logged).
	srv.Inject(allsourcetest.Fault{Path: clQueryPath, Status: 500, Body: `{"error":"` + echo + `"}`, Times: 3})
	_, err = a.GetSession(ctx, s.Token)
	collect(err)
	srv.Inject(allsourcetest.Fault{Path: clAppendPath, Status: 503, Body: echo, Times: 3})
	collect(a.UpdateSessionExpiry(ctx, s.Token, time.Now().Add(2*time.Hour)))
	srv.Inject(allsourcetest.Fault{Path: clAppendPath, Status: 500, Body: echo, Times: 3})
	collect(a.DeleteSession(ctx, s.Token))

	// Dropped connections on GETs carrying a token or an email in the query string.
	srv.Inject(allsourcetest.Fault{Path: clQueryPath, Drop: true, Times: 3})
	_, err = a.GetSession(ctx, s.Token)
	collect(err)
	srv.Inject(allsourcetest.Fault{Path: clQueryPath, Drop: true, Times: 3})
	_, err = a.ListUserInvitations(ctx, email)
	collect(err)

	// Per-attempt timeouts on the same.
	srv.Inject(allsourcetest.Fault{Path: clQueryPath, Delay: 10 * time.Second, Times: 3})
	_, err = a.GetSession(ctx, s.Token)
	collect(err)
	srv.Inject(allsourcetest.Fault{Path: clQueryPath, Delay: 10 * time.Second, Times: 3})
	_, err = a.GetPendingInvitation(ctx, "org1", email)
	collect(err)

	// The caller's deadline.
	srv.Inject(allsourcetest.Fault{Path: clQueryPath, Status: 503, Header: http.Header{"Retry-After": []string{"30"}}})
	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = a.GetSession(dctx, s.Token)
	cancel()
	collect(err)

	// Garbled answers.
	srv.Inject(allsourcetest.Fault{Path: clQueryPath, Status: 200, Body: `{"events":[{"payload":"` + s.Token + `"`})
	_, err = a.GetSession(ctx, s.Token)
	collect(err)
	srv.Inject(allsourcetest.Fault{Path: clQueryPath, Status: 200, Body: `{"events":` + s.Token + `}`})
	_, err = a.GetUserSessions(ctx, u.ID)
	collect(err)

	// Writes carrying a password hash, a 2FA secret and an OAuth token, failing every way.
	srv.Inject(allsourcetest.Fault{Path: clAppendPath, Drop: true, Times: 3})
	_, err = a.CreateAccount(ctx, allsourceauth.CreateAccount{UserID: u.ID, ProviderID: "credential", AccountID: u.ID, Password: hash})
	collect(err)
	srv.Inject(allsourcetest.Fault{Path: clAppendPath, Status: 500, Body: `{"error":"Storage error: disk full"}`, Times: 3})
	_, err = a.CreateAccount(ctx, allsourceauth.CreateAccount{UserID: u.ID, ProviderID: "google", AccountID: "g1", AccessToken: oauthTok})
	collect(err)
	srv.Inject(allsourcetest.Fault{Path: clAppendPath, Delay: 10 * time.Second, Times: 3})
	_, err = a.CreateTwoFactor(ctx, allsourceauth.CreateTwoFactor{UserID: "2fa-user", Secret: totp})
	collect(err)
	srv.Inject(allsourcetest.Fault{Path: clAppendPath, Status: 400, Body: `{"error":"Invalid input: bad"}`})
	_, err = a.CreateTwoFactor(ctx, allsourceauth.CreateTwoFactor{UserID: "2fa-user-2", Secret: totp})
	collect(err)

	// The session token as a lookup key that is too long or holds a control character.
	_, err = a.GetSession(ctx, s.Token+strings.Repeat("x", 100))
	collect(err)
	_, err = a.GetSession(ctx, s.Token+"\n")
	collect(err)

	for _, err := range errs {
		text := err.Error()
		for what, secret := range secrets {
			assert.NotContains(t, text, secret, "%s in error %q", what, text)
		}
	}
	logText := logs.String()
	assert.NotEmpty(t, logText, "retries are logged at debug level")
	for what, secret := range secrets {
		assert.NotContains(t, logText, secret, "%s in the log", what)
	}
}

// ---------------------------------------------------------------------------------------
// Connection reuse

// clDialCounter is a Transport whose dials are counted.
func clDialCounter() (*http.Transport, *atomic.Int64) {
	var n atomic.Int64
	d := &net.Dialer{}
	tr := &http.Transport{
		MaxIdleConnsPerHost: 8,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			n.Add(1)
			return d.DialContext(ctx, network, addr)
		},
	}
	return tr, &n
}

func TestConnectionsAreReused(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	tr, dials := clDialCounter()
	t.Cleanup(tr.CloseIdleConnections)
	a := newAdapter(t, srv, allsourceauth.WithHTTPClient(&http.Client{Transport: tr}), allsourceauth.WithRetries(0))
	ctx := t.Context()
	s := createSession(t, a, "u1", time.Now().Add(time.Hour))

	for range 50 {
		_, err := a.GetSession(ctx, s.Token)
		require.NoError(t, err)
	}
	for range 20 {
		_, err := a.GetSession(ctx, "session_missing")
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	}
	// Error answers with bodies are read and closed too.
	for range 20 {
		srv.Inject(allsourcetest.Fault{Path: clQueryPath, Status: 400, Body: `{"error":"Invalid input: ` + strings.Repeat("x", 64<<10) + `"}`})
		_, err := a.GetSession(ctx, s.Token)
		require.Error(t, err)
	}
	for range 20 {
		srv.Inject(allsourcetest.Fault{Path: clQueryPath, Status: 503, Body: "Service Unavailable"})
		_, err := a.GetSession(ctx, s.Token)
		require.Error(t, err)
	}
	// 111 sequential requests: one connection to Core, one to the Query Service.
	assert.LessOrEqual(t, dials.Load(), int64(4), "bodies are drained and closed, connections reused")
}
