package auth

import "github.com/assent-auth/assent/internal/store"

// pickDevice chooses the device a push, phone or sms request names: by
// its number in preauth's list (push2, phone1, sms3: devices are then
// those preauth lists, see preauthListed), by ID, or for "auto" (or no
// device) the first one capable of the factor. A device that is not
// capable is ErrNoCapableDevice, as Duo answers.
func pickDevice(req AuthRequest, p plan, devices []store.Device, capable func(store.Device) bool) (store.Device, error) {
	var d *store.Device
	switch {
	case p.index > 0:
		if p.index <= len(devices) {
			d = &devices[p.index-1]
		}
	case req.Device == "" || req.Device == "auto":
		for i := range devices {
			if capable(devices[i]) {
				d = &devices[i]
				break
			}
		}
	default:
		for i := range devices {
			if devices[i].ID == req.Device {
				d = &devices[i]
			}
		}
	}
	if d == nil || !capable(*d) {
		return store.Device{}, ErrNoCapableDevice
	}
	return *d, nil
}

// listedDevice is preauth's entry for d under the policy e, and whether
// preauth lists d at all: only with a capability the policy allows.
func (s *Service) listedDevice(d store.Device, e effective) (Device, bool) {
	pd := s.preauthDevice(d)
	pd.Capabilities = e.filterCapabilities(pd.Capabilities)
	return pd, len(pd.Capabilities) > 0
}

// preauthListed are the devices preauth lists, in its order: what the
// number of a prompt factor (phone2) counts. A device left out has no
// capability the policy allows, so no factor the policy allows can pick it
// by ID or "auto" either.
func (s *Service) preauthListed(devices []store.Device, e effective) []store.Device {
	listed := make([]store.Device, 0, len(devices))
	for _, d := range devices {
		if _, ok := s.listedDevice(d, e); ok {
			listed = append(listed, d)
		}
	}
	return listed
}
