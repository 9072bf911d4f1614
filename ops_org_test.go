package allsourceauth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a452aa33/allsourceauth"
)

// ---------------------------------------------------------------------------------------
// Organizations

func TestOrgCreate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	t.Run("normal", func(t *testing.T) {
		t.Parallel()
		a, srv, _ := newStoreAt(t, epoch)
		meta := map[string]any{"plan": "pro", "seats": 5.0, "tags": []any{"a", "ü"}}
		o, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "Acme ✓", Slug: "acme", Logo: "https://x/logo.png", Metadata: meta})
		require.NoError(t, err)
		assertUUID4(t, o.ID)
		assert.Equal(t, "Acme ✓", o.Name)
		assert.Equal(t, "acme", o.Slug)
		assert.Equal(t, "https://x/logo.png", o.Logo)
		assert.Equal(t, meta, o.Metadata)
		assert.True(t, o.CreatedAt.Equal(epoch), "CreatedAt %v", o.CreatedAt)
		assert.True(t, o.UpdatedAt.Equal(epoch), "UpdatedAt %v", o.UpdatedAt)

		byID, err := a.GetOrganizationByID(ctx, o.ID)
		require.NoError(t, err)
		same(t, o, byID)
		bySlug, err := a.GetOrganizationBySlug(ctx, "acme")
		require.NoError(t, err)
		same(t, o, bySlug)

		checkEvent(t, srv, "auth-org:"+o.ID, "auth.org.created", o,
			"id", "name", "slug", "logo", "metadata", "createdAt", "updatedAt")
		assert.Len(t, eventsOf(srv, "auth-org:"+o.ID), 1)
	})

	t.Run("explicit id", func(t *testing.T) {
		t.Parallel()
		a, srv, _ := newStoreAt(t, epoch)
		o, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{ID: "org-1", Name: "One", Slug: "one"})
		require.NoError(t, err)
		assert.Equal(t, "org-1", o.ID)
		got, err := a.GetOrganizationByID(ctx, "org-1")
		require.NoError(t, err)
		same(t, o, got)
		// Optional fields are absent keys.
		checkEvent(t, srv, "auth-org:org-1", "auth.org.created", o, "id", "name", "slug", "createdAt", "updatedAt")

		// An existing id is a conflict, even with a fresh slug; the fresh slug stays free.
		wantConflict(t, srv, func() error {
			_, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{ID: "org-1", Name: "Two", Slug: "two"})
			return err
		})
		_, err = a.GetOrganizationBySlug(ctx, "two")
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
		got, err = a.GetOrganizationByID(ctx, "org-1")
		require.NoError(t, err)
		same(t, o, got)
		two, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "Two", Slug: "two"})
		require.NoError(t, err)
		assert.NotEqual(t, "org-1", two.ID)
	})

	t.Run("slug taken", func(t *testing.T) {
		t.Parallel()
		a, srv, _ := newStoreAt(t, epoch)
		first, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "A", Slug: "acme"})
		require.NoError(t, err)
		wantConflict(t, srv, func() error {
			_, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "B", Slug: "acme"})
			return err
		})
		got, err := a.GetOrganizationBySlug(ctx, "acme")
		require.NoError(t, err)
		same(t, first, got)
		// Slugs are exact: another case is another slug.
		_, err = a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "C", Slug: "Acme"})
		require.NoError(t, err)
	})

	t.Run("bad input", func(t *testing.T) {
		t.Parallel()
		a, srv, _ := newStoreAt(t, epoch)
		for _, in := range []allsourceauth.CreateOrganization{
			{Slug: "s"}, // no name
			{Name: "n"}, // no slug
			{ID: strings.Repeat("x", 128-len("auth-org:")+1), Name: "n", Slug: "s"}, // id too long
			{ID: "a\nb", Name: "n", Slug: "s"},                                      // control character
		} {
			wantInvalid(t, srv, func() error {
				_, err := a.CreateOrganization(ctx, in)
				return err
			})
		}
		assert.Empty(t, srv.Events())
		// Exactly 128 bytes of entity id is fine.
		id := strings.Repeat("x", 128-len("auth-org:"))
		o, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{ID: id, Name: "n", Slug: "s"})
		require.NoError(t, err)
		got, err := a.GetOrganizationByID(ctx, id)
		require.NoError(t, err)
		same(t, o, got)
	})
}

