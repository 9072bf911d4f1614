package allsourceauth_test

// Benchmarks of the hot paths against allsourcetest, with a bare net/http GET of the
// same answer GetSession fetches as the baseline, so that the client's overhead is a
// ratio measured in one run. Run them with
//
//	go test -run '^$' -bench . -benchtime 200x ./
//
// Every benchmark reports req/op (HTTP requests per call, from srv.Requests()).
// The sized stores (10, 1 000 and 10 000 users) are filled once per size with
// srv.Append and shared by the benchmarks and the request-and-bytes meter tests
// (meter_test.go); nothing here writes to them except the meter's own entities.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed-a452aa33/allsourceauth"
	"github.com/seed-a452aa33/allsourceauth/allsourcetest"
)

// ---------------------------------------------------------------------------------------
// Sized stores, filled fast with srv.Append and shared (one per size per process).

// benchSizes are the store sizes (users) of the lookup benchmarks.
var benchSizes = []int{10, 1_000, 10_000}

// benchMembersPerOrg: user i is a member of organization i/benchMembersPerOrg, so every
// organization has the same number of members at every size.
const benchMembersPerOrg = 10

// benchFixture is a store of n users. Every user has the same set of entities, so a
// per-user lookup moves the same bytes at every size: one email and one username claim,
// one session, one account, one API key, one passkey, one verification and one
// membership; every benchMembersPerOrg users share one organization (with a slug claim).
type benchFixture struct {
	srv  *allsourcetest.Server
	size int
}

var (
	benchFixMu  sync.Mutex
	benchFixOne = map[int]*sync.Once{}
	benchFixes  = map[int]*benchFixture{}
	benchFixErr = map[int]error{}
)

// benchStore returns the shared store of n users, filling it on first use. Its server
// lives as long as the test binary (it is shared by tests and benchmarks of every -count).
func benchStore(tb testing.TB, n int) *benchFixture {
	tb.Helper()
	benchFixMu.Lock()
	once := benchFixOne[n]
	if once == nil {
		once = new(sync.Once)
		benchFixOne[n] = once
	}
	benchFixMu.Unlock()
	once.Do(func() {
		f, err := benchFill(n)
		benchFixMu.Lock()
		benchFixes[n], benchFixErr[n] = f, err
		benchFixMu.Unlock()
	})
	benchFixMu.Lock()
	defer benchFixMu.Unlock()
	if err := benchFixErr[n]; err != nil {
		tb.Fatalf("fill store of %d users: %v", n, err)
	}
	return benchFixes[n]
}

// The entities of user i; fixed-width ids keep every payload the same size.
func benchUserID(i int) string     { return fmt.Sprintf("u%08d", i) }
func benchEmail(i int) string      { return fmt.Sprintf("User%08d@Example.com", i) }
func benchUsername(i int) string   { return fmt.Sprintf("User_%08d", i) }
func benchOrgID(o int) string      { return fmt.Sprintf("o%08d", o) }
func benchSlug(o int) string       { return fmt.Sprintf("org-%08d", o) }
func benchKeyHash(i int) string    { return fmt.Sprintf("keyhash-%08d", i) }
func benchCredential(i int) string { return fmt.Sprintf("cred-%08d", i) }
func benchVerifIdent(i int) string { return fmt.Sprintf("reset:%08d", i) }
func benchVerifValue(i int) string { return fmt.Sprintf("value-%08d", i) }

// benchToken is user i's session token: "session_" and 43 base64url characters, like
// the adapter's.
func benchToken(i int) string {
	h := sha256.Sum256([]byte(benchUserID(i)))
	return "session_" + base64.RawURLEncoding.EncodeToString(h[:])
}

var benchEpoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// benchFill builds a store of n users. It appends from a few goroutines: the store
// decodes payloads outside its lock.
func benchFill(n int) (*benchFixture, error) {
	srv := allsourcetest.NewServer()
	f := &benchFixture{srv: srv, size: n}
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		failed  error
	)
	workers := max(runtime.GOMAXPROCS(0), 2)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := benchFillUser(srv, i); err != nil {
					errOnce.Do(func() { failed = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if failed != nil {
		srv.Close()
		return nil, failed
	}
	return f, nil
}

// benchFillUser appends user i and everything it owns. Payloads are built as JSON text
// (the same JSON the adapter writes for these structs), which keeps a 10 000-user fill
// quick under -race.
func benchFillUser(srv *allsourcetest.Server, i int) error {
	at := benchEpoch.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano)
	later := benchEpoch.Add(time.Duration(i)*time.Millisecond + 24*time.Hour).Format(time.RFC3339Nano)
	never := benchEpoch.AddDate(100, 0, 0).Format(time.RFC3339Nano)
	uid := benchUserID(i)
	n := fmt.Sprintf("%08d", i)
	meta := json.RawMessage(`{"op":"fill"}`)
	type ev struct{ entity, typ, payload string }
	evs := []ev{
		{"auth-user:" + uid, "auth.user.created", `{"id":"` + uid + `","name":"Name ` + uid + `","email":"` + benchEmail(i) +
			`","emailVerified":true,"createdAt":"` + at + `","updatedAt":"` + at + `","username":"` + benchUsername(i) +
			`","twoFactorEnabled":false,"banned":false}`},
		{claimID("", "email", strings.ToLower(benchEmail(i))), "auth.claim.acquired", string(claimPayload("email", "auth-user:"+uid, 0))},
		{claimID("", "username", strings.ToLower(benchUsername(i))), "auth.claim.acquired", string(claimPayload("username", "auth-user:"+uid, 0))},
		{"auth-session:" + benchToken(i), "auth.session.created", `{"id":"s` + n + `","token":"` + benchToken(i) + `","userId":"` + uid +
			`","expiresAt":"` + later + `","createdAt":"` + at + `","updatedAt":"` + at + `","ipAddress":"192.0.2.1","userAgent":"bench/1.0"}`},
		{"auth-account:a" + n, "auth.account.created", `{"id":"a` + n + `","accountId":"` + uid + `","providerId":"credential","userId":"` + uid +
			`","password":"$argon2id$v=19$m=65536,t=3,p=4$` + uid + `","createdAt":"` + at + `","updatedAt":"` + at + `"}`},
		{"auth-apikey:k" + n, "auth.api_key.created", `{"id":"k` + n + `","name":"key","key":"` + benchKeyHash(i) + `","userId":"` + uid +
			`","enabled":true,"rateLimitEnabled":false,"requestCount":0,"createdAt":"` + at + `","updatedAt":"` + at + `"}`},
		{"auth-passkey:p" + n, "auth.passkey.created", `{"id":"p` + n + `","name":"key","publicKey":"pk-` + uid + `","userId":"` + uid +
			`","credentialID":"` + benchCredential(i) + `","counter":0,"deviceType":"singleDevice","backedUp":false,"createdAt":"` + at + `"}`},
		{"auth-verification:v" + n, "auth.verification.created", `{"id":"v` + n + `","identifier":"` + benchVerifIdent(i) + `","value":"` +
			benchVerifValue(i) + `","expiresAt":"` + never + `","createdAt":"` + at + `","updatedAt":"` + at + `"}`},
	}
	o := i / benchMembersPerOrg
	role := "member"
	if i%benchMembersPerOrg == 0 {
		role = "owner"
		evs = append(evs,
			ev{"auth-org:" + benchOrgID(o), "auth.org.created", `{"id":"` + benchOrgID(o) + `","name":"Org ` + benchOrgID(o) + `","slug":"` +
				benchSlug(o) + `","createdAt":"` + at + `","updatedAt":"` + at + `"}`},
			ev{claimID("", "slug", benchSlug(o)), "auth.claim.acquired", string(claimPayload("slug", "auth-org:"+benchOrgID(o), 0))})
	}
	evs = append(evs, ev{"auth-member:m" + n, "auth.member.created", `{"id":"m` + n + `","organizationId":"` + benchOrgID(o) +
		`","userId":"` + uid + `","role":"` + role + `","createdAt":"` + at + `"}`})
	for _, e := range evs {
		if _, err := srv.Append("", e.entity, e.typ, json.RawMessage(e.payload), meta); err != nil {
			return fmt.Errorf("%s: %w", e.entity, err)
		}
	}
	return nil
}

// benchAdapter returns an Adapter on the fixture's server.
func (f *benchFixture) adapter(tb testing.TB, opts ...allsourceauth.Option) *allsourceauth.Adapter {
	tb.Helper()
	return newAdapter(tb, f.srv, opts...)
}

// ---------------------------------------------------------------------------------------
// Running a benchmark.

// benchRun times op b.N times, serially or from b.RunParallel goroutines, and reports
// allocations and req/op (HTTP requests per op, from srv's counter).
func benchRun(b *testing.B, srv *allsourcetest.Server, parallel bool, op func(ctx context.Context) error) {
	b.Helper()
	ctx := context.Background()
	if err := op(ctx); err != nil { // warm the connection pool and check the op works
		b.Fatalf("warm-up: %v", err)
	}
	b.ReportAllocs()
	start := srv.Requests()
	// Start from a finished GC: the in-process store (up to 10 000 users) is a large heap
	// whose next mark would otherwise land in some runs and not others.
	runtime.GC()
	b.ResetTimer()
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := op(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	} else {
		for range b.N {
			if err := op(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(srv.Requests()-start)/float64(b.N), "req/op")
}

// benchModes runs fn as a serial and a parallel sub-benchmark.
func benchModes(b *testing.B, fn func(b *testing.B, parallel bool)) {
	b.Run("serial", func(b *testing.B) { fn(b, false) })
	b.Run("parallel", func(b *testing.B) { fn(b, true) })
}

// benchSized runs fn for every store size and both modes.
func benchSized(b *testing.B, fn func(b *testing.B, f *benchFixture, parallel bool)) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", n), func(b *testing.B) {
			f := benchStore(b, n)
			benchModes(b, func(b *testing.B, parallel bool) { fn(b, f, parallel) })
		})
	}
}

