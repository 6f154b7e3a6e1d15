package store

import (
	"context"
	"time"
)

// PendingPhone is a phone an administrator created (the Admin API's
// add_phone) that no device has activated yet. It has its phone ID from the
// start: the device that activates it (through an activation code issued
// for it, see Activation.PhoneID) takes that ID, and the pending phone is
// deleted in the same transaction.
type PendingPhone struct {
	ID     string // "DP" + 18, the ID the device will have
	UserID string // "" until associated with a user
	Name   string
	// Type and Platform are Duo's display values ("Mobile", "Google
	// Android", …); Number, Extension, Predelay and Postdelay are kept as
	// given and shown until activation (Assent places no calls).
	Type      string
	Platform  string
	Number    string
	Extension string
	Predelay  string
	Postdelay string
	Created   time.Time
}

// PhoneQueries store pending phones and list devices across users.
type PhoneQueries interface {
	// CreatePendingPhone returns ErrAlreadyExists if the ID is taken by a
	// pending phone or a device; ErrNotFound for an unknown UserID.
	CreatePendingPhone(ctx context.Context, p PendingPhone) error
	// GetPendingPhone locks the row inside InTx on engines that lock rows,
	// like GetDevice.
	GetPendingPhone(ctx context.Context, id string) (PendingPhone, error)
	// ListPendingPhones lists the pending phones of a user, or of everyone
	// when userID is "", ordered by Created, then ID.
	ListPendingPhones(ctx context.Context, userID string) ([]PendingPhone, error)
	// UpdatePendingPhone writes every field but ID and Created; ErrNotFound
	// if absent, or for an unknown UserID.
	UpdatePendingPhone(ctx context.Context, p PendingPhone) error
	// DeletePendingPhone returns ErrNotFound if absent; the activation codes
	// issued for it stop working (Activate finds no phone).
	DeletePendingPhone(ctx context.Context, id string) error
	// ListDevicesPage returns one page of every user's devices (ordered by
	// Created, then ID) and how many there are.
	ListDevicesPage(ctx context.Context, offset, limit int) ([]Device, int, error)
}
