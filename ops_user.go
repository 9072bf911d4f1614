package allsourceauth

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// userKind: users are claimed by email and username, both case-insensitively.
var userKind = &kind[User]{
	name: "user", entity: "auth-user:", event: "auth.user.",
	key:     func(u *User) string { return u.ID },
	created: func(u *User) time.Time { return u.CreatedAt },
	claims: func(u *User) []claimKey {
		return uniques("email", strings.ToLower(u.Email), "username", strings.ToLower(u.Username))
	},
}

// CreateUser stores a new user with in.ID, or a new UUID v4 when it is empty. It returns
// ErrConflict, writing no user, when a live user holds the email or username
// (case-insensitively) or the ID exists; of concurrent creates of one email exactly one
// succeeds.
func (a *Adapter) CreateUser(ctx context.Context, in CreateUser) (*User, error) {
	id := in.ID
	if id == "" {
		id = uuid.NewString()
	}
	now := a.clock()
	u := &User{
		ID: id, Name: in.Name, Email: in.Email, EmailVerified: in.EmailVerified, Image: in.Image,
		CreatedAt: now, UpdatedAt: now, Username: in.Username, DisplayUsername: in.DisplayUsername,
		Role: in.Role, Metadata: in.Metadata,
	}
	out, err := create(ctx, a, userKind, u)
	return out, wrapOp("create user", err)
}

// GetUserByID returns the live user with this id, or ErrNotFound.
func (a *Adapter) GetUserByID(ctx context.Context, id string) (*User, error) {
	u, err := get(ctx, a, userKind, id)
	return u, wrapOp("get user", err)
}

// GetUserByEmail returns the live user holding email (case-insensitive), or ErrNotFound.
// It reads the email's claim and then its owner: two requests whatever the store's size.
func (a *Adapter) GetUserByEmail(ctx context.Context, email string) (*User, error) {
	u, err := byClaim(ctx, a, userKind, claimKey{"email", strings.ToLower(email)})
	return u, wrapOp("get user by email", err)
}

// GetUserByUsername returns the live user holding username (case-insensitive), or
// ErrNotFound. Two requests, like GetUserByEmail.
func (a *Adapter) GetUserByUsername(ctx context.Context, username string) (*User, error) {
	u, err := byClaim(ctx, a, userKind, claimKey{"username", strings.ToLower(username)})
	return u, wrapOp("get user by username", err)
}

// UpdateUser applies the non-nil fields of in and sets UpdatedAt. A new email or username
// is claimed first (ErrConflict if another live user holds it; nothing changes) and the
// old one released after; Ptr("") clears and frees it. Banned=false also clears BanReason
// and BanExpires unless in sets them. Concurrent updates of different fields all land.
// ErrNotFound when the user is absent.
func (a *Adapter) UpdateUser(ctx context.Context, id string, in UpdateUser) (*User, error) {
	now := a.clock()
	u, err := mutate(ctx, a, userKind, id, "updated", false, nil, func(u *User) error {
		set(&u.Email, in.Email)
		set(&u.Name, in.Name)
		set(&u.Image, in.Image)
		set(&u.Username, in.Username)
		set(&u.DisplayUsername, in.DisplayUsername)
		set(&u.Role, in.Role)
		set(&u.EmailVerified, in.EmailVerified)
		set(&u.TwoFactorEnabled, in.TwoFactorEnabled)
		if in.Banned != nil {
			u.Banned = *in.Banned
			if !u.Banned {
				u.BanReason, u.BanExpires = "", time.Time{}
			}
		}
		set(&u.BanReason, in.BanReason)
		set(&u.BanExpires, in.BanExpires)
		if in.Metadata != nil {
			u.Metadata = in.Metadata
		}
		u.UpdatedAt = now
		return nil
	})
	return u, wrapOp("update user", err)
}

// DeleteUser deletes the user, freeing its email and username. It does not delete the
// user's sessions or accounts. Deleting an absent user is not an error.
func (a *Adapter) DeleteUser(ctx context.Context, id string) error {
	return wrapOp("delete user", remove(ctx, a, userKind, id))
}