func TestOrgGetAbsent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, _ := newStoreAt(t, epoch)
	o, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "A", Slug: "acme"})
	require.NoError(t, err)

	_, err = a.GetOrganizationByID(ctx, "nope")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.GetOrganizationBySlug(ctx, "nope")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.UpdateOrganization(ctx, "nope", allsourceauth.UpdateOrganization{Name: allsourceauth.Ptr("x")})
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	assert.Contains(t, err.Error(), "update organization")
	require.NoError(t, a.DeleteOrganization(ctx, "nope"))

	// Empty keys: not found without a request.
	notFoundWithoutRequests(t, srv,
		func() error { _, err := a.GetOrganizationByID(ctx, ""); return err },
		func() error { _, err := a.GetOrganizationBySlug(ctx, ""); return err },
		func() error {
			_, err := a.UpdateOrganization(ctx, "", allsourceauth.UpdateOrganization{Name: allsourceauth.Ptr("x")})
			return err
		},
	)
	require.NoError(t, noRequests(t, srv, func() error { return a.DeleteOrganization(ctx, "") }))

	// Deleted: absent everywhere, and a second delete is nil.
	require.NoError(t, a.DeleteOrganization(ctx, o.ID))
	_, err = a.GetOrganizationByID(ctx, o.ID)
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.GetOrganizationBySlug(ctx, "acme")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.UpdateOrganization(ctx, o.ID, allsourceauth.UpdateOrganization{Name: allsourceauth.Ptr("x")})
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	n := len(srv.Events())
	require.NoError(t, a.DeleteOrganization(ctx, o.ID))
	assert.Len(t, srv.Events(), n, "a second delete wrote events")
}

func TestOrgUpdate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	t.Run("fields", func(t *testing.T) {
		t.Parallel()
		a, srv, clk := newStoreAt(t, epoch)
		o, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "A", Slug: "acme", Logo: "l", Metadata: map[string]any{"a": "1"}})
		require.NoError(t, err)
		clk.Advance(time.Minute + 7*time.Nanosecond)

		// nil leaves; a value sets; Ptr("") clears the logo; metadata replaces.
		u, err := a.UpdateOrganization(ctx, o.ID, allsourceauth.UpdateOrganization{
			Name: allsourceauth.Ptr("Acme Inc"), Logo: allsourceauth.Ptr(""), Metadata: map[string]any{"b": "2"},
		})
		require.NoError(t, err)
		assert.Equal(t, "Acme Inc", u.Name)
		assert.Equal(t, "acme", u.Slug)
		assert.Empty(t, u.Logo)
		assert.Equal(t, map[string]any{"b": "2"}, u.Metadata)
		assert.True(t, u.CreatedAt.Equal(o.CreatedAt))
		assert.True(t, u.UpdatedAt.Equal(clk.Now()), "UpdatedAt %v", u.UpdatedAt)
		got, err := a.GetOrganizationByID(ctx, o.ID)
		require.NoError(t, err)
		same(t, u, got)
		got, err = a.GetOrganizationBySlug(ctx, "acme")
		require.NoError(t, err)
		same(t, u, got)
		checkEvent(t, srv, "auth-org:"+o.ID, "auth.org.updated", u, "id", "name", "slug", "metadata", "createdAt", "updatedAt")

		// Name and Slug cannot be cleared.
		for _, in := range []allsourceauth.UpdateOrganization{{Name: allsourceauth.Ptr("")}, {Slug: allsourceauth.Ptr("")}} {
			wantInvalid(t, srv, func() error { _, err := a.UpdateOrganization(ctx, o.ID, in); return err })
		}
	})

	t.Run("new slug", func(t *testing.T) {
		t.Parallel()
		a, srv, _ := newStoreAt(t, epoch)
		o, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "A", Slug: "old"})
		require.NoError(t, err)
		u, err := a.UpdateOrganization(ctx, o.ID, allsourceauth.UpdateOrganization{Slug: allsourceauth.Ptr("new")})
		require.NoError(t, err)
		assert.Equal(t, "new", u.Slug)
		got, err := a.GetOrganizationBySlug(ctx, "new")
		require.NoError(t, err)
		same(t, u, got)
		_, err = a.GetOrganizationBySlug(ctx, "old")
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
		// The old slug is free for another organization; the new one is not.
		other, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "B", Slug: "old"})
		require.NoError(t, err)
		got, err = a.GetOrganizationBySlug(ctx, "old")
		require.NoError(t, err)
		assert.Equal(t, other.ID, got.ID)
		wantConflict(t, srv, func() error {
			_, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "C", Slug: "new"})
			return err
		})
	})

	t.Run("same slug", func(t *testing.T) {
		t.Parallel()
		a, srv, clk := newStoreAt(t, epoch)
		o, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "A", Slug: "acme"})
		require.NoError(t, err)
		clk.Advance(time.Second)
		claims := len(eventsWhere(srv, isClaim))
		u, err := a.UpdateOrganization(ctx, o.ID, allsourceauth.UpdateOrganization{Slug: allsourceauth.Ptr("acme"), Name: allsourceauth.Ptr("B")})
		require.NoError(t, err)
		assert.Equal(t, "acme", u.Slug)
		assert.Len(t, eventsWhere(srv, isClaim), claims, "the same slug touched its claim")
		got, err := a.GetOrganizationBySlug(ctx, "acme")
		require.NoError(t, err)
		same(t, u, got)
	})

	t.Run("slug taken", func(t *testing.T) {
		t.Parallel()
		a, srv, clk := newStoreAt(t, epoch)
		o, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "A", Slug: "a"})
		require.NoError(t, err)
		b, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "B", Slug: "b"})
		require.NoError(t, err)
		clk.Advance(time.Second)
		wantConflict(t, srv, func() error {
			_, err := a.UpdateOrganization(ctx, o.ID, allsourceauth.UpdateOrganization{Slug: allsourceauth.Ptr("b"), Name: allsourceauth.Ptr("changed")})
			return err
		})
		// Nothing changed: both orgs as they were, both slugs where they were.
		got, err := a.GetOrganizationByID(ctx, o.ID)
		require.NoError(t, err)
		same(t, o, got)
		got, err = a.GetOrganizationBySlug(ctx, "a")
		require.NoError(t, err)
		same(t, o, got)
		got, err = a.GetOrganizationBySlug(ctx, "b")
		require.NoError(t, err)
		same(t, b, got)
	})
}

