package allsourceauth_test

// The request budgets of behaviour.md, measured per call with a metering RoundTripper,
// at a store of 10 users and one of 10 000 (the shared stores of bench_test.go): each
// call sends exactly its budget of requests at both sizes, and moves no more than 1.5×
// the bytes at 10 000 users that it moves at 10 (lookup cost does not grow).

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a452aa33/allsourceauth"
)

// meter is an http.RoundTripper counting requests and bytes (request body plus answer
// body, as read) of one Adapter.
type meter struct {
	next     http.RoundTripper
	requests atomic.Int64
	bytes    atomic.Int64
}

func newMeter() *meter { return &meter{next: http.DefaultTransport.(*http.Transport).Clone()} }

func (m *meter) RoundTrip(req *http.Request) (*http.Response, error) {
	m.requests.Add(1)
	if req.ContentLength > 0 {
		m.bytes.Add(req.ContentLength)
	}
	resp, err := m.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &meterBody{ReadCloser: resp.Body, m: m}
	return resp, nil
}

type meterBody struct {
	io.ReadCloser
	m *meter
}

func (b *meterBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.m.bytes.Add(int64(n))
	return n, err
}

// meterUsage is what one call cost.
type meterUsage struct{ requests, bytes int64 }

// measure runs fn and returns the requests and bytes it cost.
func (m *meter) measure(t *testing.T, fn func() error) meterUsage {
	t.Helper()
	r0, b0 := m.requests.Load(), m.bytes.Load()
	require.NoError(t, fn())
	return meterUsage{m.requests.Load() - r0, m.bytes.Load() - b0}
}

// meterRow is one row of the budget table: setup (not metered) prepares what the call
// needs and returns it; call is the metered call, which also checks its result.
type meterRow struct {
	name   string
	budget int64
	call   func(ctx context.Context, a *allsourceauth.Adapter) error
	setup  func(ctx context.Context, t *testing.T, a *allsourceauth.Adapter) func(ctx context.Context, a *allsourceauth.Adapter) error
}

// meterUser is the user whose lookups are measured: every user has the same entities,
// so it has one session, one account, … in both stores.
const meterUser = 5

func meterExpect(cond bool, format string, args ...any) error {
	if cond {
		return nil
	}
	return fmt.Errorf(format, args...)
}