// ListUsers searches, filters, sorts and pages all live users (see ListUsersParams).
// total counts the users left after searching and filtering, before paging. It reads
// every user event, page by page, with no cap. Unknown fields, operators or directions
// and negative Limit or Offset are ErrInvalidInput.
func (a *Adapter) ListUsers(ctx context.Context, p ListUsersParams) ([]User, int, error) {
	match, less, err := p.compile()
	if err != nil {
		return nil, 0, wrapOp("list users", err)
	}
	users, err := list(ctx, a, userKind, nil, match, false)
	if err != nil {
		return nil, 0, wrapOp("list users", err)
	}
	slices.SortStableFunc(users, less)
	total := len(users)
	limit := cmp.Or(p.Limit, 100)
	start := min(p.Offset, total)
	return users[start:min(start+limit, total)], total, nil
}

// compile turns the parameters into a predicate and an ordering.
func (p ListUsersParams) compile() (func(*User) bool, func(x, y User) int, error) {
	if p.Limit < 0 || p.Offset < 0 {
		return nil, nil, invalid("negative limit or offset")
	}
	field := func(name string, fields ...string) (func(*User) string, error) {
		if !slices.Contains(fields, name) {
			return nil, invalid("unknown field %q", name)
		}
		switch name {
		case "name":
			return func(u *User) string { return u.Name }, nil
		case "role":
			return func(u *User) string { return u.Role }, nil
		default:
			return func(u *User) string { return u.Email }, nil
		}
	}
	search, err := field(cmp.Or(p.SearchField, "email"), "email", "name")
	if err != nil {
		return nil, nil, err
	}
	searchOp, err := textOp(cmp.Or(p.SearchOperator, "contains"), "contains", "starts_with", "ends_with")
	if err != nil {
		return nil, nil, err
	}
	filter, err := field(cmp.Or(p.FilterField, "email"), "email", "name", "role")
	if err != nil {
		return nil, nil, err
	}
	filterOp, err := textOp(cmp.Or(p.FilterOperator, "eq"), "eq", "ne", "contains", "starts_with", "ends_with")
	if err != nil {
		return nil, nil, err
	}
	sv, fv := strings.ToLower(p.SearchValue), strings.ToLower(p.FilterValue)
	filtering := p.FilterField != "" || p.FilterValue != "" || p.FilterOperator != ""
	match := func(u *User) bool {
		if p.SearchValue != "" && !searchOp(strings.ToLower(search(u)), sv) {
			return false
		}
		return !filtering || filterOp(strings.ToLower(filter(u)), fv)
	}
	var key func(u *User) string
	switch p.SortBy {
	case "", "createdAt":
	case "email", "name":
		key, _ = field(p.SortBy, "email", "name")
	default:
		return nil, nil, invalid("unknown sort field %q", p.SortBy)
	}
	sign := 1
	switch p.SortDirection {
	case "", "asc":
	case "desc":
		sign = -1
	default:
		return nil, nil, invalid("unknown sort direction %q", p.SortDirection)
	}
	less := func(x, y User) int {
		c := x.CreatedAt.Compare(y.CreatedAt)
		if key != nil {
			c = strings.Compare(strings.ToLower(key(&x)), strings.ToLower(key(&y)))
		}
		if c == 0 {
			c = strings.Compare(x.ID, y.ID)
		}
		return sign * c
	}
	return match, less, nil
}

// textOp returns the case-folded string comparison called name.
func textOp(name string, allowed ...string) (func(have, want string) bool, error) {
	if !slices.Contains(allowed, name) {
		return nil, invalid("unknown operator %q", name)
	}
	switch name {
	case "eq":
		return func(h, w string) bool { return h == w }, nil
	case "ne":
		return func(h, w string) bool { return h != w }, nil
	case "starts_with":
		return strings.HasPrefix, nil
	case "ends_with":
		return strings.HasSuffix, nil
	default:
		return strings.Contains, nil
	}
}
