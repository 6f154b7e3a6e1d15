package adminapi

import (
	"context"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/httpapi"
)

// enrollMailCore is what users/enroll needs to e-mail the enrollment link.
type enrollMailCore interface {
	MailConfigured() bool
	SendEnrollmentEmailTo(ctx context.Context, nameOrID, to string) (auth.EnrollmentEmail, error)
}

// errMailNotConfigured is users/enroll's answer when the server sends no
// e-mail: Duo's 400 / 40002 naming the email parameter, since that is
// what cannot be honoured.
var errMailNotConfigured = httpapi.InvalidParams("email: this server sends no e-mail (smtp_server is not configured; see docs/email.md)")