func meterRows() []meterRow {
	i, org := meterUser, meterUser/benchMembersPerOrg
	uid := benchUserID(i)
	writer := benchUserID(i + 1) // writes go to another user, so uid's lookups stay put
	return []meterRow{
		{name: "GetSession", budget: 1, call: func(ctx context.Context, a *allsourceauth.Adapter) error {
			s, err := a.GetSession(ctx, benchToken(i))
			if err != nil {
				return err
			}
			return meterExpect(s.UserID == uid, "session of %q", s.UserID)
		}},
		{name: "GetUserByID", budget: 1, call: func(ctx context.Context, a *allsourceauth.Adapter) error {
			u, err := a.GetUserByID(ctx, uid)
			if err != nil {
				return err
			}
			return meterExpect(u.Email == benchEmail(i), "user %+v", u)
		}},
		{name: "GetOrganizationByID", budget: 1, call: func(ctx context.Context, a *allsourceauth.Adapter) error {
			o, err := a.GetOrganizationByID(ctx, benchOrgID(org))
			if err != nil {
				return err
			}
			return meterExpect(o.Slug == benchSlug(org), "organization %+v", o)
		}},
		{name: "GetAPIKeyByID", budget: 1, call: func(ctx context.Context, a *allsourceauth.Adapter) error {
			k, err := a.GetAPIKeyByID(ctx, fmt.Sprintf("k%08d", i))
			if err != nil {
				return err
			}
			return meterExpect(k.KeyHash == benchKeyHash(i), "api key %+v", k)
		}},
		{name: "GetPasskeyByID", budget: 1, call: func(ctx context.Context, a *allsourceauth.Adapter) error {
			p, err := a.GetPasskeyByID(ctx, fmt.Sprintf("p%08d", i))
			if err != nil {
				return err
			}
			return meterExpect(p.CredentialID == benchCredential(i), "passkey %+v", p)
		}},
		{name: "GetUserByEmail", budget: 2, call: func(ctx context.Context, a *allsourceauth.Adapter) error {
			u, err := a.GetUserByEmail(ctx, strings.ToLower(benchEmail(i)))
			if err != nil {
				return err
			}
			return meterExpect(u.ID == uid, "user %q", u.ID)
		}},
		{name: "GetUserByUsername", budget: 2, call: func(ctx context.Context, a *allsourceauth.Adapter) error {
			u, err := a.GetUserByUsername(ctx, strings.ToUpper(benchUsername(i)))
			if err != nil {
				return err
			}
			return meterExpect(u.ID == uid, "user %q", u.ID)
		}},
		{name: "GetOrganizationBySlug", budget: 2, call: func(ctx context.Context, a *allsourceauth.Adapter) error {
			o, err := a.GetOrganizationBySlug(ctx, benchSlug(org))
			if err != nil {
				return err
			}
			return meterExpect(o.ID == benchOrgID(org), "organization %q", o.ID)
		}},
		{name: "GetUserSessions", budget: 1, call: func(ctx context.Context, a *allsourceauth.Adapter) error {
			ss, err := a.GetUserSessions(ctx, uid)
			if err != nil {
				return err
			}
			return meterExpect(len(ss) == 1 && ss[0].Token == benchToken(i), "sessions %+v", ss)
		}},
		{name: "GetUserAccounts", budget: 1, call: func(ctx context.Context, a *allsourceauth.Adapter) error {
			xs, err := a.GetUserAccounts(ctx, uid)
			if err != nil {
				return err
			}
			return meterExpect(len(xs) == 1 && xs[0].UserID == uid, "accounts %+v", xs)
		}},
		{name: "ListOrganizationMembers", budget: 1, call: func(ctx context.Context, a *allsourceauth.Adapter) error {
			ms, err := a.ListOrganizationMembers(ctx, benchOrgID(org))
			if err != nil {
				return err
			}
			return meterExpect(len(ms) == benchMembersPerOrg, "%d members", len(ms))
		}},
		{name: "CountOrganizationMembers", budget: 1, call: func(ctx context.Context, a *allsourceauth.Adapter) error {
			n, err := a.CountOrganizationMembers(ctx, benchOrgID(org))
			if err != nil {
				return err
			}
			return meterExpect(n == benchMembersPerOrg, "%d members", n)
		}},
		{name: "CountOrganizationOwners", budget: 1, call: func(ctx context.Context, a *allsourceauth.Adapter) error {
			n, err := a.CountOrganizationOwners(ctx, benchOrgID(org))
			if err != nil {
				return err
			}
			return meterExpect(n == 1, "%d owners", n)
		}},
		{name: "GetAPIKeyByHash", budget: 1, call: func(ctx context.Context, a *allsourceauth.Adapter) error {
			k, err := a.GetAPIKeyByHash(ctx, benchKeyHash(i))
			if err != nil {
				return err
			}
			return meterExpect(k.UserID == uid, "api key of %q", k.UserID)
		}},
		{name: "GetPasskeyByCredentialID", budget: 1, call: func(ctx context.Context, a *allsourceauth.Adapter) error {
			p, err := a.GetPasskeyByCredentialID(ctx, benchCredential(i))
			if err != nil {
				return err
			}
			return meterExpect(p.UserID == uid, "passkey of %q", p.UserID)
		}},
		{name: "CreateSession", budget: 1, call: func(ctx context.Context, a *allsourceauth.Adapter) error {
			_, err := a.CreateSession(ctx, allsourceauth.CreateSession{UserID: writer, ExpiresAt: benchEpoch.Add(time.Hour), IPAddress: "192.0.2.1"})
			return err
		}},
		{name: "CreateVerification", budget: 1, call: func(ctx context.Context, a *allsourceauth.Adapter) error {
			_, err := a.CreateVerification(ctx, allsourceauth.CreateVerification{Identifier: "meter:" + uuid.NewString(), Value: uuid.NewString(), ExpiresAt: time.Now().Add(time.Hour)})
			return err
		}},
		{name: "CreateUser fresh", budget: 3, call: func(ctx context.Context, a *allsourceauth.Adapter) error {
			tag := uuid.NewString()
			_, err := a.CreateUser(ctx, allsourceauth.CreateUser{Name: "Meter", Email: "meter-" + tag + "@example.com", Username: "meter-" + tag})
			return err
		}},
		{name: "UpdateUser non-unique field", budget: 2, setup: func(ctx context.Context, t *testing.T, a *allsourceauth.Adapter) func(context.Context, *allsourceauth.Adapter) error {
			u, err := a.CreateUser(ctx, allsourceauth.CreateUser{Name: "Meter", Email: "meter-" + uuid.NewString() + "@example.com"})
			require.NoError(t, err)
			return func(ctx context.Context, a *allsourceauth.Adapter) error {
				got, err := a.UpdateUser(ctx, u.ID, allsourceauth.UpdateUser{Name: allsourceauth.Ptr("Renamed"), Role: allsourceauth.Ptr("admin")})
				if err != nil {
					return err
				}
				return meterExpect(got.Name == "Renamed" && got.Email == u.Email, "updated %+v", got)
			}
		}},
		{name: "DeleteSession", budget: 2, setup: func(ctx context.Context, t *testing.T, a *allsourceauth.Adapter) func(context.Context, *allsourceauth.Adapter) error {
			s, err := a.CreateSession(ctx, allsourceauth.CreateSession{UserID: writer, ExpiresAt: benchEpoch.Add(time.Hour)})
			require.NoError(t, err)
			return func(ctx context.Context, a *allsourceauth.Adapter) error { return a.DeleteSession(ctx, s.Token) }
		}},
		{name: "ConsumeVerification", budget: 2, setup: func(ctx context.Context, t *testing.T, a *allsourceauth.Adapter) func(context.Context, *allsourceauth.Adapter) error {
			v, err := a.CreateVerification(ctx, allsourceauth.CreateVerification{Identifier: "meter:" + uuid.NewString(), Value: uuid.NewString(), ExpiresAt: time.Now().Add(time.Hour)})
			require.NoError(t, err)
			return func(ctx context.Context, a *allsourceauth.Adapter) error {
				got, err := a.ConsumeVerification(ctx, v.Identifier, v.Value)
				if err != nil {
					return err
				}
				return meterExpect(got.ID == v.ID, "consumed %q, want %q", got.ID, v.ID)
			}
		}},
	}
}

