package allsourceauth_test

// Failures and Secrets of behaviour.md, reproduced with allsourcetest faults: every kind
// of read and write survives a 503, a 429 and a dropped connection at each of its
// requests, and writes survive the loss of the answer to an append that landed, with
// exactly one event per logical change; retries stop with the context; other 4xx are
// final; garbled answers are errors (never panics, never half-filled entities); errors
// and debug logs hold no secret.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a452aa33/allsourceauth"
	"github.com/seed-a452aa33/allsourceauth/allsourcetest"
)

// fltAt is an http.RoundTripper that queues a fault on the server just before the
// adapter's at-th request (1-based), matching that request's method and path, so a
// fault can hit any one request of a call. It counts the adapter's requests (attempts).
type fltAt struct {
	next  http.RoundTripper
	srv   *allsourcetest.Server
	mu    sync.Mutex
	n, at int
	fault allsourcetest.Fault
	met   int // attempts that failed: an error or a status >= 400
}

func (f *fltAt) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.n++
	if f.n == f.at {
		fault := f.fault
		fault.Method, fault.Path = req.Method, req.URL.Path
		f.srv.Inject(fault)
	}
	f.mu.Unlock()
	resp, err := f.next.RoundTrip(req)
	if err != nil || resp.StatusCode >= 400 {
		f.mu.Lock()
		f.met++
		f.mu.Unlock()
	}
	return resp, err
}

// failed returns how many attempts failed.
func (f *fltAt) failed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.met
}

// fltAdapter returns an Adapter on srv whose at-th request meets fault, with quick
// per-attempt timeouts and a few retries.
func fltAdapter(t *testing.T, srv *allsourcetest.Server, at int, fault allsourcetest.Fault, opts ...allsourceauth.Option) (*allsourceauth.Adapter, *fltAt) {
	t.Helper()
	rt := &fltAt{next: http.DefaultTransport.(*http.Transport).Clone(), srv: srv, at: at, fault: fault}
	t.Cleanup(rt.next.(*http.Transport).CloseIdleConnections)
	opts = append([]allsourceauth.Option{
		allsourceauth.WithHTTPClient(&http.Client{Transport: rt}),
		allsourceauth.WithRetries(3), allsourceauth.WithTimeout(5 * time.Second),
	}, opts...)
	return newAdapter(t, srv, opts...), rt
}

// fltOp is one kind of call. prepare (on a fault-free adapter) creates what the call
// needs and returns the call, which checks its own result. reqs are the methods of the
// call's requests, in order, when nothing fails; writes lists the event types one call
// appends (one logical change: one event per entity).
type fltOp struct {
	name    string
	reqs    []string
	writes  []string
	prepare func(ctx context.Context, t *testing.T, a *allsourceauth.Adapter) func(ctx context.Context, a *allsourceauth.Adapter) error
}

