package pihu_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func TestPermission_WellFormed(t *testing.T) {
	for _, tt := range []struct {
		p    pihu.Permission
		want bool
	}{
		{"*", true},
		{"candidate:read", true},
		{"billing:read", true},
		{"billing:*", true},
		{"report.v2:export-csv", true},
		{"a1:b_2", true},
		{"", false},
		{"billing", false},
		{"billing:", false},
		{":read", false},
		{"*:read", false},
		{"Billing:read", false},
		{"billing:Read", false},
		{"1billing:read", false},
		{"billing:read:x", false},
		{"billing: read", false},
		{pihu.Permission("billing:" + strings.Repeat("r", 51)), false},
	} {
		if got := tt.p.WellFormed(); got != tt.want {
			t.Errorf("Permission(%q).WellFormed(): got %v, want %v", tt.p, got, tt.want)
		}
	}
}

func TestPermissions_ValidateIn(t *testing.T) {
	defined := []pihu.Permission{"billing:read", "report:export"}
	for _, ps := range []pihu.Permissions{
		{"candidate:read", "billing:read"},
		{"billing:*", "report:*", "*"},
		{"report:export"},
	} {
		if err := ps.ValidateIn(defined); err != nil {
			t.Errorf("ValidateIn(%v): got %v, want nil", ps, err)
		}
	}
	for _, ps := range []pihu.Permissions{{"billing:write"}, {"orders:*"}, {"Billing:read"}, {"billing:read"}} {
		d := defined
		if ps[0] == "billing:read" {
			d = nil // not defined for this account
		}
		err := ps.ValidateIn(d)
		e, ok := err.(*pihu.Error)
		if !ok || e.Code != pihu.EParameterInvalid || e.Param != "permissions" || !strings.Contains(e.Message, "POST /v1/permissions") {
			t.Errorf("ValidateIn(%v): got %v, want parameter_invalid on permissions saying how to define one", ps, err)
		}
	}
}

func TestPermissions_CheckFormat(t *testing.T) {
	if err := (pihu.Permissions{"billing:read", "orders:*", "*"}).CheckFormat("permissions"); err != nil {
		t.Errorf("got %v, want nil: a well-formed permission is not an error even if undefined", err)
	}
	err := pihu.Permissions{"billing:read", "BAD"}.CheckFormat("permission")
	if e, ok := err.(*pihu.Error); !ok || e.Code != pihu.EParameterInvalid || e.Param != "permission" || !strings.Contains(e.Message, `"BAD"`) {
		t.Errorf("got %v, want parameter_invalid on permission naming \"BAD\"", err)
	}
	// pihu's own resources are closed: a typo there is no permission.
	if err := (pihu.Permissions{"interview:writ"}).CheckFormat("permission"); pihu.ErrorCode(err) != pihu.EParameterInvalid {
		t.Errorf("interview:writ: got %v, want parameter_invalid", err)
	}
}

func TestNewDefinedPermission(t *testing.T) {
	p, err := pihu.NewDefinedPermission("acct_1", "billing:read", "Read invoices.", epochTime)
	if err != nil || p.Name != "billing:read" || p.Source() != "account" || !p.Created.Equal(epochTime) {
		t.Fatalf("got %+v, %v", p, err)
	}
	if p, _ := pihu.NewDefinedPermission("", "billing:read", "", epochTime); p.Source() != "server" {
		t.Errorf("server-wide source: got %q, want server", p.Source())
	}
	for _, tt := range []struct {
		name, description, code, param string
	}{
		{"", "", pihu.EParameterMissing, "name"},
		{"billing", "", pihu.EParameterInvalid, "name"},
		{"billing:*", "", pihu.EParameterInvalid, "name"},
		{"*", "", pihu.EParameterInvalid, "name"},
		{"candidate:read", "", pihu.EParameterInvalid, "name"},   // built in: no shadowing
		{"candidate:export", "", pihu.EParameterInvalid, "name"}, // pihu's own resource
		{"permission:grant", "", pihu.EParameterInvalid, "name"},
		{"billing:read", "a\nb", pihu.EParameterInvalid, "description"},
		{"billing:read", strings.Repeat("d", 501), pihu.EParameterInvalid, "description"},
	} {
		_, err := pihu.NewDefinedPermission("acct_1", pihu.Permission(tt.name), tt.description, epochTime)
		if e, ok := err.(*pihu.Error); !ok || e.Code != tt.code || e.Param != tt.param {
			t.Errorf("NewDefinedPermission(%q, %q): got %v, want %s on %s", tt.name, tt.description, err, tt.code, tt.param)
		}
	}
}

