//go:build !windows && !plan9 && !js && !wasip1

package authproxy

import (
	"fmt"
	"io"
	"log/syslog"
)

// syslogFacilities are the facility names [main] syslog_facility takes.
var syslogFacilities = map[string]syslog.Priority{
	"LOG_KERN": syslog.LOG_KERN, "LOG_USER": syslog.LOG_USER, "LOG_MAIL": syslog.LOG_MAIL,
	"LOG_DAEMON": syslog.LOG_DAEMON, "LOG_AUTH": syslog.LOG_AUTH, "LOG_SYSLOG": syslog.LOG_SYSLOG,
	"LOG_LPR": syslog.LOG_LPR, "LOG_NEWS": syslog.LOG_NEWS, "LOG_UUCP": syslog.LOG_UUCP,
	"LOG_CRON": syslog.LOG_CRON, "LOG_AUTHPRIV": syslog.LOG_AUTHPRIV, "LOG_FTP": syslog.LOG_FTP,
	"LOG_LOCAL0": syslog.LOG_LOCAL0, "LOG_LOCAL1": syslog.LOG_LOCAL1, "LOG_LOCAL2": syslog.LOG_LOCAL2,
	"LOG_LOCAL3": syslog.LOG_LOCAL3, "LOG_LOCAL4": syslog.LOG_LOCAL4, "LOG_LOCAL5": syslog.LOG_LOCAL5,
	"LOG_LOCAL6": syslog.LOG_LOCAL6, "LOG_LOCAL7": syslog.LOG_LOCAL7,
}

// openSyslog connects to the local syslog daemon. Every record goes at
// priority INFO of the facility; the line itself carries the level.
func openSyslog(facility string) (io.WriteCloser, error) {
	if facility == "" {
		facility = "LOG_USER"
	}
	f, ok := syslogFacilities[facility]
	if !ok {
		return nil, fmt.Errorf("unknown syslog facility %q", facility)
	}
	return syslog.New(f|syslog.LOG_INFO, "assent-authproxy")
}