func fltOps() []fltOp {
	const get, post = http.MethodGet, http.MethodPost
	return []fltOp{
		{name: "read/get by id", reqs: []string{get}, prepare: func(ctx context.Context, t *testing.T, a *allsourceauth.Adapter) func(context.Context, *allsourceauth.Adapter) error {
			u := createUser(t, a, allsourceauth.CreateUser{Name: "Ann", Email: "ann@example.com", Username: "ann"})
			return func(ctx context.Context, a *allsourceauth.Adapter) error {
				got, err := a.GetUserByID(ctx, u.ID)
				if err == nil && got.Email != u.Email {
					err = fmt.Errorf("got %+v", got)
				}
				return err
			}
		}},
		{name: "read/by claim", reqs: []string{get, get}, prepare: func(ctx context.Context, t *testing.T, a *allsourceauth.Adapter) func(context.Context, *allsourceauth.Adapter) error {
			u := createUser(t, a, allsourceauth.CreateUser{Name: "Ann", Email: "ann@example.com", Username: "ann"})
			return func(ctx context.Context, a *allsourceauth.Adapter) error {
				got, err := a.GetUserByEmail(ctx, "ANN@example.com")
				if err == nil && got.ID != u.ID {
					err = fmt.Errorf("got %+v", got)
				}
				return err
			}
		}},
		{name: "read/find by filter", reqs: []string{get}, prepare: func(ctx context.Context, t *testing.T, a *allsourceauth.Adapter) func(context.Context, *allsourceauth.Adapter) error {
			k, err := a.CreateAPIKey(ctx, allsourceauth.CreateAPIKey{UserID: "u1", KeyHash: "hash-1"})
			require.NoError(t, err)
			return func(ctx context.Context, a *allsourceauth.Adapter) error {
				got, err := a.GetAPIKeyByHash(ctx, "hash-1")
				if err == nil && got.ID != k.ID {
					err = fmt.Errorf("got %+v", got)
				}
				return err
			}
		}},
		{name: "read/list", reqs: []string{get}, prepare: func(ctx context.Context, t *testing.T, a *allsourceauth.Adapter) func(context.Context, *allsourceauth.Adapter) error {
			for range 2 {
				createSession(t, a, "u1", time.Now().Add(time.Hour))
			}
			return func(ctx context.Context, a *allsourceauth.Adapter) error {
				got, err := a.GetUserSessions(ctx, "u1")
				if err == nil && len(got) != 2 {
					err = fmt.Errorf("got %d sessions", len(got))
				}
				return err
			}
		}},
		{name: "write/create with claims", reqs: []string{post, post, post}, writes: []string{"auth.claim.acquired", "auth.claim.acquired", "auth.user.created"},
			prepare: func(ctx context.Context, t *testing.T, a *allsourceauth.Adapter) func(context.Context, *allsourceauth.Adapter) error {
				return func(ctx context.Context, a *allsourceauth.Adapter) error {
					u, err := a.CreateUser(ctx, allsourceauth.CreateUser{Name: "Ann", Email: "ann@example.com", Username: "ann"})
					if err != nil {
						return err
					}
					got, err := a.GetUserByUsername(ctx, "ann")
					if err == nil && got.ID != u.ID {
						err = fmt.Errorf("got %+v", got)
					}
					return err
				}
			}},
		{name: "write/create without claims", reqs: []string{post}, writes: []string{"auth.session.created"},
			prepare: func(ctx context.Context, t *testing.T, a *allsourceauth.Adapter) func(context.Context, *allsourceauth.Adapter) error {
				return func(ctx context.Context, a *allsourceauth.Adapter) error {
					s, err := a.CreateSession(ctx, allsourceauth.CreateSession{UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)})
					if err != nil {
						return err
					}
					_, err = a.GetSession(ctx, s.Token)
					return err
				}
			}},
		{name: "write/update", reqs: []string{get, post}, writes: []string{"auth.user.updated"},
			prepare: func(ctx context.Context, t *testing.T, a *allsourceauth.Adapter) func(context.Context, *allsourceauth.Adapter) error {
				u := createUser(t, a, allsourceauth.CreateUser{Name: "Ann", Email: "ann@example.com", Username: "ann"})
				return func(ctx context.Context, a *allsourceauth.Adapter) error {
					got, err := a.UpdateUser(ctx, u.ID, allsourceauth.UpdateUser{Name: allsourceauth.Ptr("Bea")})
					if err == nil && (got.Name != "Bea" || got.Email != u.Email) {
						err = fmt.Errorf("got %+v", got)
					}
					return err
				}
			}},
		{name: "write/delete", reqs: []string{get, post}, writes: []string{"auth.session.deleted"},
			prepare: func(ctx context.Context, t *testing.T, a *allsourceauth.Adapter) func(context.Context, *allsourceauth.Adapter) error {
				s := createSession(t, a, "u1", time.Now().Add(time.Hour))
				return func(ctx context.Context, a *allsourceauth.Adapter) error {
					if err := a.DeleteSession(ctx, s.Token); err != nil {
						return err
					}
					if _, err := a.GetSession(ctx, s.Token); !errors.Is(err, allsourceauth.ErrNotFound) {
						return fmt.Errorf("session after delete: %v", err)
					}
					return nil
				}
			}},
		{name: "write/consume", reqs: []string{get, post}, writes: []string{"auth.verification.consumed"},
			prepare: func(ctx context.Context, t *testing.T, a *allsourceauth.Adapter) func(context.Context, *allsourceauth.Adapter) error {
				v, err := a.CreateVerification(ctx, allsourceauth.CreateVerification{Identifier: "reset:ann", Value: "v1", ExpiresAt: time.Now().Add(time.Hour)})
				require.NoError(t, err)
				return func(ctx context.Context, a *allsourceauth.Adapter) error {
					got, err := a.ConsumeVerification(ctx, "reset:ann", "v1")
					if err == nil && got.ID != v.ID {
						err = fmt.Errorf("got %+v", got)
					}
					return err
				}
			}},
	}
}