func TestPermissionInUse(t *testing.T) {
	e := pihu.PermissionInUse("billing:read", 3, false)
	status, body := pihu.NewErrorBody(e, "req_1")
	if status != 409 || body.Error.Code != pihu.EPermissionInUse || body.Error.KeyCount != 3 || !strings.Contains(body.Error.Message, "3 keys hold") {
		t.Errorf("got %d %+v", status, body.Error)
	}
}

func TestPermissionExists(t *testing.T) {
	for _, tt := range []struct {
		name           string
		existing       *pihu.DefinedPermission
		server         bool
		contains, lack string
	}{
		{"AccountsOwn", &pihu.DefinedPermission{AccountID: "acct_1", Name: "billing:read"}, false, `This account defines "billing:read" already.`, "server-wide"},
		{"ServerWideForAnAccount", &pihu.DefinedPermission{Name: "billing:read"}, false, `This account defines "billing:read" already (a server-wide permission`, ""},
		{"ServerWideForTheServer", &pihu.DefinedPermission{Name: "billing:read"}, true, `The server defines "billing:read" already (a server-wide permission`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := pihu.PermissionExists(tt.existing, tt.server)
			status, body := pihu.NewErrorBody(e, "req_1")
			if status != 409 || body.Error.Code != pihu.EPermissionExists || body.Error.Param != "name" {
				t.Errorf("got %d %+v, want 409 %s on name", status, body.Error, pihu.EPermissionExists)
			}
			if !strings.Contains(body.Error.Message, tt.contains) || tt.lack != "" && strings.Contains(body.Error.Message, tt.lack) {
				t.Errorf("got %q, want it to say %q", body.Error.Message, tt.contains)
			}
		})
	}
}

func TestPermissionNotFound(t *testing.T) {
	e := pihu.PermissionNotFound(pihu.Permission("ph_live_" + strings.Repeat("a", 40)))
	status, body := pihu.NewErrorBody(e, "req_1")
	if status != 404 || body.Error.Code != pihu.ENotFound || strings.Contains(body.Error.Message, strings.Repeat("a", 40)) {
		t.Errorf("got %d %+v, want 404 %s with the secret-shaped name masked", status, body.Error, pihu.ENotFound)
	}
}

func TestTooManyPermissionsAndRoles(t *testing.T) {
	for _, e := range []*pihu.Error{pihu.TooManyPermissions(pihu.MaxDefinedPermissions), pihu.TooManyRoles(pihu.MaxRoles)} {
		status, body := pihu.NewErrorBody(e, "req_1")
		if status != 400 || body.Error.Code != pihu.EParameterInvalid || body.Error.Param != "name" || !strings.Contains(body.Error.Message, "1000") {
			t.Errorf("got %d %+v, want 400 %s on name, naming the limit", status, body.Error, pihu.EParameterInvalid)
		}
	}
}

var epochTime = time.Date(2024, 2, 20, 12, 0, 0, 0, time.UTC)

func TestPermissions_ValidateInLongCatalogue(t *testing.T) {
	var defined []pihu.Permission
	for i := range 50 {
		defined = append(defined, pihu.Permission(fmt.Sprintf("res%d:read", i)))
	}
	err := pihu.Permissions{"orders:read"}.ValidateIn(defined)
	if m := pihu.ErrorMessage(err); !strings.Contains(m, "res19:read") || strings.Contains(m, "res20:read") || !strings.Contains(m, "and 30 more") {
		t.Errorf("got %q, want 20 names and the count of the rest", m)
	}
}