// ---------------------------------------------------------------------------------------
// Baseline: the GET GetSession sends, done with bare net/http.

// benchBareClient is a plain keep-alive client tuned like the adapter's default one.
func benchBareClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: t}
}

// benchSessionURL is the URL GetSession fetches for token.
func benchSessionURL(srv *allsourcetest.Server, token string) string {
	return srv.QueryURL + "/api/v1/events/query?entity_id=auth-session:" + token + "&order=desc&limit=1"
}

func BenchmarkBareGET(b *testing.B) {
	benchSized(b, func(b *testing.B, f *benchFixture, parallel bool) {
		client := benchBareClient()
		defer client.CloseIdleConnections()
		target := benchSessionURL(f.srv, benchToken(f.size/2))
		benchRun(b, f.srv, parallel, func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
			if err != nil {
				return err
			}
			req.Header.Set("X-API-Key", f.srv.APIKey)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK || len(body) < 100 {
				return fmt.Errorf("bare GET: %d %q", resp.StatusCode, body)
			}
			return nil
		})
	})
}

// ---------------------------------------------------------------------------------------
// Reads.

func BenchmarkGetSession(b *testing.B) {
	benchSized(b, func(b *testing.B, f *benchFixture, parallel bool) {
		a := f.adapter(b)
		token := benchToken(f.size / 2)
		benchRun(b, f.srv, parallel, func(ctx context.Context) error {
			s, err := a.GetSession(ctx, token)
			if err == nil && s.Token != token {
				err = fmt.Errorf("GetSession: got token %q", s.Token)
			}
			return err
		})
	})
}

func BenchmarkGetUserByID(b *testing.B) {
	benchSized(b, func(b *testing.B, f *benchFixture, parallel bool) {
		a := f.adapter(b)
		id := benchUserID(f.size / 2)
		benchRun(b, f.srv, parallel, func(ctx context.Context) error {
			u, err := a.GetUserByID(ctx, id)
			if err == nil && u.ID != id {
				err = fmt.Errorf("GetUserByID: got %q", u.ID)
			}
			return err
		})
	})
}

func BenchmarkGetUserByEmail(b *testing.B) {
	benchSized(b, func(b *testing.B, f *benchFixture, parallel bool) {
		a := f.adapter(b)
		i := f.size / 2
		email := strings.ToUpper(benchEmail(i))
		benchRun(b, f.srv, parallel, func(ctx context.Context) error {
			u, err := a.GetUserByEmail(ctx, email)
			if err == nil && u.ID != benchUserID(i) {
				err = fmt.Errorf("GetUserByEmail: got %q", u.ID)
			}
			return err
		})
	})
}