// fltCase is a fault at one request of a call.
type fltCase struct {
	name  string
	fault allsourcetest.Fault
	posts bool // only at POST requests (a lost answer to an append that landed)
}

func fltCases(op fltOp) []fltCase {
	retryAfter := http.Header{}
	if op.name == "read/get by id" || op.name == "write/create without claims" { // slow: two cases only
		retryAfter = http.Header{"Retry-After": {"1"}}
	}
	return []fltCase{
		{name: "503", fault: allsourcetest.Fault{Status: http.StatusServiceUnavailable, Body: `{"error":"Queue full: try later"}`}},
		{name: "429", fault: allsourcetest.Fault{Status: http.StatusTooManyRequests, Body: "rate limited", Header: retryAfter}},
		{name: "dropped connection", fault: allsourcetest.Fault{Drop: true}},
		{name: "lost answer (drop)", fault: allsourcetest.Fault{AfterApply: true, Drop: true}, posts: true},
		{name: "lost answer (503)", fault: allsourcetest.Fault{AfterApply: true, Status: http.StatusServiceUnavailable, Body: `{"error":"Storage error: timeout"}`}, posts: true},
	}
}

func TestFaultsEveryCallSurvivesEachFaultAtEachRequest(t *testing.T) {
	t.Parallel()
	for _, op := range fltOps() {
		for _, fc := range fltCases(op) {
			for at, method := range op.reqs {
				if fc.posts && method != http.MethodPost {
					continue
				}
				t.Run(fmt.Sprintf("%s/%s at request %d (%s)", op.name, fc.name, at+1, method), func(t *testing.T) {
					t.Parallel()
					ctx := t.Context()
					_, srv := newStore(t)
					call := op.prepare(ctx, t, newAdapter(t, srv))
					before := len(srv.Events())
					a, rt := fltAdapter(t, srv, at+1, fc.fault)
					start := time.Now()
					require.NoError(t, call(ctx, a))
					if fc.fault.Header.Get("Retry-After") != "" {
						assert.GreaterOrEqual(t, time.Since(start), time.Second, "Retry-After: 1 is honoured")
					}

					switch {
					case fc.fault.Drop && method == http.MethodGet:
						// net/http may re-send a dropped idempotent GET itself: the
						// adapter then never sees the failure.
						assert.LessOrEqual(t, rt.failed(), 1)
					case fc.fault.AfterApply:
						// The retry of the append answers 409 (it had landed), which
						// is resolved by reading the entity.
						assert.GreaterOrEqual(t, rt.failed(), 1, "the fault was met")
					default:
						assert.Equal(t, 1, rt.failed(), "the fault was met once and retried")
					}
					if op.writes == nil {
						assert.Len(t, srv.Events(), before, "a read wrote")
						return
					}
					written := srv.Events()[before:]
					var types []string
					ops, entities := map[string]bool{}, map[string]int{}
					for _, ev := range written {
						types = append(types, ev.EventType)
						ops[requireOp(t, ev)] = true
						entities[ev.EntityID]++
					}
					slices.Sort(types)
					assert.Equal(t, op.writes, types, "exactly one event per entity of the change")
					assert.Len(t, ops, 1, "one logical change, one op: %v", ops)
					for id, n := range entities {
						assert.Equal(t, 1, n, "events appended to %s", id)
					}
				})
			}
		}
	}
}

func TestFaultsRetryableStatusesAreRetried(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusRequestTimeout, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			a, srv := newStore(t, allsourceauth.WithRetries(2))
			u, err := a.CreateUser(t.Context(), allsourceauth.CreateUser{Email: "ann@example.com"})
			require.NoError(t, err)
			srv.Inject(allsourcetest.Fault{Method: http.MethodGet, Status: status, Times: 2, Body: `{"error":"busy"}`})
			n := srv.Requests()
			got, err := a.GetUserByID(t.Context(), u.ID)
			require.NoError(t, err)
			assert.Equal(t, u.ID, got.ID)
			assert.Equal(t, int64(3), srv.Requests()-n, "two failures, one success")
		})
	}
}

