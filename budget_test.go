package allsourceauth_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a452aa33/allsourceauth"
)

// HTTP requests per call against allsourcetest, with no conflicts and no faults
// (behaviour.md, Budgets). Each case fills a store with a few entities of the kind, some
// updated and some deleted, then measures one call.
func TestBudgetOrgAndMisc(t *testing.T) {
	t.Parallel()
	type fixture struct {
		a   *allsourceauth.Adapter
		clk *testClock
	}
	type budgetCase struct {
		name string
		want int64
		// setup fills the store and returns the call to measure.
		setup func(t *testing.T, ctx context.Context, f fixture) func() error
	}
	// budgetOrg creates an organization with members, renames it and returns it.
	budgetOrg := func(t *testing.T, ctx context.Context, f fixture) *allsourceauth.Organization {
		t.Helper()
		for i := range 3 {
			_, err := f.a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "o", Slug: fmt.Sprint("other", i)})
			require.NoError(t, err)
		}
		o, err := f.a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "Acme", Slug: "acme"})
		require.NoError(t, err)
		o, err = f.a.UpdateOrganization(ctx, o.ID, allsourceauth.UpdateOrganization{Name: allsourceauth.Ptr("Acme Inc")})
		require.NoError(t, err)
		for i, role := range []string{"owner", "admin,owner", "member", "member"} {
			f.clk.Advance(time.Second)
			m, err := f.a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: o.ID, UserID: fmt.Sprint("u", i), Role: role})
			require.NoError(t, err)
			if i == 3 {
				require.NoError(t, f.a.DeleteMember(ctx, m.ID))
			}
		}
		return o
	}
	cases := []budgetCase{
		{"GetAPIKeyByHash", 1, func(t *testing.T, ctx context.Context, f fixture) func() error {
			for i := range 5 {
				k, err := f.a.CreateAPIKey(ctx, allsourceauth.CreateAPIKey{UserID: "u1", KeyHash: fmt.Sprint("h", i)})
				require.NoError(t, err)
				_, err = f.a.UpdateAPIKey(ctx, k.ID, allsourceauth.UpdateAPIKey{RequestCount: allsourceauth.Ptr[int64](3)})
				require.NoError(t, err)
			}
			return func() error {
				k, err := f.a.GetAPIKeyByHash(ctx, "h2")
				if err == nil {
					assert.EqualValues(t, 3, k.RequestCount)
				}
				return err
			}
		}},
		{"GetPasskeyByCredentialID", 1, func(t *testing.T, ctx context.Context, f fixture) func() error {
			for i := range 5 {
				p, err := f.a.CreatePasskey(ctx, allsourceauth.CreatePasskey{UserID: "u1", CredentialID: fmt.Sprint("c", i), PublicKey: "pk"})
				require.NoError(t, err)
				_, err = f.a.UpdatePasskeyCounter(ctx, p.ID, 9)
				require.NoError(t, err)
			}
			return func() error {
				p, err := f.a.GetPasskeyByCredentialID(ctx, "c3")
				if err == nil {
					assert.EqualValues(t, 9, p.Counter)
				}
				return err
			}
		}},
		{"GetUserAccounts", 1, func(t *testing.T, ctx context.Context, f fixture) func() error {
			for i := range 4 {
				f.clk.Advance(time.Second)
				x, err := f.a.CreateAccount(ctx, allsourceauth.CreateAccount{UserID: "u1", ProviderID: fmt.Sprint("p", i), AccountID: "1"})
				require.NoError(t, err)
				_, err = f.a.UpdateAccount(ctx, x.ID, allsourceauth.UpdateAccount{Scope: allsourceauth.Ptr("s")})
				require.NoError(t, err)
			}
			return func() error {
				xs, err := f.a.GetUserAccounts(ctx, "u1")
				assert.Len(t, xs, 4)
				return err
			}
		}},
		{"ListOrganizationMembers", 1, func(t *testing.T, ctx context.Context, f fixture) func() error {
			o := budgetOrg(t, ctx, f)
			return func() error {
				ms, err := f.a.ListOrganizationMembers(ctx, o.ID)
				assert.Len(t, ms, 3)
				return err
			}
		}},
		{"CountOrganizationMembers", 1, func(t *testing.T, ctx context.Context, f fixture) func() error {
			o := budgetOrg(t, ctx, f)
			return func() error {
				n, err := f.a.CountOrganizationMembers(ctx, o.ID)
				assert.Equal(t, 3, n)
				return err
			}
		}},
		{"CountOrganizationOwners", 1, func(t *testing.T, ctx context.Context, f fixture) func() error {
			o := budgetOrg(t, ctx, f)
			return func() error {
				n, err := f.a.CountOrganizationOwners(ctx, o.ID)
				assert.Equal(t, 2, n)
				return err
			}
		}},
		{"GetOrganizationBySlug", 2, func(t *testing.T, ctx context.Context, f fixture) func() error {
			o := budgetOrg(t, ctx, f)
			return func() error {
				got, err := f.a.GetOrganizationBySlug(ctx, "acme")
				if err == nil {
					same(t, o, got)
				}
				return err
			}
		}},
		{"GetOrganizationByID", 1, func(t *testing.T, ctx context.Context, f fixture) func() error {
			o := budgetOrg(t, ctx, f)
			return func() error {
				got, err := f.a.GetOrganizationByID(ctx, o.ID)
				if err == nil {
					same(t, o, got)
				}
				return err
			}
		}},
		{"CreateVerification", 1, func(t *testing.T, ctx context.Context, f fixture) func() error {
			_, err := f.a.CreateVerification(ctx, allsourceauth.CreateVerification{Identifier: "i", Value: "v", ExpiresAt: f.clk.Now().Add(time.Hour)})
			require.NoError(t, err)
			return func() error {
				_, err := f.a.CreateVerification(ctx, allsourceauth.CreateVerification{Identifier: "i", Value: "v", ExpiresAt: f.clk.Now().Add(time.Hour)})
				return err
			}
		}},
		{"ConsumeVerification", 2, func(t *testing.T, ctx context.Context, f fixture) func() error {
			for _, id := range []string{"a", "b", "c"} {
				_, err := f.a.CreateVerification(ctx, allsourceauth.CreateVerification{Identifier: id, Value: "v", ExpiresAt: f.clk.Now().Add(time.Hour)})
				require.NoError(t, err)
			}
			return func() error {
				_, err := f.a.ConsumeVerification(ctx, "b", "v")
				return err
			}
		}},
		{"GetMemberByID", 1, func(t *testing.T, ctx context.Context, f fixture) func() error {
			m, err := f.a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o1", UserID: "u1", Role: "member"})
			require.NoError(t, err)
			m, err = f.a.UpdateMemberRole(ctx, m.ID, "admin")
			require.NoError(t, err)
			return func() error {
				got, err := f.a.GetMemberByID(ctx, m.ID)
				if err == nil {
					same(t, m, got)
				}
				return err
			}
		}},
		{"GetInvitationByID", 1, func(t *testing.T, ctx context.Context, f fixture) func() error {
			inv, err := f.a.CreateInvitation(ctx, allsourceauth.CreateInvitation{OrganizationID: "o1", Email: "a@b.c", InviterID: "u1", ExpiresAt: f.clk.Now().Add(time.Hour)})
			require.NoError(t, err)
			inv, err = f.a.UpdateInvitationStatus(ctx, inv.ID, allsourceauth.InvitationAccepted)
			require.NoError(t, err)
			return func() error {
				got, err := f.a.GetInvitationByID(ctx, inv.ID)
				if err == nil {
					same(t, inv, got)
				}
				return err
			}
		}},
		{"GetAPIKeyByID", 1, func(t *testing.T, ctx context.Context, f fixture) func() error {
			k, err := f.a.CreateAPIKey(ctx, allsourceauth.CreateAPIKey{UserID: "u1", KeyHash: "h"})
			require.NoError(t, err)
			k, err = f.a.UpdateAPIKey(ctx, k.ID, allsourceauth.UpdateAPIKey{Name: allsourceauth.Ptr("n")})
			require.NoError(t, err)
			return func() error {
				got, err := f.a.GetAPIKeyByID(ctx, k.ID)
				if err == nil {
					same(t, k, got)
				}
				return err
			}
		}},
		{"GetPasskeyByID", 1, func(t *testing.T, ctx context.Context, f fixture) func() error {
			p, err := f.a.CreatePasskey(ctx, allsourceauth.CreatePasskey{UserID: "u1", CredentialID: "c", PublicKey: "pk"})
			require.NoError(t, err)
			p, err = f.a.UpdatePasskeyName(ctx, p.ID, "n")
			require.NoError(t, err)
			return func() error {
				got, err := f.a.GetPasskeyByID(ctx, p.ID)
				if err == nil {
					same(t, p, got)
				}
				return err
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a, srv, clk := newStoreAt(t, epoch)
			call := c.setup(t, t.Context(), fixture{a: a, clk: clk})
			assert.Equal(t, c.want, requestsOf(t, srv, call), "requests made by %s", c.name)
		})
	}
}
