package gitlab

import (
	"context"
	"fmt"

	gl "gitlab.com/gitlab-org/api/client-go"
)

// MinApproverAccess is the least role a group member needs for their approval
// to count as the group's (docs/routing.md, "approvers"): Developer, the least
// role GitLab lets approve a merge request by default. Guests, Planners,
// Reporters and Minimal Access members do not count.
const MinApproverAccess = gl.DeveloperPermissions

// maxMemberPages bounds one group's read: 20 pages of 100 members. A larger
// group is an error rather than a partial list, so that the status says why.
const maxMemberPages = 20

// GroupApprovers returns the usernames of group's members whose approval counts:
// GET /groups/:id/members/all (group is a full path, which client-go escapes, or
// a numeric id), so members inherited from ancestor groups and members of
// invited groups are included; only active users (not blocked, deactivated or
// awaiting) with at least MinApproverAccess. Every page is read.
func (c *Client) GroupApprovers(ctx context.Context, group string) ([]string, error) {
	opt := &gl.ListGroupMembersOptions{ListOptions: gl.ListOptions{PerPage: 100, Page: 1}}
	var out []string
	for range maxMemberPages {
		list, resp, err := c.api.Groups.ListAllGroupMembers(group, opt, gl.WithContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("read members of group %s: %w", group, err)
		}
		for _, m := range list {
			if m != nil && m.Username != "" && m.State == "active" && m.AccessLevel >= MinApproverAccess {
				out = append(out, m.Username)
			}
		}
		if resp == nil || resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
	return nil, fmt.Errorf("read members of group %s: more than %d members; name its approvers as users or a smaller group", group, maxMemberPages*100)
}