func TestFaultsRetriesRunOutWithAnAPIError(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t, allsourceauth.WithRetries(2))
	srv.Inject(allsourcetest.Fault{Status: http.StatusServiceUnavailable, Times: 10, Body: `{"error":"Queue full: try later"}`})
	n := srv.Requests()
	s, err := a.CreateSession(t.Context(), allsourceauth.CreateSession{UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)})
	require.Error(t, err)
	assert.Nil(t, s)
	var ae *allsourceauth.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusServiceUnavailable, ae.StatusCode)
	assert.Equal(t, int64(3), srv.Requests()-n, "one attempt and two retries")
	assert.Empty(t, srv.Events())
}

func TestFaultsRetriesStopWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	calls := map[string]func(ctx context.Context, a *allsourceauth.Adapter) error{
		"read": func(ctx context.Context, a *allsourceauth.Adapter) error {
			_, err := a.GetUserByID(ctx, "u1")
			return err
		},
		"write": func(ctx context.Context, a *allsourceauth.Adapter) error {
			_, err := a.CreateSession(ctx, allsourceauth.CreateSession{UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, srv := newStore(t, allsourceauth.WithRetries(5))
			// 30s Retry-After: were the wait not cut short by the context, the retry
			// would succeed after it and the call would return nil.
			srv.Inject(allsourcetest.Fault{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"30"}}})
			ctx, cancel := context.WithCancel(t.Context())
			n := srv.Requests()
			go func() { // cancel once the 429 has been answered and the wait begun
				for srv.Requests() == n && ctx.Err() == nil {
					time.Sleep(time.Millisecond)
				}
				time.Sleep(50 * time.Millisecond)
				cancel()
			}()
			err := call(ctx, a)
			require.ErrorIs(t, err, context.Canceled)
			assert.Equal(t, int64(1), srv.Requests()-n, "no retry after the context ended")
			assert.Empty(t, srv.Events())
		})
	}
}

func TestFaultsOtherClientErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			t.Run(fmt.Sprintf("%d %s", status, method), func(t *testing.T) {
				t.Parallel()
				a, srv := newStore(t, allsourceauth.WithRetries(3))
				srv.Inject(allsourcetest.Fault{Method: method, Status: status, Body: `{"error":"Invalid input: no"}`})
				n := srv.Requests()
				var err error
				if method == http.MethodGet {
					var u *allsourceauth.User
					u, err = a.GetUserByID(t.Context(), "u1")
					assert.Nil(t, u)
				} else {
					var s *allsourceauth.Session
					s, err = a.CreateSession(t.Context(), allsourceauth.CreateSession{UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)})
					assert.Nil(t, s)
				}
				var ae *allsourceauth.APIError
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, status, ae.StatusCode)
				assert.False(t, errors.Is(err, allsourceauth.ErrNotFound), "a 404 answer is not an absent entity: %v", err)
				assert.Equal(t, int64(1), srv.Requests()-n, "one request, no retry")
				assert.Empty(t, srv.Events())
			})
		}
	}
}

func TestFaultsSlowAttemptTimesOutAndTheRetrySucceeds(t *testing.T) {
	t.Parallel()
	t.Run("read", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t, allsourceauth.WithTimeout(750*time.Millisecond), allsourceauth.WithRetries(2))
		u, err := a.CreateUser(t.Context(), allsourceauth.CreateUser{Email: "ann@example.com"})
		require.NoError(t, err)
		srv.Inject(allsourcetest.Fault{Method: http.MethodGet, Delay: time.Minute})
		n := srv.Requests()
		got, err := a.GetUserByID(t.Context(), u.ID)
		require.NoError(t, err)
		assert.Equal(t, u.ID, got.ID)
		assert.GreaterOrEqual(t, srv.Requests()-n, int64(2), "the slow attempt, then a retry")
	})
	t.Run("write", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t, allsourceauth.WithTimeout(750*time.Millisecond), allsourceauth.WithRetries(2))
		srv.Inject(allsourcetest.Fault{Method: http.MethodPost, Delay: time.Minute})
		s, err := a.CreateSession(t.Context(), allsourceauth.CreateSession{UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)})
		require.NoError(t, err)
		evs := srv.Events()
		require.Len(t, evs, 1, "the timed-out attempt must not have landed too")
		assert.Equal(t, "auth-session:"+s.Token, evs[0].EntityID)
	})
}