func TestOrgDeleteCascades(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, clk := newStoreAt(t, epoch)
	o, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "A", Slug: "acme"})
	require.NoError(t, err)
	keep, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "K", Slug: "keep"})
	require.NoError(t, err)
	var members []*allsourceauth.Member
	for _, u := range []string{"u1", "u2", "u3"} {
		m, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: o.ID, UserID: u, Role: "member"})
		require.NoError(t, err)
		members = append(members, m)
	}
	keptMember, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: keep.ID, UserID: "u1", Role: "owner"})
	require.NoError(t, err)
	require.NoError(t, a.DeleteMember(ctx, members[2].ID)) // already gone before the cascade
	var invs []*allsourceauth.Invitation
	for _, e := range []string{"x@example.com", "y@example.com"} {
		inv, err := a.CreateInvitation(ctx, allsourceauth.CreateInvitation{OrganizationID: o.ID, Email: e, InviterID: "u1", Role: "member", ExpiresAt: clk.Now().Add(time.Hour)})
		require.NoError(t, err)
		invs = append(invs, inv)
	}
	_, err = a.UpdateInvitationStatus(ctx, invs[1].ID, allsourceauth.InvitationAccepted)
	require.NoError(t, err)
	keptInv, err := a.CreateInvitation(ctx, allsourceauth.CreateInvitation{OrganizationID: keep.ID, Email: "x@example.com", InviterID: "u1", ExpiresAt: clk.Now().Add(time.Hour)})
	require.NoError(t, err)

	require.NoError(t, a.DeleteOrganization(ctx, o.ID))

	checkTombstone(t, srv, "auth-org:"+o.ID, "auth.org.deleted")
	for _, m := range members[:2] {
		checkTombstone(t, srv, "auth-member:"+m.ID, "auth.member.deleted")
		_, err := a.GetMemberByID(ctx, m.ID)
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
		_, err = a.GetMember(ctx, o.ID, m.UserID)
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	}
	assert.Len(t, eventsOf(srv, "auth-member:"+members[2].ID), 2, "a deleted member was deleted again")
	for _, inv := range invs {
		checkTombstone(t, srv, "auth-invitation:"+inv.ID, "auth.invitation.deleted")
		_, err := a.GetInvitationByID(ctx, inv.ID)
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	}
	_, err = a.GetOrganizationByID(ctx, o.ID)
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.GetOrganizationBySlug(ctx, "acme")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	ms, err := a.ListOrganizationMembers(ctx, o.ID)
	require.NoError(t, err)
	assert.Empty(t, ms)
	is, err := a.ListOrganizationInvitations(ctx, o.ID)
	require.NoError(t, err)
	assert.Empty(t, is)
	_, err = a.GetPendingInvitation(ctx, o.ID, "x@example.com")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)

	// The other organization is untouched.
	got, err := a.GetMemberByID(ctx, keptMember.ID)
	require.NoError(t, err)
	same(t, keptMember, got)
	gotInv, err := a.GetInvitationByID(ctx, keptInv.ID)
	require.NoError(t, err)
	same(t, keptInv, gotInv)
	orgs, err := a.ListUserOrganizations(ctx, "u1")
	require.NoError(t, err)
	require.Len(t, orgs, 1)
	same(t, keep, &orgs[0])
	uis, err := a.ListUserInvitations(ctx, "x@example.com")
	require.NoError(t, err)
	require.Len(t, uis, 1)
	assert.Equal(t, keptInv.ID, uis[0].ID)

	// The slug and the memberships are free again.
	o2, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "A2", Slug: "acme"})
	require.NoError(t, err)
	got2, err := a.GetOrganizationBySlug(ctx, "acme")
	require.NoError(t, err)
	same(t, o2, got2)
	_, err = a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: o.ID, UserID: "u1", Role: "member"})
	require.NoError(t, err)
}

