package allsourceauth

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
)

// orgKind: organizations are claimed by slug (exact).
var orgKind = &kind[Organization]{
	name: "organization", entity: "auth-org:", event: "auth.org.",
	key:     func(o *Organization) string { return o.ID },
	created: func(o *Organization) time.Time { return o.CreatedAt },
	claims:  func(o *Organization) []claimKey { return uniques("slug", o.Slug) },
}

// memberKind: a membership is claimed by (organization, user).
var memberKind = &kind[Member]{
	name: "member", entity: "auth-member:", event: "auth.member.",
	key:     func(m *Member) string { return m.ID },
	created: func(m *Member) time.Time { return m.CreatedAt },
	claims: func(m *Member) []claimKey {
		return uniques("member", m.OrganizationID+"\x00"+m.UserID)
	},
}

var invitationKind = &kind[Invitation]{
	name: "invitation", entity: "auth-invitation:", event: "auth.invitation.",
	key:     func(i *Invitation) string { return i.ID },
	created: func(i *Invitation) time.Time { return i.CreatedAt },
}

func orgFilter(orgID string) map[string]string { return map[string]string{"organizationId": orgID} }

// CreateOrganization stores a new organization with in.ID, or a new UUID v4. Name and
// Slug are required (ErrInvalidInput); a slug held by a live organization, or an existing
// ID, is ErrConflict.
func (a *Adapter) CreateOrganization(ctx context.Context, in CreateOrganization) (*Organization, error) {
	if err := required("Name", in.Name, "Slug", in.Slug); err != nil {
		return nil, wrapOp("create organization", err)
	}
	id := in.ID
	if id == "" {
		id = uuid.NewString()
	}
	now := a.clock()
	o := &Organization{ID: id, Name: in.Name, Slug: in.Slug, Logo: in.Logo, Metadata: in.Metadata, CreatedAt: now, UpdatedAt: now}
	out, err := create(ctx, a, orgKind, o)
	return out, wrapOp("create organization", err)
}

// GetOrganizationByID returns the live organization, or ErrNotFound.
func (a *Adapter) GetOrganizationByID(ctx context.Context, id string) (*Organization, error) {
	o, err := get(ctx, a, orgKind, id)
	return o, wrapOp("get organization", err)
}

// GetOrganizationBySlug returns the live organization holding slug, or ErrNotFound. Two
// requests (the slug's claim, then its owner).
func (a *Adapter) GetOrganizationBySlug(ctx context.Context, slug string) (*Organization, error) {
	o, err := byClaim(ctx, a, orgKind, claimKey{"slug", slug})
	return o, wrapOp("get organization by slug", err)
}

// UpdateOrganization applies the non-nil fields of in. A new slug is claimed first
// (ErrConflict if taken; the same slug is a no-op) and the old one freed. Name and Slug
// cannot be cleared (ErrInvalidInput). ErrNotFound when the organization is absent.
func (a *Adapter) UpdateOrganization(ctx context.Context, id string, in UpdateOrganization) (*Organization, error) {
	if in.Name != nil && *in.Name == "" || in.Slug != nil && *in.Slug == "" {
		return nil, wrapOp("update organization", invalid("Name and Slug cannot be empty"))
	}
	now := a.clock()
	o, err := mutate(ctx, a, orgKind, id, "updated", false, nil, func(o *Organization) error {
		set(&o.Name, in.Name)
		set(&o.Slug, in.Slug)
		set(&o.Logo, in.Logo)
		if in.Metadata != nil {
			o.Metadata = in.Metadata
		}
		o.UpdatedAt = now
		return nil
	})
	return o, wrapOp("update organization", err)
}

