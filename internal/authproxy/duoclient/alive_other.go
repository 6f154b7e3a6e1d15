//go:build !unix

package duoclient

// alive cannot look at the socket here; a connection the server closed
// fails the call that uses it.
func (pc *pconn) alive() bool { return true }