func TestOrgListUserOrganizations(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, _, clk := newStoreAt(t, epoch)
	var orgs []*allsourceauth.Organization
	for _, s := range []string{"a", "b", "c", "d"} {
		o, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: s, Slug: s})
		require.NoError(t, err)
		orgs = append(orgs, o)
	}
	var ms []*allsourceauth.Member
	for _, o := range orgs {
		clk.Advance(time.Second)
		m, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: o.ID, UserID: "u1", Role: "member"})
		require.NoError(t, err)
		ms = append(ms, m)
	}
	_, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: orgs[0].ID, UserID: "u2", Role: "owner"})
	require.NoError(t, err)
	// A deleted organization (members left behind by hand) and a deleted membership
	// drop out.
	require.NoError(t, a.DeleteOrganization(ctx, orgs[2].ID))
	require.NoError(t, a.DeleteMember(ctx, ms[3].ID))
	// An organization renamed after joining is listed as it is now.
	renamed, err := a.UpdateOrganization(ctx, orgs[1].ID, allsourceauth.UpdateOrganization{Name: allsourceauth.Ptr("B!")})
	require.NoError(t, err)

	got, err := a.ListUserOrganizations(ctx, "u1")
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, []string{orgs[0].ID, renamed.ID}, []string{got[0].ID, got[1].ID}, "in the order joined")
	byID := map[string]allsourceauth.Organization{}
	for _, o := range got {
		byID[o.ID] = o
	}
	require.Contains(t, byID, orgs[0].ID)
	require.Contains(t, byID, renamed.ID)
	same(t, orgs[0], byID[orgs[0].ID])
	same(t, renamed, byID[renamed.ID])

	none, err := a.ListUserOrganizations(ctx, "nobody")
	require.NoError(t, err)
	assert.Empty(t, none)
	none, err = a.ListUserOrganizations(ctx, "")
	require.NoError(t, err)
	assert.Empty(t, none)
}

// ---------------------------------------------------------------------------------------
// Members

func TestOrgMemberCreate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	t.Run("normal", func(t *testing.T) {
		t.Parallel()
		a, srv, _ := newStoreAt(t, epoch)
		m, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o1", UserID: "u1", Role: "owner"})
		require.NoError(t, err)
		assertUUID4(t, m.ID)
		assert.Equal(t, "o1", m.OrganizationID)
		assert.Equal(t, "u1", m.UserID)
		assert.Equal(t, "owner", m.Role)
		assert.True(t, m.CreatedAt.Equal(epoch))
		got, err := a.GetMemberByID(ctx, m.ID)
		require.NoError(t, err)
		same(t, m, got)
		got, err = a.GetMember(ctx, "o1", "u1")
		require.NoError(t, err)
		same(t, m, got)
		checkEvent(t, srv, "auth-member:"+m.ID, "auth.member.created", m, "id", "organizationId", "userId", "role", "createdAt")
	})

	t.Run("taken", func(t *testing.T) {
		t.Parallel()
		a, srv, _ := newStoreAt(t, epoch)
		m, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o1", UserID: "u1", Role: "owner"})
		require.NoError(t, err)
		wantConflict(t, srv, func() error {
			_, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o1", UserID: "u1", Role: "member"})
			return err
		})
		got, err := a.GetMember(ctx, "o1", "u1")
		require.NoError(t, err)
		same(t, m, got)
		// Other pairs are free.
		_, err = a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o1", UserID: "u2", Role: "member"})
		require.NoError(t, err)
		_, err = a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o2", UserID: "u1", Role: "member"})
		require.NoError(t, err)
		// Deleting frees the pair.
		require.NoError(t, a.DeleteMember(ctx, m.ID))
		checkTombstone(t, srv, "auth-member:"+m.ID, "auth.member.deleted")
		m2, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o1", UserID: "u1", Role: "admin"})
		require.NoError(t, err)
		got, err = a.GetMember(ctx, "o1", "u1")
		require.NoError(t, err)
		same(t, m2, got)
	})

	t.Run("bad input", func(t *testing.T) {
		t.Parallel()
		a, srv, _ := newStoreAt(t, epoch)
		for _, in := range []allsourceauth.CreateMember{
			{UserID: "u", Role: "r"}, {OrganizationID: "o", Role: "r"}, {OrganizationID: "o", UserID: "u"},
		} {
			wantInvalid(t, srv, func() error { _, err := a.CreateMember(ctx, in); return err })
		}
		assert.Empty(t, srv.Events())
	})
}

