package allsourceauth

import (
	"testing"

	"github.com/seed-a452aa33/allsourceauth/allsourcetest"
)

// newStore starts an in-memory Allsource and an Adapter on it, closed with the test.
func newStore(t testing.TB, opts ...Option) (*Adapter, *allsourcetest.Server) {
	t.Helper()
	srv := allsourcetest.NewServer()
	t.Cleanup(srv.Close)
	a, err := New(srv.URL, srv.QueryURL, srv.APIKey, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a, srv
}
