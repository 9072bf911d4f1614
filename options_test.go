package allsourceauth_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a452aa33/allsourceauth"
	"github.com/seed-a452aa33/allsourceauth/allsourcetest"
)

func TestNewValidation(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	core, query, key := srv.URL, srv.QueryURL, srv.APIKey
	hostOnly := strings.TrimPrefix(core, "http://")

	bad := []struct {
		name             string
		core, query, key string
		opts             []allsourceauth.Option
	}{
		{name: "relative core URL", core: "/api", query: query, key: key},
		{name: "relative query URL", core: core, query: "query.local/api", key: key},
		{name: "host without scheme", core: hostOnly, query: query, key: key},
		{name: "ftp scheme", core: "ftp://" + hostOnly, query: query, key: key},
		{name: "ftp query scheme", core: core, query: "ftp://" + hostOnly, key: key},
		{name: "no host", core: "http://", query: query, key: key},
		{name: "no host https path", core: core, query: "https:///api", key: key},
		{name: "empty core URL", core: "", query: query, key: key},
		{name: "empty query URL", core: core, query: "", key: key},
		{name: "unparseable URL", core: "http://[::1", query: query, key: key},
		{name: "empty key", core: core, query: query, key: ""},
		{name: "negative retries", core: core, query: query, key: key, opts: []allsourceauth.Option{allsourceauth.WithRetries(-1)}},
		{name: "negative timeout", core: core, query: query, key: key, opts: []allsourceauth.Option{allsourceauth.WithTimeout(-time.Second)}},
		{name: "negative page size", core: core, query: query, key: key, opts: []allsourceauth.Option{allsourceauth.WithPageSize(-1)}},
		{name: "zero page size", core: core, query: query, key: key, opts: []allsourceauth.Option{allsourceauth.WithPageSize(0)}},
		{name: "nil clock", core: core, query: query, key: key, opts: []allsourceauth.Option{allsourceauth.WithClock(nil)}},
		{name: "nil http client", core: core, query: query, key: key, opts: []allsourceauth.Option{allsourceauth.WithHTTPClient(nil)}},
		{name: "empty tenant", core: core, query: query, key: key, opts: []allsourceauth.Option{allsourceauth.WithTenant("")}},
		{name: "tenant with space", core: core, query: query, key: key, opts: []allsourceauth.Option{allsourceauth.WithTenant("a b")}},
		{name: "tenant with slash", core: core, query: query, key: key, opts: []allsourceauth.Option{allsourceauth.WithTenant("a/b")}},
		{name: "tenant non-ascii", core: core, query: query, key: key, opts: []allsourceauth.Option{allsourceauth.WithTenant("ténant")}},
		{name: "tenant too long", core: core, query: query, key: key, opts: []allsourceauth.Option{allsourceauth.WithTenant(strings.Repeat("a", 65))}},
		{name: "bad option after good ones", core: core, query: query, key: key, opts: []allsourceauth.Option{
			allsourceauth.WithRetries(1), allsourceauth.WithTenant("ok"), allsourceauth.WithTimeout(-1)}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := allsourceauth.New(tc.core, tc.query, tc.key, tc.opts...)
			require.ErrorIs(t, err, allsourceauth.ErrInvalidInput)
			assert.Nil(t, a)
			if tc.key != "" {
				assert.NotContains(t, err.Error(), tc.key)
			}
		})
	}

	good := []struct {
		name        string
		core, query string
		opts        []allsourceauth.Option
	}{
		{name: "defaults", core: core, query: query},
		{name: "query equals core", core: core, query: core},
		{name: "trailing slashes", core: core + "/", query: query + "/"},
		{name: "https", core: "https://allsource.example.com", query: "https://query.example.com:3902"},
		{name: "zero retries and timeout", core: core, query: query, opts: []allsourceauth.Option{
			allsourceauth.WithRetries(0), allsourceauth.WithTimeout(0)}},
		{name: "every option", core: core, query: query, opts: []allsourceauth.Option{
			allsourceauth.WithHTTPClient(&http.Client{}), allsourceauth.WithTenant("Acme_1-x"),
			allsourceauth.WithTimeout(time.Second), allsourceauth.WithRetries(5),
			allsourceauth.WithLogger(nil), allsourceauth.WithClock(time.Now), allsourceauth.WithPageSize(1)}},
		{name: "tenant of 64", core: core, query: query, opts: []allsourceauth.Option{allsourceauth.WithTenant(strings.Repeat("Z", 64))}},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := allsourceauth.New(tc.core, tc.query, key, tc.opts...)
			require.NoError(t, err)
			require.NotNil(t, a)
		})
	}

	t.Cleanup(func() {
		// Runs after the parallel subtests: New does no network I/O, valid or not.
		if n := srv.Requests(); n != 0 {
			t.Errorf("New sent %d requests", n)
		}
	})
}