// fltPage is a query answer holding one event with the given payload.
func fltPage(entityID, eventType, payload string) string {
	return `{"events":[{"id":"e1","event_type":"` + eventType + `","entity_id":"` + entityID + `","tenant_id":"default","payload":` + payload +
		`,"timestamp":"2026-01-02T03:04:05.000000006Z","metadata":{"op":"x"},"version":1}],"count":1,"total_count":1,"has_more":false,"entity_version":1}`
}

func TestFaultsGarbledAnswersAreErrors(t *testing.T) {
	t.Parallel()
	const uid = "u1"
	// Each call gets answers shaped for it: an event of its kind whose payload passes its
	// filter (the client re-checks filters), so only the garbling can make it fail.
	type call struct {
		entity, typ, fields string // fields: payload members the call's filter selects
		run                 func(ctx context.Context, a *allsourceauth.Adapter) (any, error)
	}
	calls := map[string]call{
		"get by id": {"auth-user:" + uid, "auth.user.created", `"email":"ann@example.com"`,
			func(ctx context.Context, a *allsourceauth.Adapter) (any, error) { return a.GetUserByID(ctx, uid) }},
		"by claim": {"auth-claim:email:x", "auth.claim.acquired", `"scope":"email","owner":"auth-user:u1","ownerVersion":0`,
			func(ctx context.Context, a *allsourceauth.Adapter) (any, error) {
				return a.GetUserByEmail(ctx, "ann@example.com")
			}},
		"find by filter": {"auth-apikey:k1", "auth.api_key.created", `"key":"hash-1","userId":"u1"`,
			func(ctx context.Context, a *allsourceauth.Adapter) (any, error) {
				return a.GetAPIKeyByHash(ctx, "hash-1")
			}},
		"list": {"auth-session:session_x", "auth.session.created", `"userId":"u1","token":"session_x"`,
			func(ctx context.Context, a *allsourceauth.Adapter) (any, error) { return a.GetUserSessions(ctx, uid) }},
		"update": {"auth-user:" + uid, "auth.user.created", `"email":"ann@example.com"`,
			func(ctx context.Context, a *allsourceauth.Adapter) (any, error) {
				return a.UpdateUser(ctx, uid, allsourceauth.UpdateUser{Name: allsourceauth.Ptr("Bea")})
			}},
	}
	bodies := func(c call) map[string]string {
		good := fltPage(c.entity, c.typ, `{"id":"u1",`+c.fields+`,"createdAt":"2026-01-02T03:04:05Z","updatedAt":"2026-01-02T03:04:05Z"}`)
		return map[string]string{
			"garbled":             `{"events":[{`,
			"truncated":           good[:len(good)/2],
			"not JSON":            `<html>502 Bad Gateway</html>`,
			"empty":               ``,
			"not an object":       `[1,2,3]`,
			"events not a list":   `{"events":"x"}`,
			"event not object":    `{"events":[42],"count":1}`,
			"wrong-typed field":   strings.Replace(good, `"version":1`, `"version":"one"`, 1),
			"bad timestamp":       strings.Replace(good, "2026-01-02T03:04:05.000000006Z", "yesterday", 1),
			"payload string":      fltPage(c.entity, c.typ, `"x"`),
			"payload list":        fltPage(c.entity, c.typ, `[{"id":"u1"}]`),
			"payload null":        fltPage(c.entity, c.typ, `null`),
			"payload mistyped":    fltPage(c.entity, c.typ, `{"id":5,`+c.fields+`}`),
			"payload bad time":    fltPage(c.entity, c.typ, `{"id":"u1",`+c.fields+`,"createdAt":"soon"}`),
			"count mismatch":      strings.Replace(good, `"count":1`, `"count":2`, 1),
			"has_more, no events": `{"events":[],"count":0,"total_count":5,"has_more":true,"entity_version":5}`,
		}
	}
	for cname, c := range calls {
		for bname, body := range bodies(c) {
			t.Run(bname+"/"+cname, func(t *testing.T) {
				t.Parallel()
				a, srv := newStore(t, allsourceauth.WithRetries(1))
				srv.Inject(allsourcetest.Fault{Method: http.MethodGet, Status: http.StatusOK, Body: body, Times: 100})
				var got any
				var err error
				require.NotPanics(t, func() { got, err = c.run(t.Context(), a) })
				require.Error(t, err)
				assert.True(t, isNilValue(got), "a failed call returned %#v", got)
				if bname == "has_more, no events" && (cname == "list" || cname == "find by filter") {
					assert.False(t, errors.Is(err, allsourceauth.ErrNotFound), "a broken page is not an empty result: %v", err)
				}
				assert.Empty(t, srv.Events(), "nothing written on a garbled answer")
			})
		}
	}
}