func TestOrgMemberAbsent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, _ := newStoreAt(t, epoch)
	m, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o1", UserID: "u1", Role: "owner"})
	require.NoError(t, err)

	_, err = a.GetMemberByID(ctx, "nope")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.GetMember(ctx, "o1", "u2")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.GetMember(ctx, "o2", "u1")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.UpdateMemberRole(ctx, "nope", "admin")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	require.NoError(t, a.DeleteMember(ctx, "nope"))
	notFoundWithoutRequests(t, srv,
		func() error { _, err := a.GetMemberByID(ctx, ""); return err },
		func() error { _, err := a.GetMember(ctx, "", "u1"); return err },
		func() error { _, err := a.GetMember(ctx, "o1", ""); return err },
		func() error { _, err := a.UpdateMemberRole(ctx, "", "admin"); return err },
	)
	require.NoError(t, noRequests(t, srv, func() error { return a.DeleteMember(ctx, "") }))
	wantInvalid(t, srv, func() error { _, err := a.UpdateMemberRole(ctx, m.ID, ""); return err })

	require.NoError(t, a.DeleteMember(ctx, m.ID))
	_, err = a.GetMemberByID(ctx, m.ID)
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.GetMember(ctx, "o1", "u1")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.UpdateMemberRole(ctx, m.ID, "admin")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	n := len(srv.Events())
	require.NoError(t, a.DeleteMember(ctx, m.ID))
	assert.Len(t, srv.Events(), n)
}

func TestOrgMemberUpdateRole(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, clk := newStoreAt(t, epoch)
	m, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o1", UserID: "u1", Role: "member"})
	require.NoError(t, err)
	clk.Advance(time.Hour)
	u, err := a.UpdateMemberRole(ctx, m.ID, "admin,owner")
	require.NoError(t, err)
	assert.Equal(t, "admin,owner", u.Role)
	assert.True(t, u.CreatedAt.Equal(m.CreatedAt))
	for _, get := range []func() (*allsourceauth.Member, error){
		func() (*allsourceauth.Member, error) { return a.GetMemberByID(ctx, m.ID) },
		func() (*allsourceauth.Member, error) { return a.GetMember(ctx, "o1", "u1") },
	} {
		got, err := get()
		require.NoError(t, err)
		same(t, u, got)
	}
	checkEvent(t, srv, "auth-member:"+m.ID, "auth.member.updated", u, "id", "organizationId", "userId", "role", "createdAt")
	n, err := a.CountOrganizationOwners(ctx, "o1")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

func TestOrgMemberListAndCount(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, _, clk := newStoreAt(t, epoch)
	roles := []string{"owner", "admin,owner", "admin, owner", "owners", "member", "admin", "owner ,member", "co-owner"}
	var want []*allsourceauth.Member
	for i, r := range roles {
		clk.Advance(time.Second)
		m, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o1", UserID: "u" + string(rune('a'+i)), Role: r})
		require.NoError(t, err)
		want = append(want, m)
	}
	// Another organization's members and a deleted member do not count.
	_, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o2", UserID: "ua", Role: "owner"})
	require.NoError(t, err)
	clk.Advance(time.Second)
	gone, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o1", UserID: "gone", Role: "owner"})
	require.NoError(t, err)
	require.NoError(t, a.DeleteMember(ctx, gone.ID))

	got, err := a.ListOrganizationMembers(ctx, "o1")
	require.NoError(t, err)
	require.Len(t, got, len(want))
	for i := range want { // oldest first
		same(t, want[i], &got[i])
	}
	n, err := a.CountOrganizationMembers(ctx, "o1")
	require.NoError(t, err)
	assert.Equal(t, len(roles), n)
	// owner, admin,owner, admin, owner, owner ,member: "owners" and "co-owner" are not owner.
	n, err = a.CountOrganizationOwners(ctx, "o1")
	require.NoError(t, err)
	assert.Equal(t, 4, n)

	for _, org := range []string{"none", ""} {
		ms, err := a.ListOrganizationMembers(ctx, org)
		require.NoError(t, err)
		assert.Empty(t, ms)
		n, err = a.CountOrganizationMembers(ctx, org)
		require.NoError(t, err)
		assert.Zero(t, n)
		n, err = a.CountOrganizationOwners(ctx, org)
		require.NoError(t, err)
		assert.Zero(t, n)
	}
}

// ---------------------------------------------------------------------------------------
// Invitations

func TestOrgInvitationCreate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	t.Run("normal", func(t *testing.T) {
		t.Parallel()
		a, srv, clk := newStoreAt(t, epoch)
		exp := clk.Now().Add(48*time.Hour + 3*time.Nanosecond)
		inv, err := a.CreateInvitation(ctx, allsourceauth.CreateInvitation{
			OrganizationID: "o1", Email: "Bob.Ünïcode@Example.COM", Role: "admin", InviterID: "u1", ExpiresAt: exp,
		})
		require.NoError(t, err)
		assertUUID4(t, inv.ID)
		assert.Equal(t, "bob.ünïcode@example.com", inv.Email)
		assert.Equal(t, allsourceauth.InvitationPending, inv.Status)
		assert.Equal(t, "admin", inv.Role)
		assert.Equal(t, "u1", inv.InviterID)
		assert.True(t, inv.ExpiresAt.Equal(exp))
		assert.True(t, inv.CreatedAt.Equal(epoch))
		got, err := a.GetInvitationByID(ctx, inv.ID)
		require.NoError(t, err)
		same(t, inv, got)
		got, err = a.GetPendingInvitation(ctx, "o1", "BOB.ÜNÏCODE@example.com")
		require.NoError(t, err)
		same(t, inv, got)
		ev := checkEvent(t, srv, "auth-invitation:"+inv.ID, "auth.invitation.created", inv,
			"id", "organizationId", "email", "role", "status", "inviterId", "expiresAt", "createdAt")
		assert.Equal(t, "pending", payloadOf(t, ev.Payload)["status"])
	})

	t.Run("bad input", func(t *testing.T) {
		t.Parallel()
		a, srv, clk := newStoreAt(t, epoch)
		exp := clk.Now().Add(time.Hour)
		for _, in := range []allsourceauth.CreateInvitation{
			{Email: "e@x", InviterID: "u", ExpiresAt: exp},
			{OrganizationID: "o", InviterID: "u", ExpiresAt: exp},
			{OrganizationID: "o", Email: "e@x", ExpiresAt: exp},
		} {
			wantInvalid(t, srv, func() error { _, err := a.CreateInvitation(ctx, in); return err })
		}
		assert.Empty(t, srv.Events())
	})
}