// BenchmarkRustStyleFindByEmail finds a user by email the way the Rust adapter does: one
// query for every auth.user.created event (limit 10000), scanned client-side. Compare
// with BenchmarkGetUserByEmail at the same size.
func BenchmarkRustStyleFindByEmail(b *testing.B) {
	benchSized(b, func(b *testing.B, f *benchFixture, parallel bool) {
		client := benchBareClient()
		defer client.CloseIdleConnections()
		i := f.size / 2
		want := benchEmail(i)
		target := f.srv.QueryURL + "/api/v1/events/query?event_type=auth.user.created&limit=10000"
		benchRun(b, f.srv, parallel, func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
			if err != nil {
				return err
			}
			req.Header.Set("X-API-Key", f.srv.APIKey)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var page struct {
				Events []struct {
					Payload allsourceauth.User `json:"payload"`
				} `json:"events"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
				return err
			}
			for _, ev := range page.Events {
				if strings.EqualFold(ev.Payload.Email, want) {
					if ev.Payload.ID != benchUserID(i) {
						return fmt.Errorf("rust-style find: got %q", ev.Payload.ID)
					}
					return nil
				}
			}
			return fmt.Errorf("rust-style find: %s not among %d users", want, len(page.Events))
		})
	})
}

func BenchmarkGetUserSessions(b *testing.B) {
	f := benchStore(b, 10)
	benchModes(b, func(b *testing.B, parallel bool) {
		a := f.adapter(b)
		uid := benchUserID(f.size / 2)
		benchRun(b, f.srv, parallel, func(ctx context.Context) error {
			ss, err := a.GetUserSessions(ctx, uid)
			if err == nil && len(ss) != 1 {
				err = fmt.Errorf("GetUserSessions: %d sessions", len(ss))
			}
			return err
		})
	})
}

// ---------------------------------------------------------------------------------------
// Writes: each on a fresh store, so they never grow the shared ones.

func BenchmarkCreateSession(b *testing.B) {
	benchModes(b, func(b *testing.B, parallel bool) {
		a, srv := newStore(b)
		in := allsourceauth.CreateSession{UserID: "u1", ExpiresAt: time.Now().Add(time.Hour), IPAddress: "192.0.2.1", UserAgent: "bench/1.0"}
		benchRun(b, srv, parallel, func(ctx context.Context) error {
			_, err := a.CreateSession(ctx, in)
			return err
		})
	})
}

func BenchmarkCreateUser(b *testing.B) {
	benchModes(b, func(b *testing.B, parallel bool) {
		a, srv := newStore(b)
		var n atomic.Int64
		benchRun(b, srv, parallel, func(ctx context.Context) error {
			i := n.Add(1)
			_, err := a.CreateUser(ctx, allsourceauth.CreateUser{
				Name: "Bench", Email: fmt.Sprintf("bench%d@example.com", i), Username: fmt.Sprintf("bench%d", i),
			})
			return err
		})
	})
}

func BenchmarkUpdateUser(b *testing.B) {
	benchModes(b, func(b *testing.B, parallel bool) {
		a, srv := newStore(b)
		// One user per goroutine, so parallel updates do not race on one entity.
		ids := make(chan string, 256)
		for i := range cap(ids) {
			id := benchUserID(i)
			if _, err := srv.Append("", "auth-user:"+id, "auth.user.created", allsourceauth.User{
				ID: id, Name: "Bench", CreatedAt: benchEpoch, UpdatedAt: benchEpoch,
			}, map[string]string{"op": "fill"}); err != nil {
				b.Fatal(err)
			}
			ids <- id
		}
		name := allsourceauth.Ptr("Renamed")
		if !parallel {
			id := <-ids
			benchRun(b, srv, false, func(ctx context.Context) error {
				_, err := a.UpdateUser(ctx, id, allsourceauth.UpdateUser{Name: name})
				return err
			})
			return
		}
		ctx := context.Background()
		if _, err := a.UpdateUser(ctx, <-ids, allsourceauth.UpdateUser{Name: name}); err != nil { // warm-up
			b.Fatal(err)
		}
		b.ReportAllocs()
		start := srv.Requests()
		runtime.GC()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			id := <-ids
			for pb.Next() {
				if _, err := a.UpdateUser(ctx, id, allsourceauth.UpdateUser{Name: name}); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.StopTimer()
		b.ReportMetric(float64(srv.Requests()-start)/float64(b.N), "req/op")
	})
}

func BenchmarkConsumeVerification(b *testing.B) {
	benchModes(b, func(b *testing.B, parallel bool) {
		a, srv := newStore(b)
		n := b.N + 1 // one per op, plus the warm-up's
		for i := range n {
			if _, err := srv.Append("", fmt.Sprintf("auth-verification:v%08d", i), "auth.verification.created", allsourceauth.Verification{
				ID: fmt.Sprintf("v%08d", i), Identifier: benchVerifIdent(i), Value: benchVerifValue(i),
				ExpiresAt: time.Now().Add(time.Hour), CreatedAt: benchEpoch, UpdatedAt: benchEpoch,
			}, map[string]string{"op": "fill"}); err != nil {
				b.Fatal(err)
			}
		}
		var next atomic.Int64
		benchRun(b, srv, parallel, func(ctx context.Context) error {
			i := int(next.Add(1)) - 1
			_, err := a.ConsumeVerification(ctx, benchVerifIdent(i), benchVerifValue(i))
			return err
		})
	})
}