// isNilValue reports whether v is nil or a nil pointer or slice in an interface.
func isNilValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case *allsourceauth.User:
		return x == nil
	case *allsourceauth.APIKey:
		return x == nil
	case []allsourceauth.Session:
		return x == nil
	}
	return false
}

// (An oversized query page is refused in client_internal_test.go, without sending 64 MiB.)
func TestFaultsOversizedErrorBody(t *testing.T) {
	t.Parallel()
	t.Run("error body over 1 MiB", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t, allsourceauth.WithRetries(0))
		srv.Inject(allsourcetest.Fault{Method: http.MethodGet, Status: http.StatusBadRequest, Body: strings.Repeat("e", 3<<20)})
		_, err := a.GetUserByID(t.Context(), "u1")
		var ae *allsourceauth.APIError
		require.ErrorAs(t, err, &ae)
		assert.Less(t, len(err.Error()), 4096, "the error text is bounded")
	})
}

// ---------------------------------------------------------------------------------------
// Secrets.

const (
	fltPasswordHash = "$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0LXNhbHQ$SECRETHASHVALUE"
	fltTOTPSecret   = "JBSWY3DPEHPK3PXPTOTPSECRET"
	fltAccessToken  = "ya29.OAUTH-ACCESS-TOKEN-SECRET"
)