// DeleteOrganization deletes the organization with all its members and invitations,
// freeing its slug and the memberships. Members and invitations go first, so a call cut
// short can simply be repeated. Deleting an absent organization is not an error.
func (a *Adapter) DeleteOrganization(ctx context.Context, id string) error {
	if id != "" {
		if err := checkKey(orgKind.entity, id); err != nil {
			return wrapOp("delete organization", err)
		}
		if _, err := removeWhere(ctx, a, memberKind, orgFilter(id), nil); err != nil {
			return wrapOp("delete organization", err)
		}
		if _, err := removeWhere(ctx, a, invitationKind, orgFilter(id), nil); err != nil {
			return wrapOp("delete organization", err)
		}
	}
	return wrapOp("delete organization", remove(ctx, a, orgKind, id))
}

// ListUserOrganizations returns the live organizations the user is a member of, in the
// order the user joined them; none is an empty slice.
func (a *Adapter) ListUserOrganizations(ctx context.Context, userID string) ([]Organization, error) {
	joined, err := listBy(ctx, a, memberKind, "userId", userID, nil, false) // oldest first
	if err != nil {
		return nil, wrapOp("list user organizations", err)
	}
	out := []Organization{}
	for _, m := range joined {
		o, err := get(ctx, a, orgKind, m.OrganizationID)
		switch {
		case err == nil:
			out = append(out, *o)
		case !isNotFound(err):
			return nil, wrapOp("list user organizations", err)
		}
	}
	return out, nil
}

// CreateMember adds a user to an organization. All three fields are required; a live
// membership of the same (organization, user) is ErrConflict.
func (a *Adapter) CreateMember(ctx context.Context, in CreateMember) (*Member, error) {
	if err := required("OrganizationID", in.OrganizationID, "UserID", in.UserID, "Role", in.Role); err != nil {
		return nil, wrapOp("create member", err)
	}
	m := &Member{ID: uuid.NewString(), OrganizationID: in.OrganizationID, UserID: in.UserID, Role: in.Role, CreatedAt: a.clock()}
	out, err := create(ctx, a, memberKind, m)
	return out, wrapOp("create member", err)
}

// GetMember returns the user's live membership of the organization, or ErrNotFound.
func (a *Adapter) GetMember(ctx context.Context, organizationID, userID string) (*Member, error) {
	if err := checkRef("organization id", organizationID, "user id", userID); err != nil {
		return nil, wrapOp("get member", err)
	}
	m, err := findVal(ctx, a, memberKind, nil, "organizationId", organizationID, "userId", userID)
	return m, wrapOp("get member", err)
}

// GetMemberByID returns the live member, or ErrNotFound.
func (a *Adapter) GetMemberByID(ctx context.Context, id string) (*Member, error) {
	m, err := get(ctx, a, memberKind, id)
	return m, wrapOp("get member", err)
}

// UpdateMemberRole sets the member's role (required). ErrNotFound when absent.
func (a *Adapter) UpdateMemberRole(ctx context.Context, memberID, role string) (*Member, error) {
	if err := required("role", role); err != nil {
		return nil, wrapOp("update member role", err)
	}
	m, err := mutate(ctx, a, memberKind, memberID, "updated", false, nil, func(m *Member) error {
		m.Role = role
		return nil
	})
	return m, wrapOp("update member role", err)
}

// DeleteMember removes the membership, freeing (organization, user). Absent is not an error.
func (a *Adapter) DeleteMember(ctx context.Context, memberID string) error {
	return wrapOp("delete member", remove(ctx, a, memberKind, memberID))
}

// ListOrganizationMembers returns the organization's live members, oldest first.
func (a *Adapter) ListOrganizationMembers(ctx context.Context, organizationID string) ([]Member, error) {
	out, err := members(ctx, a, organizationID)
	return out, wrapOp("list organization members", err)
}

// CountOrganizationMembers counts the organization's live members. One query page.
func (a *Adapter) CountOrganizationMembers(ctx context.Context, organizationID string) (int, error) {
	ms, err := members(ctx, a, organizationID)
	return len(ms), wrapOp("count organization members", err)
}