func TestMeterBudgets(t *testing.T) {
	t.Parallel()
	small, large := benchStore(t, 10), benchStore(t, 10_000)
	for _, row := range meterRows() {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			var use [2]meterUsage
			for k, f := range []*benchFixture{small, large} {
				m := newMeter()
				a := f.adapter(t, allsourceauth.WithHTTPClient(&http.Client{Transport: m}))
				call := row.call
				if row.setup != nil {
					call = row.setup(ctx, t, a)
				}
				use[k] = m.measure(t, func() error { return call(ctx, a) })
				assert.Equal(t, row.budget, use[k].requests, "requests at %d users", f.size)
			}
			t.Logf("requests %d/%d, bytes %d at 10 users, %d at 10000", use[0].requests, use[1].requests, use[0].bytes, use[1].bytes)
			assert.Positive(t, use[0].bytes)
			assert.LessOrEqual(t, float64(use[1].bytes), 1.5*float64(use[0].bytes),
				"bytes at 10000 users (%d) over 1.5× bytes at 10 (%d)", use[1].bytes, use[0].bytes)
		})
	}
}

// TestMeterCountsWhatItSees checks the meter itself: one bare GET of a known answer.
func TestMeterCountsWhatItSees(t *testing.T) {
	t.Parallel()
	_, srv := newStore(t)
	m := newMeter()
	client := &http.Client{Transport: m}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/health", nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, int64(1), m.requests.Load())
	assert.Equal(t, int64(len(body)), m.bytes.Load())
}