func TestFaultsSecretsStayOutOfErrorsAndLogs(t *testing.T) {
	t.Parallel()
	// Each fault in turn hits every call that handles a secret; some answers echo what
	// they were sent, as a careless server or proxy might.
	// token is the session token when the call sent it (else ""): a server can only echo
	// what it was sent.
	faults := map[string]func(key, token string) allsourcetest.Fault{
		"503 echoing": func(key, token string) allsourcetest.Fault {
			return allsourcetest.Fault{Status: http.StatusServiceUnavailable, Times: 2,
				Body: `{"error":"Storage error: key ` + key + ` entity auth-session:` + token + `"}`}
		},
		"400 echoing": func(key, token string) allsourcetest.Fault {
			return allsourcetest.Fault{Status: http.StatusBadRequest, Body: `{"error":{"code":"bad","message":"` + key + " " + token + `"}}`}
		},
		"401 text": func(key, token string) allsourcetest.Fault {
			return allsourcetest.Fault{Status: http.StatusUnauthorized, Body: "Invalid API key " + key}
		},
		"dropped": func(key, token string) allsourcetest.Fault { return allsourcetest.Fault{Drop: true, Times: 2} },
		"timeout": func(key, token string) allsourcetest.Fault { return allsourcetest.Fault{Delay: time.Minute, Times: 2} },
		"garbled echo": func(key, token string) allsourcetest.Fault {
			return allsourcetest.Fault{Status: http.StatusOK, Body: `{"events":[{"payload":"` + token + key}
		},
		"lost answer": func(key, token string) allsourcetest.Fault {
			return allsourcetest.Fault{Method: http.MethodPost, AfterApply: true, Status: http.StatusServiceUnavailable, Times: 2,
				Body: `{"error":"` + key + " " + token + `"}`}
		},
	}
	for fname, fault := range faults {
		t.Run(fname, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			log := &syncBuffer{}
			logger := slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
			setup, srv := newStore(t)
			a := newAdapter(t, srv, allsourceauth.WithLogger(logger), allsourceauth.WithRetries(1), allsourceauth.WithTimeout(250*time.Millisecond))
			s := createSession(t, setup, "u1", time.Now().Add(time.Hour))
			x, err := setup.CreateAccount(ctx, allsourceauth.CreateAccount{UserID: "u1", ProviderID: "google", AccountID: "g1", AccessToken: fltAccessToken, Password: fltPasswordHash})
			require.NoError(t, err)
			_, err = setup.CreateTwoFactor(ctx, allsourceauth.CreateTwoFactor{UserID: "u1", Secret: fltTOTPSecret})
			require.NoError(t, err)
			secrets := map[string]string{
				"API key": srv.APIKey, "session token": s.Token, "password hash": fltPasswordHash,
				"2FA secret": fltTOTPSecret, "OAuth access token": fltAccessToken,
			}
			// Conflicts name the kind, never the value.
			var errs []string
			_, err = a.CreateAccount(ctx, allsourceauth.CreateAccount{UserID: "u1", ProviderID: "google", AccountID: "g1", AccessToken: fltAccessToken, Password: fltPasswordHash})
			require.ErrorIs(t, err, allsourceauth.ErrConflict)
			errs = append(errs, err.Error())
			_, err = a.CreateTwoFactor(ctx, allsourceauth.CreateTwoFactor{UserID: "u1", Secret: fltTOTPSecret})
			require.ErrorIs(t, err, allsourceauth.ErrConflict)
			errs = append(errs, err.Error())

			calls := []struct {
				name      string
				sendToken bool
				run       func() error
			}{
				{"get session", true, func() error { _, err := a.GetSession(ctx, s.Token); return err }},
				{"update session expiry", true, func() error {
					return a.UpdateSessionExpiry(ctx, s.Token, time.Now().Add(2*time.Hour))
				}},
				{"update session organization", true, func() error {
					_, err := a.UpdateSessionActiveOrganization(ctx, s.Token, "o1")
					return err
				}},
				{"create account", false, func() error {
					_, err := a.CreateAccount(ctx, allsourceauth.CreateAccount{UserID: "u2", ProviderID: "google", AccountID: "g2", AccessToken: fltAccessToken, Password: fltPasswordHash})
					return err
				}},
				{"update account", false, func() error {
					_, err := a.UpdateAccount(ctx, x.ID, allsourceauth.UpdateAccount{AccessToken: allsourceauth.Ptr(fltAccessToken), Password: allsourceauth.Ptr(fltPasswordHash)})
					return err
				}},
				{"create two-factor", false, func() error {
					_, err := a.CreateTwoFactor(ctx, allsourceauth.CreateTwoFactor{UserID: "u3", Secret: fltTOTPSecret})
					return err
				}},
				{"update two-factor", false, func() error {
					_, err := a.UpdateTwoFactorBackupCodes(ctx, "u1", "codes")
					return err
				}},
				{"delete session", true, func() error { return a.DeleteSession(ctx, s.Token) }},
			}
			failed := 0
			for _, c := range calls {
				token := ""
				if c.sendToken {
					token = s.Token
				}
				f := fault(srv.APIKey, token)
				if f.Method == http.MethodPost && c.name == "get session" {
					continue // it sends no POST: the fault would be left for another call
				}
				if f.Delay > 0 && !slices.Contains([]string{"get session", "update account", "create two-factor"}, c.name) {
					continue // timeouts are slow: a read, an update and a create suffice
				}
				srv.Inject(f)
				if err := c.run(); err != nil {
					failed++
					errs = append(errs, c.name+": "+err.Error())
					assert.True(t, strings.HasPrefix(err.Error(), "allsourceauth: "), "errors name the operation: %v", err)
				}
				if f.Method == "" { // use up what the call left of the fault
					for range f.Times {
						_, _ = a.GetUserByID(ctx, "nobody")
					}
				}
			}
			if fname != "lost answer" { // lost answers are resolved: the calls succeed
				require.Positive(t, failed, "the faults must make calls fail")
			}
			logged := log.String()
			for what, secret := range secrets {
				for _, e := range errs {
					assert.NotContains(t, e, secret, "an error holds the %s", what)
				}
				assert.NotContains(t, logged, secret, "the debug log holds the %s", what)
			}
			t.Logf("%d errors, e.g. %q; %d bytes of log", len(errs), errs[0], len(logged))
		})
	}
}