// CountOrganizationOwners counts the live members whose role, read as a comma-separated
// list, includes "owner".
func (a *Adapter) CountOrganizationOwners(ctx context.Context, organizationID string) (int, error) {
	ms, err := members(ctx, a, organizationID)
	n := 0
	for _, m := range ms {
		for r := range strings.SplitSeq(m.Role, ",") {
			if strings.TrimSpace(r) == "owner" {
				n++
				break
			}
		}
	}
	return n, wrapOp("count organization owners", err)
}

// members lists the organization's live members, oldest first.
func members(ctx context.Context, a *Adapter, organizationID string) ([]Member, error) {
	return listBy(ctx, a, memberKind, "organizationId", organizationID, nil, false)
}

// CreateInvitation stores a pending invitation; OrganizationID, Email and InviterID are
// required. The email is stored lower-cased.
func (a *Adapter) CreateInvitation(ctx context.Context, in CreateInvitation) (*Invitation, error) {
	if err := required("OrganizationID", in.OrganizationID, "Email", in.Email, "InviterID", in.InviterID); err != nil {
		return nil, wrapOp("create invitation", err)
	}
	inv := &Invitation{
		ID: uuid.NewString(), OrganizationID: in.OrganizationID, Email: strings.ToLower(in.Email),
		Role: in.Role, Status: InvitationPending, InviterID: in.InviterID, ExpiresAt: in.ExpiresAt,
		CreatedAt: a.clock(),
	}
	out, err := create(ctx, a, invitationKind, inv)
	return out, wrapOp("create invitation", err)
}

// GetInvitationByID returns the invitation in any status, or ErrNotFound.
func (a *Adapter) GetInvitationByID(ctx context.Context, id string) (*Invitation, error) {
	inv, err := get(ctx, a, invitationKind, id)
	return inv, wrapOp("get invitation", err)
}

// GetPendingInvitation returns the newest pending invitation of email (case-insensitive)
// to the organization, expired or not, or ErrNotFound.
func (a *Adapter) GetPendingInvitation(ctx context.Context, organizationID, email string) (*Invitation, error) {
	if err := checkRef("organization id", organizationID); err != nil {
		return nil, wrapOp("get pending invitation", err)
	}
	inv, err := findVal(ctx, a, invitationKind, func(i *Invitation) bool { return i.Status == InvitationPending },
		"organizationId", organizationID, "email", strings.ToLower(email))
	return inv, wrapOp("get pending invitation", err)
}

// UpdateInvitationStatus sets any of the four statuses (others are ErrInvalidInput).
// ErrNotFound when the invitation is absent.
func (a *Adapter) UpdateInvitationStatus(ctx context.Context, id string, status InvitationStatus) (*Invitation, error) {
	switch status {
	case InvitationPending, InvitationAccepted, InvitationRejected, InvitationCanceled:
	default:
		return nil, wrapOp("update invitation status", invalid("unknown invitation status %q", status))
	}
	inv, err := mutate(ctx, a, invitationKind, id, "updated", false, nil, func(i *Invitation) error {
		i.Status = status
		return nil
	})
	return inv, wrapOp("update invitation status", err)
}

// ListOrganizationInvitations returns the organization's invitations in every status,
// newest first.
func (a *Adapter) ListOrganizationInvitations(ctx context.Context, organizationID string) ([]Invitation, error) {
	out, err := listBy(ctx, a, invitationKind, "organizationId", organizationID, nil, true)
	return out, wrapOp("list organization invitations", err)
}

// ListUserInvitations returns the pending, unexpired invitations of email
// (case-insensitive), newest first.
func (a *Adapter) ListUserInvitations(ctx context.Context, email string) ([]Invitation, error) {
	if email == "" {
		return []Invitation{}, nil
	}
	now := a.clock()
	out, err := list(ctx, a, invitationKind, map[string]string{"email": strings.ToLower(email)},
		func(i *Invitation) bool { return i.Status == InvitationPending && i.ExpiresAt.After(now) }, true)
	return out, wrapOp("list user invitations", err)
}