func TestPing(t *testing.T) {
	t.Parallel()

	t.Run("ok", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t)
		require.NoError(t, a.Ping(t.Context()))
		assert.Equal(t, int64(3), srv.Requests(), "health on Core, health on the Query Service, one query")
	})

	t.Run("ok reading from core", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t)
		a, err := allsourceauth.New(srv.URL, srv.URL, srv.APIKey)
		require.NoError(t, err)
		require.NoError(t, a.Ping(t.Context()))
	})

	t.Run("wrong key", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t)
		wrong := "ask_" + strings.Repeat("A", 43)
		a := newAdapterWithKey(t, srv, wrong)
		err := a.Ping(t.Context())
		var ae *allsourceauth.APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, http.StatusUnauthorized, ae.StatusCode)
		assert.NotContains(t, err.Error(), wrong)
		assert.Equal(t, int64(3), srv.Requests(), "a 401 is not retried")
	})

	t.Run("closed server", func(t *testing.T) {
		t.Parallel()
		srv := allsourcetest.NewServer()
		srv.Close()
		a := newAdapter(t, srv, allsourceauth.WithRetries(1))
		err := a.Ping(t.Context())
		require.Error(t, err)
		var ae *allsourceauth.APIError
		assert.False(t, errors.As(err, &ae), "a transport error, not an answer: %v", err)
		assert.Contains(t, err.Error(), "ping")
	})

	t.Run("query service down", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t, allsourceauth.WithRetries(0))
		srv.Inject(allsourcetest.Fault{Listener: allsourcetest.ListenerQuery, Path: "/health", Status: http.StatusServiceUnavailable,
			Body: `{"error":"Store is read-only: x"}`})
		err := a.Ping(t.Context())
		var ae *allsourceauth.APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, http.StatusServiceUnavailable, ae.StatusCode)
		assert.Equal(t, "/health", ae.Path)
	})

	t.Run("unhealthy status", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t)
		srv.Inject(allsourcetest.Fault{Path: "/health", Status: http.StatusOK, Body: `{"status":"degraded"}`})
		require.Error(t, a.Ping(t.Context()))
	})
}

func TestWithHTTPClientIsUsed(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	m := newMeter()
	a := newAdapter(t, srv, allsourceauth.WithHTTPClient(&http.Client{Transport: m}))
	require.NoError(t, a.Ping(t.Context()))
	u, err := a.CreateUser(t.Context(), allsourceauth.CreateUser{Email: "ann@example.com"})
	require.NoError(t, err)
	_, err = a.GetUserByID(t.Context(), u.ID)
	require.NoError(t, err)
	assert.Positive(t, m.requests.Load())
	assert.Equal(t, srv.Requests(), m.requests.Load(), "every request goes through the given client")
}

func TestWithClockSetsTimestamps(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))
	a, _ := newStore(t, allsourceauth.WithClock(func() time.Time { return at }))
	s, err := a.CreateSession(t.Context(), allsourceauth.CreateSession{UserID: "u1", ExpiresAt: at.Add(time.Hour)})
	require.NoError(t, err)
	assert.True(t, s.CreatedAt.Equal(at))
	assert.Equal(t, time.UTC, s.CreatedAt.Location())
}
