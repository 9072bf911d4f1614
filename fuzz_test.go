package allsourceauth_test

// Fuzz tests of input validation through the public API. The seed corpus runs as an
// ordinary test; to fuzz:
//
//	go test -run '^$' -fuzz FuzzLookupKeys -fuzztime 20s .

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/seed-a452aa33/allsourceauth"
)

// fuzzInvalidKey reports whether an entity id prefix+key must be refused before any
// request: over 128 bytes, or holding a control character (C0, DEL, C1).
func fuzzInvalidKey(prefix, key string) bool {
	if len(prefix)+len(key) > 128 {
		return true
	}
	for len(key) > 0 {
		r, n := utf8.DecodeRuneInString(key)
		if r < 0x20 || r >= 0x7f && r <= 0x9f {
			return true
		}
		key = key[n:]
	}
	return false
}

// FuzzLookupKeys calls lookups by id, token and email with arbitrary strings: they never
// panic; an empty key is ErrNotFound and an invalid one ErrInvalidInput, both without a
// request; a valid one is looked up (found, or ErrNotFound) and writes nothing.
func FuzzLookupKeys(f *testing.F) {
	for _, s := range []string{
		"u1", "", "session_abc", strings.Repeat("x", 118), strings.Repeat("x", 119), strings.Repeat("x", 115),
		"a\x00b", "a\tb", "\x7f", "a\u0085b", "\u00a0", "\xff\xfe", "é", "a&entity_id=b", "../../x", " ", "%00",
		"Ann@Example.com", "u1\u2028", strings.Repeat("é", 60),
	} {
		f.Add(s)
	}
	srv := newServer(f)
	m := newMeter()
	a := newAdapter(f, srv, allsourceauth.WithHTTPClient(&http.Client{Transport: m}), allsourceauth.WithRetries(0))
	u, err := a.CreateUser(f.Context(), allsourceauth.CreateUser{ID: "u1", Email: "ann@example.com"})
	if err != nil {
		f.Fatal(err)
	}
	s, err := a.CreateSession(f.Context(), allsourceauth.CreateSession{UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(s.Token)
	events := len(srv.Events())

	f.Fuzz(func(t *testing.T, key string) {
		ctx := t.Context()
		type result struct {
			found bool
			id    string
		}
		lookups := []struct {
			name, prefix string // prefix: the entity id prefix the key is checked with ("" for a claim)
			run          func() (result, error)
		}{
			{"GetUserByID", "auth-user:", func() (result, error) {
				u, err := a.GetUserByID(ctx, key)
				return result{u != nil, fuzzIDOf(u)}, err
			}},
			{"GetSession", "auth-session:", func() (result, error) {
				s, err := a.GetSession(ctx, key)
				if s != nil {
					return result{true, s.Token}, err
				}
				return result{}, err
			}},
			{"GetUserByEmail", "", func() (result, error) {
				u, err := a.GetUserByEmail(ctx, key)
				return result{u != nil, fuzzIDOf(u)}, err
			}},
		}
		for _, l := range lookups {
			before := m.requests.Load()
			var res result
			var err error
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("%s(%q) panicked: %v", l.name, key, p)
					}
				}()
				res, err = l.run()
			}()
			sent := m.requests.Load() - before
			switch {
			case key == "":
				if !errors.Is(err, allsourceauth.ErrNotFound) || sent != 0 {
					t.Fatalf("%s(\"\") = %v after %d requests, want ErrNotFound and none", l.name, err, sent)
				}
			case l.prefix != "" && fuzzInvalidKey(l.prefix, key):
				if !errors.Is(err, allsourceauth.ErrInvalidInput) || sent != 0 {
					t.Fatalf("%s(%q) = %v after %d requests, want ErrInvalidInput and none", l.name, key, err, sent)
				}
			default:
				if sent == 0 {
					t.Fatalf("%s(%q) sent no request", l.name, key)
				}
				if err != nil && !errors.Is(err, allsourceauth.ErrNotFound) {
					t.Fatalf("%s(%q) = %v", l.name, key, err)
				}
				if (err == nil) != res.found {
					t.Fatalf("%s(%q): error %v, found %v", l.name, key, err, res.found)
				}
				if res.found && res.id != u.ID && res.id != s.Token {
					t.Fatalf("%s(%q) found %q", l.name, key, res.id)
				}
			}
		}
		if n := len(srv.Events()); n != events {
			t.Fatalf("lookups wrote %d events", n-events)
		}
	})
}

func fuzzIDOf(u *allsourceauth.User) string {
	if u == nil {
		return ""
	}
	return u.ID
}
