package authproxy

import (
	"fmt"
	"strings"

	"layeh.com/radius"

	"github.com/assent-auth/assent/internal/authproxy/radiusd"
)

// Vendor IDs of the vendor-specific attributes the configuration can name.
const (
	vendorMicrosoft = 311
	vendorPaloAlto  = 25461
)

// attrByName maps the RADIUS attribute names authproxy.cfg may use
// (client_ip_attr, pass_through_attr_names) to attributes: the standard
// ones of RFC 2865/2866/2868/2869/3162 with FreeRADIUS's spelling, and the
// vendor attributes Duo's proxy names. Keys are lower case.
var attrByName = func() map[string]radiusd.Attr {
	std := map[string]radius.Type{
		"User-Name": 1, "User-Password": 2, "CHAP-Password": 3, "NAS-IP-Address": 4, "NAS-Port": 5,
		"Service-Type": 6, "Framed-Protocol": 7, "Framed-IP-Address": 8, "Framed-IP-Netmask": 9,
		"Framed-Routing": 10, "Filter-Id": 11, "Framed-MTU": 12, "Framed-Compression": 13,
		"Login-IP-Host": 14, "Login-Service": 15, "Login-TCP-Port": 16, "Reply-Message": 18,
		"Callback-Number": 19, "Callback-Id": 20, "Framed-Route": 22, "Framed-IPX-Network": 23,
		"State": 24, "Class": 25, "Vendor-Specific": 26, "Session-Timeout": 27, "Idle-Timeout": 28,
		"Termination-Action": 29, "Called-Station-Id": 30, "Calling-Station-Id": 31,
		"NAS-Identifier": 32, "Proxy-State": 33, "Login-LAT-Service": 34, "Login-LAT-Node": 35,
		"Login-LAT-Group": 36, "Framed-AppleTalk-Link": 37, "Framed-AppleTalk-Network": 38,
		"Framed-AppleTalk-Zone": 39, "Acct-Status-Type": 40, "Acct-Delay-Time": 41,
		"Acct-Input-Octets": 42, "Acct-Output-Octets": 43, "Acct-Session-Id": 44, "Acct-Authentic": 45,
		"Acct-Session-Time": 46, "Acct-Input-Packets": 47, "Acct-Output-Packets": 48,
		"Acct-Terminate-Cause": 49, "Acct-Multi-Session-Id": 50, "Acct-Link-Count": 51,
		"Acct-Input-Gigawords": 52, "Acct-Output-Gigawords": 53, "Event-Timestamp": 55,
		"CHAP-Challenge": 60, "NAS-Port-Type": 61, "Port-Limit": 62, "Login-LAT-Port": 63,
		"Tunnel-Type": 64, "Tunnel-Medium-Type": 65, "Tunnel-Client-Endpoint": 66,
		"Tunnel-Server-Endpoint": 67, "Tunnel-Password": 69, "ARAP-Password": 70, "ARAP-Features": 71,
		"ARAP-Zone-Access": 72, "ARAP-Security": 73, "ARAP-Security-Data": 74, "Password-Retry": 75,
		"Prompt": 76, "Connect-Info": 77, "Configuration-Token": 78, "EAP-Message": 79,
		"Message-Authenticator": 80, "Tunnel-Private-Group-Id": 81, "Tunnel-Assignment-Id": 82,
		"Tunnel-Preference": 83, "ARAP-Challenge-Response": 84, "Acct-Interim-Interval": 85,
		"NAS-Port-Id": 87, "Framed-Pool": 88, "Chargeable-User-Identity": 89,
		"Tunnel-Client-Auth-Id": 90, "Tunnel-Server-Auth-Id": 91, "NAS-IPv6-Address": 95,
		"Framed-Interface-Id": 96, "Framed-IPv6-Prefix": 97, "Login-IPv6-Host": 98,
		"Framed-IPv6-Route": 99, "Framed-IPv6-Pool": 100, "Framed-IPv6-Address": 168,
		"DNS-Server-IPv6-Address": 169,
	}
	m := map[string]radiusd.Attr{}
	for name, t := range std {
		m[strings.ToLower(name)] = radiusd.Attr{Type: t}
	}
	for name, vt := range map[string]byte{
		"MS-CHAP-Response": 1, "MS-CHAP-Error": 2, "MS-CHAP-CPW-1": 3, "MS-CHAP-CPW-2": 4,
		"MS-CHAP-LM-Enc-PW": 5, "MS-CHAP-NT-Enc-PW": 6, "MS-MPPE-Encryption-Policy": 7,
		"MS-MPPE-Encryption-Types": 8, "MS-CHAP-Domain": 10, "MS-CHAP-Challenge": 11,
		"MS-CHAP-MPPE-Keys": 12, "MS-MPPE-Send-Key": 16, "MS-MPPE-Recv-Key": 17,
		"MS-CHAP2-Response": 25, "MS-CHAP2-Success": 26, "MS-CHAP2-CPW": 27,
	} {
		m[strings.ToLower(name)] = radiusd.Attr{Type: 26, Vendor: vendorMicrosoft, VendorType: vt}
	}
	m["paloalto-client-source-ip"] = radiusd.Attr{Type: 26, Vendor: vendorPaloAlto, VendorType: 7}
	return m
}()

// lookupAttr resolves an attribute name (case-insensitive).
func lookupAttr(name string) (radiusd.Attr, error) {
	a, ok := attrByName[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return radiusd.Attr{}, fmt.Errorf("unknown RADIUS attribute %q (Assent knows the RFC 2865/2866/2868/2869/3162 attributes, Microsoft's MS-CHAP/MPPE ones and PaloAlto-Client-Source-IP)", name)
	}
	return a, nil
}
