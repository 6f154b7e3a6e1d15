package universal

import "strings"

// parseUserAgent names the browser and OS of a User-Agent header for the
// id_token's access_device, roughly as Duo reports them ("Chrome",
// "120.0.0.0", "Windows", "10"). It is informational only; unknown agents
// give empty strings.
func parseUserAgent(ua string) (browser, browserVersion, os, osVersion string) {
	if len(ua) > 512 {
		ua = ua[:512]
	}
	// Order matters: Edge and Opera also say Chrome; Chrome also says Safari.
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge Chromium"},
		{"OPR/", "Opera"},
		{"Firefox/", "Firefox"},
		{"Chrome/", "Chrome"},
		{"Version/", "Safari"}, // Safari's own version follows "Version/"
	} {
		if v, ok := after(ua, b.token); ok {
			browser, browserVersion = b.name, v
			break
		}
	}
	switch {
	case strings.Contains(ua, "Windows NT "):
		os = "Windows"
		osVersion, _ = after(ua, "Windows NT ")
	case strings.Contains(ua, "Android"):
		os = "Android"
		osVersion, _ = after(ua, "Android ")
	case strings.Contains(ua, "iPhone") || strings.Contains(ua, "iPad"):
		os = "iOS"
		v, _ := after(ua, "OS ")
		osVersion = strings.ReplaceAll(v, "_", ".")
	case strings.Contains(ua, "Mac OS X"):
		os = "Mac OS X"
		v, _ := after(ua, "Mac OS X ")
		osVersion = strings.ReplaceAll(v, "_", ".")
	case strings.Contains(ua, "CrOS"):
		os = "Chrome OS"
	case strings.Contains(ua, "Linux"):
		os = "Linux"
	}
	return browser, browserVersion, os, osVersion
}

// after returns the version-like run (digits, dots, underscores) that
// follows token in s.
func after(s, token string) (string, bool) {
	i := strings.Index(s, token)
	if i < 0 {
		return "", false
	}
	s = s[i+len(token):]
	end := 0
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || s[end] == '.' || s[end] == '_') {
		end++
	}
	return strings.TrimRight(s[:end], "._"), true
}