func TestOrgInvitationAbsent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, _ := newStoreAt(t, epoch)
	_, err := a.GetInvitationByID(ctx, "nope")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.UpdateInvitationStatus(ctx, "nope", allsourceauth.InvitationAccepted)
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.GetPendingInvitation(ctx, "o1", "a@b")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	notFoundWithoutRequests(t, srv,
		func() error { _, err := a.GetInvitationByID(ctx, ""); return err },
		func() error { _, err := a.GetPendingInvitation(ctx, "", "a@b"); return err },
		func() error { _, err := a.GetPendingInvitation(ctx, "o1", ""); return err },
		func() error {
			_, err := a.UpdateInvitationStatus(ctx, "", allsourceauth.InvitationAccepted)
			return err
		},
	)
	for _, s := range []allsourceauth.InvitationStatus{"", "Accepted", "expired", "declined"} {
		wantInvalid(t, srv, func() error { _, err := a.UpdateInvitationStatus(ctx, "x", s); return err })
	}
}

func TestOrgInvitationUpdateStatus(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, clk := newStoreAt(t, epoch)
	inv, err := a.CreateInvitation(ctx, allsourceauth.CreateInvitation{OrganizationID: "o1", Email: "a@b.c", InviterID: "u1", ExpiresAt: clk.Now().Add(time.Hour)})
	require.NoError(t, err)
	// Any transition, back to pending included.
	for _, s := range []allsourceauth.InvitationStatus{
		allsourceauth.InvitationAccepted, allsourceauth.InvitationRejected, allsourceauth.InvitationCanceled,
		allsourceauth.InvitationPending, allsourceauth.InvitationCanceled, allsourceauth.InvitationCanceled,
	} {
		clk.Advance(time.Second)
		u, err := a.UpdateInvitationStatus(ctx, inv.ID, s)
		require.NoError(t, err)
		assert.Equal(t, s, u.Status)
		want := *inv
		want.Status = s
		same(t, &want, u)
		got, err := a.GetInvitationByID(ctx, inv.ID)
		require.NoError(t, err)
		same(t, u, got)
		checkEvent(t, srv, "auth-invitation:"+inv.ID, "auth.invitation.updated", u,
			"id", "organizationId", "email", "role", "status", "inviterId", "expiresAt", "createdAt")
		_, err = a.GetPendingInvitation(ctx, "o1", "a@b.c")
		if s == allsourceauth.InvitationPending {
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, err, allsourceauth.ErrNotFound)
		}
	}
}

