package allsourceauth_test

import (
	"sync"
	"testing"
	"time"

	"github.com/seed-a452aa33/allsourceauth"
	"github.com/seed-a452aa33/allsourceauth/allsourcetest"
)

// newStore starts an in-memory Allsource and an Adapter on it (Core for writes, the Query
// Service for reads, as in production). Both close with the test.
func newStore(t testing.TB, opts ...allsourceauth.Option) (*allsourceauth.Adapter, *allsourcetest.Server) {
	t.Helper()
	srv := allsourcetest.NewServer()
	t.Cleanup(srv.Close)
	return newAdapter(t, srv, opts...), srv
}

// newAdapter returns another Adapter on srv: a second app server sharing one Allsource.
func newAdapter(t testing.TB, srv *allsourcetest.Server, opts ...allsourceauth.Option) *allsourceauth.Adapter {
	t.Helper()
	a, err := allsourceauth.New(srv.URL, srv.QueryURL, srv.APIKey, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

// testClock is a settable clock for WithClock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock(t time.Time) *testClock { return &testClock{now: t} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