func TestOrgInvitationLookups(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, _, clk := newStoreAt(t, epoch)
	mk := func(org, email string, ttl time.Duration) *allsourceauth.Invitation {
		t.Helper()
		clk.Advance(time.Second)
		inv, err := a.CreateInvitation(ctx, allsourceauth.CreateInvitation{OrganizationID: org, Email: email, InviterID: "u1", Role: "member", ExpiresAt: clk.Now().Add(ttl)})
		require.NoError(t, err)
		return inv
	}
	setStatus := func(inv *allsourceauth.Invitation, s allsourceauth.InvitationStatus) *allsourceauth.Invitation {
		t.Helper()
		u, err := a.UpdateInvitationStatus(ctx, inv.ID, s)
		require.NoError(t, err)
		return u
	}

	expired := mk("o1", "Ann@Example.com", 2*time.Second) // pending, will expire
	older := mk("o1", "ann@example.com", time.Hour)       // pending
	newer := mk("o1", "ANN@example.com", time.Hour)       // pending, newest pending in o1
	accepted := setStatus(mk("o1", "ann@example.com", time.Hour), allsourceauth.InvitationAccepted)
	otherOrg := mk("o2", "ann@example.com", time.Hour) // pending in o2
	rejected := setStatus(mk("o2", "ann@example.com", time.Hour), allsourceauth.InvitationRejected)
	bob := mk("o1", "bob@example.com", time.Hour)
	clk.Advance(time.Minute) // "expired" is now past its expiry

	// GetPendingInvitation: case-insensitive, pending only, newest first.
	got, err := a.GetPendingInvitation(ctx, "o1", "aNN@EXAMPLE.com")
	require.NoError(t, err)
	same(t, newer, got)
	got, err = a.GetPendingInvitation(ctx, "o2", "ann@example.com")
	require.NoError(t, err)
	same(t, otherOrg, got)
	setStatus(newer, allsourceauth.InvitationCanceled)
	got, err = a.GetPendingInvitation(ctx, "o1", "ann@example.com")
	require.NoError(t, err)
	same(t, older, got)
	// Expired ones are still returned.
	setStatus(older, allsourceauth.InvitationCanceled)
	got, err = a.GetPendingInvitation(ctx, "o1", "Ann@example.com")
	require.NoError(t, err)
	same(t, expired, got)
	setStatus(older, allsourceauth.InvitationPending)
	setStatus(newer, allsourceauth.InvitationPending)
	newer.Status, older.Status = allsourceauth.InvitationPending, allsourceauth.InvitationPending

	// ListOrganizationInvitations: every status, newest first.
	list, err := a.ListOrganizationInvitations(ctx, "o1")
	require.NoError(t, err)
	require.Len(t, list, 5)
	for i, want := range []*allsourceauth.Invitation{bob, accepted, newer, older, expired} {
		same(t, want, &list[i])
	}
	list, err = a.ListOrganizationInvitations(ctx, "o2")
	require.NoError(t, err)
	require.Len(t, list, 2)
	same(t, rejected, &list[0])
	same(t, otherOrg, &list[1])
	list, err = a.ListOrganizationInvitations(ctx, "none")
	require.NoError(t, err)
	assert.Empty(t, list)

	// ListUserInvitations: case-insensitive, pending and unexpired, newest first.
	list, err = a.ListUserInvitations(ctx, "ANN@example.COM")
	require.NoError(t, err)
	require.Len(t, list, 3)
	for i, want := range []*allsourceauth.Invitation{otherOrg, newer, older} {
		same(t, want, &list[i])
	}
	list, err = a.ListUserInvitations(ctx, "nobody@example.com")
	require.NoError(t, err)
	assert.Empty(t, list)
	list, err = a.ListUserInvitations(ctx, "")
	require.NoError(t, err)
	assert.Empty(t, list)
}

// ---------------------------------------------------------------------------------------
// Ids everywhere: too long or with control characters is ErrInvalidInput before any
// request, exactly 128 bytes of entity id is fine.

func TestOrgMiscIDValidation(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, _ := newStoreAt(t, epoch)
	type idCall struct {
		name, prefix string
		call         func(id string) error
	}
	calls := []idCall{
		{"GetOrganizationByID", "auth-org:", func(id string) error { _, err := a.GetOrganizationByID(ctx, id); return err }},
		{"UpdateOrganization", "auth-org:", func(id string) error {
			_, err := a.UpdateOrganization(ctx, id, allsourceauth.UpdateOrganization{Name: allsourceauth.Ptr("x")})
			return err
		}},
		{"DeleteOrganization", "auth-org:", func(id string) error { return a.DeleteOrganization(ctx, id) }},
		{"GetMemberByID", "auth-member:", func(id string) error { _, err := a.GetMemberByID(ctx, id); return err }},
		{"UpdateMemberRole", "auth-member:", func(id string) error { _, err := a.UpdateMemberRole(ctx, id, "r"); return err }},
		{"DeleteMember", "auth-member:", func(id string) error { return a.DeleteMember(ctx, id) }},
		{"GetInvitationByID", "auth-invitation:", func(id string) error { _, err := a.GetInvitationByID(ctx, id); return err }},
		{"UpdateInvitationStatus", "auth-invitation:", func(id string) error {
			_, err := a.UpdateInvitationStatus(ctx, id, allsourceauth.InvitationAccepted)
			return err
		}},
		{"UpdateAccount", "auth-account:", func(id string) error {
			_, err := a.UpdateAccount(ctx, id, allsourceauth.UpdateAccount{Scope: allsourceauth.Ptr("x")})
			return err
		}},
		{"DeleteAccount", "auth-account:", func(id string) error { return a.DeleteAccount(ctx, id) }},
		{"DeleteVerification", "auth-verification:", func(id string) error { return a.DeleteVerification(ctx, id) }},
		{"GetAPIKeyByID", "auth-apikey:", func(id string) error { _, err := a.GetAPIKeyByID(ctx, id); return err }},
		{"UpdateAPIKey", "auth-apikey:", func(id string) error {
			_, err := a.UpdateAPIKey(ctx, id, allsourceauth.UpdateAPIKey{Name: allsourceauth.Ptr("x")})
			return err
		}},
		{"DeleteAPIKey", "auth-apikey:", func(id string) error { return a.DeleteAPIKey(ctx, id) }},
		{"GetPasskeyByID", "auth-passkey:", func(id string) error { _, err := a.GetPasskeyByID(ctx, id); return err }},
		{"UpdatePasskeyCounter", "auth-passkey:", func(id string) error { _, err := a.UpdatePasskeyCounter(ctx, id, 1); return err }},
		{"UpdatePasskeyName", "auth-passkey:", func(id string) error { _, err := a.UpdatePasskeyName(ctx, id, "n"); return err }},
		{"DeletePasskey", "auth-passkey:", func(id string) error { return a.DeletePasskey(ctx, id) }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			for _, bad := range []string{strings.Repeat("x", 128-len(c.prefix)+1), "a\x00b", "a\tb", "a\x7fb"} {
				wantInvalid(t, srv, func() error { return c.call(bad) })
			}
			// Exactly 128 bytes: a valid id of an absent entity.
			err := c.call(strings.Repeat("x", 128-len(c.prefix)))
			if err != nil {
				require.ErrorIs(t, err, allsourceauth.ErrNotFound)
				require.False(t, errors.Is(err, allsourceauth.ErrInvalidInput))
			}
		})
	}
	assert.Empty(t, srv.Events())
}

// Ids used to find entities (a user id, an organization id) follow the same rule: one
// that could not be part of an entity id is ErrInvalidInput before any request.
func TestOrgMiscRefValidation(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, _ := newStoreAt(t, epoch)
	calls := map[string]func(ref string) error{
		"GetUserAccounts":             func(r string) error { _, err := a.GetUserAccounts(ctx, r); return err },
		"ListAPIKeysByUser":           func(r string) error { _, err := a.ListAPIKeysByUser(ctx, r); return err },
		"ListPasskeysByUser":          func(r string) error { _, err := a.ListPasskeysByUser(ctx, r); return err },
		"ListUserOrganizations":       func(r string) error { _, err := a.ListUserOrganizations(ctx, r); return err },
		"ListOrganizationMembers":     func(r string) error { _, err := a.ListOrganizationMembers(ctx, r); return err },
		"CountOrganizationMembers":    func(r string) error { _, err := a.CountOrganizationMembers(ctx, r); return err },
		"CountOrganizationOwners":     func(r string) error { _, err := a.CountOrganizationOwners(ctx, r); return err },
		"ListOrganizationInvitations": func(r string) error { _, err := a.ListOrganizationInvitations(ctx, r); return err },
		"GetMember org":               func(r string) error { _, err := a.GetMember(ctx, r, "u1"); return err },
		"GetMember user":              func(r string) error { _, err := a.GetMember(ctx, "o1", r); return err },
		"GetPendingInvitation":        func(r string) error { _, err := a.GetPendingInvitation(ctx, r, "a@b.c"); return err },
		"GetTwoFactorByUserID":        func(r string) error { _, err := a.GetTwoFactorByUserID(ctx, r); return err },
		"UpdateTwoFactorBackupCodes":  func(r string) error { _, err := a.UpdateTwoFactorBackupCodes(ctx, r, "x"); return err },
		"DeleteTwoFactor":             func(r string) error { return a.DeleteTwoFactor(ctx, r) },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			for _, bad := range []string{strings.Repeat("x", 129), "a\x00b", "a\nb", "a\x7fb"} {
				wantInvalid(t, srv, func() error { return call(bad) })
			}
		})
	}
	assert.Empty(t, srv.Events())
}
